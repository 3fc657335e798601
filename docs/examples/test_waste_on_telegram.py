"""A plugin author's end-to-end test: the waste department on Telegram, through the real SDK."""

from __future__ import annotations

from pathlib import Path

from junbridge.testing import make_bridge
from junbridge.testing.emulators import TelegramEmulator

WASTE = Path(__file__).parent / "waste.py"


async def test_a_missed_bin_reported_on_telegram_is_answered_there(tmp_path, monkeypatch):
    telegram = TelegramEmulator()
    await telegram.start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram.token)
    config = {
        "town": {"name": "Jun"},
        "channels": {
            "telegram": {
                "token": {"$env": "TELEGRAM_BOT_TOKEN"},
                "mode": "polling",
                "api_url": f"{telegram.url}/bot",
            }
        },
    }
    bridge = await make_bridge(config=config, plugins=[WASTE], workdir=tmp_path)
    try:
        await bridge.add_channel(bridge.channel("telegram"))  # python-telegram-bot, for real
        said = await telegram.resident_says("No han recogido el contenedor de la calle Real")
        await telegram.wait_confirmed(said)  # the bridge polled it and stored it
        await bridge.drain()  # ... handled it
        await bridge.outbox.flush()  # ... and sent the answer through the SDK
        [sent] = telegram.sent("sendMessage")
        assert "Recogida de basuras" in sent.params["text"]
        [request] = await bridge.requests.open()
        assert request.department == "waste"
    finally:
        await bridge.stop_channels()
        await bridge.close()
        await telegram.stop()
