"""``junbridge check`` catches the mistakes that used to pass it and fail at run time.

Each test writes Jun's channels.yaml with one mistake and reads what the admin sees.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from junbridge.cli import cli

ROOT = Path(__file__).parent.parent

TOWN = """
town:
  name: Jun
  languages: [es, en]
channels:
  slack:
    bot_token: {$env: SLACK_BOT_TOKEN}
    signing_secret: {$env: SLACK_SIGNING_SECRET}
    pins:
      C0FAROLAS: lighting
  telegram:
    token: {$env: TELEGRAM_BOT_TOKEN}
departments:
  lighting:
    staff_place: slack:C0LIGHTING
    staff:
      - name: electricista
        handles: {twitter: ElectricistaJun, slack: U0ELECTRIC}
    on_duty:
      - staff: electricista
        days: [mon, tue, wed, thu, fri]
    sla_hours: 48
  police:
    staff_place: slack:C0POLICE
    staff:
      - name: agente de guardia
    on_duty:
      - staff: agente de guardia
    replies:
      es:
        assigned: "Gracias. {reference}: lo lleva {assignee}."
  doctor:
    require_verified: false
    schedule:
      - days: [tue, thu]
        from: "16:00"
        to: "18:00"
  school:
    menu_file: menu.yaml
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A town folder with the canteen menu, as the working folder; no secrets set."""
    (tmp_path / "menu.yaml").write_text((ROOT / "menu.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "TELEGRAM_BOT_TOKEN",
        "JUNBRIDGE_DISABLE_PLUGINS",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def check(*changes: tuple[str, str], args: tuple[str, ...] = ()) -> tuple[int, str, int]:
    """Run ``junbridge check`` on Jun's file with each (old, new) text replaced.

    Returns the exit code, the output and the line where the last ``new`` starts.
    """
    text = TOWN.lstrip("\n")
    line = 0
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
        line = text[: text.index(new)].count("\n") + 1
    Path("channels.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)
    return result.exit_code, result.output, line


def test_jun_as_written_passes(folder: Path) -> None:
    code, out, _ = check()
    assert code == 0, out
    assert "channels.yaml is valid: 2 channels, 5 departments" in out


def test_a_pin_to_a_department_that_does_not_exist(folder: Path) -> None:
    code, out, line = check(("C0FAROLAS: lighting", "C0FAROLAS: alumbrado"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: channels.slack.pins.C0FAROLAS: no department 'alumbrado' "
        "(expected one of: doctor, lighting, police, school, triage)"
    ]


def test_a_pin_to_a_department_that_is_off(folder: Path) -> None:
    """The school is switched off but a chat is still pinned to it: nobody would answer."""
    code, out, line = check(
        ("  school:\n    menu_file", "  school:\n    enabled: false\n    menu_file"),
        ("C0FAROLAS: lighting", "C0FAROLAS: school"),
    )
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: channels.slack.pins.C0FAROLAS: department 'school' is off "
        "(no block, or enabled: false)"
    ]


def test_a_misspelt_pin_gets_a_suggestion(folder: Path) -> None:
    code, out, line = check(("C0FAROLAS: lighting", "C0FAROLAS: lightning"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: channels.slack.pins.C0FAROLAS: no department 'lightning' "
        "(did you mean 'lighting'?)"
    ]


def test_a_staff_place_on_a_platform_that_is_not_configured(folder: Path) -> None:
    code, out, line = check(("staff_place: slack:C0POLICE", "staff_place: whatsapp:C0POLICE"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: departments.police.staff_place: channel 'whatsapp' is not "
        "configured under channels:, so staff would never get the request cards "
        "(expected one of: slack, telegram)"
    ]


def test_a_staff_place_on_a_disabled_channel(folder: Path) -> None:
    code, out, _ = check(("    bot_token:", "    enabled: false\n    bot_token:"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{n}: departments.{name}.staff_place: channel 'slack' has "
        "enabled: false, so staff would never get the request cards"
        for n, name in ((15, "lighting"), (24, "police"))
    ]


def test_an_on_duty_name_that_is_not_on_the_staff(folder: Path) -> None:
    code, out, line = check(("- staff: agente de guardia", "- staff: agente de guardias"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: departments.police.on_duty.0.staff: 'agente de guardias' is "
        "not in this department's staff (did you mean 'agente de guardia'?)"
    ]


def test_a_handle_on_an_unknown_platform(folder: Path) -> None:
    code, out, line = check(("{twitter: Electricista", "{twiter: Electricista"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: departments.lighting.staff.0.handles.twiter: no channel is "
        "called 'twiter' (did you mean 'twitter'?)"
    ]


def test_an_unknown_reply_key(folder: Path) -> None:
    code, out, line = check(('        assigned: "Gracias.', '        asigned: "Gracias.'))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: departments.police.replies.es.asigned: unknown reply key "
        "(did you mean 'assigned'?)"
    ]


def test_a_reply_placeholder_the_template_is_not_given(folder: Path) -> None:
    code, out, line = check(("Gracias. {reference}:", "Gracias. {referencia}:"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: departments.police.replies.es.assigned: unknown placeholder "
        "{referencia} (did you mean 'reference'?)"
    ]


def test_a_reply_with_a_stray_brace(folder: Path) -> None:
    code, out, line = check(("lo lleva {assignee}.", "lo lleva {assignee."))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: departments.police.replies.es.assigned: cannot be filled in: "
        "expected '}' before end of string (write {{ and }} for a brace)"
    ]


def test_a_staff_change_notice_may_use_the_note(folder: Path) -> None:
    code, out, _ = check(
        (
            'assigned: "Gracias. {reference}: lo lleva {assignee}."',
            'state_resolved: "{reference} resuelto por {assignee}: {note}"',
        )
    )
    assert code == 0, out


def test_a_negative_sla_where_the_plugin_redeclares_it(folder: Path) -> None:
    code, out, line = check(("sla_hours: 48", "sla_hours: -5"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: departments.lighting.sla_hours: expected a number greater "
        "than 0, got -5"
    ]


def test_a_settings_file_that_is_not_there(folder: Path) -> None:
    code, out, line = check(("menu_file: menu.yaml", "menu_file: menu-2026.yaml"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: departments.school.menu_file: no such file: 'menu-2026.yaml' "
        "in the folder of channels.yaml (did you mean 'menu.yaml'?)"
    ]


@pytest.mark.parametrize(
    ("written", "meant"),
    [("lun", "mon"), ("lunes", "mon"), ("jueves", "thu"), ("Thursday", "thu"), ("mierc", "wed")],
)
def test_a_weekday_in_spanish_or_in_full_suggests_its_short_form(
    folder: Path, written: str, meant: str
) -> None:
    code, out, line = check(("days: [tue, thu]", f"days: [tue, {written}]"))
    assert code == 1
    assert out.splitlines() == [
        f"channels.yaml:{line}: departments.doctor.schedule.0.days.1: expected one of 'mon', "
        f"'tue', 'wed', 'thu', 'fri', 'sat' or 'sun', got '{written}' (did you mean '{meant}'?)"
    ]


def test_a_disabled_plugin_name_that_matches_no_plugin(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUNBRIDGE_DISABLE_PLUGINS", "polcie, twitter")
    code, out, _ = check()
    assert code == 1
    assert out.splitlines() == [
        "error: JUNBRIDGE_DISABLE_PLUGINS: no plugin is called 'polcie' (did you mean 'police'?)"
    ]


def test_every_mistake_is_reported_at_once(folder: Path) -> None:
    code, out, _ = check(
        ("C0FAROLAS: lighting", "C0FAROLAS: alumbrado"),
        ("sla_hours: 48", "sla_hours: -5"),
        ("slack:C0POLICE", "whatsapp:C0POLICE"),
    )
    assert code == 1
    assert [line.split(": ", 2)[1] for line in out.splitlines()] == [
        "channels.slack.pins.C0FAROLAS",
        "departments.lighting.sla_hours",
        "departments.police.staff_place",
    ]


def test_the_channels_table_says_what_will_run(folder: Path, monkeypatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    code, out, _ = check(
        ("  telegram:", "  twitter:\n    enabled: false\n    handle: AytoJun\n  telegram:")
    )
    assert code == 0, out
    rows = {
        line.split("│")[1].strip(): line.split("│")[3].strip()
        for line in out.splitlines()
        if line.startswith("│") and line.count("│") == 4
    }
    assert rows == {
        "slack": "skipped: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET not set",
        "twitter": "off: enabled: false",
        "telegram": "will run",
    }
    assert "enabled" not in out.split("Departments")[0].replace("enabled: false", "")


@pytest.mark.parametrize("command", ["run", "demo"])
def test_run_and_demo_refuse_to_start_with_the_same_message(folder: Path, command: str) -> None:
    _, expected, _ = check(("C0FAROLAS: lighting", "C0FAROLAS: alumbrado"))
    result = CliRunner().invoke(cli, [command], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output == expected


@pytest.mark.parametrize("path", ["channels.yaml", "tests/data/jun.yaml"])
def test_the_shipped_configurations_pass(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["check", "--config", path], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_the_docs_example_replies_pass(folder: Path) -> None:
    doc = (ROOT / "docs" / "channels_yaml.md").read_text(encoding="utf-8")
    example = doc.split("    replies:\n      es:\n", 1)[1].split("\n", 1)[0]
    code, out, _ = check(
        (
            '        assigned: "Gracias. {reference}: lo lleva {assignee}."',
            textwrap.indent(example.strip(), "        "),
        )
    )
    assert code == 0, out


LANGUAGES = "  languages: [es, en]\n"
ADMIN = (LANGUAGES, LANGUAGES + "web:\n  admin_token: {$env: JUNBRIDGE_ADMIN_TOKEN}\n")


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (None, "environment variable JUNBRIDGE_ADMIN_TOKEN is not set; the admin API stays off"),
        ("short", "shorter than 16 characters"),
    ],
)
def test_an_admin_token_that_cannot_be_used(
    folder: Path, monkeypatch: pytest.MonkeyPatch, token: str | None, problem: str
) -> None:
    if token is not None:
        monkeypatch.setenv("JUNBRIDGE_ADMIN_TOKEN", token)
    else:
        monkeypatch.delenv("JUNBRIDGE_ADMIN_TOKEN", raising=False)
    code, out, line = check(ADMIN)
    assert code == 0 and f"channels.yaml:{line + 2}: web.admin_token: " in out and problem in out
    strict, _, _ = check(ADMIN, args=("--strict",))
    assert strict == 1


def test_an_admin_token_long_enough_passes(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUNBRIDGE_ADMIN_TOKEN", "0123456789abcdef0123")
    code, out, _ = check(ADMIN)
    assert code == 0 and "admin_token" not in out


def test_an_admin_token_written_in_clear_is_refused(folder: Path) -> None:
    code, out, _ = check((LANGUAGES, LANGUAGES + "web:\n  admin_token: hunter2hunter2hunter2\n"))
    assert code == 1 and "web.admin_token" in out
