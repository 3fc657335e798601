"""The bridge's web app over real HTTP: the public pages, /metrics, /healthz, the admin API.

The store is filled by the real pipeline: residents and staff write through the Telegram
emulator to the real python-telegram-bot channel in webhook mode, served by uvicorn with
the app under test, and a doctor's appointment is booked through the test harness. Photos
are fetched from the emulator and kept in the media folder, as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp, Receive, Scope, Send

from junbridge.bridge import Bridge
from junbridge.model import Status
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock
from junbridge.testing.emulators.telegram import PHOTO_BYTES, TelegramEmulator
from junbridge.web.app import create_app
from junbridge.web.paths import request_url
from junbridge.web.server import RunningServer, serve

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "telegram"
SECRET = "jun-public-web-Secret_01"
ADMIN_TOKEN = "a-test-admin-token-0123456789abcdef"
STAFF_GROUP = -1001234567890
REPORT = (
    "La farola de la calle Real 12 no funciona desde ayer. Soy Ana García, mi móvil 612 345 678"
)
DOCTOR = "Quiero cita con el médico, me duele mucho la rodilla izquierda"


def config(emulator: TelegramEmulator, public_url: str) -> dict[str, Any]:
    """Jun with lighting (staff in a Telegram group), the doctor and the police."""
    return {
        "town": {"name": "Jun", "languages": ["es", "en"]},
        "web": {"public_url": public_url, "admin_token": {"$env": "JUN_TEST_ADMIN_TOKEN"}},
        "channels": {
            "telegram": {
                "token": {"$env": "JUN_TEST_TELEGRAM_TOKEN"},
                "mode": "webhook",
                "api_url": emulator.api_url,
                "webhook_secret": {"$env": "JUN_TEST_TELEGRAM_SECRET"},
            }
        },
        "departments": {
            "lighting": {
                "staff_place": f"telegram:{STAFF_GROUP}",
                "staff": [{"name": "electricista", "handles": {"telegram": "paco_luz"}}],
                "on_duty": [{"staff": "electricista"}],
            },
            "doctor": {"require_verified": False},
            "police": {"staff": [{"name": "agente de guardia"}]},
        },
    }


@dataclass
class Town:
    """The bridge, its web server, the emulator, and an HTTP client on the server."""

    bridge: Bridge
    server: RunningServer
    emulator: TelegramEmulator
    client: httpx.AsyncClient
    workdir: Path

    async def settle(self) -> None:
        """Let the bridge handle what it took in, then send the replies."""
        await self.bridge.drain()
        await self.bridge.outbox.flush()

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)


@pytest.fixture
async def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Town]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    emulator = TelegramEmulator()
    await emulator.start()
    monkeypatch.setenv("JUN_TEST_TELEGRAM_TOKEN", emulator.token)
    monkeypatch.setenv("JUN_TEST_TELEGRAM_SECRET", SECRET)
    monkeypatch.setenv("JUN_TEST_ADMIN_TOKEN", ADMIN_TOKEN)
    # The server listens first, so that its address can be the webhook's; the app is made
    # once the channel has started and has its route.
    app: list[ASGIApp] = []

    async def late(scope: Scope, receive: Receive, send: Send) -> None:
        await app[0](scope, receive, send)

    server = await serve(late)
    bridge = await make_bridge(
        config=config(emulator, server.url),
        workdir=tmp_path,
        clock=ManualClock(),
    )
    try:
        await bridge.add_channel(bridge.channel("telegram"))
        app.append(create_app(bridge, figures_seconds=0))
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            yield Town(bridge, server, emulator, client, tmp_path)
    finally:
        await server.stop()
        await bridge.stop_channels()
        await bridge.close()
        await emulator.stop()


async def lamp_fixed_with_photos(town: Town) -> str:
    """A resident reports a dead lamp with a photo; the electrician resolves it with one."""
    await town.emulator.resident_sends_photo(REPORT)
    await town.settle()
    [request] = await town.bridge.requests.all(department="lighting")
    staff = town.emulator.user(2002, "Paco", username="paco_luz")
    group = town.emulator.group(id=STAFF_GROUP, title="Alumbrado")
    await town.emulator.resident_sends_photo(
        f"resolve {request.reference} bombilla cambiada",
        image=PHOTO_BYTES + b" fixed",
        user=staff,
        chat=group,
    )
    await town.settle()
    fixed = await town.bridge.requests.get(request.reference)
    assert fixed is not None and fixed.state is Status.RESOLVED
    return request.reference


async def doctor_booked(town: Town) -> str:
    """A resident books the doctor; the appointment is a private request."""
    offer = (await town.bridge.receive(make_message(DOCTOR, user="lucia"))).replies[0]
    booked = await town.bridge.receive(make_message(choice=offer.choices[0].value, user="lucia"))
    assert booked.request is not None and booked.request.privacy == "private"
    assert "rodilla" in booked.request.description
    return booked.request.reference


async def test_the_public_page_shows_a_public_lamp_and_its_counts_never_the_doctor(town: Town):
    lamp = await lamp_fixed_with_photos(town)
    doctor = await doctor_booked(town)

    page = await town.get("/", params={"lang": "es"})
    assert page.status_code == 200 and page.headers["content-language"] == "es"
    html = page.text
    assert "Alumbrado público" in html and f'href="/requests/{lamp}?lang=es"' in html
    # Its counts: received, still open (resolved until the resident confirms), fixed once.
    assert '<dd class="received">1</dd>' in html and '<dd class="open-now">1</dd>' in html
    assert '<dd class="promises">100' in html  # resolved within its promise
    assert "<svg" in html and "<script" not in html
    # Redacted: the street stays, the door, the name and the phone go.
    assert "calle Real" in html and "612 345 678" not in html and "García" not in html
    # The doctor's request: not listed, not counted, its words nowhere, its department too.
    assert doctor not in html and "rodilla" not in html
    assert "Consultorio" not in html and "doctor" not in html.lower()
    assert "https://" not in html.split("<main>")[0]  # nothing fetched from elsewhere
    assert "default-src 'none'" in page.headers["content-security-policy"]
    css = await town.get("/static/public.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


async def test_a_request_page_has_what_where_history_by_role_and_photos(town: Town):
    lamp = await lamp_fixed_with_photos(town)
    page = await town.get(f"/requests/{lamp}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert page.status_code == 200 and page.headers["content-language"] == "en"
    html = page.text
    assert "Street lighting" in html and "What was reported" in html
    assert "calle Real" in html and "[phone]" not in html  # redacted in the resident's language
    assert "[teléfono]" in html and "612" not in html and "García" not in html
    assert "Received" in html and "Resolved" in html and "bombilla cambiada" in html
    # By role: the department, never the electrician's name or the resident's account.
    assert "electricista" not in html and "paco_luz" not in html and "carmen" not in html.lower()
    before = f"/requests/{lamp}/photos/1"
    after = f"/requests/{lamp}/photos/2"
    assert html.index(before) < html.index("Photos of the fix") < html.index(after)
    photo = await town.get(before)
    assert photo.status_code == 200 and photo.content == PHOTO_BYTES
    assert photo.headers["content-type"].startswith("image/")
    fixed = await town.get(after)
    assert fixed.status_code == 200 and fixed.content == PHOTO_BYTES + b" fixed"
    assert (await town.get(f"/requests/{lamp}/photos/3")).status_code == 404
    # The link public replies give is the page's own address.
    assert request_url(town.bridge.config.web.public_url, lamp.lower()) == (
        f"{town.server.url}/requests/{lamp}"
    )


async def test_a_private_request_is_not_found_exactly_like_a_missing_one(town: Town):
    doctor = await doctor_booked(town)
    private = await town.get(f"/requests/{doctor}", params={"lang": "en"})
    missing = await town.get("/requests/JUN-9999", params={"lang": "en"})
    assert private.status_code == missing.status_code == 404
    assert private.text == missing.text and "rodilla" not in private.text
    assert (await town.get(f"/requests/{doctor}/photos/1")).status_code == 404
    assert (await town.get("/requests/..%2F..%2Fetc")).status_code == 404


async def test_spanish_and_english_by_choice_or_by_browser(town: Town):
    await lamp_fixed_with_photos(town)
    spanish = await town.get("/", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    english = await town.get("/", headers={"Accept-Language": "fr;q=0.9, en;q=0.8"})
    chosen = await town.get("/", params={"lang": "en"}, headers={"Accept-Language": "es"})
    assert "<h1>Transparencia</h1>" in spanish.text and 'lang="es"' in spanish.text
    assert "<h1>Transparency</h1>" in english.text and "Street lighting" in english.text
    assert "<h1>Transparency</h1>" in chosen.text
    # A language the town does not speak: the town's own.
    german = await town.get("/", params={"lang": "de"}, headers={"Accept-Language": "de"})
    assert "<h1>Transparencia</h1>" in german.text


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics answer, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_what_came_in_was_sent_and_refused(town: Town):
    lamp = await lamp_fixed_with_photos(town)
    await doctor_booked(town)
    # A forged webhook call: a real captured update, without Telegram's secret token.
    forged = await town.client.post(
        "/webhooks/telegram",
        content=(FIXTURES / "text_message.ptb22.json").read_bytes(),
        headers={"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"},
    )
    assert forged.status_code == 403
    response = await town.get("/metrics")
    assert response.status_code == 200
    found = metrics(response.text)
    sent = len(await town.bridge.store.delivered_since(0))
    assert sent >= 3  # the resident's answers and the staff's
    telegram = (("channel", "telegram"),)
    assert found[("junbridge_replies_total", (*telegram, ("outcome", "sent")))] == sent
    assert found[("junbridge_messages_received_total", telegram)] == 2
    assert found[("junbridge_webhook_rejections_total", telegram)] == 1
    assert found[("junbridge_requests", (("department", "lighting"), ("state", "resolved")))] == 1
    assert found[("junbridge_requests", (("department", "doctor"), ("state", "acknowledged")))] == 1
    # Each request counted once, in the state it is in now (a state it left says 0).
    assert sum(v for (name, _), v in found.items() if name == "junbridge_requests") == 2
    assert found[("junbridge_inbound_messages", (("status", "pending"),))] == 0
    assert found[("junbridge_handle_batch_seconds_count", ())] >= 2
    assert found[("junbridge_store_up", ())] == 1
    assert found[("junbridge_channel_up", telegram)] == 1
    assert lamp  # the lamp's replies are among those counted
    health = await town.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["store"] == "ok" and body["channels"] == ["telegram"]
    contact = body["last_contact"]["telegram"]
    assert 0 <= contact["last_received_seconds_ago"] < 60
    assert 0 <= contact["last_sent_seconds_ago"] < 60


async def test_healthz_is_503_when_the_store_cannot_be_reached(town: Town):
    town.bridge.store._sync.dispose()
    broken = town.workdir / "junbridge.db"
    broken.rename(town.workdir / "moved.db")
    broken.mkdir()  # the store's file is now a folder: nothing can open it
    response = await town.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"


async def test_the_admin_api_refuses_without_the_token(town: Town):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN}):
        for method, path in (
            ("POST", "/admin/reload"),
            ("GET", "/admin/deliveries/failed"),
            ("POST", "/admin/deliveries/1/retry"),
        ):
            response = await town.client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_admin_api_retries_a_failed_delivery(town: Town):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    resident = town.emulator.user(3003, "Rosa")
    town.emulator.block(resident)
    await town.emulator.resident_says("La farola 9 de la plaza parpadea", user=resident)
    await town.settle()
    failed = (await town.get("/admin/deliveries/failed", headers=admin)).json()["failed"]
    [delivery] = [f for f in failed if f["conversation"] == "3003"]
    assert "blocked" in delivery["error"] and delivery["request_reference"] == "JUN-0001"
    town.emulator.blocked.discard(3003)
    queued = await town.client.post(f"/admin/deliveries/{delivery['id']}/retry", headers=admin)
    assert queued.status_code == 200 and queued.json() == {"queued": delivery["id"]}
    again = await town.client.post(f"/admin/deliveries/{delivery['id']}/retry", headers=admin)
    assert again.status_code == 404  # queued already: not failed any more
    await town.bridge.outbox.flush()
    [sent] = [c for c in town.emulator.sent("sendMessage") if c.params["chat_id"] in (3003, "3003")]
    assert "JUN-0001" in sent.params["text"]
    still = (await town.get("/admin/deliveries/failed", headers=admin)).json()["failed"]
    assert delivery["id"] not in [f["id"] for f in still]


async def test_the_admin_api_reloads_department_settings_or_says_a_restart_is_needed(
    town: Town,
):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    path = town.bridge.config.path
    data = yaml.safe_load(path.read_text())
    assert (await town.client.post("/admin/reload", headers=admin)).json() == {"reloaded": []}
    data["departments"]["lighting"]["sla_hours"] = 12
    path.write_text(yaml.safe_dump(data))
    reloaded = await town.client.post("/admin/reload", headers=admin)
    assert reloaded.status_code == 200 and reloaded.json() == {"reloaded": ["lighting"]}
    assert town.bridge.departments["lighting"].settings.sla_hours == 12
    data["town"]["name"] = "Jun de Arriba"
    data["departments"]["police"]["enabled"] = False
    path.write_text(yaml.safe_dump(data))
    refused = await town.client.post("/admin/reload", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["changed"] == ["town", "departments.police (turned off)"]
    assert town.bridge.config.town.name == "Jun"
    data["town"]["name"] = "Jun"
    data["departments"]["police"] = {"sla_hours": "soon"}
    path.write_text(yaml.safe_dump(data))
    invalid = await town.client.post("/admin/reload", headers=admin)
    assert invalid.status_code == 422
    assert any("departments.police.sla_hours" in p for p in invalid.json()["problems"])


async def test_without_a_token_there_is_no_admin_api(town: Town, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("JUN_TEST_ADMIN_TOKEN")
    app = create_app(town.bridge)
    server = await serve(app)
    try:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            response = await client.post("/admin/reload", headers={"Authorization": "Bearer x"})
        assert response.status_code in (404, 405) and "www-authenticate" not in response.headers
    finally:
        await server.stop()


def test_the_templates_and_stylesheet_are_shipped_in_the_package() -> None:
    """Every file the pages need matches a package-data pattern: an install from the wheel
    (not the source tree) serves the same pages."""
    import fnmatch
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["junbridge"]
    web = ROOT / "junbridge" / "web"
    files = [p for folder in ("templates", "static") for p in (web / folder).iterdir()]
    assert files
    for path in files:
        name = str(path.relative_to(ROOT / "junbridge"))
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


def test_every_page_text_is_in_both_languages_and_every_one_used_exists() -> None:
    import re

    from junbridge.web.texts import PAGE_TEXTS

    assert set(PAGE_TEXTS["es"]) == set(PAGE_TEXTS["en"])
    used = {f"state_{s.value}" for s in Status}
    for template in (ROOT / "junbridge" / "web" / "templates").glob("*.html"):
        if not template.name.startswith("staff_"):  # the console's: test_staff_console.py
            used |= set(re.findall(r"""\bt\(["'](\w+)["']""", template.read_text()))
    source = (ROOT / "junbridge" / "web" / "public.py").read_text()
    used |= set(re.findall(r"""text\(\s*language,\s*["'](\w+)["']""", source))
    assert used - set(PAGE_TEXTS["es"]) == set()
    assert len(used) > 40


async def test_a_request_page_says_how_many_people_reported_it_never_who(town: Town):
    first = await town.bridge.receive(
        make_message("La farola de la calle Real no funciona", user="carmen")
    )
    again = await town.bridge.receive(
        make_message("Otra vez sin luz la farola de la calle Real", user="luis_vecino")
    )
    assert again.request.reference == first.request.reference
    page = await town.get(f"/requests/{first.request.reference}", params={"lang": "en"})
    assert page.status_code == 200
    assert "<dt>Reported by</dt><dd>2 people</dd>" in page.text
    assert "luis_vecino" not in page.text and "carmen" not in page.text.lower()
