"""Replies at the platforms' limits: does the outbox send as fast as it may, and no faster?

Replies are queued in the store (``Transaction.enqueue``, as a handled message queues its
answer): ``--chats`` Telegram private chats and ``--channels`` Slack channels, each given
its share of ``--replies``, numbered in the order they were queued. The real ``Outbox``
(``Outbox.run``, as ``junbridge run`` starts it) delivers them through the real channels
(python-telegram-bot and slack-sdk) to the local emulators, which enforce the documented
limits with a sliding one-second window and answer 429 past them:

- Telegram: one message a second per chat, 30 a second per bot across all chats;
- Slack: ``chat.postMessage`` about one a second per channel (no limit across channels).

The allowed rate is what a perfect sender could reach with the same queue:
``min(bot rate, sum of the rates of the conversations that still have replies)`` over
time, i.e. the queue drains in ``max(replies / bot rate, most replies of one conversation
/ conversation rate)``. The achieved rate is measured at the emulators, from each
platform's first delivered reply to its last. Then it is checked that every reply
arrived exactly once and that each conversation got its replies in the order queued, and
the 429s are counted. ``--profile`` runs it under cProfile and keeps the top functions.

    .venv/bin/python bench/bench_outbound.py [--replies 3000] [--chats 300] [--channels 50]
        [--profile] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from results import top_functions, write
from rich.console import Console
from rich.table import Table
from stores import command_line

from junbridge.channels.slack import SlackChannel
from junbridge.channels.telegram import TelegramChannel
from junbridge.model import Reply
from junbridge.testing import make_bridge
from junbridge.testing.emulators import SlackEmulator
from junbridge.testing.emulators.telegram import TelegramEmulator

TELEGRAM_CHAT_RATE, TELEGRAM_BOT_RATE, SLACK_CHANNEL_RATE = 1.0, 30.0, 1.0
FIRST_CHAT = 7_000_000


@dataclass
class Platform:
    """One platform's queue and what its emulator saw."""

    name: str
    conversations: int
    per_conversation: int
    conversation_rate: float
    bot_rate: float | None
    times: list[float] = field(default_factory=list)
    delivered: list[tuple[str, int]] = field(default_factory=list)
    too_many: int = 0
    # Each 429: seconds from the first delivery, and whether the conversation's own limit
    # (a delivery to it less than a second before) or the bot's explains it.
    refusals: list[tuple[float, str]] = field(default_factory=list)

    @property
    def replies(self) -> int:
        return self.conversations * self.per_conversation

    def allowed_seconds(self) -> float:
        """How long a perfect sender takes to deliver the queue."""
        by_conversation = (self.per_conversation - 1) / self.conversation_rate
        by_bot = (self.replies - 1) / self.bot_rate if self.bot_rate else 0.0
        return max(by_conversation, by_bot)

    def figures(self) -> dict[str, Any]:
        span = max(self.times) - min(self.times) if len(self.times) > 1 else 0.0
        allowed = (self.replies - 1) / self.allowed_seconds()
        achieved = (len(self.times) - 1) / span if span else 0.0
        seen = Counter(self.delivered)
        order_kept = all(numbers == sorted(numbers) for numbers in self.by_conversation().values())
        start = min(self.times) if self.times else 0.0
        return {
            "platform": self.name,
            "conversations": self.conversations,
            "replies": self.replies,
            "delivered": len(self.delivered),
            "distinct": len(seen),
            "duplicates": sum(n - 1 for n in seen.values()),
            "missing": self.replies - len(seen),
            "order_kept": order_kept,
            "too_many_requests": self.too_many,
            "refused_by_conversation_limit": sum(1 for _, by in self.refusals if by == "chat"),
            "refused_by_bot_limit": sum(1 for _, by in self.refusals if by == "bot"),
            "refused_at": [round(t - start, 3) for t, _ in self.refusals],
            "seconds": round(span, 2),
            "allowed_seconds": round(self.allowed_seconds(), 2),
            "achieved_rate": round(achieved, 2),
            "allowed_rate": round(allowed, 2),
            "share_of_allowed": round(achieved / allowed, 3) if allowed else 0.0,
            "curve": [round(t - start, 3) for t in sorted(self.times)],
        }

    def by_conversation(self) -> dict[str, list[int]]:
        numbers: dict[str, list[int]] = defaultdict(list)
        for where, number in self.delivered:
            numbers[where].append(number)
        return numbers


def text_of(where: str, number: int) -> str:
    return f"Aviso {number} para {where}: la farola de su calle ya funciona."


def number_of(text: str) -> tuple[str, int]:
    words = text.split()
    return words[3].rstrip(":"), int(words[1])


async def measure(args: argparse.Namespace) -> tuple[list[Platform], float, float]:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        os.environ.pop(name, None)
    per_telegram = max(1, round(args.replies * args.telegram_share / args.chats))
    per_slack = max(1, round(args.replies * (1 - args.telegram_share) / args.channels))
    telegram = Platform("telegram", args.chats, per_telegram, TELEGRAM_CHAT_RATE, TELEGRAM_BOT_RATE)
    slack = Platform("slack", args.channels, per_slack, SLACK_CHANNEL_RATE, None)
    tg = TelegramEmulator(
        per_chat_per_second=int(TELEGRAM_CHAT_RATE), per_bot_per_second=int(TELEGRAM_BOT_RATE)
    )
    sl = SlackEmulator()
    await tg.start()
    await sl.start()
    sl.limit("chat.postMessage", calls=int(SLACK_CHANNEL_RATE), per=1.0, per_channel=True)
    chats = [str(FIRST_CHAT + n) for n in range(args.chats)]
    channels = [f"C0BENCH{n:04d}" for n in range(args.channels)]
    for chat in chats:
        tg.known_chat({"id": int(chat), "type": "private", "first_name": f"Vecino {chat}"})
    for channel in channels:
        sl.workspace.add_channel(channel, channel.lower())
    os.environ["BENCH_TELEGRAM_TOKEN"] = tg.token
    os.environ["BENCH_SLACK_BOT_TOKEN"] = sl.bot_token
    os.environ["BENCH_SLACK_SIGNING_SECRET"] = sl.signing_secret
    config = {
        "town": {"name": "Jun"},
        "channels": {
            "telegram": {
                "token": {"$env": "BENCH_TELEGRAM_TOKEN"},
                "mode": "polling",
                "api_url": tg.api_url,
            },
            "slack": {
                "bot_token": {"$env": "BENCH_SLACK_BOT_TOKEN"},
                "signing_secret": {"$env": "BENCH_SLACK_SIGNING_SECRET"},
                "api_url": sl.api_url,
            },
        },
        "departments": {"lighting": {}},
    }
    with tempfile.TemporaryDirectory() as tmp:
        bridge = await make_bridge(config=config, workdir=tmp)
        try:
            await bridge.add_channel(TelegramChannel(bridge.config.channels["telegram"]))
            await bridge.add_channel(SlackChannel(bridge.config.channels["slack"]))
            # Queued in the order a busy morning would: round the conversations.
            queued = [
                Reply(text=text_of(where, n), channel="telegram", conversation=where)
                for n in range(per_telegram)
                for where in chats
            ] + [
                Reply(text=text_of(where, n), channel="slack", conversation=where)
                for n in range(per_slack)
                for where in channels
            ]
            await bridge.store.write(
                lambda tx: tx.enqueue_many([(reply, None) for reply in queued])
            )
            stop = asyncio.Event()
            wall, cpu = time.perf_counter(), time.process_time()
            runner = asyncio.create_task(bridge.outbox.run(stop))
            deadline = time.perf_counter() + args.timeout
            while time.perf_counter() < deadline:
                done = len(tg.sent("sendMessage")) + len(sl.sent("chat.postMessage"))
                if done >= telegram.replies + slack.replies:
                    break
                await asyncio.sleep(0.2)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            # Anything still queued or sent twice would show within the next pass.
            await asyncio.sleep(1.0)
            stop.set()
            await runner
        finally:
            await bridge.stop_channels()
            await bridge.close()
            await tg.stop()
            await sl.stop()
    read(telegram, [c for c in tg.calls if c.method == "sendMessage"], "chat_id")
    read(slack, [c for c in sl.calls if c.method == "chat.postMessage"], "channel")
    return [telegram, slack], wall, cpu


def read(platform: Platform, calls: list[Any], where: str) -> None:
    """What the emulator answered: deliveries, and 429s with the limit that explains each."""
    last: dict[str, float] = {}
    for call in calls:
        at, to = call.at.timestamp(), str(call.params.get(where))
        if call.status == 429:
            platform.too_many += 1
            by = "chat" if at - last.get(to, float("-inf")) < 1.0 else "bot"
            platform.refusals.append((at, by))
        elif call.status == 200 and not getattr(call, "error", None):
            platform.times.append(at)
            platform.delivered.append(number_of(call.params["text"]))
            last[to] = at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=300, help="Telegram private chats")
    parser.add_argument("--channels", type=int, default=50, help="Slack channels")
    parser.add_argument(
        "--telegram-share", type=float, default=0.8, help="share of the replies to Telegram"
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--profile", action="store_true", help="run under cProfile")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    platforms, wall, cpu = asyncio.run(measure(args))
    if profiler:
        profiler.disable()
    figures = [p.figures() for p in platforms]
    table = Table(title="Replies at the platforms' documented limits (emulators, sliding 1 s)")
    columns = (
        "platform", "conversations", "replies", "delivered", "duplicates", "missing",
        "order kept", "429s", "seconds", "achieved/s", "allowed/s", "share",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(
            f["platform"], str(f["conversations"]), str(f["replies"]), str(f["delivered"]),
            str(f["duplicates"]), str(f["missing"]), "yes" if f["order_kept"] else "NO",
            str(f["too_many_requests"]), f"{f['seconds']:.1f}", f"{f['achieved_rate']:.1f}",
            f"{f['allowed_rate']:.1f}", f"{f['share_of_allowed']:.1%}",
        )  # fmt: skip
    console = Console(width=130)
    console.print(table)
    console.print(
        f"outbox process: {wall:.1f} s wall, {cpu:.1f} s CPU ({cpu / wall:.0%} of one core). "
        f"command: {command_line()}"
    )
    data: dict[str, Any] = {"platforms": figures, "wall_seconds": wall, "cpu_seconds": cpu}
    if profiler:
        data["profile"] = top_functions(profiler)
    write(args.json, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
