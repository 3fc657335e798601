"""Plugin discovery: built-ins, installed packages, files by path, disabling, and clear
start-up errors."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from junbridge import hookspecs
from junbridge.cli import cli
from junbridge.model import JunbridgeError
from junbridge.plugins import PluginError, collect, get_plugin_manager
from junbridge.testing import make_bridge, make_message

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"

# A department another town publishes as a package of its own.
RECYCLING = '''\
"""Glass, paper and packaging."""

import junbridge


class Recycling(junbridge.Department):
    name = "recycling"
    titles = {"es": "Reciclaje", "en": "Recycling"}
    texts = {"es": {"ack": "Anotado: {reference}."}, "en": {"ack": "Noted: {reference}."}}

    class Settings(junbridge.DepartmentSettings):
        keywords: dict[str, list[str]] = {"es": ["vidrio"], "en": ["glass"]}

    async def handle(self, message, conversation):
        return junbridge.Outcome(change=junbridge.Change(open=True), says=(self.say("ack"),))


@junbridge.hookimpl
def register_departments(register):
    register(Recycling)
'''


@pytest.fixture
def recycling(install_package):
    """junbridge-recycling 1.2.0 installed: the recycling department, from another town."""
    entry_points = {"recycling": "junbridge_recycling"}
    install_package("junbridge-recycling", "1.2.0", entry_points, junbridge_recycling=RECYCLING)


def listed(config: Path) -> list[list[str]]:
    """The rows of ``junbridge plugins``' first table: name, kind, source, status."""
    result = CliRunner().invoke(cli, ["plugins", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    table = result.output[: result.output.index("└")]
    found: list[list[str]] = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0]:
            found.append(cells)
        elif cells:  # a cell folded onto the next line
            found[-1] = [f"{a} {b}".strip() for a, b in zip(found[-1], cells, strict=True)]
    return found


def a_town(folder: Path, departments: str, **files: str) -> Path:
    """A town's folder: its channels.yaml (with ``plugins_dir: plugins`` if it has files)."""
    (folder / "plugins").mkdir(parents=True)
    for stem, source in files.items():
        (folder / "plugins" / f"{stem}.py").write_text(source)
    config = folder / "channels.yaml"
    config.write_text(
        f"town:\n  name: Millbrook\ndepartments:\n{departments}"
        + ("plugins_dir: plugins\n" if files else "")
    )
    return config


def test_the_four_departments_and_triage_load_with_no_plugins_dir():
    """Installing junbridge installs Jun's departments: each is an entry point."""
    registry = collect(get_plugin_manager())
    assert set(registry.departments) == {"lighting", "police", "doctor", "school", "triage"}
    assert {"telegram", "slack", "twitter", "console"} <= set(registry.channels)
    version = importlib.metadata.version("junbridge")
    assert str(registry.department_sources["lighting"]) == (
        f"package junbridge=={version} (entry point lighting = junbridge_jun.lighting)"
    )


async def test_a_second_town_turns_on_the_packaged_departments_it_lists(tmp_path):
    """pip install junbridge, a channels.yaml with lighting and police and no plugins_dir:
    those two run (and the town hall desk), the doctor and the school stay off."""
    config = tmp_path / "channels.yaml"
    config.write_text("""\
town:
  name: Millbrook
  reference_prefix: MIL
departments:
  lighting:
    staff:
      - name: electrician
    on_duty:
      - staff: electrician
  police: {}
""")
    bridge = await make_bridge(config=config, workdir=tmp_path)
    try:
        assert set(bridge.departments) == {"lighting", "police", "triage"}
        assert bridge.config.unlisted == ("doctor", "school")
        handled = await bridge.receive(
            make_message("The street lamp on Mill Road is out", lang="en", location=(52.2, 0.1))
        )
        request = handled.request
        assert request.department == "lighting" and request.reference == "MIL-0001"
        assert request.assignee == "electrician"
        assert "MIL-0001" in handled.replies[0].text
    finally:
        await bridge.close()


def test_the_installed_entry_points_are_the_ones_pyproject_declares():
    """Otherwise this environment was installed before they changed: run the README's
    install command (pip install --no-deps --no-build-isolation -e .) again."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    installed = importlib.metadata.distribution("junbridge").entry_points.select(group="junbridge")
    assert {ep.name: ep.value for ep in installed} == declared["junbridge"]


def test_a_plugin_file_without_hooks_is_a_start_up_error_naming_the_file():
    with pytest.raises(PluginError, match=r"nohooks\.py implements no hooks — is @junbridge"):
        get_plugin_manager(extra=[DATA / "plugins" / "nohooks.py"])


def test_plugins_can_be_disabled_by_name(monkeypatch):
    monkeypatch.setenv("JUNBRIDGE_DISABLE_PLUGINS", "police, telegram")
    registry = collect(get_plugin_manager(town=True))
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


async def test_a_package_installed_with_an_entry_point_is_a_department(recycling, tmp_path):
    pm = get_plugin_manager()
    registry = collect(pm)
    assert str(registry.department_sources["recycling"]) == (
        "package junbridge-recycling==1.2.0 (entry point recycling = junbridge_recycling)"
    )
    config = a_town(tmp_path / "millbrook", "  recycling: {}\n")
    assert ["recycling", "department", "junbridge-recycling==1.2.0", "on"] in listed(config)
    bridge = await make_bridge(config=config, workdir=tmp_path)
    try:
        handled = await bridge.receive(make_message("The glass bin is full", lang="en"))
        assert handled.request.department == "recycling"
        assert handled.replies[0].text == f"Noted: {handled.request.reference}."
    finally:
        await bridge.close()


async def test_a_towns_file_named_like_a_packaged_plugin_replaces_it(
    recycling, tmp_path, monkeypatch
):
    """The package's module is not even imported: the town's own file is the department,
    and ``junbridge plugins`` says so."""
    own = RECYCLING.replace("Noted: {reference}.", "Thanks, we empty it this week: {reference}.")
    config = a_town(tmp_path / "millbrook", "  recycling: {}\n", recycling=own)
    pm = get_plugin_manager(config.parent / "plugins")
    [packaged] = [s for s in pm.sources if s.kind == "package" and s.name == "recycling"]
    assert packaged.skipped == f"replaced by {config.parent / 'plugins' / 'recycling.py'}"
    assert "junbridge_recycling" not in sys.modules
    monkeypatch.chdir(config.parent)
    monkeypatch.setenv("COLUMNS", "80")
    rows = listed(config)
    assert ["recycling", "department", "plugins/recycling.py", "on (replaces the package)"] in rows
    assert rows[-1] == [
        "recycling",
        "plugin",
        "junbridge-recycling==1.2.0",
        "off: replaced by plugins/recycling.py",
    ]
    bridge = await make_bridge(config=config, workdir=tmp_path)
    try:
        handled = await bridge.receive(make_message("The glass bin is full", lang="en"))
        assert handled.replies[0].text.startswith("Thanks, we empty it this week")
    finally:
        await bridge.close()


def test_a_file_of_another_name_registering_a_packaged_department_is_an_error(recycling, tmp_path):
    config = a_town(tmp_path / "millbrook", "  recycling: {}\n", glass=RECYCLING)
    with pytest.raises(PluginError) as error:
        collect(get_plugin_manager(config.parent / "plugins"))
    assert str(error.value) == (
        "two departments are called 'recycling': package junbridge-recycling==1.2.0 "
        "(entry point recycling = junbridge_recycling) and "
        f"{config.parent / 'plugins' / 'glass.py'} "
        "(to use the file instead of the package's, name it recycling.py)"
    )


def test_two_packages_declaring_one_plugin_name_is_an_error(recycling, install_package):
    install_package(
        "recycling-plus", "0.3", {"recycling": "recycling_plus"}, recycling_plus=RECYCLING
    )
    with pytest.raises(PluginError, match=(
        r"^two installed packages declare the plugin 'recycling': "
        r"junbridge-recycling==1.2.0 \(junbridge_recycling\) and "
        r"recycling-plus==0.3 \(recycling_plus\); uninstall one$"
    )):  # fmt: skip
        get_plugin_manager()


def test_a_disabled_package_is_not_imported(recycling, tmp_path, monkeypatch):
    monkeypatch.setenv("JUNBRIDGE_DISABLE_PLUGINS", "recycling")
    pm = get_plugin_manager(town=True)
    assert "recycling" not in collect(pm).departments
    assert "junbridge_recycling" not in sys.modules
    [packaged] = [s for s in pm.sources if s.name == "recycling"]
    assert packaged.skipped == "disabled by JUNBRIDGE_DISABLE_PLUGINS"
    config = a_town(tmp_path, "  lighting: {}\n")
    assert listed(config)[-1] == [
        "recycling",
        "plugin",
        "junbridge-recycling==1.2.0",
        "off: disabled by env",
    ]


def test_a_package_that_fails_to_import_is_named(install_package):
    install_package(
        "junbridge-recycling",
        "1.2.0",
        {"recycling": "junbridge_recycling"},
        junbridge_recycling="import junbridge.no_such_module\n",
    )
    with pytest.raises(PluginError, match=(
        r"^package junbridge-recycling==1.2.0 \(entry point recycling = junbridge_recycling\): "
        r"failed to load: ModuleNotFoundError: No module named 'junbridge.no_such_module'$"
    )):  # fmt: skip
        get_plugin_manager()


async def test_a_relative_plugin_path_needs_a_config_file_to_be_read_from(tmp_path):
    """Never from the current folder: a test passes wherever pytest is started."""
    with pytest.raises(JunbridgeError, match=r"plugin path 'plugins/waste\.py' is relative"):
        await make_bridge(config={"town": {"name": "Jun"}}, plugins=["plugins/waste.py"])


def test_one_file_given_twice_loads_once_and_two_files_with_one_stem_are_an_error(tmp_path):
    config = a_town(tmp_path / "millbrook", "  recycling: {}\n", recycling=RECYCLING)
    own = config.parent / "plugins" / "recycling.py"
    pm = get_plugin_manager(own.parent, extra=[own])
    assert [s.origin for s in pm.sources if s.kind == "file"] == [str(own)]
    assert "recycling" in collect(pm).departments
    other = tmp_path / "elsewhere" / "recycling.py"
    other.parent.mkdir()
    other.write_text(RECYCLING)
    with pytest.raises(PluginError, match=r"^two plugin files are called 'recycling': "):
        get_plugin_manager(own.parent, extra=[other])
