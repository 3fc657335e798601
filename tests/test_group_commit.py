"""Messages arriving together are stored and handled together, and nothing else changes.

Under load, webhooks that wait for their message to be stored share one transaction, and
the worker commits the effects of a batch of messages at once (group commit). A resident
notices none of it: every message is handled once, a conversation's messages in order, and
one message that fails holds back no other.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from junbridge.bridge import Bridge
from junbridge.store.leases import LEASE
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import WEDNESDAY_10, ManualClock

ROOT = Path(__file__).parent.parent


async def town(tmp_path: Path, db_url: str, **replies: dict[str, dict[str, str]]) -> Bridge:
    config = yaml.safe_load((ROOT / "tests" / "data" / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(ROOT / "menu.yaml")
    for department, texts in replies.items():
        config["departments"][department]["replies"] = texts
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return await make_bridge(
        config=path, clock=ManualClock(WEDNESDAY_10), workdir=tmp_path, store_url=db_url
    )


async def test_reports_arriving_together_each_become_one_request_in_order(
    tmp_path: Path, db_url: str
) -> None:
    bridge = await town(tmp_path, db_url)
    try:
        reports = [
            make_message(f"La farola {n} de la calle Real no funciona", user=f"vecino{n}")
            for n in range(1, 41)
        ]
        # Ana's answer arrives in the same burst as her question: it must be read as the
        # answer (a lamp number), not as a new report.
        question = make_message("Hay una farola apagada", user="ana")
        answer = make_message("farola 77", user="ana")
        # A platform retrying at once: the same message twice in the burst.
        retried = make_message("La farola 90 parpadea", user="luis", platform_id="tg-90")
        again = make_message("La farola 90 parpadea", user="luis", platform_id="tg-90")

        accepted = await asyncio.gather(
            *(bridge.submit(m) for m in [question, *reports, answer, retried, again])
        )
        await bridge.drain()

        assert sum(a.is_new for a in accepted) == 43
        requests = await bridge.requests.all()
        lamps = sorted(r.address_id for r in requests if r.address_id)
        assert lamps == sorted([f"lamp-{n}" for n in range(1, 41)] + ["lamp-77", "lamp-90"])
        assert len(requests) == 42
        for request in requests:
            told = [r for r in await bridge.store.replies_for(request.reference)]
            assert any(r.reply.channel == "telegram" for r in told), request.reference
    finally:
        await bridge.close()


async def test_one_failing_message_in_a_burst_holds_back_no_other(
    tmp_path: Path, db_url: str
) -> None:
    # An admin's slip in the police department's reply (a number format for the reference,
    # which is text): only police reports fail.
    typo = "Recibido: {reference:d}"
    bridge = await town(tmp_path, db_url, police={"es": {"assigned": typo, "acknowledged": typo}})
    try:
        lamps = [
            make_message(f"La farola {n} de la calle Real no funciona", user=f"vecino{n}")
            for n in range(1, 11)
        ]
        theft = make_message("Me han robado la bici en la plaza", user="marta")
        await asyncio.gather(*(bridge.submit(m) for m in [*lamps[:5], theft, *lamps[5:]]))
        await bridge.drain()

        handled = {r.address_id for r in await bridge.requests.all()}
        assert handled == {f"lamp-{n}" for n in range(1, 11)}
        # The theft report is kept, with its error, for another try (then parked).
        assert await bridge.store.parked() == []
        bridge.clock.advance(LEASE.total_seconds())  # type: ignore[attr-defined]
        [kept] = await bridge.store.claim_expired()
        assert kept.message.text == theft.text and kept.attempts == 2
    finally:
        await bridge.close()
