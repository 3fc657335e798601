"""The lock: what a fresh machine installs is exactly what the suite was run against."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent.parent
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)


def locked(path: Path) -> dict[str, tuple[str, str | None, int]]:
    """``{name: (version, marker, number of hashes)}`` of a requirements lock."""
    pins: dict[str, tuple[str, str | None, int]] = {}
    name = None
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match["name"])
            pins[name] = (match["version"], match["marker"], 0)
        elif line.strip().startswith("--hash=sha256:") and name is not None:
            version, marker, hashes = pins[name]
            pins[name] = (version, marker, hashes + 1)
    return pins


def declared(*, extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(text) for text in found]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [
        ("requirements.txt", ()),
        ("requirements-test.txt", ("test",)),
        ("requirements-bench.txt", ("test", "bench")),
    ],
    ids=["run", "test", "bench"],
)
def test_every_declared_dependency_is_pinned_within_its_range_with_hashes(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = locked(ROOT / lock)
    assert len(pins) > 40, f"{lock} looks truncated"
    wanted = declared() + [r for extra in extras for r in declared(extra=extra)]
    stale = []
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name not in pins or pins[name][0] not in requirement.specifier:
            stale.append(f"{requirement} (locked: {pins.get(name, ('nothing',))[0]})")
    assert not stale, f"pyproject.toml and {lock} disagree; run scripts/lock: {stale}"
    unhashed = [name for name, (_, _, hashes) in pins.items() if hashes == 0]
    assert not unhashed, f"pins without hashes in {lock}: {unhashed}"


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("requirements.txt", "requirements-test.txt"),
        ("requirements-test.txt", "requirements-bench.txt"),
    ],
    ids=["run-test", "test-bench"],
)
def test_each_lock_keeps_the_versions_of_the_one_below(smaller: str, larger: str) -> None:
    run, test = locked(ROOT / smaller), locked(ROOT / larger)
    differ = {
        n: (run[n][0], test[n][0]) for n in run.keys() & test.keys() if run[n][0] != test[n][0]
    }
    assert not differ and run.keys() <= test.keys()


@pytest.mark.skipif(
    bool(os.environ.get("JUNBRIDGE_UNLOCKED")),
    reason="this run is against the newest releases on purpose (bash .ci/run --latest)",
)
def test_this_environment_has_the_locked_version_of_every_package() -> None:
    pins = locked(ROOT / "requirements-test.txt")
    wrong = []
    for name, (version, marker, _) in sorted(pins.items()):
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong.append(f"{name} {installed} (locked {version})")
    assert not wrong, (
        "this environment is not the lock; install it as the README says "
        f"(pip install -r requirements-test.txt): {wrong}"
    )
