"""channels.yaml loading: the exact lines an admin sees for each kind of mistake."""

from __future__ import annotations

import textwrap
from datetime import time
from pathlib import Path

import pytest
from pydantic import Field, model_validator

from junbridge.config import (
    ConfigError,
    Problem,
    config_schema,
    load_config,
    missing_secrets,
    plugins_dir_of,
    read_yaml,
)
from junbridge.config.settings import ChannelSettings, DepartmentSettings, Secret, Staff


class TelegramSettings(ChannelSettings):
    """Stands in for the Telegram channel plugin's block."""

    token: Secret
    webhook: bool = False


class SlackSettings(ChannelSettings):
    """Stands in for the Slack channel plugin's block."""

    bot_token: Secret
    signing_secret: Secret | None = None


class LightingSettings(DepartmentSettings):
    """Stands in for junbridge_jun/lighting.py's block."""

    electricians: list[Staff] = Field(default_factory=list)


class SchoolSettings(DepartmentSettings):
    """A block that cannot be left out: it has a required key."""

    menu_file: str


CHANNELS: dict[str, type[ChannelSettings]] = {"telegram": TelegramSettings, "slack": SlackSettings}
DEPARTMENTS: dict[str, type[DepartmentSettings]] = {
    "lighting": LightingSettings,
    "police": DepartmentSettings,
}


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write channels.yaml in a fresh working folder; returns its relative path."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "channels.yaml") -> Path:
        path = Path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


def load(path: Path, departments: dict[str, type[DepartmentSettings]] | None = None):
    return load_config(path, channels=CHANNELS, departments=departments or DEPARTMENTS)


def problems(
    path: Path, departments: dict[str, type[DepartmentSettings]] | None = None
) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(path, departments)
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return [str(p) for p in info.value.problems]


def test_a_valid_file_loads_every_block(write, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write("""
        town:
          name: Jun
          business_hours:
            mon: "08:00-15:00"
        store:
        channels:
          telegram:
            token: {$env: TELEGRAM_BOT_TOKEN}
            pins:
              -1001234: lighting
          slack:
            enabled: false
            bot_token: {$env: SLACK_BOT_TOKEN}
        departments:
          lighting:
            keywords: {es: [farola], no: [gatelys]}
            electricians:
              - name: electricista
                handles: {telegram: 55501234}
            on_duty:
              - staff: electricista
                from: 07:00
                to: "22:00"
            staff:
              - name: electricista
    """)
    config = load(path)
    assert config.path == Path.cwd() / "channels.yaml"
    assert config.config_dir == Path.cwd()
    assert config.town.name == "Jun" and config.town.business_hours["mon"].start == time(8)
    assert config.store.url == "sqlite:///junbridge.db"
    assert set(config.channels) == {"telegram", "slack"}
    assert config.channels["telegram"].pins == {"-1001234": "lighting"}
    assert config.channels["slack"].enabled is False
    lighting = config.departments["lighting"]
    assert isinstance(lighting, LightingSettings)
    assert lighting.keywords == {"es": ["farola"], "no": ["gatelys"]}
    assert lighting.electricians[0].handles == {"telegram": "55501234"}
    assert lighting.on_duty[0].start == time(7)
    # Registered but absent from the file: off, and said so (a town asks for what it runs).
    assert "police" not in config.departments and "police" in config.unlisted
    assert config.plugins_dir is None
    assert config.lines["channels.telegram.token"] == 8
    assert config.lines["departments.lighting.electricians.0.handles.telegram"] == 19


def test_a_misspelled_department_key_suggests_the_right_one(write) -> None:
    path = write("""
        town:
          name: Jun
        departments:
          lighting:
            keywrds:
              es: [farola]
    """)
    assert problems(path) == [
        "channels.yaml:5: departments.lighting.keywrds: unknown key (did you mean 'keywords'?)"
    ]


def test_a_nested_unknown_key_suggests_among_that_level(write) -> None:
    path = write("""
        town: {name: Jun}
        departments:
          lighting:
            electricians:
              - name: electricista
                handels: {slack: U0ELECTRIC}
            on_duty:
              - staff: electricista
                form: "07:00"
    """)
    assert problems(path) == [
        "channels.yaml:6: departments.lighting.electricians.0.handels: "
        "unknown key (did you mean 'handles'?)",
        "channels.yaml:9: departments.lighting.on_duty.0.form: unknown key (did you mean 'from'?)",
    ]


def test_a_misspelled_department_name_suggests_the_registered_one(write) -> None:
    path = write("""
        town:
          name: Jun
        departments:
          ligthing:
            sla_hours: 24
    """)
    assert problems(path) == [
        "channels.yaml:4: departments.ligthing: no plugin registers department 'ligthing' "
        "(did you mean 'lighting'?)"
    ]


def test_an_unknown_channel_lists_the_registered_ones(write) -> None:
    path = write("""
        town: {name: Jun}
        channels:
          whatsapp: {}
    """)
    assert problems(path) == [
        "channels.yaml:3: channels.whatsapp: no plugin registers channel 'whatsapp' "
        "(expected one of: slack, telegram)"
    ]


def test_a_wrong_type_says_what_was_expected(write) -> None:
    path = write("""
        town:
          name: Jun
        web:
          port: eighty
        departments:
          police:
            sla_hours: abc
            business_hours: maybe
    """)
    assert problems(path) == [
        "channels.yaml:4: web.port: expected a whole number, got 'eighty'",
        "channels.yaml:7: departments.police.sla_hours: expected a number, got 'abc'",
        "channels.yaml:8: departments.police.business_hours: expected true or false, got 'maybe'",
    ]


def test_a_bad_time_zone(write) -> None:
    path = write("""
        town:
          name: Jun
          timezone: Europe/Madird
    """)
    assert problems(path) == [
        "channels.yaml:3: town.timezone: unknown time zone 'Europe/Madird' (e.g. 'Europe/Madrid')"
    ]


def test_an_inline_secret_is_refused_without_echoing_it(write) -> None:
    path = write("""
        town: {name: Jun}
        channels:
          telegram:
            token: "123456:ABC-very-secret"
    """)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == (
        "channels.yaml:4: channels.telegram.token: write secrets as {$env: NAME}, not inline"
    )
    assert "very-secret" not in repr(info.value.problems)


def test_missing_env_secrets_are_reported_with_their_lines(write, monkeypatch) -> None:
    path = write("""
        town: {name: Jun}
        channels:
          slack:
            bot_token: {$env: SLACK_BOT_TOKEN}
            signing_secret:
              $env: SLACK_SIGNING_SECRET
          telegram:
            enabled: false
            token: {$env: TELEGRAM_BOT_TOKEN}
    """)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    config = load(path)  # a missing variable is not a load error
    assert [str(p) for p in missing_secrets(config)] == [
        "channels.yaml:5: channels.slack.signing_secret: "
        "environment variable SLACK_SIGNING_SECRET is not set"
    ]
    assert [str(p) for p in missing_secrets(config, include_disabled=True)][1:] == [
        "channels.yaml:9: channels.telegram.token: "
        "environment variable TELEGRAM_BOT_TOKEN is not set"
    ]
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    assert missing_secrets(config) == []


def test_all_problems_are_reported_at_once_sorted_by_line(write) -> None:
    path = write("""
        departments:
          police:
            sla_hours: -1
          lighting:
            electricians:
              - role: lead
        channels:
          telegram:
            token: {$evn: TELEGRAM_BOT_TOKEN}
        town:
          name: Jun
          reference_prefix: jun
          languages: []
    """)
    assert problems(path) == [
        "channels.yaml:3: departments.police.sla_hours: expected a number greater than 0, got -1",
        "channels.yaml:6: departments.lighting.electricians.0.name: required key is missing",
        "channels.yaml:9: channels.telegram.token.$env: required key is missing",
        "channels.yaml:9: channels.telegram.token.$evn: unknown key (did you mean '$env'?)",
        "channels.yaml:12: town.reference_prefix: expected text matching ^[A-Z]{2,8}$, got 'jun'",
        "channels.yaml:13: town.languages: expected at least 1 item(s), got an empty list",
    ]


def test_a_missing_town_block(write) -> None:
    path = write("""
        # just a comment
        web: {port: 8080}
    """)
    assert problems(path) == [
        "channels.yaml: town: required block is missing (at least town: name: ...)"
    ]


def test_an_installed_department_without_a_block_is_off_and_asks_for_nothing(write) -> None:
    """A second town installs junbridge and lists only lighting: the school (which needs a
    menu file) and the police stay off instead of running with defaults or failing."""
    path = write("""
        town: {name: Millbrook}
        departments:
          lighting: {}
    """)
    config = load(path, {**DEPARTMENTS, "school": SchoolSettings})
    assert set(config.departments) == {"lighting"}
    assert config.unlisted == ("police", "school")


def test_running_a_department_without_a_block_needs_what_its_defaults_cannot_fill(write) -> None:
    path = write("""
        town: {name: Jun}
        departments:
          lighting: {}
    """)
    with pytest.raises(ConfigError) as info:
        load_config(
            path,
            channels=CHANNELS,
            departments={**DEPARTMENTS, "school": SchoolSettings},
            without_block={"police", "school"},
        )
    assert [str(p) for p in info.value.problems] == [
        "channels.yaml:2: departments.school: block required (needs menu_file)"
    ]


def test_a_duplicate_key_is_an_error_with_both_lines(write) -> None:
    path = write("""
        town:
          name: Jun
        departments:
          police:
            sla_hours: 24
            business_hours: false
            sla_hours: 12
    """)
    assert problems(path) == [
        "channels.yaml:7: departments.police.sla_hours: duplicate key (first at line 5)"
    ]


def test_a_yaml_syntax_error_names_its_line(write) -> None:
    path = write("""
        town:
          name: Jun
        departments:
          police:
            sla_hours: 24
           business_hours: false
    """)
    assert problems(path) == [
        "channels.yaml:6: YAML syntax error at column 4: expected <block end>, but found "
        "'<block mapping start>' (check the indentation; "
        "while parsing a block mapping started at line 4)"
    ]


def test_tabs_get_a_hint(write) -> None:
    path = write("town:\n\tname: Jun\n")
    assert problems(path) == [
        "channels.yaml:2: YAML syntax error at column 1: found character '\\t' that cannot "
        "start any token (indent with spaces, not tabs)"
    ]


def test_an_unknown_top_level_key(write) -> None:
    path = write("""
        town: {name: Jun}
        departaments:
          police: {}
        plugin_dir: plugins
    """)
    assert problems(path) == [
        "channels.yaml:2: departaments: unknown key (did you mean 'departments'?)",
        "channels.yaml:4: plugin_dir: unknown key (did you mean 'plugins_dir'?)",
    ]


EMPTY = "channels.yaml: the file is empty; it needs at least a town: block with the town's name"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", EMPTY),
        ("# nothing yet\n", EMPTY),
        ("- town\n", "channels.yaml:1: expected keys such as town: and departments:, got a list"),
        (
            "town: {name: Jun}\n---\nweb: {}\n",
            "channels.yaml:2: only one YAML document is allowed: remove the second '---'",
        ),
        ("town: Jun\n", "channels.yaml:1: town: expected a mapping (key: value), got 'Jun'"),
        (
            "town: {name: Jun}\nchannels: [telegram]\n",
            "channels.yaml:2: channels: expected a mapping of channel name -> settings, got a list",
        ),
    ],
)
def test_files_that_are_not_a_mapping_of_blocks(write, text: str, message: str) -> None:
    assert problems(write(text)) == [message]


def test_clock_times_stay_text_and_a_one_digit_hour_gets_a_hint(write) -> None:
    # YAML 1.1 would read 9:30 as 570 (base 60), which pydantic takes as 00:09:30.
    path = write("""
        town: {name: Jun}
        departments:
          lighting:
            on_duty:
              - staff: electricista
                from: 9:30
    """)
    assert problems(path) == [
        "channels.yaml:6: departments.lighting.on_duty.0.from: "
        "expected a time like 08:30, got '9:30' (write the hour with two digits: '09:30')"
    ]


def test_a_bad_weekday_key_suggests_the_short_form(write) -> None:
    path = write("""
        town:
          name: Jun
          business_hours:
            monday: "08:00-15:00"
          holidays: [2026-13-08]
    """)
    assert problems(path) == [
        "channels.yaml:4: town.business_hours.monday: key must be one of 'mon', 'tue', 'wed', "
        "'thu', 'fri', 'sat' or 'sun', got 'monday' (did you mean 'mon'?)",
        "channels.yaml:5: town.holidays.0: cannot read '2026-13-08': month must be in 1..12",
    ]


def test_plugins_dir_resolves_relative_to_the_yaml_file(write, tmp_path: Path) -> None:
    path = write("town: {name: Jun}\nplugins_dir: ../plugins\n", name="etc/jun/channels.yaml")
    expected = tmp_path / "etc" / "plugins"
    assert plugins_dir_of(path) == expected
    assert load(path).plugins_dir == expected
    assert plugins_dir_of(write("town: {name: Jun}\n")) is None


def test_plugins_dir_of_leaves_other_problems_to_load_config(write) -> None:
    path = write("plugins_dir: plugins\nplugins_dir: more\nbogus: 1\n")
    assert plugins_dir_of(path) == Path.cwd() / "more"
    with pytest.raises(ConfigError, match=r"channels.yaml:2: YAML syntax error"):
        plugins_dir_of(write("town: [\n"))


def test_problems_name_a_file_outside_the_working_folder_by_its_full_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "work").mkdir()
    path = tmp_path / "conf" / "channels.yaml"
    path.write_text("town: {name: Jun, nmae: x}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}:1: town.nmae: unknown key (did you mean 'name'?)"


def test_read_yaml_gives_data_and_the_line_of_every_key(write) -> None:
    path = write("""
        defaults: &staff
          role: lead
        town:
          name: Jun
          languages:
            - es
            - en
        departments:
          police:
            staff:
              - <<: *staff
                name: agente
    """)
    data, lines = read_yaml(path)
    assert data["departments"]["police"]["staff"] == [{"name": "agente", "role": "lead"}]
    assert lines["town.languages.1"] == 7
    assert lines["departments.police.staff.0"] == 11
    assert lines["departments.police.staff.0.name"] == 12
    assert lines["departments.police.staff.0.role"] == 2  # from the anchor
    with pytest.raises(ConfigError, match="duplicate key"):
        read_yaml(write("a: 1\na: 2\n"))


def test_problem_lines_read_well_without_a_line_or_a_path() -> None:
    assert str(Problem(file="c.yaml", line=None, path="town", message="m")) == "c.yaml: town: m"
    assert str(Problem(file="c.yaml", line=3, path="", message="m")) == "c.yaml:3: m"


def test_config_schema_describes_every_registered_block() -> None:
    schema = config_schema(CHANNELS, {**DEPARTMENTS, "school": SchoolSettings})
    assert schema["title"] == "channels.yaml"
    assert schema["required"] == ["town"]
    assert schema["additionalProperties"] is False
    defs = schema["$defs"]
    assert set(defs["Departments"]["properties"]) == {"lighting", "police", "school"}
    assert set(defs["Channels"]["properties"]) == {"slack", "telegram"}
    assert defs["SchoolSettings"]["required"] == ["menu_file"]
    assert defs["Secret"]["required"] == ["$env"]
    assert defs["Shift"]["properties"]["from"]["format"] == "time"


def test_a_block_level_rule_is_reported_on_the_block(write) -> None:
    class Webhook(ChannelSettings):
        mode: str = "polling"
        secret: Secret | None = None

        @model_validator(mode="after")
        def _needs_secret(self) -> Webhook:
            if self.mode == "webhook" and self.secret is None:
                raise ValueError("mode 'webhook' needs secret ({$env: NAME})")
            return self

    path = write("town: {name: Jun}\nchannels:\n  hook:\n    mode: webhook\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, channels={"hook": Webhook}, departments={})
    assert (
        str(info.value)
        == "channels.yaml:3: channels.hook: mode 'webhook' needs secret ({$env: NAME})"
    )


def test_the_error_example_in_the_docs_is_what_an_admin_sees(write) -> None:
    doc = (Path(__file__).parent.parent / "docs" / "channels_yaml.md").read_text(encoding="utf-8")
    section = doc.split("\n## Errors\n", 1)[1]
    yaml_text = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    expected = section.split("gives:\n\n```text\n", 1)[1].split("```", 1)[0]
    assert problems(write(yaml_text)) == expected.splitlines()
