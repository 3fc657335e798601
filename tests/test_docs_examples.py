"""The plugin tutorial's example department works as the tutorial says."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from junbridge.cli import cli
from junbridge.model import MessageKind, Status
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import WEDNESDAY_10

WASTE = Path(__file__).parent.parent / "docs" / "examples" / "waste.py"
GUIDE = Path(__file__).parent.parent / "docs" / "writing_plugins.md"
CREW = {
    "town": {"name": "Jun"},
    "departments": {
        "waste": {
            "staff": [{"name": "camión 1", "handles": {"slack": "U0TRUCK1"}}],
            "on_duty": [
                {"staff": "camión 1", "days": ["mon", "tue", "wed", "thu", "fri"],
                 "from": "06:00", "to": "14:00"}
            ],
        }
    },
}  # fmt: skip


async def test_a_missed_bin_is_acknowledged_with_a_reference(tmp_path):
    bridge = await make_bridge(plugins=[WASTE], workdir=tmp_path)
    try:
        handled = await bridge.receive(make_message("no han recogido la basura"))
        assert handled.request.department == "waste"
        assert handled.request.reference in handled.replies[0].text
        assert handled.request.state is Status.ACKNOWLEDGED
        # Nobody on duty: the resident reads who has it all the same.
        assert "lo lleva el equipo de Recogida de basuras" in handled.replies[0].text
    finally:
        await bridge.close()


async def test_a_bulky_item_gets_a_pick_up_day_chosen_with_a_button(tmp_path):
    bridge = await make_bridge(
        plugins=[WASTE], config=CREW, workdir=tmp_path, clock=lambda: WEDNESDAY_10
    )
    try:
        asked = await bridge.receive(make_message("¿Cuándo recogen un colchón viejo?"))
        [question] = asked.replies
        assert question.text.startswith("Recogemos muebles y colchones los jueves.")
        # Wednesday 25 November 2026: the next two Thursdays.
        assert [(c.label, c.value) for c in question.choices] == [
            ("jueves, 26 de noviembre", "day:2026-11-26"),
            ("jueves, 3 de diciembre", "day:2026-12-03"),
        ]
        reference = asked.request.reference
        booked = await bridge.receive(
            make_message("jueves, 3 de diciembre", kind=MessageKind.BUTTON, choice="day:2026-12-03")
        )
        assert booked.request.reference == reference
        assert booked.request.details["pick_up"] == "2026-12-03"
        assert booked.request.expected_datetime == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
        assert booked.request.state is Status.ASSIGNED and booked.request.assignee == "camión 1"
        assert booked.replies[0].text.startswith("Apuntado: pasaremos el jueves, 3 de diciembre.")
    finally:
        await bridge.close()


async def test_an_answer_that_is_not_a_day_gets_the_days_again(tmp_path):
    bridge = await make_bridge(plugins=[WASTE], workdir=tmp_path, clock=lambda: WEDNESDAY_10)
    try:
        await bridge.receive(make_message("I have an old mattress to throw away", lang="en"))
        again = await bridge.receive(make_message("tomorrow?", lang="en"))
        [reply] = again.replies
        assert reply.text == "Please pick one of these days:"
        assert [c.label for c in reply.choices] == ["Thursday, November 26", "Thursday, December 3"]
    finally:
        await bridge.close()


class InstalledPackage:
    """The package's own tests (section 9): they need it installed, so they are run by
    the test below, not on their own."""

    @staticmethod
    async def test_a_missed_bin_goes_to_the_installed_department(tmp_path):
        config = {"town": {"name": "Millbrook"}, "departments": {"waste": {}}}
        bridge = await make_bridge(config=config, workdir=tmp_path)
        try:
            handled = await bridge.receive(make_message("The bins were not collected", lang="en"))
            assert handled.request.department == "waste"
        finally:
            await bridge.close()


async def test_the_waste_department_installs_as_a_package(install_package, tmp_path):
    """Section 9's pyproject.toml, installed with waste.py as its module, is the department:
    no plugins_dir, no path, and junbridge plugins names the package and its version."""
    blocks = re.findall(r"```toml\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    [project] = [tomllib.loads(b)["project"] for b in blocks if "[project]" in b]
    entry_points = project["entry-points"]["junbridge"]
    assert entry_points == {"waste": "junbridge_waste"}
    install_package(
        project["name"], project["version"], entry_points, junbridge_waste=WASTE.read_text()
    )
    await InstalledPackage.test_a_missed_bin_goes_to_the_installed_department(tmp_path)
    listed = CliRunner().invoke(cli, ["plugins", "--config", str(tmp_path / "channels.yaml")])
    # The first table's row (the second table lists its hooks).
    row = next(line for line in listed.output.splitlines() if line.startswith("│ waste "))
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [
        "waste",
        "department",
        "junbridge-waste==1.0.0",
        "on",
    ]


def test_every_python_block_of_the_tutorial_is_in_the_example_as_shown():
    """Each block of docs/writing_plugins.md is a piece of waste.py, of this file or of a
    department that ships with junbridge, line for line (a class member may be shown
    without its class's indentation)."""
    guide = (Path(__file__).parent.parent / "docs" / "writing_plugins.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, re.DOTALL)
    shipped = sorted((Path(__file__).parent.parent / "junbridge_jun").glob("*.py"))
    sources = [p.read_text().splitlines() for p in (WASTE, Path(__file__), *shipped)]
    missing = [block for block in blocks if not any(holds(s, block.splitlines()) for s in sources)]
    assert len(blocks) >= 8 and missing == []


def holds(source: list[str], block: list[str]) -> bool:
    """Whether ``block`` occurs in ``source`` line for line, all shifted by one indentation."""
    for start, line in enumerate(source):
        indent = line[: len(line) - len(line.lstrip())]
        if line.strip() != block[0].strip() or line != indent + block[0]:
            continue
        window = source[start : start + len(block)]
        if window == [indent + b if b else "" for b in block]:
            return True
    return False


async def test_a_missed_bin_reported_twice_is_one_round_but_two_mattresses_are_two(tmp_path):
    bridge = await make_bridge(plugins=[WASTE], workdir=tmp_path, clock=lambda: WEDNESDAY_10)
    bins = (37.2218, -3.5930)
    try:
        first = await bridge.receive(make_message("No han recogido la basura", location=bins))
        again = await bridge.receive(
            make_message("La basura sigue sin recoger", user="vecino", location=bins)
        )
        assert again.request.reference == first.request.reference
        assert again.request.reporters == 2
        assert "Ya nos lo han avisado" in again.replies[0].text
        for user in ("ana", "luis"):
            await bridge.receive(make_message("Tengo un colchón viejo", user=user, location=bins))
        assert len(await bridge.requests.all()) == 3
    finally:
        await bridge.close()
