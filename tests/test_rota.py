"""The on-duty rota: who gets a new request, holidays, and off hours."""

from __future__ import annotations

from datetime import UTC, datetime

from junbridge.model import Status
from junbridge.requests import scheduler
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock

# Two electricians on weekdays 08:00-15:00; the same two share the work equally.
CONFIG = {
    "town": {"name": "Jun", "holidays": ["2026-12-08"]},
    # The staff place is a Slack channel, so Slack is configured (its secrets need not be set).
    "channels": {
        "slack": {
            "bot_token": {"$env": "SLACK_BOT_TOKEN"},
            "signing_secret": {"$env": "SLACK_SIGNING_SECRET"},
        }
    },
    "departments": {
        "lighting": {
            "staff_place": "slack:C0LIGHTING",
            "staff": [
                {"name": "Paco", "handles": {"slack": "U0PACO"}},
                {"name": "Lola", "handles": {"slack": "U0LOLA"}},
            ],
            "on_duty": [
                {
                    "staff": "Paco",
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "from": "08:00",
                    "to": "15:00",
                },
                {
                    "staff": "Lola",
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "from": "08:00",
                    "to": "15:00",
                },
            ],
        }
    },
}
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SATURDAY_11 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
HOLIDAY_10 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


async def test_equals_on_duty_take_turns(tmp_path):
    bridge = await make_bridge(config=CONFIG, workdir=tmp_path, clock=ManualClock(WEDNESDAY_10))
    try:
        assignees = []
        for n in range(4):
            handled = await bridge.receive(make_message(f"farola {n} apagada", user=f"v{n}"))
            assignees.append(handled.request.assignee)
        assert assignees == ["Paco", "Lola", "Paco", "Lola"]
    finally:
        await bridge.close()


async def test_off_hours_the_resident_is_told_when_and_the_next_shift_gets_it(tmp_path):
    clock = ManualClock(SATURDAY_11)
    bridge = await make_bridge(config=CONFIG, workdir=tmp_path, clock=clock)
    try:
        handled = await bridge.receive(make_message("la farola 3 no funciona"))
        request = handled.request
        assert request.assignee is None and request.state is Status.ACKNOWLEDGED
        [reply] = handled.replies
        assert "Paco lo verá a partir del lun, 30 de noviembre, 8:00" in reply.text
        clock.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 08:00 in Jun
        assert await scheduler.tick(bridge) >= 1
        assigned = await bridge.requests.get(request.reference)
        assert assigned.assignee == "Paco" and assigned.state is Status.ASSIGNED
        texts = [r.reply.text for r in await bridge.store.replies_for(request.reference)]
        assert any("empieza el turno" in t and "@U0PACO" in t for t in texts)
    finally:
        await bridge.close()


async def test_nobody_is_on_duty_on_a_holiday(tmp_path):
    bridge = await make_bridge(config=CONFIG, workdir=tmp_path, clock=ManualClock(HOLIDAY_10))
    try:
        handled = await bridge.receive(make_message("farola 9 apagada"))
        assert handled.request.assignee is None
        assert "mié, 9 de diciembre, 8:00" in handled.replies[0].text
    finally:
        await bridge.close()
