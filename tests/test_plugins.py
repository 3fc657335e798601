"""Plugin discovery: built-ins, files by path, disabling, and clear start-up errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from junbridge import hookspecs
from junbridge.plugins import PluginError, collect, get_plugin_manager
from junbridge.testing import make_bridge, make_message

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


def test_the_four_departments_and_triage_load_from_the_plugins_folder():
    registry = collect(get_plugin_manager(ROOT / "plugins"))
    assert {"lighting", "police", "doctor", "school", "triage"} <= set(registry.departments)
    assert {"telegram", "slack", "twitter", "console"} <= set(registry.channels)


def test_a_plugin_file_without_hooks_is_a_start_up_error_naming_the_file():
    with pytest.raises(PluginError, match=r"nohooks\.py implements no hooks — is @junbridge"):
        get_plugin_manager(extra=[DATA / "plugins" / "nohooks.py"])


def test_plugins_can_be_disabled_by_name(monkeypatch):
    monkeypatch.setenv("JUNBRIDGE_DISABLE_PLUGINS", "police, telegram")
    registry = collect(get_plugin_manager(ROOT / "plugins"))
    assert "police" not in registry.departments and "telegram" not in registry.channels
    assert "lighting" in registry.departments


def test_every_hookspec_is_documented_with_an_example():
    doc = (ROOT / "docs" / "plugin_hooks.md").read_text()
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", doc, flags=re.M | re.S))
    for name in hookspecs.HOOK_NAMES:
        assert name in sections, f"docs/plugin_hooks.md has no section for {name}"
        assert "```python" in sections[name], f"the {name} section has no example"
    declared = {n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "junbridge_spec")}
    assert declared == set(hookspecs.HOOK_NAMES)


async def test_a_towns_test_finds_its_plugin_next_to_its_channels_yaml(tmp_path, monkeypatch):
    """In a town's repository, ``plugins=["plugins/waste.py"]`` means the one beside its
    channels.yaml, wherever pytest is started from."""
    town = tmp_path / "millbrook"
    (town / "plugins").mkdir(parents=True)
    (town / "plugins" / "waste.py").write_text(
        (ROOT / "docs" / "examples" / "waste.py").read_text()
    )
    (town / "channels.yaml").write_text("town:\n  name: Millbrook\ndepartments:\n  waste: {}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    bridge = await make_bridge(
        config=town / "channels.yaml", plugins=["plugins/waste.py"], workdir=tmp_path
    )
    try:
        handled = await bridge.receive(make_message("The bins were not collected", lang="en"))
        assert handled.request.department == "waste"
    finally:
        await bridge.close()
