"""`junbridge demo`: the scripted day in Jun, end to end on the three emulators."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from junbridge.demo import play, run_demo
from junbridge.demo.script import Transcript
from junbridge.demo.town import open_town
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
    finally:
        await town.close()


async def test_run_demo_prints_a_transcript_per_platform_and_exits_0():
    out = io.StringIO()
    code = await run_demo(
        ROOT / "channels.yaml", keep_running=False, console=Console(file=out, width=120)
    )
    text = out.getvalue()
    assert code == 0, text
    for heading in ("Telegram", "Slack", "X", "Requests of the day"):
        assert heading in text
    # "Menú del comedor, ..." on a school day, "no hay comedor" in the holidays.
    assert "Cita confirmada" in text and "comedor" in text
