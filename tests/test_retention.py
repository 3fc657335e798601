"""Retention: closed requests of a department are anonymized or deleted after its days."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from junbridge.bridge import Bridge
from junbridge.channels.base import Channel
from junbridge.cli import cli
from junbridge.config.settings import ChannelSettings, RetentionSettings
from junbridge.media import local_path
from junbridge.model import Attachment, HistoryEntry, ServiceRequest, Status, VersionConflict
from junbridge.retention import apply_retention
from junbridge.store.figures import figures
from junbridge.store.schema import history
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock
from junbridge.web.metrics import read_counts

ROOT = Path(__file__).parent.parent
DAY = 24 * 3600


def town_config(**retention: dict[str, Any]) -> dict[str, Any]:
    """The test town, with ``retention`` blocks for the departments named."""
    config = yaml.safe_load((ROOT / "tests" / "data" / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(ROOT / "menu.yaml")
    for department, rule in retention.items():
        config["departments"][department]["retention"] = rule
    return config


class Photos(Channel):
    """Telegram as far as photos go: each photo reference fetches bytes of its own."""

    name = "telegram"

    async def fetch(self, attachment: Attachment) -> bytes | None:
        return f"jpeg of {attachment.platform_ref}".encode()


async def start(tmp_path: Path, db_url: str, clock: ManualClock, **retention: Any) -> Bridge:
    bridge = await make_bridge(
        config=town_config(**retention), clock=clock, workdir=tmp_path, store_url=db_url
    )
    bridge.channels["telegram"] = Photos(ChannelSettings())
    return bridge


async def report(bridge: Bridge, text: str, **options: Any) -> ServiceRequest:
    handled = await bridge.receive(make_message(text, sent_at=bridge.clock(), **options))
    assert handled.request is not None
    return handled.request


async def closed_theft_past_its_days(
    bridge: Bridge, clock: ManualClock, what: str
) -> ServiceRequest:
    """Ana's report of a theft of ``what``, closed by the police, 31 days ago."""
    theft = await report(bridge, f"Me han robado {what}", user="ana")
    await bridge.set_state(theft.reference, Status.CLOSED, by="agente de guardia")
    clock.advance(31 * DAY)
    return theft


def photo_file(request: ServiceRequest) -> Path:
    [attachment] = request.attachments
    path = local_path(attachment)
    assert path is not None and path.exists()
    return path


async def history_rows(bridge: Bridge) -> int:
    async with bridge.store._read() as connection:
        return int(await connection.scalar(select(func.count()).select_from(history)) or 0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_a_closed_police_report_is_anonymized_after_its_days(tmp_path, db_url, clock):
    bridge = await start(tmp_path, db_url, clock, police={"after_days": 30})
    try:
        theft = await report(
            bridge,
            "Me han robado la bici en la calle Real 12, soy Ana García, mi móvil 612 345 678",
            user="ana",
            platform_id="tg-ana-1",
            photo="bici-ana",
        )
        photo = photo_file(theft)
        await bridge.set_state(
            theft.reference, Status.CLOSED, by="agente de guardia", note="Ana recupera la bici"
        )
        parking = await report(bridge, "Un coche mal aparcado en mi vado", user="luis")
        lamp = await report(
            bridge, "La farola de la calle Real no funciona", channel="twitter", user="eva"
        )
        lamp = await bridge.set_state(lamp.reference, Status.CLOSED, by="electricista")
        clock.advance(25 * DAY)
        noise = await report(bridge, "Ruido de una fiesta, no se puede dormir", user="pepa")
        noise = await bridge.set_state(noise.reference, Status.REJECTED, by="agente de guardia")
        clock.advance(6 * DAY)
        untouched = [await bridge.requests.get(r.reference) for r in (parking, lamp, noise)]

        [done] = await apply_retention(bridge, now=clock())

        assert (done.reference, done.department, done.action) == (
            theft.reference,
            "police",
            "anonymize",
        )
        assert done.state is Status.CLOSED and done.photos == 1 and not done.dry_run
        after = await bridge.requests.get(theft.reference)
        assert after.description == "[anonimizado]"
        assert after.resident_id is None and after.recipient is None
        assert after.conversation is None and after.thread is None
        assert after.address is None and after.lat is None and after.media_url is None
        assert after.attachments == () and dict(after.details) == {}
        # What the town counts stays: department, state, when asked and when closed.
        assert after.state is Status.CLOSED and after.department == "police"
        assert after.requested_datetime == theft.requested_datetime
        assert after.assignee == "agente de guardia"
        *lines, audit = after.history
        assert (audit.by, audit.action, audit.note) == (
            "junbridge",
            "retention",
            "anonymized after 30 days",
        )
        assert audit.at == clock()
        assert all(line.note is None for line in lines)
        assert lines[0].by == "resident" and "agente de guardia" in {line.by for line in lines}
        text = json.dumps(after.to_json(), ensure_ascii=False)
        for personal in ("Ana", "612", "Real", "bici", "@ana"):
            assert personal not in text
        # Nothing elsewhere leads back to the resident either.
        assert await bridge.store.replies_for(theft.reference) == []
        assert await bridge.store.inbound_reference("telegram", "tg-ana-1") is None
        assert not photo.exists()
        assert [await bridge.requests.get(r.reference) for r in (parking, lamp, noise)] == untouched
        # Done once: the next run finds nothing new.
        assert await apply_retention(bridge, now=clock() + timedelta(days=1)) == []
    finally:
        await bridge.close()


async def test_a_photo_another_request_still_uses_is_kept(tmp_path, db_url, clock):
    bridge = await start(tmp_path, db_url, clock, police={"after_days": 30})
    try:
        theft = await report(bridge, "Me han robado el bolso", user="ana", photo="same")
        lamp = await report(
            bridge, "La farola de la calle Real no funciona", user="eva", photo="same"
        )
        assert photo_file(theft) == photo_file(lamp)
        await bridge.set_state(theft.reference, Status.CLOSED, by="agente de guardia")
        clock.advance(31 * DAY)
        [done] = await apply_retention(bridge, now=clock())
        assert done.reference == theft.reference and done.photos == 0
        assert photo_file(lamp).exists()
    finally:
        await bridge.close()


async def test_delete_removes_the_request_its_history_replies_and_photo(
    tmp_path, db_url, clock, caplog
):
    bridge = await start(tmp_path, db_url, clock, police={"after_days": 30, "action": "delete"})
    try:
        theft = await report(
            bridge, "Me han robado la bici", user="ana", platform_id="tg-1", photo="bici"
        )
        photo = photo_file(theft)
        kept = await report(bridge, "Un coche mal aparcado en mi vado", user="luis")
        theft = await bridge.set_state(theft.reference, Status.CLOSED, by="agente de guardia")
        for row in await bridge.store.claim_outbox(now=clock(), limit=100):
            await bridge.store.mark_sent(row.id, platform_ids=[f"sent-{row.id}"], at=clock())
        first = (await bridge.store.replies_for(theft.reference))[0]
        thread = (first.reply.channel, first.reply.conversation, first.platform_ids[0])
        assert await bridge.store.reference_for_thread(*thread) == theft.reference
        rows = await history_rows(bridge)
        [counted] = await figures(bridge.store, since=None, now=clock(), public_only=False)
        assert (counted.department, counted.received, counted.closed) == ("police", 2, 1)
        clock.advance(31 * DAY)

        with caplog.at_level(logging.INFO, logger="junbridge.audit"):
            [done] = await apply_retention(bridge, now=clock())

        assert (done.reference, done.action, done.photos) == (theft.reference, "delete", 1)
        assert await bridge.requests.get(theft.reference) is None
        assert await history_rows(bridge) == rows - len(theft.history)
        assert await bridge.store.replies_for(theft.reference) == []
        # The ids its replies were sent as lead nowhere: they went with the replies.
        assert await bridge.store.reference_for_thread(*thread) is None
        assert await bridge.store.inbound_reference("telegram", "tg-1") is None
        assert not photo.exists()
        assert await bridge.requests.get(kept.reference) == kept
        # The town's figures count only what is kept.
        [counted] = await figures(bridge.store, since=None, now=clock(), public_only=False)
        assert (counted.received, counted.closed, counted.open_now) == (1, 0, 1)
        # And so does /metrics: the kept one, in its state; none closed any more.
        counts = await bridge.store.read(read_counts)
        assert {(d, s): n for d, s, n in counts.requests if n} == {("police", kept.state.value): 1}
        # A deleted request's only trace: the audit log line.
        assert f"retention: deleted {theft.reference} (police, closed since" in caplog.text
    finally:
        await bridge.close()


async def test_a_dry_run_changes_nothing(tmp_path, db_url, clock):
    bridge = await start(tmp_path, db_url, clock, police={"after_days": 30, "action": "delete"})
    try:
        theft = await report(bridge, "Me han robado la bici", user="ana", photo="bici")
        theft = await bridge.set_state(theft.reference, Status.CLOSED, by="agente de guardia")
        replies = await bridge.store.replies_for(theft.reference)
        clock.advance(31 * DAY)

        [would] = await apply_retention(bridge, now=clock(), dry_run=True)

        assert would.reference == theft.reference and would.dry_run and would.photos == 1
        assert await bridge.requests.get(theft.reference) == theft
        assert await bridge.store.replies_for(theft.reference) == replies
        assert photo_file(theft).exists()
    finally:
        await bridge.close()


async def test_a_copy_read_before_anonymizing_cannot_bring_the_words_back(tmp_path, db_url, clock):
    # A worker read the theft (to add a staff note) just before retention anonymized it, and
    # saves after: its copy still holds Ana's words. It is refused as stale (the worker then
    # redoes the note on the stored row), never written over the anonymized one.
    bridge = await start(tmp_path, db_url, clock, police={"after_days": 30})
    try:
        theft = await closed_theft_past_its_days(bridge, clock, "la bici, soy Ana García")
        read_before = await bridge.requests.get(theft.reference)
        assert len(await apply_retention(bridge, now=clock())) == 1
        line = HistoryEntry(at=clock(), by="agente de guardia", action="note", note="Ana llamó")
        noted = dataclasses.replace(
            read_before, status_notes="Ana llamó", history=(*read_before.history, line)
        )
        with pytest.raises(VersionConflict):
            await bridge.store.write(lambda tx: tx.save_request(noted))
        after = await bridge.requests.get(theft.reference)
        assert after.description == "[anonimizado]" and after.status_notes is None
        assert [h.action for h in after.history][-1] == "retention"
    finally:
        await bridge.close()


async def test_a_request_reopened_after_anonymizing_is_anonymized_again(tmp_path, db_url, clock):
    bridge = await start(tmp_path, db_url, clock, police={"after_days": 30})
    try:
        theft = await closed_theft_past_its_days(bridge, clock, "la bici")
        assert len(await apply_retention(bridge, now=clock())) == 1
        await bridge.set_state(theft.reference, Status.REOPENED, by="agente de guardia")
        await bridge.set_state(
            theft.reference, Status.CLOSED, by="agente de guardia", note="la llamó Ana"
        )
        clock.advance(31 * DAY)
        assert len(await apply_retention(bridge, now=clock())) == 1
        after = await bridge.requests.get(theft.reference)
        assert [h.action for h in after.history].count("retention") == 2
        assert all(h.note is None for h in after.history if h.action != "retention")
    finally:
        await bridge.close()


def test_retention_needs_positive_days_and_a_known_action():
    assert RetentionSettings(after_days=90).action == "anonymize"
    with pytest.raises(pydantic.ValidationError):
        RetentionSettings(after_days=0)
    with pytest.raises(pydantic.ValidationError):
        RetentionSettings(after_days=30, action="shred")


@pytest.fixture
def town(tmp_path: Path) -> Path:
    """channels.yaml with a police retention of 30 days and its own SQLite store."""
    config = town_config(police={"after_days": 30})
    config["departments"]["doctor"]["require_verified"] = False
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


async def closed_theft(town: Path) -> ServiceRequest:
    """A theft reported and closed two months ago (the command runs on the real clock)."""
    clock = ManualClock(datetime.now(UTC) - timedelta(days=60))
    bridge = await make_bridge(
        config=town, clock=clock, store_url=f"sqlite:///{town.parent / 'junbridge.db'}"
    )
    try:
        theft = await report(bridge, "Me han robado la bici, soy Ana García", user="ana")
        return await bridge.set_state(theft.reference, Status.CLOSED, by="agente de guardia")
    finally:
        await bridge.close()


def test_maintenance_shows_a_dry_run_then_anonymizes(town):
    theft = asyncio.run(closed_theft(town))

    code, out = run("maintenance", "--config", str(town), "--dry-run")
    assert code == 0
    assert "dry run: 1 requests would be let go" in out
    assert "police" in out and "anonymize after 30 days" in out and theft.reference in out
    code, out = run("requests", "show", "--config", str(town), theft.reference)
    assert "Ana García" in out

    code, out = run("maintenance", "--config", str(town))
    assert code == 0 and "1 requests let go" in out and theft.reference in out
    code, out = run("requests", "show", "--config", str(town), theft.reference)
    assert "[anonimizado]" in out and "Ana García" not in out and "retention" in out

    code, out = run("maintenance", "--config", str(town))
    assert code == 0 and "0 requests let go" in out


def test_maintenance_without_any_retention_says_so(tmp_path):
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(town_config(), allow_unicode=True))
    code, out = run("maintenance", "--config", str(path))
    assert code == 0 and "No department has a retention" in out


def test_maintenance_recounts_the_figures_a_worker_of_an_older_release_left_out(town):
    """During a rolling upgrade, a worker of the release before running totals changes
    requests without moving them: ``--recount-figures`` counts every request again."""
    theft = asyncio.run(closed_theft(town))
    url = f"sqlite:///{town.parent / 'junbridge.db'}"

    async def counted() -> tuple[int, int]:
        bridge = await make_bridge(config=town, store_url=url)
        try:
            found = await figures(
                bridge.store, since=None, now=datetime.now(UTC), public_only=False
            )
            return sum(f.received for f in found), sum(f.closed for f in found)
        finally:
            await bridge.close()

    assert asyncio.run(counted()) == (1, 1)
    with sqlite3.connect(town.parent / "junbridge.db") as db:  # what the old worker left
        db.execute("DELETE FROM figure_hours")
    assert asyncio.run(counted()) == (0, 0)

    # It changes the totals: a dry run of it is refused, not taken for a retention dry run.
    result = CliRunner().invoke(
        cli, ["maintenance", "--config", str(town), "--recount-figures", "--dry-run"]
    )
    assert result.exit_code == 2 and "has no --dry-run" in result.output
    assert asyncio.run(counted()) == (0, 0)

    code, out = run("maintenance", "--config", str(town), "--recount-figures")
    assert code == 0 and "counted again" in out
    assert asyncio.run(counted()) == (1, 1)
    # Nothing else was done: the theft is still there, not anonymized.
    code, out = run("requests", "show", "--config", str(town), theft.reference)
    assert "Ana García" in out
