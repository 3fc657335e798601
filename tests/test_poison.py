"""A message the bridge cannot handle is retried, then parked: it never stops the town's bridge."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from junbridge.cli import cli
from junbridge.store.leases import LEASE, MAX_ATTEMPTS
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import WEDNESDAY_10, ManualClock

ROOT = Path(__file__).parent.parent
LAMP = "La farola 33 de la calle Real no funciona"


async def admin(*args: str) -> Result:
    """Run a junbridge command as an admin would, beside the test's event loop."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


def town(folder: Path, db_url: str, *, assigned: str) -> Path:
    """Jun's channels.yaml on ``db_url``, with lighting's 'assigned' reply overridden."""
    config = yaml.safe_load((ROOT / "tests" / "data" / "jun.yaml").read_text())
    config["store"] = {"url": db_url}
    config["departments"]["school"]["menu_file"] = str(ROOT / "menu.yaml")
    config["departments"]["lighting"]["replies"] = {"es": {"assigned": assigned}}
    path = folder / "channels.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


async def test_a_failing_message_is_parked_and_handled_once_the_admin_fixes_it(
    tmp_path: Path, db_url: str
) -> None:
    # An admin's slip that check cannot see: the reference is text, so a number format
    # raises only when the reply is rendered.
    config = town(tmp_path, db_url, assigned="Gracias, {reference:d}")
    clock = ManualClock(WEDNESDAY_10)
    bridge = await make_bridge(config=config, clock=clock, workdir=tmp_path, store_url=db_url)
    try:
        with pytest.raises(ValueError, match="format code 'd'"):
            await bridge.receive(make_message(LAMP, platform_id="tg-1"))
        # Every restart tries again, and every start succeeds; the last try parks it.
        for _ in range(MAX_ATTEMPTS - 1):
            clock.advance(LEASE.total_seconds())
            assert await bridge.recover() == []
        clock.advance(LEASE.total_seconds())
        assert await bridge.recover() == []
        # Other residents are answered meanwhile.
        other = await bridge.receive(make_message("¿Qué hay de comer hoy?", platform_id="tg-2"))
        assert other.replies
        assert await bridge.requests.open("lighting") == []
    finally:
        await bridge.close()

    listed = await admin("requests", "list", "--config", str(config))
    assert listed.exit_code == 0 and "1 message(s) could not be handled" in listed.output
    parked = await admin("requests", "parked", "--config", str(config))
    assert parked.exit_code == 0
    assert "ValueError: Unknown format code 'd'" in parked.output
    assert "La farola 33" in parked.output

    # The admin fixes the template and retries; the next start handles the message.
    town(tmp_path, db_url, assigned="Gracias. {reference}: se lo hemos pasado a {assignee}.")
    retried = await admin("requests", "retry", "--all", "--config", str(config))
    assert retried.exit_code == 0 and "1 message(s) queued again" in retried.output
    restarted = await make_bridge(config=config, clock=clock, workdir=tmp_path, store_url=db_url)
    try:
        [request] = await restarted.requests.open("lighting")
        assert request.department == "lighting" and request.address_id == "lamp-33"
        [answer] = [
            r
            for r in await restarted.store.replies_for(request.reference)
            if r.reply.channel == "telegram"
        ]
        assert (
            answer.reply.text == f"Gracias. {request.reference}: se lo hemos pasado a electricista."
        )
        assert await restarted.store.parked() == []
    finally:
        await restarted.close()


async def test_a_second_worker_started_meanwhile_does_not_handle_a_held_message(
    tmp_path: Path, db_url: str
) -> None:
    config = town(tmp_path, db_url, assigned="Gracias. {reference}: {assignee}.")
    clock = ManualClock(WEDNESDAY_10)
    first = await make_bridge(config=config, clock=clock, workdir=tmp_path, store_url=db_url)
    # The first worker accepted a message and holds it while its queue is busy ...
    accepted = await first.store.accept(make_message(LAMP, platform_id="tg-1"))
    # ... when a second worker starts on the same database and recovers what nobody holds.
    second = await make_bridge(config=config, clock=clock, workdir=tmp_path, store_url=db_url)
    try:
        assert await second.requests.all() == []
        handled = await first.handle_held(
            accepted.inbound_id, make_message(LAMP, platform_id="tg-1")
        )
        assert handled is not None and handled.request is not None
        [request] = await second.requests.all()
        assert request.reference == handled.request.reference
        replies = [
            r
            for r in await second.store.replies_for(request.reference)
            if r.reply.channel == "telegram"
        ]
        assert len(replies) == 1
    finally:
        await first.close()
        await second.close()
