"""Department plugins need nothing but ``junbridge`` (and ``junbridge.testing`` in tests):
the modules inside may move without breaking a town's own departments."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import junbridge

ROOT = Path(__file__).parent.parent
PLUGIN_FILES = sorted([*ROOT.glob("junbridge_jun/*.py"), *ROOT.glob("docs/examples/*.py")])
ALLOWED = {"junbridge", "junbridge.testing", "junbridge.testing.emulators"}


def reaches_inside(path: Path) -> list[str]:
    """Every import of, or attribute path into, a junbridge module that is not public."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("junbridge"):
            if node.module not in ALLOWED:
                found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}"
                for a in node.names
                if a.name.startswith("junbridge") and a.name not in ALLOWED
            ]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "junbridge"
        ):
            found.append(f"line {node.lineno}: junbridge.{node.value.attr}.{node.attr}")
    return found


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_departments_use_only_the_public_api(path: Path) -> None:
    assert reaches_inside(path) == []


def test_every_public_name_is_documented_for_plugin_authors() -> None:
    guide = (ROOT / "docs" / "writing_plugins.md").read_text()
    missing = [name for name in junbridge.__all__ if f"`{name}`" not in guide]
    assert missing == []
