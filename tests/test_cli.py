"""The junbridge command line as an admin uses it."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.metadata
import itertools
import json
import operator
import re
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from junbridge.channels.telegram_parse import parse_update
from junbridge.cli import cli
from junbridge.model import ServiceRequest, Status
from junbridge.store import Store
from junbridge.testing import make_bridge, make_message

ROOT = Path(__file__).parent.parent
TITLES = ("department", "privacy", "staff", "on duty", "SLA")


@pytest.fixture
def town(tmp_path: Path) -> Path:
    """The test town's channels.yaml in a fresh folder, with its own SQLite store."""
    config = yaml.safe_load((ROOT / "tests" / "data" / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(ROOT / "menu.yaml")
    config["departments"]["doctor"]["require_verified"] = False
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_version_is_the_installed_packages():
    code, out = run("--version")
    assert code == 0 and out == f"junbridge {importlib.metadata.version('junbridge')}\n"


def test_check_summarises_a_valid_configuration(town):
    code, out = run("check", "--config", str(town))
    assert code == 0
    assert "is valid: 1 channels, 5 departments" in out
    assert "SLACK_BOT_TOKEN is not set — the channel will be skipped" in out


def test_check_departments_table_reads_at_80_columns(town, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out = run("check", "--config", str(town))
    assert code == 0
    table = out[out.index("Departments") : out.index("└", out.index("Departments"))]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "…" not in table  # no name cut short
    lines = table.splitlines()
    # The header on one line; each department's facts whole on its first line.
    assert [c.strip() for c in lines[2].split("┃")[1:-1]] == list(TITLES)
    assert lines[3].startswith("┡")
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in lines[4:]]
    first = next(i for i, row in enumerate(cells) if row[0] == "lighting")
    assert cells[first][1:] == ["public", "electricista", "electricista", "48 h working"]
    # The staff one a line, the lead marked; a line may wrap between words, never inside one.
    block = [cells[first], *itertools.takewhile(lambda row: row[0] == "", cells[first + 1 :])]
    assert " ".join(row[2] for row in block) == "electricista jefa de obras (lead)"


def test_check_strict_fails_when_a_secret_is_unset(town, monkeypatch):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    code, _ = run("check", "--config", str(town), "--strict")
    assert code == 1


def test_check_reports_each_mistake_with_its_line_and_a_suggestion(town):
    lines = town.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if line.strip().startswith("sla_hours: 24"))
    lines[number] = lines[number].replace("sla_hours", "sla_hour")
    town.write_text("\n".join(lines) + "\n")
    code, out = run("check", "--config", str(town))
    assert code == 1
    assert (
        f"channels.yaml:{number + 1}: departments.police.sla_hour: unknown key "
        "(did you mean 'sla_hours'?)" in out
    )


def test_check_says_when_the_file_is_missing(tmp_path):
    code, out = run("check", "--config", str(tmp_path / "nope.yaml"))
    assert code == 1 and "nope.yaml not found" in out


def test_simulate_a_lamp_on_x_then_list_show_and_resolve_it(town):
    code, out = run(
        "simulate",
        "--config",
        str(town),
        "--channel",
        "twitter",
        "--user",
        "vecina",
        "--location",
        "37.2218,-3.5930",
        # A Wednesday morning: the electrician is on duty whatever day the suite runs.
        "--at",
        "2026-11-25 10:00",
        "--json",
        "La farola de la calle Real no funciona",
    )
    assert code == 0
    result = json.loads(out)
    [request] = result["requests"]
    assert request["department"] == "lighting" and request["assignee"] == "electricista"
    assert request["status"] == "open" and request["lat"] == 37.2218
    [reply] = result["replies"]
    assert request["reference"] in reply["text"] and reply["channel"] == "twitter"

    code, out = run("requests", "list", "--config", str(town))
    assert code == 0 and request["reference"] in out and "lighting" in out
    code, out = run("requests", "show", "--config", str(town), request["reference"])
    assert code == 0 and "received" in out and "assigned" in out
    code, out = run(
        "requests",
        "set",
        "--config",
        str(town),
        request["reference"],
        "resolved",
        "--by",
        "electricista",
        "--note",
        "bombilla nueva",
    )
    assert code == 0 and "is now resolved" in out
    code, out = run("requests", "set", "--config", str(town), request["reference"], "in_progress")
    assert code == 1 and "cannot become in_progress" in out


def test_simulate_at_a_saturday_night_says_who_will_see_it_and_when(town):
    code, out = run(
        "simulate",
        "--config",
        str(town),
        "--at",
        "2026-11-28 23:00",
        "--json",
        "La farola de la calle Real no funciona",
    )
    assert code == 0
    [reply] = json.loads(out)["replies"]
    assert (
        "Ahora no hay nadie de guardia: electricista lo verá a partir del lun, 30 de noviembre, "
        "7:00." in reply["text"]
    )


def test_simulate_shows_buttons_and_a_press_books_the_doctor(town):
    code, out = run("simulate", "--config", str(town), "--json", "Quiero cita con el médico")
    assert code == 0
    [offer] = json.loads(out)["replies"]
    first = offer["choices"][0]["value"]
    assert first.startswith("slot:")
    code, out = run("simulate", "--config", str(town), "--json", "--choice", first)
    [request] = json.loads(out)["requests"]
    assert request["department"] == "doctor" and request["details"]["slot"] == first[5:]


def test_simulate_rejects_a_bad_location(town):
    code, out = run("simulate", "--config", str(town), "--location", "north", "farola")
    assert code == 2 and "expected LAT,LON" in out


def test_residents_verify_and_show(town):
    code, out = run(
        "residents", "verify", "--config", str(town), "telegram:4242", "--by", "administrativa"
    )
    assert code == 0 and "telegram:4242 is verified" in out
    code, out = run("residents", "show", "--config", str(town))
    assert "telegram:4242" in out and "administrativa" in out


def rows(out: str, title: str) -> dict[str, list[str]]:
    """The cells of a table printed by rich, by the first cell of each row."""
    table = out[out.index(title) : out.index("└", out.index(title))]
    found = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0]:
            found[cells[0]] = cells[1:]
    return found


def test_plugins_says_where_each_department_comes_from_and_whether_it_runs(town, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    config = yaml.safe_load(town.read_text())
    del config["departments"]["school"]
    config["departments"]["police"]["enabled"] = False
    town.write_text(yaml.safe_dump(config, allow_unicode=True))
    code, out = run("plugins", "--config", str(town))
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    parts = rows(out, "Departments and channels")
    jun = f"junbridge=={importlib.metadata.version('junbridge')}"
    assert parts["lighting"] == ["department", jun, "on"]
    assert parts["police"] == ["department", jun, "off: enabled: false"]
    assert parts["school"] == ["department", jun, "off: no block in channels.yaml"]
    assert parts["triage"] == ["department", "built-in", "on"]
    assert parts["slack"] == ["channel", "built-in", "on"]
    assert parts["telegram"] == ["channel", "built-in", "off: no block in channels.yaml"]
    hooks = rows(out, "Hooks")
    assert hooks["lighting"] == ["junbridge_jun.lighting", "register_departments"]
    assert hooks["routing"] == ["junbridge.routing", "route"]


def test_plugins_without_a_channels_yaml_lists_what_is_installed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = run("plugins")
    assert code == 0
    assert rows(out, "Departments and channels")["police"][:2] == [
        "department",
        f"junbridge=={importlib.metadata.version('junbridge')}",
    ]
    assert "channels.yaml not found: which of these run depends on it" in out


def test_plugins_with_a_channels_yaml_that_has_problems_still_lists_them(town):
    town.write_text(town.read_text() + "bogus: 1\n")
    code, out = run("plugins", "--config", str(town))
    assert code == 0
    assert rows(out, "Departments and channels")["lighting"][2] == "-"
    assert "has problems, so what runs is not known: junbridge check" in out


def test_schema_describes_every_department_block_for_editors(town):
    code, out = run("schema", "--config", str(town))
    assert code == 0
    schema = json.loads(out)
    text = json.dumps(schema)
    for key in ("town", "departments", "menu_file", "require_verified", "night_noise_minutes"):
        assert key in text


FIXTURES = ROOT / "tests" / "fixtures"


def test_normalize_prints_the_message_a_real_payload_becomes():
    code, out = run("normalize", "--channel", "slack", str(FIXTURES / "slack" / "app_mention.json"))
    assert code == 0
    message = json.loads(out)
    assert message["channel"] == "slack" and message["kind"] == "text"
    assert message["sender"]["id"] and message["conversation"]


def test_normalize_says_why_an_outdated_payload_is_invalid():
    code, out = run(
        "normalize", "--channel", "telegram", str(FIXTURES / "telegram" / "text_message.json")
    )
    assert code == 1 and "invalid:" in out and "is_bot" in out


@pytest.mark.parametrize(
    ("channel", "fixture", "where", "expected"),
    [
        ("telegram", "telegram/text_message.ptb22.json", ("message", "text"), "/start"),
        ("slack", "slack/app_mention.json", ("event", "text"), "Hi there!"),
        (
            "twitter",
            "x/mentions_author_expansion_docs.json",
            ("data", 0, "text"),
            "Hey @XDevelopers, love the new API!",
        ),
    ],
)
def test_normalize_shows_half_an_emoji_and_a_nul_repaired(
    tmp_path, channel, fixture, where, expected
):
    """A copy of a real payload, derived: a NUL and half of 💡 added at the end of its text."""
    payload = json.loads((FIXTURES / fixture).read_text())
    *path, key = where
    functools.reduce(operator.getitem, path, payload)[key] += "\x00 \ud83d"
    file = tmp_path / "payload.json"
    file.write_text(json.dumps(payload))  # as on the wire: "\\u0000", "\\ud83d"
    code, out = run("normalize", "--channel", channel, str(file))
    assert code == 0
    assert json.loads(out)["text"] == f"{expected} \ufffd"


def test_normalize_says_when_a_payload_is_ignored():
    code, out = run(
        "normalize", "--channel", "slack", str(FIXTURES / "slack" / "url_verification.json")
    )
    assert code == 0 and out.startswith("ignored:")


def test_requests_stats_shows_promises_and_ratings_per_department(town):
    run("simulate", "--config", str(town), "--json", "farola 4 apagada")
    run("requests", "set", "--config", str(town), "JUN-0001", "resolved", "--by", "electricista")
    code, out = run("requests", "stats", "--config", str(town))
    assert code == 0 and "to resolve" in out
    [lighting] = [line for line in out.splitlines() if "lighting" in line]
    # One request, resolved at once: its promise kept, open until the resident confirms.
    assert [cell.strip() for cell in lighting.split("│")[1:5]] == ["lighting", "1", "1", "1/1"]


# -- requests list: a page at a time -------------------------------------------------------

LATER = timedelta(days=30)


def lamp(number: int, **changes: Any) -> ServiceRequest:
    """An unsaved lamp report, received ``number`` hours into the day, due in a month."""
    now = datetime.now(UTC)
    base = ServiceRequest(
        service_request_id="",
        service_code="streetlight",
        service_name="Alumbrado público",
        description=f"farola {number} apagada",
        requested_datetime=now + timedelta(hours=number),
        updated_datetime=now,
        expected_datetime=now + LATER,
        reference="",
        department="lighting",
        assignee="electricista",
    )
    return dataclasses.replace(base, **changes).noted("received", by="telegram:42", at=now)


def store_in(town: Path, *made: ServiceRequest) -> list[str]:
    """Save ``made`` straight into the town's store, oldest first; their references."""

    async def save() -> list[str]:
        store = await Store.open(f"sqlite:///{town.parent / 'junbridge.db'}")
        try:
            return await store.write(lambda tx: [(tx.save_request(r)).reference for r in made])
        finally:
            await store.close()

    return asyncio.run(save())


def listed(out: str) -> list[str]:
    """The references a ``requests list`` shows, in order."""
    return [line.split()[0] for line in out.splitlines() if line.startswith("JUN-")]


def test_requests_list_shows_a_page_newest_first_and_the_command_for_the_next(town):
    store_in(town, *(lamp(n) for n in range(1, 8)))
    code, out = run("requests", "list", "--config", str(town), "--limit", "3")
    assert code == 0 and listed(out) == ["JUN-0007", "JUN-0006", "JUN-0005"]
    assert "3 of 7 requests, newest first." in out
    older = f"junbridge requests list --config {town} --limit 3 --before JUN-0005"
    assert f"Older ones: {older}" in out

    code, out = run(*shlex.split(older)[1:])
    assert code == 0 and listed(out) == ["JUN-0004", "JUN-0003", "JUN-0002"]
    assert "3 of 7 requests, newest first, older than JUN-0005." in out
    code, out = run("requests", "list", "--config", str(town), "--limit=3", "--before=jun-0002")
    assert code == 0 and listed(out) == ["JUN-0001"] and "Older ones" not in out
    assert "These are the oldest." in out

    code, out = run("requests", "list", "--config", str(town), "--before", "JUN-0099")
    assert code == 1 and "no request JUN-0099" in out


def test_requests_list_filters_and_counts_what_matches(town):
    done = lamp(3).transition(Status.CLOSED, by="electricista", at=datetime.now(UTC))
    theft = lamp(4, department="police", assignee="agente de guardia", privacy="private")
    store_in(town, lamp(1), lamp(2), done, theft)
    code, out = run("requests", "list", "--config", str(town), "--open")
    assert listed(out) == ["JUN-0004", "JUN-0002", "JUN-0001"]
    assert "3 of 3 matching requests" in out
    code, out = run("requests", "list", "--config", str(town), "--open", "--limit", "1")
    assert "--open --limit 1 --before JUN-0004" in out
    code, out = run("requests", "list", "--config", str(town), "--department", "police")
    assert listed(out) == ["JUN-0004"] and "(private)" in out and "farola 4" not in out
    code, out = run("requests", "list", "--config", str(town), "--status", "closed")
    assert listed(out) == ["JUN-0003"] and "1 of 1 matching requests" in out
    code, out = run("requests", "list", "--config", str(town), "--status", "rejected")
    assert code == 0 and "No requests match." in out


def test_requests_list_sla_column_reads_the_history(town):
    now = datetime.now(UTC)
    store_in(
        town,
        lamp(1),
        lamp(2).noted("sla_warning", by="junbridge", at=now),
        lamp(3).noted("sla_breach", by="junbridge", at=now),
        lamp(4, expected_datetime=now - timedelta(hours=1)),
        lamp(5, expected_datetime=None),
    )
    _, out = run("requests", "list", "--config", str(town))
    sla = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line[:4] == "JUN-"}
    assert sla == {
        "JUN-0001": "time",  # on time
        "JUN-0002": "75%",
        "JUN-0003": "breached",
        "JUN-0004": "breached",
        "JUN-0005": "-",
    }


def test_requests_list_fits_80_columns(town, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    long_words = "La farola de la calle Real no funciona desde ayer y la de al lado parpadea " * 3
    store_in(
        town,
        lamp(1, description=long_words),
        lamp(2, assignee="la jefa de obras del ayuntamiento", state=Status.IN_PROGRESS),
    )
    _, out = run("requests", "list", "--config", str(town))
    table = out.split("\n\n")[0].splitlines()
    assert len(table) == 1 + 2 * 2  # the header, then two lines per request
    assert max(len(line) for line in table) <= 80
    assert table[1].startswith("JUN-0002  lighting    in_progress  la jefa de …")
    assert table[4].startswith("  La farola de la calle Real") and table[4].endswith("…")


def test_simulate_the_canteen_after_booking_the_doctor_answers_the_canteen(town):
    # The README's order: book the doctor, then ask about the canteen from the same phone.
    code, out = run("simulate", "--config", str(town), "--json", "Quiero cita con el médico")
    first = json.loads(out)["replies"][0]["choices"][0]["value"]
    run("simulate", "--config", str(town), "--json", "--choice", first)
    code, out = run(
        "simulate", "--config", str(town), "--json", "¿Qué hay de comer hoy en el cole?"
    )
    assert code == 0
    shown = json.loads(out)
    [request] = shown["requests"]
    assert request["department"] == "school"
    assert not any("cita" in reply["text"] for reply in shown["replies"])


def test_show_lists_a_voice_note_kept_on_the_request(town):
    async def report_then_voice() -> str:
        bridge = await make_bridge(
            config=town, store_url=f"sqlite:///{town.parent / 'junbridge.db'}"
        )
        try:
            lamp = await bridge.receive(
                make_message("La farola de la plaza no funciona", user_id="12345678")
            )
            update = json.loads(
                (ROOT / "tests" / "fixtures" / "telegram" / "voice.ptb22.json").read_text()
            )
            await bridge.receive(parse_update(update))
            return lamp.request.reference
        finally:
            await bridge.close()

    reference = asyncio.run(report_then_voice())
    code, out = run("requests", "show", "--config", str(town), reference)
    assert code == 0
    assert "files: audio/ogg <AwADawAgADADy_JxS2gopIVIIxlhAg>" in out
    assert "attachment" in out and "voice from the resident" in out


def test_simulate_tells_which_button_to_press_in_town_time(town, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    at = ("--at", "2026-11-25 10:00")  # a Wednesday in Jun (UTC+1)
    code, out = run("simulate", "--config", str(town), *at, "Quiero cita con el médico")
    assert code == 0
    hints = [line.strip() for line in out.splitlines() if line.strip().startswith("press ")]
    assert hints[0] == "press mié, 25 nov 10:15 with: --choice slot:2026-11-25T10:15:00+01:00"
    value = hints[0].rpartition(" ")[2]
    code, out = run("simulate", "--config", str(town), *at, "--choice", value)
    assert code == 0 and "Cita confirmada: mié, 25 de noviembre, 10:15" in out


def test_requests_show_renders_reply_markup_instead_of_printing_it(town, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    lamp = "La farola de la calle Real no funciona"
    code, out = run("simulate", "--config", str(town), "--at", "2026-11-25 10:00", lamp)
    assert code == 0
    reference = re.search(r"JUN-\d+", out)[0]
    code, out = run("requests", "show", "--config", str(town), reference)
    assert code == 0
    assert "**" not in out and f"Gracias. {reference} (Alumbrado" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_show_and_list_say_how_many_residents_reported_a_lamp(town, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")

    async def reported_twice() -> str:
        bridge = await make_bridge(
            config=town, store_url=f"sqlite:///{town.parent / 'junbridge.db'}"
        )
        try:
            first = await bridge.receive(
                make_message("La farola de la calle Real no funciona", location=(37.2218, -3.593))
            )
            await bridge.receive(
                make_message(
                    "The street light is out",
                    user="neighbour",
                    lang="en",
                    location=(37.2219, -3.593),
                )
            )
            return first.request.reference
        finally:
            await bridge.close()

    reference = asyncio.run(reported_twice())
    code, out = run("requests", "show", "--config", str(town), reference)
    assert code == 0
    assert re.search(r"reported by: 2 residents: telegram first, then telegram \(en\)", out)
    assert "reported_again" in out and "telegram:@neighbour" in out
    code, out = run("requests", "list", "--config", str(town))
    assert code == 0 and "[reported by 2] La farola de la calle Real no funciona" in out
    assert "1 of 1 requests" in out
