"""python-telegram-bot's Bot API answered in-process, for the benchmarks' ptb anchors.

A bare ptb ``Application`` still calls ``getMe`` when it starts (and its webhook server
``setWebhook``); this transport answers those here and refuses every other call, so an
anchor needs no network and cannot quietly do more work than it is meant to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from telegram.request import BaseRequest, RequestData


class InProcessBotApi(BaseRequest):
    """A ptb transport: getMe (and the methods in ``answers``) answered here, any other refused."""

    ME = {"id": 123, "is_bot": True, "first_name": "Jun", "username": "jun_bench_bot"}

    def __init__(self, answers: Mapping[str, Any] | None = None) -> None:
        self.answers: dict[str, Any] = {"getMe": self.ME, **(answers or {})}
        self.calls: list[str] = []

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        self.calls.append(endpoint)
        if endpoint not in self.answers:
            raise RuntimeError(f"the ptb anchor must not call the Bot API ({endpoint})")
        return 200, json.dumps({"ok": True, "result": self.answers[endpoint]}).encode()
