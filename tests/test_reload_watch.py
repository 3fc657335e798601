"""Saving channels.yaml (or SIGHUP) while junbridge runs: a valid file takes effect, a wrong one
is refused with its lines and the running configuration goes on."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from junbridge.reload import reload_now, watch
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import WEDNESDAY_10, ManualClock

CONFIG: dict[str, Any] = {
    "town": {"name": "Jun", "reference_prefix": "JUN"},
    "departments": {"lighting": {"sla_hours": 48}, "police": {}},
}


async def until(check: Any) -> None:
    """Wait for ``check()``; the bound only stops a hung test."""
    async with asyncio.timeout(20):
        while True:
            if check():
                return
            await asyncio.sleep(0.02)


async def test_a_saved_file_is_taken_and_a_wrong_one_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    bridge = await make_bridge(config=path, workdir=tmp_path)
    stop, hangup = asyncio.Event(), asyncio.Event()
    watching = asyncio.create_task(watch(bridge, stop, hangup, every=0.05))
    await asyncio.sleep(0)  # the watcher has read the file as it is now
    caplog.set_level(logging.INFO, logger="junbridge.reload")
    try:
        # The lighting team promises 24 hours from now on: saved, and taken.
        path.write_text(
            yaml.safe_dump(
                {**CONFIG, "departments": {**CONFIG["departments"], "lighting": {"sla_hours": 24}}}
            )
        )
        await until(lambda: bridge.departments["lighting"].settings.sla_hours == 24)

        # A typo: refused with its line, and lighting keeps its 24 hours.
        path.write_text(
            "town: {name: Jun, reference_prefix: JUN}\ndepartments:\n"
            "  lighting: {sla_hours: -5}\n  police: {}\n"
        )
        await until(lambda: "not reloaded" in caplog.text)
        assert "channels.yaml:3" in caplog.text and "sla_hours" in caplog.text
        assert bridge.departments["lighting"].settings.sla_hours == 24

        # A change only a restart can take is said so, and nothing is applied.
        caplog.clear()
        path.write_text(
            yaml.safe_dump({**CONFIG, "town": {"name": "Jun de Arriba", "reference_prefix": "JUN"}})
        )
        await until(lambda: "restart" in caplog.text)
        assert bridge.config.town.name == "Jun"

        # SIGHUP reads the file again even if it did not change.
        path.write_text(yaml.safe_dump(CONFIG))
        await until(lambda: bridge.departments["lighting"].settings.sla_hours == 48)
        caplog.clear()
        hangup.set()
        await until(lambda: "no department's settings changed" in caplog.text)
    finally:
        stop.set()
        await watching
        await bridge.close()


async def test_a_reply_text_changed_by_reload_is_the_next_one_residents_read(
    tmp_path: Path,
) -> None:
    """Texts are looked up once per key and language (the hot path asks for each of them at
    every message); an admin's new wording must still be the very next one sent."""
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    # Within office hours, with nobody on duty: "acknowledged", whatever the day of the run.
    bridge = await make_bridge(config=path, workdir=tmp_path, clock=ManualClock(WEDNESDAY_10))
    try:
        first = await bridge.receive(make_message("La farola 12 de la calle Real no funciona"))
        assert first.replies[0].text.startswith("Gracias. **JUN-0001** (Alumbrado público) queda")
        reworded = "Recibido: {reference}. Previsto: {expected}."
        lighting = {"sla_hours": 48, "replies": {"es": {"acknowledged": reworded}}}
        path.write_text(
            yaml.safe_dump(
                {**CONFIG, "departments": {**CONFIG["departments"], "lighting": lighting}}
            )
        )
        reload_now(bridge)
        second = await bridge.receive(
            make_message("La farola 13 de la calle Real no funciona", user="vecino")
        )
        assert second.replies[0].text.startswith("Recibido: JUN-0002. Previsto: ")
    finally:
        await bridge.close()
