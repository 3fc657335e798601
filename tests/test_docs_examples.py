"""The plugin tutorial's example department works as the tutorial says."""

from __future__ import annotations

from pathlib import Path

from junbridge.model import Status
from junbridge.testing import make_bridge, make_message

WASTE = Path(__file__).parent.parent / "docs" / "examples" / "waste.py"


async def test_a_missed_bin_is_acknowledged_with_a_reference(tmp_path):
    bridge = await make_bridge(plugins=[WASTE], workdir=tmp_path)
    try:
        handled = await bridge.receive(make_message("no han recogido la basura"))
        assert handled.request.department == "waste"
        assert handled.request.reference in handled.replies[0].text
        assert handled.request.state is Status.ACKNOWLEDGED
    finally:
        await bridge.close()


async def test_a_bulky_item_question_is_answered_and_closed(tmp_path):
    config = {"town": {"name": "Jun"}, "departments": {"waste": {"bulky_day": "martes"}}}
    bridge = await make_bridge(plugins=[WASTE], config=config, workdir=tmp_path)
    try:
        handled = await bridge.receive(make_message("¿Cuándo recogen un colchón viejo?"))
        assert "martes" in handled.replies[0].text
        assert handled.request.state is Status.CLOSED
    finally:
        await bridge.close()
