"""Channels reach the bridge only through ``junbridge.Host``: what a channel plugin gets."""

from __future__ import annotations

import ast
from pathlib import Path

import junbridge
from junbridge.channels import base

CHANNELS = Path(base.__file__).parent


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top, in functions or for type checking."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_built_in_channels_need_no_more_of_the_bridge_than_a_plugin_gets():
    modules = sorted(CHANNELS.glob("*.py"))
    assert {"telegram.py", "slack.py", "twitter.py"} <= {m.name for m in modules}
    for module in modules:
        found = {name for name in imported(module) if name.startswith("junbridge.bridge")}
        assert not found, f"{module.name} imports {found}: a channel gets junbridge.Host"


def test_a_channel_plugin_finds_host_beside_channel():
    assert junbridge.Host is base.Host
    assert {"submit", "clock", "config", "store"} <= set(dir(junbridge.Host))
