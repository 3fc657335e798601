"""Staff at work: the request card, commands in the staff place, the resident told."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import insert

from junbridge.model import Reply, Status
from junbridge.store.schema import outbox
from junbridge.testing import make_bridge, make_message

DATA = Path(__file__).parent / "data"
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
STAFF_PLACE = dict(channel="slack", conversation="C0LIGHTSTAFF", private=False)


@pytest.fixture
async def bridge(tmp_path, db_url):
    b = await make_bridge(
        config=DATA / "jun.yaml", clock=lambda: WEDNESDAY_10, workdir=tmp_path, store_url=db_url
    )
    yield b
    await b.close()


async def lamp(bridge):
    handled = await bridge.receive(
        make_message(
            "La farola de la calle Real no funciona",
            channel="twitter",
            location=(37.2218, -3.5930),
            platform_id="1590000000000000001",
        )
    )
    return handled.request


async def sent_card(bridge, reference):
    """The card as the outbox delivered it to Slack (ts recorded as its platform id)."""
    [row] = [
        r
        for r in await bridge.store.replies_for(reference)
        if r.reply.conversation == "C0LIGHTSTAFF"
    ]
    for claimed in await bridge.store.claim_outbox(now=WEDNESDAY_10, channel="slack"):
        await bridge.store.mark_sent(
            claimed.id, platform_ids=["1764061200.000100"], at=WEDNESDAY_10
        )
    return row.reply


async def test_a_new_request_posts_a_card_tagging_the_electrician(bridge):
    request = await lamp(bridge)
    card = await sent_card(bridge, request.reference)
    assert request.reference in card.text and "@U0ELECTRIC" in card.text
    assert "La farola de la calle Real no funciona" in card.text
    assert "openstreetmap.org" in card.text


async def test_resolve_with_a_photo_in_the_card_thread_tells_the_resident_with_the_photo(bridge):
    request = await lamp(bridge)
    await sent_card(bridge, request.reference)
    # No reference: the thread of the card says which request it is.
    resolve = make_message(
        "resolve bombilla cambiada", user="U0ELECTRIC", photo="F0LAMPFIXED", **STAFF_PLACE
    )
    handled = await bridge.receive(dataclasses.replace(resolve, thread="1764061200.000100"))
    assert handled.request.state is Status.RESOLVED
    assert handled.request.history[-1].by == "electricista"
    [notice, confirmation] = handled.replies
    assert notice.channel == "twitter" and notice.thread == "1590000000000000001"
    assert notice.photo.platform_ref == "F0LAMPFIXED"
    assert request.reference in notice.text and "bombilla cambiada" in notice.text
    assert confirmation.conversation == "C0LIGHTSTAFF" and "resolved" in confirmation.text


async def test_resolve_in_the_thread_of_a_card_600_replies_old_finds_its_request(bridge):
    request = await lamp(bridge)
    await sent_card(bridge, request.reference)
    # Since the card, 600 replies about other requests were delivered in the staff channel
    # (written straight into the outbox: 600 pipeline runs would take a minute).
    later = [
        {
            "created_at": WEDNESDAY_10,
            "request_reference": f"JUN-{n}",
            "channel": "slack",
            "reply": Reply(text=f"JUN-{n} → resolved", **STAFF_PLACE).to_json(),
            "status": "sent",
            "attempts": 1,
            "next_attempt_at": WEDNESDAY_10,
            "sent_at": WEDNESDAY_10,
            "platform_ids": [f"1764070000.{n:06d}"],
        }
        for n in range(1000, 1600)
    ]
    async with bridge.store._write() as connection:
        await connection.execute(insert(outbox), later)
    resolve = make_message("resolve bombilla cambiada", user="U0ELECTRIC", **STAFF_PLACE)
    handled = await bridge.receive(dataclasses.replace(resolve, thread="1764061200.000100"))
    assert handled.request.reference == request.reference
    assert handled.request.state is Status.RESOLVED


async def test_staff_at_work_are_not_taken_for_residents(bridge):
    # The electrician works in the staff place, alone and among residents' messages
    # handled together: the town's residents are those who wrote to it, not its staff.
    request = await lamp(bridge)
    await bridge.receive(
        make_message(f"start {request.reference}", user="U0ELECTRIC", **STAFF_PLACE)
    )
    resolve = make_message(
        f"resolve {request.reference} bombilla", user="U0ELECTRIC", **STAFF_PLACE
    )
    pothole = make_message("Hay un bache enorme en la plaza", user="vecino")
    await asyncio.gather(bridge.submit(resolve), bridge.submit(pothole))
    await bridge.drain()
    assert (await bridge.requests.get(request.reference)).state is Status.RESOLVED
    assert len(await bridge.requests.all()) == 2
    identities = {i for r in await bridge.store.list_residents() for i in r.identities}
    assert identities == {"twitter:vecina", "telegram:vecino"}


async def test_someone_who_is_not_staff_cannot_resolve(bridge):
    request = await lamp(bridge)
    handled = await bridge.receive(
        make_message(f"resolve {request.reference}", user="U0CURIOSO", **STAFF_PLACE)
    )
    [refusal] = handled.replies
    assert "Solo el personal" in refusal.text and refusal.conversation == "C0LIGHTSTAFF"
    assert (await bridge.requests.get(request.reference)).state is Status.ASSIGNED


async def test_chatter_in_the_staff_place_never_reaches_the_resident(bridge):
    request = await lamp(bridge)
    before = len(await bridge.store.replies_for(request.reference))
    handled = await bridge.receive(
        make_message("¿Alguien tiene la escalera grande?", user="U0ELECTRIC", **STAFF_PLACE)
    )
    assert handled.replies == () and handled.request is None
    assert len(await bridge.store.replies_for(request.reference)) == before


async def test_reject_needs_a_reason_and_an_illegal_step_is_explained(bridge):
    request = await lamp(bridge)
    ref = request.reference
    [answer] = (
        await bridge.receive(make_message(f"reject {ref}", user="U0ELECTRIC", **STAFF_PLACE))
    ).replies
    assert "necesita un motivo" in answer.text
    await bridge.receive(make_message(f"resolve {ref}", user="U0ELECTRIC", **STAFF_PLACE))
    [answer] = (
        await bridge.receive(make_message(f"start {ref}", user="U0ELECTRIC", **STAFF_PLACE))
    ).replies
    assert "cannot become in_progress" in answer.text


async def test_note_stays_internal_and_reply_reaches_the_resident(bridge):
    request = await lamp(bridge)
    ref = request.reference
    noted = await bridge.receive(
        make_message(f"note {ref} falta la pieza", user="U0ELECTRIC", **STAFF_PLACE)
    )
    assert all(r.channel == "slack" for r in noted.replies)
    assert noted.request.history[-1].note == "falta la pieza"
    replied = await bridge.receive(
        make_message(f"reply {ref} mañana por la mañana pasamos", user="U0ELECTRIC", **STAFF_PLACE)
    )
    to_resident = [r for r in replied.replies if r.channel == "twitter"]
    assert len(to_resident) == 1 and "mañana por la mañana" in to_resident[0].text


async def test_a_staff_reply_to_a_public_thread_is_redacted_of_personal_data(bridge):
    request = await lamp(bridge)
    replied = await bridge.receive(
        make_message(
            f"reply {request.reference} Llame a Paco al 600 123 456 si vuelve a fallar",
            user="U0ELECTRIC",
            **STAFF_PLACE,
        )
    )
    [public] = [r for r in replied.replies if r.channel == "twitter"]
    assert not public.private and "600 123 456" not in public.text
    assert "[teléfono]" in public.text
    # The history keeps what staff wrote; only what is published is redacted.
    assert "600 123 456" in replied.request.history[-1].note


def town_in(language: str, **lighting: object) -> dict:
    """The test town, its language changed, and the lighting block extended."""
    config = yaml.safe_load((DATA / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(Path(__file__).parent.parent / "menu.yaml")
    config["town"]["languages"] = [language]
    config["departments"]["lighting"].update(lighting)
    return config


async def test_staff_read_cards_and_answers_in_the_towns_language(tmp_path, db_url):
    bridge = await make_bridge(
        config=town_in("en"), clock=lambda: WEDNESDAY_10, workdir=tmp_path, store_url=db_url
    )
    try:
        request = await lamp(bridge)
        card = await sent_card(bridge, request.reference)
        assert "Assigned to electricista (@U0ELECTRIC)" in card.text
        assert "In the thread: resolve (with a photo)" in card.text
        assert [c.label for c in card.choices][:3] == ["Seen", "Started", "Resolved"]
        noted = await bridge.receive(
            make_message(
                f"note {request.reference} poste torcido", user_id="U0ELECTRIC", **STAFF_PLACE
            )
        )
        assert [r.text for r in noted.replies] == [
            f"{request.reference}: note kept (the person who reported it does not see it)."
        ]
    finally:
        await bridge.close()


async def test_an_admin_rewords_what_staff_read(tmp_path, db_url):
    replies = {"es": {"staff_card_help": "Responded en el hilo: resolve, reject, note."}}
    bridge = await make_bridge(
        config=town_in("es", replies=replies),
        clock=lambda: WEDNESDAY_10,
        workdir=tmp_path,
        store_url=db_url,
    )
    try:
        card = await sent_card(bridge, (await lamp(bridge)).reference)
        assert card.text.endswith("Responded en el hilo: resolve, reject, note.")
        assert "Asignada a electricista" in card.text
    finally:
        await bridge.close()


async def test_public_replies_tag_the_assignees_handle_but_never_a_bare_user_id(tmp_path, db_url):
    config = town_in(
        "es",
        tag_staff_publicly=True,
        staff=[
            {"name": "electricista", "handles": {"twitter": "ElectricistaJun", "telegram": "2002"}}
        ],
    )
    bridge = await make_bridge(
        config=config, clock=lambda: WEDNESDAY_10, workdir=tmp_path, store_url=db_url
    )
    try:
        on_x = await lamp(bridge)
        [reply] = [
            r
            for r in (await bridge.store.replies_for(on_x.reference))
            if r.reply.channel == "twitter"
        ]
        assert "@ElectricistaJun" in reply.reply.text
        on_telegram = await bridge.receive(
            make_message("La farola 112 no funciona", channel="telegram", user="vecino")
        )
        [told] = on_telegram.replies
        assert "se lo hemos pasado a electricista." in told.text and "@2002" not in told.text
    finally:
        await bridge.close()
