"""Open311 from a running ``junbridge run``, read by ``georeport``, a client towns already use.

One process as an operator runs it: Slack in events mode (the emulator), the electricians'
staff place on Slack, and an API key for FixMyStreet. georeport (0.3.1) lists services and
reads requests, in JSON and in XML; it cannot file a report, so the POST is made with httpx,
form-encoded as the spec says. The electrician resolves the report from the card's thread
in Slack, and georeport then reads it closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from georeport import GeoReport
from time_machine import escape_hatch

from junbridge.testing.emulators.slack import SlackEmulator

ROOT = Path(__file__).parent.parent
JUNBRIDGE = Path(sys.executable).parent / "junbridge"
STAFF_PLACE = "C0LIGHTSTAFF"
KEY = "fms-run-test-key"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def channels_yaml(slack: SlackEmulator, folder: Path, port: int) -> dict[str, Any]:
    """Jun with Slack, the electricians' staff place there, police, and Open311 keys."""
    return {
        "town": {"name": "Jun", "timezone": "Europe/Madrid", "languages": ["es", "en"]},
        "store": {"url": f"sqlite:///{folder / 'jun.db'}"},
        "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "open311": {
            "api_keys": [{"name": "fixmystreet", "key": {"$env": "OPEN311_KEY_FMS"}}],
            "contact": "ayuntamiento@jun.example",
        },
        "channels": {
            "slack": {
                "bot_token": {"$env": "SLACK_BOT_TOKEN"},
                "signing_secret": {"$env": "SLACK_SIGNING_SECRET"},
                "mode": "events",
                "api_url": slack.api_url,
            }
        },
        "departments": {
            "lighting": {
                "staff_place": f"slack:{STAFF_PLACE}",
                "staff": [{"name": "electricista", "handles": {"slack": "U0ELECTRIC"}}],
                "on_duty": [{"staff": "electricista"}],
            },
            "police": {"staff": [{"name": "agente de guardia"}]},
        },
    }


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """georeport (requests) and slack_sdk read HTTP(S)_PROXY: loopback must stay direct."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator()
    await emulator.start()
    emulator.workspace.add_channel(STAFF_PLACE, "alumbrado-equipo")
    yield emulator
    await emulator.stop()


@pytest.fixture
async def jun(tmp_path: Path, slack: SlackEmulator) -> AsyncIterator[str]:
    """``junbridge run`` on a free port; its URL once /healthz answers."""
    port = free_port()
    config = tmp_path / "channels.yaml"
    config.write_text(yaml.safe_dump(channels_yaml(slack, tmp_path, port)))
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    env.update(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=slack.signing_secret,
        OPEN311_KEY_FMS=KEY,
    )
    log = (tmp_path / "stderr.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(JUNBRIDGE), "run", "--config", str(config), env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            await until(lambda: healthy(client, url, process))
        slack.deliver_to(url)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 30)
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
        print((tmp_path / "stderr.log").read_text(errors="replace"))  # shown if a test fails


async def healthy(client: httpx.AsyncClient, url: str, process: Any) -> bool:
    assert process.returncode is None, "junbridge run exited at start"
    with contextlib.suppress(httpx.TransportError):
        return (await client.get(f"{url}/healthz")).status_code == 200
    return False


def signed_now() -> int:
    """The time Slack signs with, as ``junbridge run`` (a subprocess) sees it: the real one,
    also when the suite runs ``--today`` (time travel does not reach subprocesses)."""
    return int(escape_hatch.time.time() if escape_hatch.is_travelling() else time.time())


async def until(check: Callable[[], Awaitable[T | None]]) -> T:
    """``check()`` once it is truthy; the 30 s bound only stops a hung test."""
    async with asyncio.timeout(30):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.1)


async def test_a_town_app_lists_reports_and_follows_a_lamp_in_json_and_xml(
    jun: str, slack: SlackEmulator
) -> None:
    api = f"{jun}/open311/v2"
    as_json, as_xml = GeoReport(api), GeoReport(api, output_format="xml")

    services = await asyncio.to_thread(as_json.get_service_list)
    assert [s["service_code"] for s in services] == ["streetlight"]  # police is private
    # xmltodict reads a lone <service> as the service itself, not a list of one.
    service = await asyncio.to_thread(as_xml.get_service_list)
    assert service == {**services[0], "metadata": "true", "description": None}
    definition = await asyncio.to_thread(as_xml.get_service_definition, "streetlight")
    assert definition["attributes"]["attribute"]["code"] == "lamp"

    # A resident tells the police in a direct message: private, never in Open311.
    await slack.resident_says(
        "Me han robado la bici en la plaza", channel_type="im", timestamp=signed_now()
    )
    async with httpx.AsyncClient(trust_env=False) as client:
        forged = await client.post(
            f"{api}/requests.json", data={"api_key": "guess", "service_code": "streetlight"}
        )
        assert forged.status_code == 403
        filed = await client.post(
            f"{api}/requests.json",
            data={
                "api_key": KEY,
                "service_code": "streetlight",
                "lat": "37.2218",
                "long": "-3.5930",
                "attribute[lamp]": "112",
                "description": "La farola 112 de la calle Real no se enciende",
                "email": "vecina@correo.example",
            },
        )
    assert filed.status_code == 200, filed.text
    [answer] = filed.json()
    reference = answer["service_request_id"]

    # The electricians' card in their Slack channel, tagging the one on duty.
    [card] = await until(lambda: asyncio.sleep(0, slack.posts(STAFF_PLACE)))
    assert reference in card["text"] and "no se enciende" in card["text"]

    read = await asyncio.to_thread(as_json.get_service_request, reference)
    assert (read["status"], read["service_code"], read["status_notes"]) == (
        "open",
        "streetlight",
        "assigned: electricista",
    )
    listed = await asyncio.to_thread(as_json.get_service_requests, status="open")
    assert [r["service_request_id"] for r in listed] == [reference]
    assert "vecina@correo.example" not in str(listed)
    read_xml = await asyncio.to_thread(as_xml.get_service_request, reference)
    assert read_xml["status"] == "open" and read_xml["lat"] == "37.2218"

    # The electrician resolves it in the card's thread.
    await slack.resident_says(
        "resolve bombilla nueva",
        user="U0ELECTRIC",
        channel=STAFF_PLACE,
        thread_ts=card["ts"],
        timestamp=signed_now(),
    )

    async def closed() -> dict[str, Any] | None:
        found = await asyncio.to_thread(as_xml.get_service_request, reference)
        return found if found["status"] == "closed" else None

    done = await until(closed)
    assert done["status_notes"] == "resolved, closed: bombilla nueva"
    assert await asyncio.to_thread(as_json.get_service_requests, status="open") == []
