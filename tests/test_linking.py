"""One person on several accounts: /link joins them, on each store (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from junbridge.model import MessageKind, VersionConflict
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock

DATA = Path(__file__).parent / "data"
ON_TELEGRAM = dict(channel="telegram", user="vecina", user_id="1001")
ON_X = dict(channel="twitter", user="vecina_jun", user_id="2002")


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
async def bridge(tmp_path, db_url, clock):
    b = await make_bridge(config=DATA / "jun.yaml", clock=clock, workdir=tmp_path, store_url=db_url)
    yield b
    await b.close()


def says(handled) -> str:
    return "\n".join(reply.text for reply in handled.replies)


async def command(bridge, text, account):
    message = make_message(text, kind=MessageKind.COMMAND, sent_at=bridge.clock(), **account)
    return await bridge.receive(message)


async def code_from(bridge, account) -> str:
    handled = await command(bridge, "/vincular", account)
    [reply] = handled.replies
    # A code is never posted in public: on X it goes by private message.
    assert reply.private or reply.conversation == account["user_id"]
    return re.search(r"\*\*(\d{6})\*\*", reply.text).group(1)


async def test_link_joins_two_accounts_and_their_requests(bridge):
    lamp = await bridge.receive(
        make_message("La farola de la calle Real no funciona", location=(37.22, -3.59), **ON_X)
    )
    noise = await bridge.receive(make_message("Hay música alta en la plaza", **ON_TELEGRAM))
    older = await bridge.store.find_resident("twitter:2002")
    code = await code_from(bridge, ON_TELEGRAM)
    linked = await command(bridge, f"/vincular {code}", ON_X)
    assert "tus avisos de Telegram y X son ahora uno solo" in says(linked)
    person = await bridge.store.find_resident("twitter:2002")
    assert person.id == older.id  # the older resident stays: X wrote first
    assert set(person.identities) == {"telegram:1001", "twitter:2002"}
    assert len(await bridge.store.list_residents()) == 1
    for account in (ON_TELEGRAM, ON_X):
        mine = says(await command(bridge, "/mis", account))
        assert lamp.request.reference in mine and noise.request.reference in mine
    # Each request still answers where it was written.
    moved = await bridge.requests.get(lamp.request.reference)
    assert moved.resident_id == person.id and moved.channel == "twitter"


async def test_status_and_cancel_work_from_the_other_account(bridge):
    lamp = await bridge.receive(
        make_message("La farola de la calle Real no funciona", location=(37.22, -3.59), **ON_X)
    )
    ref = lamp.request.reference
    assert "No encuentro" in says(await command(bridge, f"/estado {ref}", ON_TELEGRAM))
    await command(bridge, f"/vincular {await code_from(bridge, ON_X)}", ON_TELEGRAM)
    assert "asignado" in says(await command(bridge, f"/estado {ref}", ON_TELEGRAM))
    assert "anulado" in says(await command(bridge, f"/cancelar {ref}", ON_TELEGRAM))


async def test_a_wrong_or_expired_code_is_refused_and_a_code_works_once(bridge, clock):
    code = await code_from(bridge, ON_TELEGRAM)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert "no es válido o ha caducado" in says(await command(bridge, f"/vincular {wrong}", ON_X))
    clock.advance(16 * 60)
    assert "ha caducado" in says(await command(bridge, f"/vincular {code}", ON_X))
    assert len(await bridge.store.list_residents()) == 2
    fresh = await code_from(bridge, ON_TELEGRAM)
    assert "vinculadas" in says(await command(bridge, f"/vincular {fresh}", ON_X))
    other = dict(channel="slack", user="U0OTRO", user_id="U0OTRO")
    assert "no es válido" in says(await command(bridge, f"/vincular {fresh}", other))


async def test_a_new_code_replaces_the_one_before(bridge):
    first = await code_from(bridge, ON_TELEGRAM)
    second = await code_from(bridge, ON_TELEGRAM)
    if first != second:
        assert "no es válido" in says(await command(bridge, f"/vincular {first}", ON_X))
    assert "vinculadas" in says(await command(bridge, f"/vincular {second}", ON_X))


async def test_guessing_codes_is_cut_off(bridge, clock):
    code = await code_from(bridge, ON_TELEGRAM)
    guesses = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 6)]
    for guess in guesses:
        clock.advance(20)  # slow enough for the message rate limit: this is another one
        await command(bridge, f"vincular {guess}", ON_X)
    # Five wrong codes in an hour: even the right one is refused now.
    refused = await command(bridge, f"/vincular {code}", ON_X)
    assert "Demasiados códigos" in says(refused)
    assert len(await bridge.store.list_residents()) == 2


async def test_linking_an_account_to_itself_changes_nothing(bridge):
    code = await code_from(bridge, ON_TELEGRAM)
    same = await command(bridge, f"/vincular {code}", ON_TELEGRAM)
    assert "ya estaba vinculada" in says(same)


async def test_verification_on_telegram_lets_the_doctor_book_from_x(bridge):
    await bridge.receive(make_message("hola", **ON_TELEGRAM))
    await bridge.store.verify_resident("telegram:1001", by="administrativa", at=bridge.clock())
    refused = await bridge.receive(make_message("Quiero cita con el médico", **ON_X))
    assert "DNI" in says(refused) and not refused.replies[-1].choices
    # The X account is the older resident now: the verification still carries over.
    code = await code_from(bridge, ON_X)
    linked = await command(bridge, f"/vincular {code}", ON_TELEGRAM)
    assert "Tu verificación vale para todas tus cuentas" in says(linked)
    person = await bridge.store.find_resident("twitter:2002")
    assert person.verified and person.verified_by == "administrativa"
    offered = await bridge.receive(make_message("Quiero cita con el médico", **ON_X))
    choices = offered.replies[-1].choices
    assert choices and all(r.private for r in offered.replies if r.choices)
    booked = await bridge.receive(
        make_message(choices[0].label, choice=choices[0].value, private=True, **ON_X)
    )
    assert booked.request.department == "doctor" and booked.request.details["slot"]


async def test_merging_keeps_one_conversation_per_chat(bridge, clock):
    """Two accounts mid-conversation in the same group: the older resident's one stays."""
    group = dict(channel="telegram", conversation="-100123", private=False)
    first = await bridge.receive(make_message("Hay una farola que parpadea", user="ana", **group))
    second = await bridge.receive(make_message("Hay una farola que parpadea", user="eva", **group))
    ana = await bridge.store.find_resident("telegram:ana")
    eva = await bridge.store.find_resident("telegram:eva")
    for person in (ana, eva):
        assert await bridge.store.conversation(person.id, "telegram", "-100123", now=clock.now)
    code = await bridge.store.issue_link_code(eva.id, now=clock.now)
    linked = await bridge.store.redeem_link_code(code, ana.id, now=clock.now)
    assert linked.merged and linked.resident.id == ana.id
    state = await bridge.store.conversation(ana.id, "telegram", "-100123", now=clock.now)
    assert state.request_reference == first.request.reference
    assert {r.reference for r in await bridge.store.requests_of(ana.id)} == {
        first.request.reference,
        second.request.reference,
    }
    assert await bridge.store.get_resident(eva.id) is None


async def test_a_copy_read_before_two_accounts_were_linked_is_refused_as_stale(
    bridge,
):
    # A worker read the Telegram account's request (to note something on it), then the
    # resident linked her accounts: the request now belongs to the resident kept. The
    # worker's copy still names the one deleted: its save is refused as stale, not
    # written back.
    await bridge.receive(make_message("La farola de la calle Real no funciona", **ON_X))
    noise = await bridge.receive(make_message("Hay música alta en la plaza", **ON_TELEGRAM))
    read_before = await bridge.requests.get(noise.request.reference)
    code = await code_from(bridge, ON_TELEGRAM)
    await command(bridge, f"/vincular {code}", ON_X)
    person = await bridge.store.find_resident("twitter:2002")
    noted = dataclasses.replace(read_before, status_notes="la patrulla va de camino")
    with pytest.raises(VersionConflict):
        await bridge.store.write(lambda tx: tx.save_request(noted))
    after = await bridge.requests.get(noise.request.reference)
    assert after.resident_id == person.id and after.status_notes is None
