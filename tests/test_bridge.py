"""The whole pipeline with the real plugins and a real SQLite store: what residents notice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from junbridge.bridge import Bridge
from junbridge.model import MessageKind, Status
from junbridge.store import Store
from junbridge.store.leases import LEASE
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock

DATA = Path(__file__).parent / "data"
# Wednesday 25 November 2026, 10:00 in Jun (09:00 UTC): the town hall is open.
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
async def bridge(tmp_path: Path, db_url: str) -> Bridge:
    """The test town on each store: a SQLite file and a PostgreSQL schema."""
    b = await make_bridge(
        config=DATA / "jun.yaml", clock=lambda: WEDNESDAY_10, workdir=tmp_path, store_url=db_url
    )
    yield b
    await b.close()


def says(handled) -> str:
    return "\n".join(reply.text for reply in handled.replies)


async def test_dead_lamp_with_location_is_assigned_to_the_on_duty_electrician(bridge):
    handled = await bridge.receive(
        make_message(
            "La farola de la calle Real no funciona", channel="twitter", location=(37.2218, -3.5930)
        )
    )
    [request] = await bridge.requests.open()
    assert request.department == "lighting"
    assert request.state is Status.ASSIGNED and request.assignee == "electricista"
    assert (request.lat, request.long) == (37.2218, -3.5930)
    # 48 business hours of 7 h from Wednesday 10:00: Friday 4 December, 09:00 in Jun.
    assert request.expected_datetime == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    assert request.reference == "JUN-0001"
    text = says(handled)
    assert "JUN-0001" in text and "electricista" in text and "4 de diciembre" in text


async def test_lamp_without_a_place_asks_where_and_the_answer_completes_the_same_request(bridge):
    first = await bridge.receive(make_message("Hay una farola que parpadea toda la noche"))
    assert "¿Dónde está la farola?" in says(first)
    assert first.request.state is Status.RECEIVED
    # The answer has no lighting keyword: the open conversation routes it, not the words.
    second = await bridge.receive(make_message("es la número 112, junto al colegio"))
    requests = await bridge.requests.all()
    assert len(requests) == 1
    [request] = requests
    assert request.address_id == "lamp-112" and request.state is Status.ASSIGNED
    assert request.description == "Hay una farola que parpadea toda la noche"
    assert request.reference in says(second)


async def test_english_keywords_get_an_english_answer(bridge):
    handled = await bridge.receive(
        make_message("The street light on Real Street is flickering", channel="slack")
    )
    assert handled.request.department == "lighting"
    assert "Expected by" in says(handled)


async def test_same_platform_message_twice_makes_one_request(bridge):
    message = make_message("farola 7 apagada", platform_id="update-555")
    first = await bridge.receive(message)
    again = await bridge.receive(message)
    assert again.duplicate and not again.replies
    assert again.request.reference == first.request.reference
    assert len(await bridge.requests.all()) == 1


async def test_a_failing_department_loses_nothing_and_triage_acknowledges(tmp_path, db_url):
    # Jun's test town, with the broken fountains department turned on beside its own.
    root = DATA.parent.parent
    jun = (DATA / "jun.yaml").read_text()
    jun = jun.replace("../../menu.yaml", str(root / "menu.yaml"))
    town = tmp_path / "channels.yaml"
    town.write_text(jun.replace("departments:\n", "departments:\n  fountains: {}\n"))
    bridge = await make_bridge(
        config=town,
        plugins=[DATA / "plugins/broken.py"],
        clock=lambda: WEDNESDAY_10,
        workdir=tmp_path,
        store_url=db_url,
    )
    try:
        handled = await bridge.receive(make_message("La fuente de la plaza pierde agua"))
        assert handled.error and "ZeroDivisionError" in handled.error
        request = handled.request
        assert request.department == "triage" and request.state is Status.RECEIVED
        assert request.description == "La fuente de la plaza pierde agua"
        assert any(h.action == "plugin_failed" and "fountains" in h.note for h in request.history)
        assert request.reference in says(handled)
    finally:
        await bridge.close()


async def test_a_message_nobody_claims_goes_to_triage_with_an_acknowledgement(bridge):
    handled = await bridge.receive(make_message("¿A qué hora abre el ayuntamiento el sábado?"))
    assert handled.request.department == "triage"
    assert "Hemos recibido tu mensaje" in says(handled)


async def test_an_ambiguous_message_lets_the_resident_choose(bridge):
    handled = await bridge.receive(make_message("La farola de la esquina: vandalismo otra vez"))
    assert handled.request is None
    [question] = handled.replies
    assert {c.value for c in question.choices} == {"dept:lighting", "dept:police"}
    chosen = await bridge.receive(make_message(choice="dept:lighting", kind=MessageKind.BUTTON))
    assert chosen.request.department == "lighting"
    # The first message is the one the department handles, so it still asks where.
    assert chosen.request.description == "La farola de la esquina: vandalismo otra vez"


async def test_explicit_command_or_hashtag_wins_over_keywords(bridge):
    handled = await bridge.receive(make_message("#farola el ruido de la obra no deja dormir"))
    assert handled.department == "lighting"
    handled = await bridge.receive(make_message("/police mi vecino aparca en el vado", user="otro"))
    assert handled.department == "police"


async def test_a_pinned_slack_channel_routes_everything_to_its_department(bridge):
    handled = await bridge.receive(
        make_message(
            "Mañana cortamos la calle Nueva",
            channel="slack",
            conversation="C0LIGHTING",
            private=False,
        )
    )
    assert handled.department == "lighting"


async def test_police_matter_in_public_moves_to_a_private_message(bridge):
    handled = await bridge.receive(
        make_message("@AytoJun me han robado la bici en la plaza", channel="twitter")
    )
    public = [r for r in handled.replies if not r.private]
    private = [r for r in handled.replies if r.private]
    assert len(public) == 1 and "mensaje privado" in public[0].text
    assert "robado" not in public[0].text and handled.request.reference not in public[0].text
    assert private and all(r.recipient == "vecina" for r in private)
    assert handled.request.privacy == "private"


async def test_an_accepted_message_survives_a_crash_before_processing(tmp_path, db_url):
    config = DATA / "jun.yaml"
    bridge = await make_bridge(
        config=config, clock=lambda: WEDNESDAY_10, workdir=tmp_path, store_url=db_url
    )
    # The webhook stored the message, then the process died before any department ran.
    await bridge.store.accept(make_message("La farola 33 está fundida", platform_id="tg-1"))
    await bridge.close()
    # Restarted once the dead worker's lease on the message has run out.
    later = WEDNESDAY_10 + LEASE
    restarted = await make_bridge(
        config=config, clock=lambda: later, workdir=tmp_path, store_url=db_url
    )
    try:
        [request] = await restarted.requests.open()
        assert request.address_id == "lamp-33" and request.department == "lighting"
        rows = await restarted.store.replies_for(request.reference)
        [answer] = [r for r in rows if r.reply.channel == "telegram"]
        assert answer.status == "pending" and request.reference in answer.reply.text
    finally:
        await restarted.close()


async def test_a_dead_workers_backlog_in_one_group_is_taken_over_in_one_sweep(tmp_path, db_url):
    clock = ManualClock(WEDNESDAY_10)
    live = await make_bridge(
        config=DATA / "jun.yaml", clock=clock, workdir=tmp_path, store_url=db_url
    )
    dead = await Store.open(db_url, reference_prefix="JUN", clock=clock)
    stop = asyncio.Event()
    try:
        # Four neighbours wrote in one group chat; the worker that accepted them died.
        for n in range(4):
            message = make_message(
                f"La farola {n + 1} de la plaza no funciona",
                user=f"vecino{n}",
                private=False,
                conversation="-100777",
            )
            await dead.accept(message)
        await dead.close()
        clock.advance(LEASE.total_seconds())
        # One message of a conversation at a time, but not one per interval.
        sweep = asyncio.create_task(live.sweep(stop, interval=3600))
        for _ in range(200):  # 10 s at most
            if not await live.store.pending_inbound():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await sweep
        assert len(await live.requests.all()) == 4
    finally:
        stop.set()
        await live.close()


async def test_changing_state_by_hand_is_checked_and_kept_in_history(bridge):
    handled = await bridge.receive(make_message("farola 9 fundida"))
    ref = handled.request.reference
    done = await bridge.set_state(ref, Status.RESOLVED, by="electricista", note="bombilla nueva")
    assert done.state is Status.RESOLVED and done.history[-1].by == "electricista"
    with pytest.raises(Exception, match="cannot become in_progress"):
        await bridge.set_state(ref, Status.IN_PROGRESS, by="electricista")
    assert (await bridge.requests.get(ref)).state is Status.RESOLVED


async def test_a_change_by_hand_tells_the_resident_in_their_thread(bridge):
    handled = await bridge.receive(make_message("farola 9 fundida"))
    ref = handled.request.reference
    await bridge.set_state(ref, Status.RESOLVED, by="electricista", note="bombilla nueva")
    told = [r.reply for r in await bridge.store.replies_for(ref) if r.reply.channel == "telegram"]
    assert told[-1].text == f"**{ref}** está resuelto. bombilla nueva"
    assert told[-1].conversation == handled.message.conversation


async def test_changes_by_hand_at_the_same_moment_keep_every_history_line(bridge):
    handled = await bridge.receive(make_message("farola 9 fundida"))
    ref = handled.request.reference
    # Two admins (or an admin and a worker) change the request at once: both notes stay.
    notes = [f"visita {n}" for n in range(6)]

    def noted(note: str):
        def edit(request, department):
            return request.noted("note", by="ayuntamiento", at=WEDNESDAY_10, note=note), []

        return edit

    await asyncio.gather(*(bridge.change(ref, noted(n)) for n in notes))
    stored = await bridge.requests.get(ref)
    assert sorted(h.note for h in stored.history if h.action == "note") == notes
    assert stored.version == handled.request.version + len(notes)


async def test_an_unanswered_question_expires_and_the_next_message_is_routed_afresh(
    tmp_path, db_url
):
    now = [WEDNESDAY_10]
    bridge = await make_bridge(
        config=DATA / "jun.yaml", clock=lambda: now[0], workdir=tmp_path, store_url=db_url
    )
    try:
        asked = await bridge.receive(make_message("Hay una farola apagada"))
        assert "¿Dónde está la farola?" in says(asked)
        now[0] = WEDNESDAY_10 + timedelta(days=2)
        later = await bridge.receive(make_message("¿Qué hay de comer hoy en el cole?"))
        assert later.department == "school"
    finally:
        await bridge.close()


async def test_a_conversation_belongs_to_its_resident_and_chat(bridge):
    await bridge.receive(make_message("Hay una farola apagada", user="ana"))
    other = await bridge.receive(make_message("farola 12", user="luis"))
    assert other.request.address_id == "lamp-12"
    [ana, luis] = sorted(await bridge.requests.all(), key=lambda r: r.reference)
    assert ana.address_id is None and ana.state is Status.RECEIVED
    assert luis.state is Status.ASSIGNED


async def test_a_message_stored_with_half_an_emoji_and_a_nul_is_handled_at_the_next_start(
    tmp_path: Path, db_url: str
):
    """Stored as a channel did before repairing text: the start handles it, repaired."""
    # Accepted by a worker that died; its lease has run out by the time the bridge starts.
    store = await Store.open(db_url, reference_prefix="JUN", clock=lambda: WEDNESDAY_10 - LEASE)
    message = make_message(
        "La farola de la calle\x00 Real no funciona \ud83d", channel="twitter", user="vecina\ud83d"
    )
    await store.accept(message)
    await store.close()
    bridge = await make_bridge(
        config=DATA / "jun.yaml", clock=lambda: WEDNESDAY_10, workdir=tmp_path, store_url=db_url
    )
    try:
        assert await bridge.store.pending_inbound() == []
        [request] = await bridge.requests.all()
        assert request.description == "La farola de la calle Real no funciona \ufffd"
    finally:
        await bridge.close()
