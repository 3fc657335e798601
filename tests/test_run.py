"""`junbridge run` as an operator runs it: a process that serves, answers, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from junbridge.testing.emulators import TelegramEmulator

ROOT = Path(__file__).parent.parent
JUNBRIDGE = Path(sys.executable).parent / "junbridge"
TOKEN = "7000000009:AArun-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def telegram():
    emulator = TelegramEmulator(token=TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


async def healthy(url: str) -> dict[str, object]:
    async with httpx.AsyncClient(trust_env=False) as client:
        while True:
            try:
                response = await client.get(url)
                if response.status_code == 200:
                    return dict(response.json())
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_run_serves_answers_and_stops_cleanly_on_sigterm(tmp_path, telegram, log_format):
    port = free_port()
    config = {
        "town": {"name": "Jun"},
        "store": {"url": f"sqlite:///{tmp_path / 'jun.db'}"},
        "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "channels": {
            "telegram": {
                "token": {"$env": "RUN_TEST_TELEGRAM_TOKEN"},
                "mode": "polling",
                "api_url": f"{telegram.url}/bot",
                "poll_timeout": 1,
            },
            # No secret in the environment: skipped with a warning, not a crash.
            "slack": {
                "bot_token": {"$env": "RUN_TEST_UNSET_SLACK_TOKEN"},
                "signing_secret": {"$env": "RUN_TEST_UNSET_SLACK_SECRET"},
            },
        },
        "departments": {
            "lighting": {
                "staff": [{"name": "electricista"}],
                "on_duty": [{"staff": "electricista"}],
            }
        },
    }
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUN_TEST_UNSET")}
    env["RUN_TEST_TELEGRAM_TOKEN"] = TOKEN
    process = await asyncio.create_subprocess_exec(
        str(JUNBRIDGE),
        "run",
        "--config",
        str(path),
        "--log-format",
        log_format,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        health = await asyncio.wait_for(healthy(f"http://127.0.0.1:{port}/healthz"), 30)
        assert health["channels"] == ["telegram"]
        await telegram.resident_says("La farola 7 de la plaza no funciona")
        [sent] = await telegram.wait_for("sendMessage", timeout=30)
        assert "JUN-0001" in sent.params["text"]
        # The town's transparency page, served by the same process.
        async with httpx.AsyncClient(trust_env=False) as client:
            page = await client.get(f"http://127.0.0.1:{port}/", params={"lang": "en"})
        assert page.status_code == 200 and "JUN-0001" in page.text
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = stderr.decode()
    assert process.returncode == 0, log
    if log_format == "json":
        lines = [json.loads(line) for line in log.splitlines()]
        assert {"time", "level", "logger", "message"} <= set(lines[0])
        log = "\n".join(line["message"] for line in lines)
    assert "slack skipped" in log and "RUN_TEST_UNSET_SLACK_TOKEN is not set" in log
    assert "stopping" in log
