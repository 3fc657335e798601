"""`junbridge demo`: the scripted day in Jun, end to end on the three emulators."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from junbridge.demo import play, run_demo
from junbridge.demo.script import Transcript
from junbridge.demo.town import DemoTown, open_town
from junbridge.demo.visit import visit
from junbridge.model import Status

ROOT = Path(__file__).parent.parent


async def test_the_day_in_jun_plays_on_every_platform_and_keeps_police_matters_private():
    town = await open_town(ROOT / "channels.yaml")
    transcript = Transcript()
    try:
        await play(town, transcript, Console(file=io.StringIO()))
        requests = {r.department: r for r in await town.bridge.requests.all()}
        # The lamp: reported on X with a photo, resolved from Slack with a photo.
        lamp = requests["lighting"]
        assert lamp.state is Status.CLOSED and lamp.assignee == "electricista"
        assert len(lamp.attachments) == 2  # the resident's photo and the electrician's
        # "Is it fixed?" - no (reopened), fixed again, yes (closed), rated 5.
        actions = [h.action for h in lamp.history]
        assert actions.count("resolved") == 2 and "reopened" in actions
        # Reported again on Telegram by Emma: one request, two who reported it.
        assert lamp.reporters == 2 and "reported_again" in actions
        assert lamp.details["rating"] == 5
        public = [
            t["text"] for t in town.x.world.tweets.values() if t.get("author_id") == town.x.user_id
        ]
        assert any(lamp.reference in t and "resuelto" in t for t in public)
        # The doctor booked with a button on Telegram, the menu answered in Slack.
        assert requests["doctor"].details["slot"]
        assert requests["school"].state is Status.CLOSED
        assert requests["triage"].state is Status.RECEIVED
        # The night-time noise: police, a 30-minute promise, nothing of it in public.
        noise = requests["police"]
        assert (noise.expected_datetime - noise.requested_datetime).total_seconds() <= 30 * 60
        assert not any("ruido" in t or noise.reference in t for t in public)
        await what_the_demo_offers_a_browser(town)
    finally:
        await town.close()


async def what_the_demo_offers_a_browser(town: DemoTown) -> None:
    """``--keep-running``: every address it prints answers, on the port it serves."""
    assert town.bridge.config.web.public_url == town.server.url
    shown = await visit(town)
    async with httpx.AsyncClient(trust_env=False, follow_redirects=True) as client:
        for what, address in shown.addresses:
            assert address.startswith(town.server.url + "/"), what
            response = await client.get(address)
            assert response.status_code == 200, (what, address)
        [_, lamp] = next(a for a in shown.addresses if a[0].startswith("A public request"))
        assert "/photos/1" in (await client.get(lamp)).text
        on_the_day = next(a for w, a in shown.addresses if w == "Open311 requests, JSON")
        assert {r["service_code"] for r in (await client.get(on_the_day)).json()} >= {
            shown.service_code,
            "school",
        }
        # The printed link signs in (once); the printed password too.
        link = next(a for w, a in shown.addresses if "/staff/login/" in a)
        page = await client.get(link)
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        signed = await client.post(link, data={"csrf": token[1]})
        assert signed.status_code == 200 and "Alumbrado" in signed.text
        client.cookies.clear()
        page = await client.get(f"{town.server.url}/staff/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        signed = await client.post(
            f"{town.server.url}/staff/login/password",
            data={"csrf": token[1], "who": shown.staff, "password": shown.password},
        )
        assert signed.url.path == "/staff" and "Alumbrado" in signed.text
        # Open311 takes a report with the printed key, and refuses one without.
        report = {
            "service_code": shown.service_code,
            "lat": "37.2218",
            "long": "-3.593",
            "description": "Farola apagada en la plaza",
        }
        url = f"{town.server.url}/open311/v2/requests.json"
        filed = await client.post(url, data={**report, "api_key": shown.api_key})
        assert filed.status_code == 200 and filed.json()[0]["service_request_id"]
        assert (await client.post(url, data=report)).status_code == 403


@pytest.fixture(scope="module")
def demo_output() -> str:
    """What ``junbridge demo`` prints at 80 columns, played once for the tests that read it."""
    out = io.StringIO()
    code = asyncio.run(
        run_demo(ROOT / "channels.yaml", keep_running=False, console=Console(file=out, width=80))
    )
    assert code == 0, out.getvalue()
    return out.getvalue()


def test_run_demo_prints_a_transcript_per_platform_and_exits_0(demo_output):
    text = demo_output
    for heading in ("Telegram", "Slack", "X", "Requests of the day"):
        assert heading in text
    # The demo's own fixed day, Monday 30 November 2026: the canteen is open.
    assert "Cita confirmada: lun, 30 de noviembre, 11:15" in text
    assert "Menú del comedor, lunes, 30 de noviembre" in text


def test_the_transcript_shows_people_photos_and_alerts_as_they_happened(demo_output):
    lines = [line.strip("│ ").rstrip() for line in demo_output.splitlines()]
    # People and places by name, not by chat, post or user id.
    for said in (
        "Mon 08:05 town → @vecina_jun",
        "Mon 23:40 town → private message to @vecino_insomne",
        "Mon 11:00 town → María",
        "Mon 08:05 town → #lighting",
    ):
        assert said in lines
    assert not any(re.search(r"town → (private message to )?\d", line) for line in lines)
    # Staff tagged in Slack by name, as Slack shows a mention: never "<@U0ELECTRIC>".
    assert "Asignada a electricista (@electricista)" in lines
    assert "<@" not in demo_output and "@U0" not in demo_output
    # A photo by its name, on one line; never the path it is kept under.
    assert "[photo farola-arreglada.jpg]" in lines
    assert "file://" not in demo_output
    # The noise complaint's SLA alerts at 00:02 and 00:10, not with the next scene.
    assert "Tue 00:02 town → #police" in lines and "Tue 00:10 town → #police" in lines
    # "Is it fixed?" goes out a day after "resolved", before the resident answers.
    assert lines.index("Tue 10:40 town → @vecina_jun") < lines.index("Tue 10:45 @vecina_jun")
    # Who and when on a line, what they said indented under it, a long line wrapping there too.
    panels = demo_output[: demo_output.index("Requests of the day")]
    said = [line[2:-2] for line in panels.splitlines() if line.startswith("│ ")]
    assert all(re.match(r"(Mon|Tue|Wed) \d\d:\d\d |    \S| *$", line) for line in said)
    # Emma reports the lamp again on Telegram, in English: already reported, and she hears
    # what the first resident hears, in English, in her own chat.
    assert "Mon 09:20 town → Emma" in lines
    assert lines[lines.index("Mon 09:20 town → Emma") + 1].startswith(
        "Already reported: JUN-0001, electricista has it."
    )
    assert "JUN-0001 is resolved. Cambiada la bombilla, ya luce" in lines
    assert "JUN-0001: otra persona también lo ha avisado (2 en total)." in lines
    # The resident wrote in Spanish: the hint under numbered choices is in Spanish only.
    assert "Responde con el número" in lines and "Reply with the number" not in demo_output
    # The requests of the day fit 80 columns with every reference, name and time whole.
    table = demo_output[demo_output.index("Requests of the day") :]
    assert "…" not in table and " JUN-0005 │ police " in table and "01 Dec 00:10" in table
