"""Testing helpers shipped for plugin authors: a real bridge in memory, messages, plugins."""

from junbridge.testing.harness import load_plugin, make_bridge, make_message

__all__ = ["load_plugin", "make_bridge", "make_message"]
