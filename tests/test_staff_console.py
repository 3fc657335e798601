"""The staff console over real HTTP: sign-in by one-time link or password, sessions, CSRF,
the queues, and actions that reach the resident as chat commands do."""

from __future__ import annotations

import re

import httpx
from console_town import DOCTOR_GROUP, LIGHTING_GROUP, PHOTO_BYTES, Town, town

from junbridge.model import Status
from junbridge.store import staff_access
from junbridge.web.console import access

__all__ = ["town"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
RESIDENT = 1001  # Carmen, the emulator's default resident, writing privately to the bot


def csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html
    return found[1]


async def use_link(town: Town, link: str) -> httpx.Response:
    """Open the link and press its button, as a browser would."""
    path = link.removeprefix(town.server.url)
    page = await town.client.get(path)
    assert page.status_code == 200
    return await town.client.post(path, data={"csrf": csrf(page.text)})


async def sign_in_by_chat(town: Town) -> None:
    signed = await use_link(town, await town.login_in_chat())
    assert signed.status_code == 303 and signed.headers["location"].startswith("/staff?")


async def test_login_in_the_staff_group_sends_a_one_time_link_that_signs_in(town: Town):
    lamp = await town.lamp()
    link = await town.login_in_chat()
    assert link.startswith(f"{town.server.url}/staff/login/")
    # Only its hash is stored.
    token = link.rsplit("/", 1)[1]
    stored = await town.bridge.store.read(
        lambda c: c.exec_driver_sql("SELECT token_hash FROM staff_sign_ins").scalars().all()
    )
    assert stored == [staff_access.digest(token)]
    # Opening the link spends nothing (a chat's preview may open it); pressing the button does.
    assert (await town.client.get(link.removeprefix(town.server.url))).status_code == 200
    signed = await use_link(town, link)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "junbridge_staff=" in cookie and "HttpOnly" in cookie and "Path=/staff" in cookie
    assert "SameSite=lax" in cookie.replace("Lax", "lax") and "Secure" not in cookie
    queue = await town.client.get("/staff", params={"tab": "open", "lang": "es"})
    assert queue.status_code == 200 and lamp in queue.text and "Alumbrado" in queue.text
    assert queue.headers["cache-control"] == "no-store"
    assert "form-action 'self'" in queue.headers["content-security-policy"]
    # Once only.
    town.client.cookies.clear()
    again = await use_link(town, link)
    assert again.status_code == 400 and "ya se usó o ha caducado" in again.text


async def test_a_link_expires_after_15_minutes(town: Town):
    link = await town.login_in_chat()
    town.clock.advance(16 * 60)
    refused = await use_link(town, link)
    assert refused.status_code == 400
    assert (await town.client.get("/staff")).headers["location"].startswith("/staff/login")


async def test_someone_not_staff_asking_for_a_link_is_refused(town: Town):
    stranger = town.emulator.user(4004, "Pepe", username="pepe")
    await town.emulator.resident_says("login", user=stranger, chat=town.lighting_group())
    await town.settle()
    assert town.links(LIGHTING_GROUP) == []
    said = [p["text"] for p in town.sent_to(LIGHTING_GROUP)]
    assert any("Solo el personal" in s for s in said)


async def test_the_sign_in_page_sends_a_link_to_the_staff_place_and_says_the_same_to_anyone(
    town: Town,
):
    page = await town.client.get("/staff/login", params={"lang": "en"})
    assert page.status_code == 200 and "Send me a link" in page.text
    token = csrf(page.text)
    asked = await town.client.post(
        "/staff/login/link?lang=en", data={"csrf": token, "who": "@ana_salud"}
    )
    await town.settle()
    assert asked.status_code == 200 and "on its way" in asked.text
    [link] = town.links(DOCTOR_GROUP)
    assert "enfermera" in town.sent_to(DOCTOR_GROUP)[-1]["text"]
    nobody = await town.client.post(
        "/staff/login/link?lang=en", data={"csrf": token, "who": "nobody at all"}
    )
    assert nobody.status_code == 200 and "on its way" in nobody.text
    # Paced: a second link within a minute is not sent.
    await town.client.post("/staff/login/link?lang=en", data={"csrf": token, "who": "enfermera"})
    await town.settle()
    assert town.links(DOCTOR_GROUP) == [link]
    # Without the form's token (another site posting the form): refused.
    forged = await town.client.post(
        "/staff/login/link", data={"csrf": "forged", "who": "enfermera"}
    )
    assert forged.status_code == 403


async def test_password_sign_in_with_a_hash_and_a_limit_on_wrong_tries(town: Town):
    await staff_access.set_password(
        town.bridge.store,
        "enfermera",
        access.hash_password("una clave bien larga"),
        now=town.bridge.clock(),
    )
    token = csrf((await town.client.get("/staff/login")).text)
    for _ in range(access.MAX_FAILURES):
        wrong = await town.client.post(
            "/staff/login/password", data={"csrf": token, "who": "enfermera", "password": "no"}
        )
        assert wrong.status_code == 401
    held = await town.client.post(
        "/staff/login/password",
        data={"csrf": token, "who": "enfermera", "password": "una clave bien larga"},
    )
    assert held.status_code == 429
    town.clock.advance(16 * 60)
    signed = await town.client.post(
        "/staff/login/password",
        data={"csrf": token, "who": "enfermera", "password": "una clave bien larga"},
    )
    assert signed.status_code == 303
    assert (await town.client.get("/staff")).status_code == 200
    # No password set: refused as a wrong one.
    town.client.cookies.clear()
    token = csrf((await town.client.get("/staff/login")).text)
    none = await town.client.post(
        "/staff/login/password", data={"csrf": token, "who": "electricista", "password": "x"}
    )
    assert none.status_code == 401


async def test_resolve_from_the_console_reaches_the_resident_with_the_photo(town: Town):
    lamp = await town.lamp()
    await sign_in_by_chat(town)
    page = await town.client.get(f"/staff/requests/{lamp}", params={"lang": "en"})
    assert page.status_code == 200 and "calle Real 12" in page.text
    assert f"/staff/requests/{lamp}/photos/1" in page.text
    photo = await town.client.get(f"/staff/requests/{lamp}/photos/1")
    assert photo.status_code == 200 and photo.content == PHOTO_BYTES
    before = len(town.sent_to(RESIDENT))
    done = await town.client.post(
        f"/staff/requests/{lamp}/resolve?lang=en",
        data={"csrf": csrf(page.text), "note": "bombilla cambiada"},
        files={"photo": ("arreglo.jpg", PHOTO_BYTES + b" fixed", "image/jpeg")},
    )
    assert done.status_code == 303 and "done=resolve" in done.headers["location"]
    await town.settle()
    fixed = await town.bridge.requests.get(lamp)
    assert fixed is not None and fixed.state is Status.RESOLVED
    last = fixed.history[-1]
    assert last.by == "electricista" and last.channel == "web" and last.note == "bombilla cambiada"
    assert len(fixed.attachments) == 2
    # The resident hears it in their chat, with the photo of the fix.
    told = town.sent_to(RESIDENT)[before:]
    assert any("bombilla cambiada" in str(p.get("caption") or p.get("text")) for p in told)
    assert any("photo" in p for p in told)
    # The staff group hears who did it from the console.
    assert any(
        "electricista, desde la consola" in str(p.get("text")) for p in town.sent_to(LIGHTING_GROUP)
    )
    shown = await town.client.get(done.headers["location"])
    assert "Done: Resolved." in shown.text and "bombilla cambiada" in shown.text


async def test_every_action_goes_through_the_state_machine_and_needs_the_csrf_token(town: Town):
    lamp = await town.lamp()
    await sign_in_by_chat(town)
    page = await town.client.get(f"/staff/requests/{lamp}")
    token = csrf(page.text)
    forged = await town.client.post(f"/staff/requests/{lamp}/start", data={"csrf": "nope"})
    assert forged.status_code == 403 and await town.state(lamp) is Status.ASSIGNED
    for verb, data in (
        ("ack", {}),
        ("assign", {"member": "jefa de obras"}),
        ("start", {}),
        ("note", {"text": "falta una pieza"}),
        ("reply", {"text": "mañana vamos"}),
    ):
        done = await town.client.post(
            f"/staff/requests/{lamp}/{verb}", data={"csrf": token, **data}
        )
        assert done.status_code == 303, (verb, done.text)
    found = await town.bridge.requests.get(lamp)
    assert found is not None and found.state is Status.IN_PROGRESS
    assert found.assignee == "jefa de obras"
    assert [h.action for h in found.history][-4:] == ["assigned", "in_progress", "note", "reply"]
    # A reason is needed to reject, as in the chat.
    refused = await town.client.post(f"/staff/requests/{lamp}/reject", data={"csrf": token})
    assert refused.status_code == 409 and await town.state(lamp) is Status.IN_PROGRESS
    # Not a photo: refused before anything changes.
    bad = await town.client.post(
        f"/staff/requests/{lamp}/resolve",
        data={"csrf": token},
        files={"photo": ("x.jpg", b"<svg/>", "image/jpeg")},
    )
    assert bad.status_code == 400 and await town.state(lamp) is Status.IN_PROGRESS
    # The queue's tabs.
    mine = await town.client.get("/staff", params={"tab": "mine"})
    assert lamp not in mine.text
    unassigned = await town.client.get("/staff", params={"tab": "unassigned"})
    assert lamp not in unassigned.text
    # Due in 48 business hours: not soon yet; a week later, late.
    assert lamp not in (await town.client.get("/staff", params={"tab": "soon"})).text
    town.clock.advance(14 * 24 * 3600)
    assert (await town.client.get("/staff")).status_code == 303  # the session is over
    await sign_in_by_chat(town)
    token = csrf((await town.client.get(f"/staff/requests/{lamp}")).text)
    soon = await town.client.get("/staff", params={"tab": "soon", "lang": "es"})
    assert lamp in soon.text and "vencido" in soon.text
    await town.client.post(f"/staff/requests/{lamp}/assign", data={"csrf": token})
    assert lamp in (await town.client.get("/staff", params={"tab": "mine"})).text


async def test_a_private_request_is_only_for_its_own_department(town: Town):
    lamp = await town.lamp()
    doctor = await town.doctor()
    await sign_in_by_chat(town)
    # The electrician: the doctor's request is nowhere, exactly like a missing one.
    queue = await town.client.get("/staff", params={"tab": "open"})
    assert lamp in queue.text and doctor not in queue.text and "rodilla" not in queue.text
    private = await town.client.get(f"/staff/requests/{doctor}")
    missing = await town.client.get("/staff/requests/JUN-9999")
    assert private.status_code == missing.status_code == 404
    assert private.text == missing.text
    token = csrf((await town.client.get(f"/staff/requests/{lamp}")).text)
    acted = await town.client.post(f"/staff/requests/{doctor}/ack", data={"csrf": token})
    assert acted.status_code == 404
    # The nurse sees it, private.
    await staff_access.set_password(
        town.bridge.store,
        "enfermera",
        access.hash_password("clave de la enfermera"),
        now=town.bridge.clock(),
    )
    town.client.cookies.clear()
    form = csrf((await town.client.get("/staff/login")).text)
    await town.client.post(
        "/staff/login/password",
        data={"csrf": form, "who": "enfermera", "password": "clave de la enfermera"},
    )
    nurse = await town.client.get(f"/staff/requests/{doctor}", params={"lang": "en"})
    assert nurse.status_code == 200 and "rodilla" in nurse.text and "Private" in nurse.text
    assert (await town.client.get(f"/staff/requests/{lamp}")).status_code == 404


async def test_signing_out_ends_the_session(town: Town):
    await sign_in_by_chat(town)
    page = await town.client.get("/staff")
    assert page.status_code == 200
    out = await town.client.post("/staff/logout", data={"csrf": csrf(page.text)})
    assert out.status_code == 303
    rows = await town.bridge.store.read(
        lambda c: c.exec_driver_sql("SELECT count(*) FROM staff_sessions").scalar_one()
    )
    assert rows == 0
    assert (await town.client.get("/staff")).status_code == 303


def test_cookies_say_secure_behind_https():
    from starlette.responses import Response

    response = Response()
    access.set_cookie(
        response,
        access.SESSION_COOKIE,
        "x",
        max_age=access.SESSION_TTL,
        public_url="https://jun.example",
    )
    assert "Secure" in response.headers["set-cookie"]


def test_passwords_are_salted_scrypt():
    one, two = access.hash_password("la misma clave"), access.hash_password("la misma clave")
    assert one != two and one.startswith("scrypt$")
    assert access.password_matches("la misma clave", one)
    assert not access.password_matches("otra", one) and not access.password_matches("x", None)


def test_an_admin_sets_a_password_from_the_command_line(tmp_path):
    import asyncio
    from pathlib import Path

    import yaml
    from click.testing import CliRunner

    from junbridge.cli import cli
    from junbridge.store import Store

    root = Path(__file__).parent.parent
    config = yaml.safe_load((root / "tests" / "data" / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(root / "menu.yaml")
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    runner = CliRunner()
    done = runner.invoke(
        cli,
        ["staff", "password", "electricista", "--config", str(path)],
        input="una clave larga\nuna clave larga\n",
    )
    assert done.exit_code == 0, done.output
    assert "electricista (lighting) can sign in" in done.output
    short = runner.invoke(
        cli, ["staff", "password", "electricista", "--config", str(path), "--password", "corta"]
    )
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    nobody = runner.invoke(
        cli, ["staff", "password", "nadie", "--config", str(path), "--password", "0123456789ab"]
    )
    assert nobody.exit_code == 1 and "nobody called 'nadie'" in nobody.output

    async def stored() -> str | None:
        store = await Store.open(f"sqlite:///{tmp_path / 'junbridge.db'}")
        try:
            return await staff_access.password_of(store, "electricista")
        finally:
            await store.close()

    hashed = asyncio.run(stored())
    assert access.password_matches("una clave larga", hashed)


def test_every_console_text_is_in_both_languages_and_every_one_used_exists():
    from pathlib import Path

    from junbridge.web.console.actions import ACTIONS
    from junbridge.web.console.pages import TABS
    from junbridge.web.console.texts import CONSOLE_TEXTS
    from junbridge.web.texts import PAGE_TEXTS

    root = Path(__file__).parent.parent / "junbridge" / "web"
    assert set(CONSOLE_TEXTS["es"]) == set(CONSOLE_TEXTS["en"])
    used = {*ACTIONS, *(f"tab_{tab}" for tab in TABS), "by_resident", "by_automatic"}
    for template in (root / "templates").glob("staff_*.html"):
        used |= set(re.findall(r"""\bt\(["'](\w+)["']""", template.read_text()))
    for module in (root / "console").glob("*.py"):
        used |= set(re.findall(r"""text\(\s*language,\s*["'](\w+)["']""", module.read_text()))
    for language in ("es", "en"):
        assert used - set(CONSOLE_TEXTS[language]) - set(PAGE_TEXTS[language]) == set()
    assert len(used) > 40
