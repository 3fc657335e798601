"""Abuse protection: a resident writing too fast is slowed down alone; a blocked one is ignored."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy
import yaml
from click.testing import CliRunner

from junbridge.cli import cli
from junbridge.config.settings import LimitsSettings
from junbridge.desk.abuse import Verdict, verdict
from junbridge.model import Resident
from junbridge.store.records import Usage
from junbridge.store.schema import inbound
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import WEDNESDAY_10, ManualClock

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
async def bridge(tmp_path, clock):
    b = await make_bridge(config=DATA / "jun.yaml", clock=clock, workdir=tmp_path)
    yield b
    await b.close()


def town_config(**limits) -> dict:
    """The test town as a dict with absolute paths, and ``town.limits`` if given."""
    config = yaml.safe_load((DATA / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(ROOT / "menu.yaml")
    if limits:
        config["town"]["limits"] = limits
    return config


def says(handled) -> str:
    return "\n".join(reply.text for reply in handled.replies)


async def write(bridge, text, **kwargs):
    return await bridge.receive(make_message(text, sent_at=bridge.clock(), **kwargs))


async def verified(bridge, user):
    await bridge.store.resident_for("telegram", make_message(user=user).sender)
    await bridge.store.verify_resident(f"telegram:{user}", by="administrativa", at=bridge.clock())


def inbound_rows(workdir: Path) -> list:
    engine = sqlalchemy.create_engine(f"sqlite:///{workdir / 'junbridge.db'}")
    try:
        with engine.connect() as connection:
            return list(connection.execute(sqlalchemy.select(inbound).order_by(inbound.c.id)))
    finally:
        engine.dispose()


async def test_the_eleventh_message_in_a_minute_gets_one_notice_and_is_not_handled(
    bridge, clock, tmp_path
):
    await verified(bridge, "vecina")
    for n in range(10):
        handled = await write(bridge, f"Buenos días, una pregunta: {n}")
        assert handled.request is not None
        clock.advance(5)
    eleventh = await write(bridge, "¿Hola? ¿Hay alguien?")
    assert eleventh.request is None and eleventh.error == "rate limited"
    [notice] = eleventh.replies
    assert "Estás escribiendo muy deprisa" in notice.text and "112" in notice.text
    twelfth = await write(bridge, "¿¿Hola??")
    assert twelfth.replies == () and twelfth.error == "rate limited"
    # Someone else writing at the same moment is handled as usual.
    other = await write(bridge, "La farola de la calle Real no funciona", user="vecino")
    assert other.request.department == "lighting" and other.error is None
    # Nothing is lost: the messages not handled are kept, with why.
    rows = inbound_rows(tmp_path)
    assert [r.error for r in rows[-3:]] == ["rate limited", "rate limited", None]
    assert rows[-2].message["text"] == "¿¿Hola??"
    assert len(await bridge.requests.all()) == 11


async def test_unverified_residents_are_slowed_down_sooner(bridge):
    for n in range(5):
        assert (await write(bridge, f"Hola {n}")).request is not None
    sixth = await write(bridge, "Hola otra vez")
    assert sixth.error == "rate limited" and "deprisa" in says(sixth)


async def test_after_the_window_the_resident_is_handled_again(bridge, clock):
    for n in range(6):
        await write(bridge, f"Hola {n}")
    clock.advance(61)
    again = await write(bridge, "La farola de la calle Real no funciona")
    assert again.error is None and again.request.department == "lighting"


async def test_commands_count_too_and_the_notice_is_private_on_x(bridge):
    for _ in range(5):
        await write(bridge, "/ayuda", channel="twitter")
    stopped = await write(bridge, "/ayuda", channel="twitter")
    [notice] = stopped.replies
    assert "deprisa" in notice.text and notice.private and notice.recipient == "vecina"


async def test_limits_come_from_channels_yaml_and_a_day_has_its_own(tmp_path, clock):
    config = town_config(unverified_messages_per_minute=2, messages_per_day=3)
    bridge = await make_bridge(config=config, clock=clock, workdir=tmp_path)
    try:
        await write(bridge, "Hola 1")
        await write(bridge, "Hola 2")
        assert (await write(bridge, "Hola 3")).error == "rate limited"
        clock.advance(120)
        assert (await write(bridge, "Hola 3")).error is None
        clock.advance(120)
        today = await write(bridge, "Hola 4")
        assert today.error == "rate limited" and "Hoy ya nos has enviado" in says(today)
        clock.advance(24 * 3600)
        assert (await write(bridge, "Hola, ya es mañana")).error is None
    finally:
        await bridge.close()


async def test_a_blocked_resident_gets_no_reply_and_no_request(bridge, tmp_path):
    await write(bridge, "hola")
    await bridge.store.block_resident(
        "telegram:vecina", reason="insultos al personal (by administrativa)", at=bridge.clock()
    )
    blocked = await write(bridge, "La farola de la calle Real no funciona")
    assert blocked.replies == () and blocked.request is None and blocked.error == "blocked"
    assert not [r for r in await bridge.requests.all() if r.department == "lighting"]
    last = inbound_rows(tmp_path)[-1]
    assert last.error == "blocked" and last.message["text"].startswith("La farola")
    # Commands too: a blocked person cannot link a fresh account to escape the block.
    assert (await write(bridge, "/vincular")).replies == ()
    await bridge.store.unblock_resident("telegram:vecina")
    assert (await write(bridge, "La farola de la calle Real no funciona")).request is not None


def test_only_handled_messages_count_and_one_notice_per_window():
    limits = LimitsSettings(unverified_messages_per_minute=1)
    someone = Resident(id=1, identities=("telegram:1",))
    assert verdict(limits, someone, Usage(), WEDNESDAY_10) is Verdict.ADMIT
    handled_one = Usage(counted=(WEDNESDAY_10,))
    assert verdict(limits, someone, handled_one, WEDNESDAY_10) is Verdict.TOO_FAST
    told = Usage(counted=(WEDNESDAY_10,), notice_until=WEDNESDAY_10 + timedelta(minutes=1))
    assert verdict(limits, someone, told, WEDNESDAY_10) is Verdict.QUIET
    # A minute after the one handled message, not after the refused ones: heard again.
    later = WEDNESDAY_10.replace(minute=1, second=1)
    assert verdict(limits, someone, told, later) is Verdict.ADMIT


async def test_limits_hold_across_a_restart_and_between_workers(tmp_path, clock):
    """The count is in the store: a second bridge on the same database (a restart, or
    another worker) sees the messages the first one handled, and the notice it gave."""
    first = await make_bridge(config=DATA / "jun.yaml", clock=clock, workdir=tmp_path)
    try:
        for n in range(5):
            assert (await write(first, f"Hola {n}")).request is not None
    finally:
        await first.close()
    second = await make_bridge(config=DATA / "jun.yaml", clock=clock, workdir=tmp_path)
    third = await make_bridge(config=DATA / "jun.yaml", clock=clock, workdir=tmp_path)
    try:
        sixth = await write(second, "Hola otra vez")
        assert sixth.error == "rate limited" and "deprisa" in says(sixth)
        # Told once: the other worker does not tell them again in the same minute.
        seventh = await write(third, "¿Hola?")
        assert seventh.error == "rate limited" and seventh.replies == ()
        clock.advance(61)
        assert (await write(third, "La farola de la calle Real no funciona")).error is None
    finally:
        await second.close()
        await third.close()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_block_and_unblock(tmp_path):
    town = tmp_path / "channels.yaml"
    town.write_text(yaml.safe_dump(town_config(), allow_unicode=True))
    code, out = run(
        "residents", "block", "--config", str(town), "telegram:4242",
        "--reason", "insultos", "--by", "administrativa",
    )  # fmt: skip
    assert code == 0 and "telegram:4242 is blocked" in out
    code, out = run("residents", "show", "--config", str(town))
    assert "insultos" in out

    async def receive() -> str | None:
        bridge = await make_bridge(config=town, workdir=tmp_path)
        try:
            handled = await bridge.receive(make_message("hola", user="vecina", user_id="4242"))
            return handled.error
        finally:
            await bridge.close()

    assert asyncio.run(receive()) == "blocked"
    code, out = run("residents", "unblock", "--config", str(town), "telegram:4242")
    assert code == 0 and "telegram:4242 is no longer blocked" in out
    assert asyncio.run(receive()) is None
    code, out = run("residents", "unblock", "--config", str(town), "telegram:999")
    assert code == 1 and "no resident has written as telegram:999" in out
    code, out = run("residents", "block", "--config", str(town), "telegram:1", "--by", "x")
    assert code == 2 and "--reason" in out
