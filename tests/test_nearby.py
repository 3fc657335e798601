"""Nearby reports join one request: a lamp reported twice is one request, and everyone
who reported it hears what happens to it, in their own thread and language."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from junbridge.channels.telegram_parse import parse_update
from junbridge.model import Message, MessageKind, Status
from junbridge.requests import scheduler
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock

DATA = Path(__file__).parent / "data"
FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
STAFF_PLACE = dict(channel="slack", conversation="C0LIGHTSTAFF", private=False)
CARD_TS = "1764061200.000100"
# The dead lamp in calle Real, and points 20 m and 80 m north of it (a degree of latitude
# is 111.2 km).
LAMP = (37.2218, -3.5930)
METRES_20 = (37.2218 + 20 / 111_195, -3.5930)
METRES_80 = (37.2218 + 80 / 111_195, -3.5930)


@pytest.fixture
def clock():
    return ManualClock(WEDNESDAY_10)


@pytest.fixture
async def bridge(tmp_path, db_url, clock):
    b = await make_bridge(config=DATA / "jun.yaml", clock=clock, workdir=tmp_path, store_url=db_url)
    yield b
    await b.close()


def says(handled, channel: str | None = None) -> str:
    return "\n".join(r.text for r in handled.replies if channel in (None, r.channel))


async def report_on_x(bridge):
    """@vecina reports the lamp on X, in Spanish, with the post's location."""
    handled = await bridge.receive(
        make_message(
            "La farola de la calle Real no funciona",
            channel="twitter",
            user="vecina",
            lang="es",
            location=LAMP,
            platform_id="1590000000000000001",
        )
    )
    # The card as the outbox delivered it to Slack: its ts is the thread staff answer in.
    for claimed in await bridge.store.claim_outbox(now=WEDNESDAY_10, channel="slack"):
        await bridge.store.mark_sent(claimed.id, platform_ids=[CARD_TS], at=WEDNESDAY_10)
    return handled.request


async def neighbour_on_telegram(bridge, where=METRES_20, text=None):
    """An English-speaking neighbour reports a lamp on Telegram, with a location."""
    return await bridge.receive(
        make_message(
            text or "The street light by the bakery is out",
            channel="telegram",
            user="neighbour",
            user_id="4242",
            lang="en",
            location=where,
        )
    )


async def test_a_lamp_20_m_away_on_another_channel_is_already_reported(bridge):
    first = await report_on_x(bridge)
    handled = await neighbour_on_telegram(bridge)

    [told] = [r for r in handled.replies if r.channel == "telegram"]
    assert told.text.startswith(f"Already reported: **{first.reference}**, electricista has it.")
    assert "“different one”" in told.text and told.conversation == "4242"
    [request] = await bridge.requests.all()
    assert request.reference == first.reference and request.reporters == 2
    assert request.history[-1].action == "reported_again"
    assert request.history[-1].by == "telegram:@neighbour"
    # The staff read it in the card's thread, with how many reported it.
    [staff] = [r for r in handled.replies if r.channel == "slack"]
    assert staff.thread == CARD_TS and staff.conversation == "C0LIGHTSTAFF"
    assert f"**{first.reference}**: otra persona también lo ha avisado (2 en total)." == staff.text


async def test_resolved_with_a_photo_every_reporter_is_told_in_their_thread_and_language(bridge):
    first = await report_on_x(bridge)
    await neighbour_on_telegram(bridge)
    resolve = make_message(
        "resolve bombilla cambiada", user="U0ELECTRIC", photo="F0LAMPFIXED", **STAFF_PLACE
    )
    handled = await bridge.receive(dataclasses.replace(resolve, thread=CARD_TS))

    assert handled.request.state is Status.RESOLVED
    [on_x, on_telegram, confirmation] = handled.replies
    assert on_x.channel == "twitter" and on_x.thread == "1590000000000000001"
    assert on_x.text.startswith(f"**{first.reference}** está resuelto.")
    assert on_telegram.channel == "telegram" and on_telegram.conversation == "4242"
    assert on_telegram.text == f"**{first.reference}** is resolved. bombilla cambiada"
    assert on_x.photo.platform_ref == on_telegram.photo.platform_ref == "F0LAMPFIXED"
    assert confirmation.conversation == "C0LIGHTSTAFF"


async def test_is_it_fixed_reaches_both_and_the_neighbours_answer_counts(bridge, clock):
    first = await report_on_x(bridge)
    await neighbour_on_telegram(bridge)
    await bridge.receive(
        make_message(f"resolve {first.reference}", user="U0ELECTRIC", **STAFF_PLACE)
    )
    clock.advance(25 * 3600)
    await scheduler.tick(bridge)

    asked = [
        r.reply
        for r in await bridge.store.replies_for(first.reference)
        if r.reply.choices and r.reply.choices[0].value.startswith("fixed:")
    ]
    assert [(r.channel, r.language) for r in asked] == [("twitter", "es"), ("telegram", "en")]
    assert [c.label for c in asked[1].choices] == ["Yes", "No"]
    # The neighbour presses "No" on Telegram: open again, and both hear it.
    no = make_message(
        channel="telegram", user="neighbour", user_id="4242", choice=asked[1].choices[1].value
    )
    handled = await bridge.receive(no)
    assert handled.request.state is Status.REOPENED
    told = {r.channel: r.text for r in handled.replies if r.channel != "slack"}
    assert told == {
        "twitter": f"**{first.reference}** vuelve a estar abierto.",
        "telegram": f"**{first.reference}** is open again.",
    }


async def test_a_lamp_80_m_away_is_a_request_of_its_own(bridge):
    first = await report_on_x(bridge)
    handled = await neighbour_on_telegram(bridge, where=METRES_80)
    assert handled.request.reference != first.reference
    assert "Already reported" not in says(handled)
    assert len(await bridge.requests.all()) == 2
    assert (await bridge.requests.get(first.reference)).reporters == 1


async def test_es_otra_opens_the_residents_report_as_a_request_of_its_own(bridge):
    first = await report_on_x(bridge)
    joined = await bridge.receive(
        make_message(
            "La farola de la esquina tampoco luce",
            user="vecino",
            lang="es",
            location=METRES_20,
        )
    )
    assert "Ya nos lo han avisado" in says(joined) and "«es otra»" in says(joined)

    handled = await bridge.receive(make_message("no, es otra", user="vecino", lang="es"))

    new = handled.request
    assert new.reference != first.reference and new.state is Status.ASSIGNED
    # Their first message's words and place, not "no, es otra".
    assert new.description == "La farola de la esquina tampoco luce"
    assert (new.lat, new.long) == METRES_20
    assert f"**{new.reference}** (Alumbrado público): se lo hemos pasado a" in says(handled)
    back = await bridge.requests.get(first.reference)
    assert back.reporters == 1 and back.joined == ()
    assert back.history[-1].action == "not_the_same"
    # From now on only @vecina hears of the first lamp.
    resolve = await bridge.receive(
        make_message(f"resolve {first.reference}", user="U0ELECTRIC", **STAFF_PLACE)
    )
    assert [r.channel for r in resolve.replies] == ["twitter", "slack"]


async def test_a_resident_who_joined_sees_it_among_theirs_and_can_stop_hearing_of_it(bridge, clock):
    first = await report_on_x(bridge)
    await neighbour_on_telegram(bridge)

    def command(text):
        clock.advance(60)  # a command a minute: well within the rate limits
        return make_message(
            text, user="neighbour", user_id="4242", lang="en", kind=MessageKind.COMMAND
        )

    mine = await bridge.receive(command("/mine"))
    assert first.reference in says(mine) and "Street lighting" in says(mine)
    status = await bridge.receive(command(f"/status {first.reference}"))
    assert "electricista has it" in says(status)

    # The first reporter cannot close what the neighbour reported too.
    clock.advance(60)
    refused = await bridge.receive(
        make_message(
            f"/cancelar {first.reference}",
            channel="twitter",
            user="vecina",
            lang="es",
            kind=MessageKind.COMMAND,
        )
    )
    assert "también lo han avisado otras personas: sigue abierto" in says(refused)
    cancelled = await bridge.receive(command(f"/cancel {first.reference}"))

    assert f"You will no longer hear about **{first.reference}**" in says(cancelled)
    request = await bridge.requests.get(first.reference)
    assert request.state is Status.ASSIGNED and request.reporters == 1
    assert request.history[-1].action == "withdrew"
    assert "You have no open requests." in says(await bridge.receive(command("/mine")))


async def test_after_already_reported_a_plain_word_is_a_command_again(bridge):
    await report_on_x(bridge)
    await neighbour_on_telegram(bridge)
    helped = await bridge.receive(make_message("help", user="neighbour", user_id="4242"))
    assert "Write to us with whatever you need" in says(helped)


async def test_reporting_ones_own_lamp_again_is_told_it_is_theirs(bridge):
    first = await report_on_x(bridge)
    again = await bridge.receive(
        make_message(
            "Sigue sin funcionar la farola de la calle Real",
            channel="twitter",
            user="vecina",
            lang="es",
            location=METRES_20,
        )
    )
    assert f"Ya tenemos tu aviso **{first.reference}** (Alumbrado público)" in says(again)
    [request] = await bridge.requests.all()
    assert request.reporters == 1 and request.joined == ()
    assert [h.action for h in request.history].count("reported_again") == 0


async def test_editing_the_message_that_joined_leaves_the_first_report_as_it_was(bridge):
    first = await report_on_x(bridge)
    joined = await neighbour_on_telegram(bridge)
    edit = dataclasses.replace(
        make_message(
            "The street light by the bakery is out, and the one by the church",
            user="neighbour",
            user_id="4242",
            kind=MessageKind.EDIT,
        ),
        edit_of=joined.message.platform_id,
    )
    await bridge.receive(edit)
    request = await bridge.requests.get(first.reference)
    assert request.description == "La farola de la calle Real no funciona"
    assert "edited" not in [h.action for h in request.history]


async def test_the_lookup_is_read_with_the_batch_not_after_the_department_decides(
    bridge, monkeypatch
):
    first = await bridge.receive(
        make_message("La farola 112 no funciona", user="vecina", location=LAMP)
    )

    async def no_second_trip(place):
        raise AssertionError(f"looked up again after deciding: {place}")

    monkeypatch.setattr(bridge.store, "open_near", no_second_trip)
    # A location (lighting also reads the lamp's number), and a lamp number alone.
    by_point = await neighbour_on_telegram(bridge, text="Street lamp 112 is out")
    by_number = await bridge.receive(make_message("La farola 112 sigue apagada", user="vecino"))
    for handled in (by_point, by_number):
        assert handled.request.reference == first.request.reference
    assert (await bridge.requests.get(first.request.reference)).reporters == 3


async def test_two_lamps_side_by_side_are_told_apart_by_their_numbers(bridge):
    first = await bridge.receive(
        make_message("La farola 112 no funciona", user="vecina", location=LAMP)
    )
    beside = await bridge.receive(
        make_message("La farola 113 tampoco luce", user="vecino", location=METRES_20)
    )
    assert beside.request.reference != first.request.reference
    assert "Ya nos lo han avisado" not in says(beside)
    # Its number alone, without a location: the same lamp.
    again = await bridge.receive(make_message("La farola 112 sigue apagada", user="vecina2"))
    assert f"Ya nos lo han avisado: **{first.request.reference}**" in says(again)
    assert len(await bridge.requests.all()) == 2


async def test_the_same_street_without_a_location_joins_the_request_there(bridge):
    first = await bridge.receive(
        make_message("La farola de la calle Real no funciona", user="vecina", lang="es")
    )
    second = await bridge.receive(
        make_message("En la Calle Real hay una farola apagada", user="vecino", lang="es")
    )
    assert f"Ya nos lo han avisado: **{first.request.reference}**" in says(second)
    assert len(await bridge.requests.all()) == 1


def captured_location(lat: float, long: float) -> Message:
    """tests/fixtures/telegram/location.json (a real captured update), derived: its
    latitude and longitude changed to a point in Jun and its ``language_code`` ("ln-LN",
    no language of Jun's) changed to "en". Sender and chat are the capture's, 12345678."""
    update: dict[str, Any] = json.loads((FIXTURES / "location.json").read_text())
    update["message"]["location"] = {"latitude": lat, "longitude": long}
    update["message"]["from"]["language_code"] = "en"
    message = parse_update(update)
    assert message is not None
    return message


async def test_asked_where_first_the_shared_location_joins_and_es_otra_takes_it_back(bridge):
    first = await report_on_x(bridge)
    asked = await bridge.receive(
        make_message(
            "The street light outside my house is out",
            user="UserName",
            user_id="12345678",
            lang="en",
        )
    )
    own = asked.request
    assert "Where is the lamp?" in says(asked)

    joined = await bridge.receive(captured_location(*METRES_20))

    assert f"Already reported: **{first.reference}**" in says(joined, "telegram")
    assert f"**{own.reference}** es lo mismo que **{first.reference}**" in says(joined, "slack")
    duplicate = await bridge.requests.get(own.reference)
    assert duplicate.state is Status.DUPLICATE and (duplicate.lat, duplicate.long) == METRES_20
    assert (await bridge.requests.get(first.reference)).reporters == 2
    assert await bridge.store.pending_timers(own.reference) == []

    handled = await bridge.receive(
        make_message("it's a different one", user="UserName", user_id="12345678", lang="en")
    )
    assert handled.request.reference == own.reference
    assert handled.request.state is Status.ASSIGNED
    assert f"Thanks. **{own.reference}** (Street lighting): electricista has it." in says(handled)
    assert {t.kind for t in await bridge.store.pending_timers(own.reference)} >= {
        "sla_warning",
        "sla_breach",
    }
    assert (await bridge.requests.get(first.reference)).reporters == 1


async def test_staff_see_how_many_reported_it(bridge, tmp_path):
    from junbridge.desk import staff

    first = await report_on_x(bridge)
    await neighbour_on_telegram(bridge)
    request = await bridge.requests.get(first.reference)
    card = staff.card(request, bridge.departments["lighting"])
    assert "Avisado por 2 personas" in card.text


PRIVATE_PLACES = '''
"""A private matter with a place, for the test: a complaint about a neighbour's door."""

import junbridge
from junbridge import Change, Conversation, Message, Outcome


class Complaints(junbridge.Department):
    """Complaints about a neighbour: private, with where it happens."""

    name = "complaints"
    titles = {"es": "Quejas vecinales", "en": "Neighbour complaints"}
    privacy = "private"
    texts = {
        "es": {"filed": "Queja registrada: **{reference}**."},
        "en": {"filed": "Complaint filed: **{reference}**."},
    }

    class Settings(junbridge.DepartmentSettings):
        keywords: dict[str, list[str]] = {"es": ["queja"], "en": ["complaint"]}

    async def handle(self, message: Message, conversation: Conversation) -> Outcome:
        change = Change(open=True, location=message.location, description=message.text)
        return Outcome(change=change, says=(self.say("filed"),))


@junbridge.hookimpl
def register_departments(register):
    register(Complaints)
'''


def town(tmp_path: Path, **departments: dict[str, Any]) -> dict[str, Any]:
    """The test town with these department blocks added or changed."""
    config = yaml.safe_load((DATA / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(Path(__file__).parent.parent / "menu.yaml")
    for name, block in departments.items():
        config["departments"].setdefault(name, {}).update(block)
    return config


async def test_private_matters_are_never_joined_or_told_to_another_resident(
    tmp_path, db_url, clock
):
    (tmp_path / "complaints.py").write_text(PRIVATE_PLACES)
    bridge = await make_bridge(
        config=town(tmp_path, complaints={}),
        plugins=[tmp_path / "complaints.py"],
        clock=clock,
        workdir=tmp_path,
        store_url=db_url,
    )
    try:
        for user in ("vecina", "vecino"):
            for text in (
                "Queja: la puerta del 3ºB da golpes toda la noche",
                "Mucho ruido de música en la calle Real",
            ):
                handled = await bridge.receive(
                    make_message(text, user=user, lang="es", location=LAMP)
                )
                assert handled.request.privacy == "private"
                assert "Ya nos lo han avisado" not in says(handled)
                assert "Ya tenemos tu aviso" not in says(handled)
        requests = await bridge.requests.all()
        assert sorted(r.department for r in requests) == ["complaints"] * 2 + ["police"] * 2
        assert all(r.reporters == 1 and r.joined == () for r in requests)
    finally:
        await bridge.close()


async def test_nearby_metres_0_turns_it_off(tmp_path, db_url, clock):
    bridge = await make_bridge(
        config=town(tmp_path, lighting={"nearby_metres": 0}),
        clock=clock,
        workdir=tmp_path,
        store_url=db_url,
    )
    try:
        await report_on_x(bridge)
        handled = await neighbour_on_telegram(bridge, where=LAMP)
        assert "Already reported" not in says(handled)
        assert len(await bridge.requests.all()) == 2
    finally:
        await bridge.close()


async def test_one_person_on_two_accounts_is_told_once_after_linking_them(bridge, clock):
    # Her Telegram account is the older one: linked, the person is that resident.
    code = await bridge.receive(
        make_message("/vincular", user="vecina", user_id="1001", kind=MessageKind.COMMAND)
    )
    first = await report_on_x(bridge)
    await bridge.receive(
        make_message("La farola sigue apagada", user="vecina", user_id="1001", location=METRES_20)
    )
    assert (await bridge.requests.get(first.reference)).reporters == 2
    digits = code.replies[0].text.split("**")[1]
    await bridge.receive(
        make_message(
            f"/vincular {digits}", channel="twitter", user="vecina", kind=MessageKind.COMMAND
        )
    )
    linked = await bridge.requests.get(first.reference)
    assert linked.joined == () and [r.channel for r in linked.reported_by] == ["twitter"]
    resolved = await bridge.receive(
        make_message(f"resolve {first.reference}", user="U0ELECTRIC", **STAFF_PLACE)
    )
    assert [r.channel for r in resolved.replies] == ["twitter", "slack"]


async def test_anonymized_it_keeps_how_many_reported_it_and_forgets_where_they_wrote(
    tmp_path, db_url, clock
):
    from junbridge.retention import apply_retention

    bridge = await make_bridge(
        config=town(tmp_path, lighting={"retention": {"after_days": 30}}),
        clock=clock,
        workdir=tmp_path,
        store_url=db_url,
    )
    try:
        first = await report_on_x(bridge)
        joined = await neighbour_on_telegram(bridge)
        await bridge.set_state(first.reference, Status.CLOSED, by="electricista")
        clock.advance(31 * 24 * 3600)
        [done] = await apply_retention(bridge, now=clock())
        assert done.reference == first.reference
        after = await bridge.requests.get(first.reference)
        assert after.reporters == 2 and after.joined == ()
        assert await bridge.store.inbound_reference("telegram", joined.message.platform_id) is None
    finally:
        await bridge.close()


async def test_many_residents_reporting_one_lamp_at_once_each_join_it_in_one_commit(bridge, caplog):
    """A lamp the whole street reports in the same minute: the messages handled together
    each join the request in turn (each sees it as the one before left it), in the batch's
    one commit, rather than all but the first being refused and handled again alone."""
    first = await report_on_x(bridge)
    street = [
        make_message(
            "La farola 112 no funciona",
            user=f"vecino{n}",
            user_id=str(5000 + n),
            location=METRES_20,
            platform_id=f"tg-{n}",
        )
        for n in range(8)
    ]
    writes = 0
    write = bridge.store.write

    async def counted(work, **kwargs):
        nonlocal writes
        writes += 1
        return await write(work, **kwargs)

    bridge.store.write = counted
    with caplog.at_level(logging.INFO, logger="junbridge"):
        await asyncio.gather(*(bridge.submit(m) for m in street))
        await bridge.drain()
    [request] = await bridge.requests.all()
    assert request.reference == first.reference and request.reporters == 9
    assert [line.action for line in request.history].count("reported_again") == 8
    assert "fell back to one by one" not in caplog.text
    # Eight stored, then handled: far fewer commits than one per message.
    assert writes < 8, writes


async def test_a_lamp_first_reported_by_several_at_once_is_one_request(bridge, caplog):
    """Nothing is open yet and the street reports the dead lamp in the same moment: the
    messages handled together open one request, which the others join, not one each."""
    street = [
        make_message(
            "La farola 112 no funciona",
            user=f"vecino{n}",
            user_id=str(6000 + n),
            location=METRES_20 if n % 2 else LAMP,
            platform_id=f"tg-first-{n}",
        )
        for n in range(6)
    ]
    # And one lamp 80 m away in the same batch: a request of its own.
    street.append(
        make_message(
            "La farola de la esquina no funciona",
            user="vecino-lejos",
            user_id="6100",
            location=METRES_80,
            platform_id="tg-first-far",
        )
    )
    await asyncio.gather(*(bridge.submit(m) for m in street))
    await bridge.drain()
    requests = sorted(await bridge.requests.all(), key=lambda r: r.reference)
    assert [r.reporters for r in requests] == [6, 1] or [r.reporters for r in requests] == [1, 6]
    shared = max(requests, key=lambda r: r.reporters)
    assert [line.action for line in shared.history].count("reported_again") == 5
    # Each who joined is told, in their own chat, that it is already reported.
    told = {
        row.reply.conversation
        for row in await bridge.store.replies_for(shared.reference)
        if row.reply.text.startswith("Ya nos lo han avisado")
    }
    assert len(told) == 5, told
