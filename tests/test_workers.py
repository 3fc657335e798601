"""Several ``junbridge run`` workers on one PostgreSQL database, as an operator runs them.

Slack delivers every resident's report to two workers (its own retries, or a load balancer
that sends twice); each report must still become exactly one request, one answer in the
resident's thread and one card for the electricians. In the second test a worker is killed
with SIGKILL a third of the way through. What it accepted and never finished is taken over
by a live worker's sweep once its lease (``junbridge.store.leases.LEASE``, 30 s; there is
no setting for it) runs out, so that test waits for the lease. The replies it had claimed
for sending are put back by a live worker ``STUCK_AFTER`` (30 s) after the last renewal:
instead of waiting that long the test moves those claims back in the database.
The reply it was posting at the instant it died may have reached Slack unrecorded (Slack
has no idempotency key): the live worker that takes it over reads the thread back
(``Channel.already_sent``) and does not post it again, so no reply may appear twice.

Two more: three workers share one X account, and the one polling its mentions is
killed (a live one takes the lead when the lease runs out, and every mention is answered
once); and one ``junbridge run`` is killed three times under a steady stream and started
again each time, as a service manager would, with nothing lost and nothing twice.

The events are derived from the captured ``tests/fixtures/slack/message.json`` (see
:func:`event_body` for what is changed) and signed as Slack signs them. Each worker's
stderr is kept in ``tmp_path/worker-*/stderr.log`` and printed when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

import httpx
import psycopg
import pytest
import yaml
from psycopg.rows import namedtuple_row
from time_machine import escape_hatch

from junbridge.channels.slack import EVENTS_PATH
from junbridge.channels.twitter import POLL_ROLE
from junbridge.outbox import STUCK_AFTER
from junbridge.testing.emulators.slack import SlackEmulator
from junbridge.testing.emulators.x import XEmulator

ROOT = Path(__file__).parent.parent
JUNBRIDGE = Path(sys.executable).parent / "junbridge"
TEMPLATE = json.loads((ROOT / "tests" / "fixtures" / "slack" / "message.json").read_text())
EVENTS = 300
PLAZA = "C0PLAZA"
STAFF_PLACE = "C0LIGHTSTAFF"
# Reports in flight at once, each POSTed to two workers.
IN_FLIGHT = 24
# A delivery and Slack's three retries.
DELIVERY_ATTEMPTS = 4
DUPLICATE_LOG = "duplicate slack:"
# channels.yaml's X secrets, read from the environment, and the emulator's attribute each is.
X_SECRETS = {
    "X_BEARER_TOKEN": "bearer_token",
    "X_CONSUMER_KEY": "consumer_key",
    "X_CONSUMER_SECRET": "consumer_secret",
    "X_ACCESS_TOKEN": "access_token",
    "X_ACCESS_TOKEN_SECRET": "access_token_secret",
}
MENTIONS = 40

# conftest's PostgreSQL schema: workers share a database only there.
pytestmark = pytest.mark.parametrize("make_db_url", ["postgresql"], indirect=True)


@dataclass(frozen=True, slots=True)
class Report:
    """One resident's report and the Events API body that carries it."""

    n: int
    user: str
    channel: str
    ts: str
    text: str
    body: str

    @property
    def place(self) -> tuple[str, str | None]:
        """Where the answer goes: the message's thread in a channel, the DM itself."""
        return (self.channel, None if self.channel.startswith("D") else self.ts)


@dataclass
class Worker:
    """One ``junbridge run`` process and the file its stderr goes to."""

    name: str
    port: int
    process: asyncio.subprocess.Process
    log_path: Path
    log_file: IO[bytes]
    killed_at: datetime | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Stream:
    """What the sender saw: each POST's outcome, and how many it delivered again."""

    statuses: Counter[int | str] = field(default_factory=Counter)
    redelivered: int = 0
    acknowledged: int = 0


class Stored(NamedTuple):
    """The rows the workers wrote."""

    inbound: list[Any]
    requests: list[Any]
    outbox: list[Any]


def wall_clock() -> float:
    """The time the workers see, also when the suite runs ``--today`` (not in subprocesses)."""
    return escape_hatch.time.time() if escape_hatch.is_travelling() else time.time()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def event_body(slack: SlackEmulator, *, n: int, user: str, channel: str, ts: str, text: str) -> str:
    """The captured ``message`` event, made one of Jun's residents' reports.

    Changed from the fixture: the team, app and authed user are the emulator's workspace;
    ``enterprise_id`` is dropped (Jun is no Enterprise Grid); the event's ``user``,
    ``channel`` and ``channel_type`` (``im`` in a DM), ``text`` and its ``rich_text``
    block, ``ts``/``event_ts``/``event_time`` and the ids (``client_msg_id``,
    ``event_id``) are the report's own. Nothing is added or removed otherwise.
    """
    body = copy.deepcopy(TEMPLATE)
    identity = slack.identity
    del body["enterprise_id"]
    body.update(
        team_id=identity.team_id,
        api_app_id=identity.app_id,
        event_id=f"Ev{n:04d}{uuid.uuid4().hex[:6].upper()}",
        event_time=int(float(ts)),
        authed_users=[identity.bot_user_id],
    )
    event = body["event"]
    event.update(
        client_msg_id=str(uuid.uuid4()),
        text=text,
        user=user,
        ts=ts,
        event_ts=ts,
        team=identity.team_id,
        channel=channel,
        channel_type="im" if channel.startswith("D") else "channel",
    )
    event["blocks"][0]["elements"][0]["elements"][0]["text"] = text
    return json.dumps(body)


def reports(slack: SlackEmulator) -> list[Report]:
    """EVENTS reports by EVENTS // 2 residents, each writing in #plaza and then in a DM."""
    made = []
    now = wall_clock()
    for n in range(EVENTS):
        user = f"U0R{n // 2:04d}"
        if n % 2 == 0:
            slack.workspace.add_user(
                user, name=f"vecino{n // 2}", real_name=f"Vecino {n // 2}", locale="es-ES"
            )
        channel = PLAZA if n % 2 == 0 else slack.workspace.dm(user)
        ts = f"{now + n / 1000:.6f}"  # a millisecond apart, as Slack's ts are unique
        text = f"La farola {n + 1} de la calle Real no funciona"
        body = event_body(slack, n=n, user=user, channel=channel, ts=ts, text=text)
        # The message is in Slack's channel history too, where a reply's thread hangs from.
        slack.workspace.messages.setdefault(channel, {})[ts] = json.loads(body)["event"]
        made.append(Report(n=n, user=user, channel=channel, ts=ts, text=text, body=body))
    return made


def channels_yaml(
    slack: SlackEmulator, db_url: str, port: int, x: XEmulator | None = None
) -> dict[str, Any]:
    """Jun's channels.yaml (as tests/data/jun.yaml) for one worker, Slack in events mode,
    and X polled every second if ``x`` is given.

    The electrician is always on duty, so the answer does not depend on when tests run.
    """
    config: dict[str, Any] = {
        "town": {
            "name": "Jun",
            "reference_prefix": "JUN",
            "timezone": "Europe/Madrid",
            "languages": ["es", "en"],
        },
        "store": {"url": db_url},
        "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "channels": {
            "slack": {
                "bot_token": {"$env": "SLACK_BOT_TOKEN"},
                "signing_secret": {"$env": "SLACK_SIGNING_SECRET"},
                "mode": "events",
                "api_url": slack.api_url,
                # 450 posts into two channels in a minute: far over Slack's pace of one a
                # second per channel, which the emulator does not enforce here. These tests
                # are about crashes and duplicates, not pacing (tests/store/test_outbox.py).
                "pace": "off",
            }
        },
        "departments": {
            "lighting": {
                "staff_place": f"slack:{STAFF_PLACE}",
                "staff": [
                    {"name": "electricista", "handles": {"slack": "U0ELECTRIC"}},
                    {"name": "jefa de obras", "role": "lead"},
                ],
                "on_duty": [{"staff": "electricista"}],
            },
        },
    }
    if x is not None:
        config["channels"]["twitter"] = {
            "handle": f"@{x.handle}",
            "api_url": x.url,
            "mode": "polling",
            "poll_seconds": 1,
            "pace": "off",
            **{attribute: {"$env": env} for env, attribute in X_SECRETS.items()},
        }
    return config


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """The Slack emulator, with the electricians' channel the cards go to."""
    emulator = SlackEmulator()
    await emulator.start()
    emulator.workspace.add_channel(STAFF_PLACE, "alumbrado-equipo")
    yield emulator
    await emulator.stop()


@pytest.fixture
def db_url(make_db_url: Callable[[], str]) -> str:
    return make_db_url()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """The started workers: any still running at the end are killed, and their logs shown."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.returncode is None:
            worker.process.kill()
    for worker in started:
        worker.log_file.close()
    # pytest shows this only for a failed test.
    for worker in started:
        lines = [line.rstrip() for line in worker.log().splitlines()]
        print(f"----- {worker.name} ({worker.url}) stderr, {worker.log_path}:")
        print(f"({sum(DUPLICATE_LOG in line for line in lines)} 'duplicate ... ignored' lines)")
        print("\n".join(line for line in lines if DUPLICATE_LOG not in line))


async def start_workers(
    count: int,
    *,
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
    started: list[Worker],
    x: XEmulator | None = None,
) -> None:
    """``count`` ``junbridge run`` processes on one database, each on its own port."""
    env = worker_env(slack, x)
    for n in range(count):
        home = tmp_path / f"worker-{'abc'[n]}"
        home.mkdir()
        port = free_port()
        config = home / "channels.yaml"
        config.write_text(yaml.safe_dump(channels_yaml(slack, db_url, port, x)))
        log_path = home / "stderr.log"
        log_file = log_path.open("wb")
        process = await asyncio.create_subprocess_exec(
            str(JUNBRIDGE),
            "run",
            "--config",
            str(config),
            env=env,
            cwd=home,
            stdout=log_file,
            stderr=log_file,
        )
        started.append(Worker(home.name, port, process, log_path, log_file))
    channels = ["slack", "twitter"] if x is not None else ["slack"]
    async with asyncio.timeout(45):
        await asyncio.gather(*(healthy(worker, channels) for worker in started))


def worker_env(slack: SlackEmulator, x: XEmulator | None = None) -> dict[str, str]:
    """The environment a worker runs in: the platforms' secrets, no proxy."""
    env = {
        k: v
        for k, v in os.environ.items()
        # slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY: loopback stays direct.
        if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
    }
    env.update(SLACK_BOT_TOKEN=slack.bot_token, SLACK_SIGNING_SECRET=slack.signing_secret)
    if x is not None:
        env.update({name: getattr(x, attribute) for name, attribute in X_SECRETS.items()})
    env["COLUMNS"] = "250"  # one log record per line in the file
    return env


async def restart(worker: Worker, slack: SlackEmulator) -> None:
    """Start ``worker`` again after it was killed, as its service manager would: the same
    channels.yaml, port and log."""
    home = worker.log_path.parent
    worker.process = await asyncio.create_subprocess_exec(
        str(JUNBRIDGE),
        "run",
        "--config",
        str(home / "channels.yaml"),
        env=worker_env(slack),
        cwd=home,
        stdout=worker.log_file,
        stderr=worker.log_file,
    )
    worker.killed_at = None
    async with asyncio.timeout(45):
        await healthy(worker, ["slack"])


async def healthy(worker: Worker, channels: list[str]) -> None:
    """Wait until the worker answers /healthz with ``channels`` running."""
    async with httpx.AsyncClient(trust_env=False) as client:
        while True:
            if worker.process.returncode is not None:
                raise AssertionError(f"{worker.name} exited at start:\n{worker.log()}")
            with contextlib.suppress(httpx.TransportError):
                response = await client.get(f"{worker.url}/healthz")
                if response.status_code == 200:
                    assert response.json()["channels"] == channels, worker.log()
                    return
            await asyncio.sleep(0.1)


async def deliver(
    client: httpx.AsyncClient,
    slack: SlackEmulator,
    report: Report,
    worker: Worker,
    live: Callable[[], list[Worker]],
    stream: Stream,
    *,
    retry: int = 0,
) -> None:
    """POST one report to ``worker`` as Slack does; one not answered 200 goes again.

    Slack retries with ``X-Slack-Retry-Num``; the retry reaches a live worker, as the load
    balancer in front of the workers routes it.
    """
    target = worker
    for attempt in range(retry, retry + DELIVERY_ATTEMPTS):
        headers = {
            **slack.signature(report.body, timestamp=int(wall_clock())),
            "Content-Type": "application/json",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if attempt:
            headers["X-Slack-Retry-Num"] = str(attempt)
            headers["X-Slack-Retry-Reason"] = "http_timeout" if attempt == 1 else "http_error"
        try:
            answer = await client.post(
                target.url + EVENTS_PATH, content=report.body.encode(), headers=headers
            )
            stream.statuses[answer.status_code] += 1
            if answer.status_code == 200:
                return
        except httpx.TransportError as exc:
            stream.statuses[type(exc).__name__] += 1
        stream.redelivered += 1
        others = [w for w in live() if w is not target] or live()
        target = others[report.n % len(others)]
    raise AssertionError(f"report {report.n} was never acknowledged: {stream.statuses}")


async def send_twice(
    slack: SlackEmulator,
    all_reports: list[Report],
    workers: list[Worker],
    *,
    kill_after: int | None = None,
) -> Stream:
    """Each report to two different live workers at once, IN_FLIGHT reports at a time.

    The second delivery of an odd report carries Slack's retry headers; an even one's is a
    plain copy (a load balancer's). With ``kill_after``, the last worker gets SIGKILL once
    that many reports were acknowledged, while the next ones are in flight.
    """
    stream = Stream()
    slots = asyncio.Semaphore(IN_FLIGHT)

    def live() -> list[Worker]:
        return [w for w in workers if w.killed_at is None]

    async def one(report: Report, client: httpx.AsyncClient) -> None:
        async with slots:
            now = live()
            first, second = now[report.n % len(now)], now[(report.n + 1) % len(now)]
            await asyncio.gather(
                deliver(client, slack, report, first, live, stream),
                deliver(client, slack, report, second, live, stream, retry=report.n % 2),
            )
            stream.acknowledged += 1
            if stream.acknowledged == kill_after:
                workers[-1].process.send_signal(signal.SIGKILL)
                workers[-1].killed_at = datetime.fromtimestamp(wall_clock(), UTC)

    # A connection per delivery, as Slack makes: a kept-alive one can meet uvicorn closing
    # it after 5 s idle, which is no failure of a worker.
    limits = httpx.Limits(max_connections=4 * IN_FLIGHT, max_keepalive_connections=0)
    async with (
        httpx.AsyncClient(trust_env=False, timeout=20, limits=limits) as client,
        asyncio.timeout(60),
    ):
        await asyncio.gather(*(one(report, client) for report in all_reports))
    return stream


@contextlib.asynccontextmanager
async def connect(db_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(
        db_url, autocommit=True, row_factory=namedtuple_row
    ) as db:
        yield db


async def database(db_url: str) -> Stored:
    """What the workers stored."""
    async with connect(db_url) as db:
        inbound = await db.execute(
            "SELECT id, platform_id, status, request_reference, worker, attempts, error "
            "FROM inbound ORDER BY id"
        )
        requests = await db.execute("SELECT reference, description, state FROM requests")
        outbox = await db.execute(
            "SELECT id, request_reference, reply, status, attempts, claimed_at, error "
            "FROM outbox ORDER BY id"
        )
        return Stored(await inbound.fetchall(), await requests.fetchall(), await outbox.fetchall())


def settled(stored: Stored) -> bool:
    """Every report handled, and its two replies (answer, staff card) settled."""
    return (
        len(stored.inbound) == EVENTS
        and all(row.status != "pending" for row in stored.inbound)
        and len(stored.outbox) >= 2 * EVENTS
        and all(row.status in ("sent", "failed") for row in stored.outbox)
    )


async def wait_until_settled(db_url: str, *, within: float) -> tuple[Stored, float]:
    """Poll the database until :func:`settled` or ``within`` s; the rows, and when handled.

    The second value is the moment (``time.monotonic``) the last report was handled.
    """
    deadline = time.monotonic() + within
    handled = 0.0
    while True:
        stored = await database(db_url)
        if not handled and all(row.status != "pending" for row in stored.inbound):
            handled = time.monotonic()
        if settled(stored) or time.monotonic() > deadline:
            return stored, handled
        await asyncio.sleep(0.25)


async def age_claims_of_the_dead(db_url: str, killed_at: datetime) -> dict[int, datetime]:
    """Move the replies the killed worker had claimed STUCK_AFTER back; return their claims.

    A reply still ``sending`` a second after it was seen ``sending`` with a claim older
    than the kill is the dead worker's: a live worker settles a claim in milliseconds.
    """
    query = "SELECT id, claimed_at FROM outbox WHERE status = 'sending' AND claimed_at < %s"
    async with connect(db_url) as db:
        first = dict(await (await db.execute(query, (killed_at,))).fetchall())
        await asyncio.sleep(1)
        again = dict(await (await db.execute(query, (killed_at,))).fetchall())
        held = {row: claimed for row, claimed in first.items() if again.get(row) == claimed}
        await db.execute(
            "UPDATE outbox SET claimed_at = claimed_at - %s WHERE id = ANY(%s)",
            (STUCK_AFTER, sorted(held)),
        )
    return held


def posts_by_place(slack: SlackEmulator) -> Counter[tuple[str, str | None]]:
    """chat.postMessage calls Slack accepted: per resident thread (or DM), per card."""
    posted: Counter[tuple[str, str | None]] = Counter()
    for call in slack.sent("chat.postMessage"):
        params = call.params
        if params["channel"] == STAFF_PLACE:
            # A card starts with the request's reference in bold: *JUN-0042* · ...
            posted[(STAFF_PLACE, str(params["text"]).split("*", 2)[1])] += 1
        else:
            posted[(params["channel"], params.get("thread_ts"))] += 1
    return posted


def reply_place(row: Any) -> tuple[str, str | None]:
    """The :func:`posts_by_place` key an outbox row's reply is posted under."""
    conversation = row.reply["conversation"]
    if conversation == STAFF_PLACE:
        return (STAFF_PLACE, row.request_reference)
    return (conversation, None if conversation.startswith("D") else row.reply.get("thread"))


def describe(stored: Stored, slack: SlackEmulator) -> str:
    """What an operator would look at when something is off, a row per line."""
    posted = posts_by_place(slack)
    lines = [
        f"inbound by status {dict(Counter(row.status for row in stored.inbound))}, "
        f"{len(stored.requests)} requests, "
        f"outbox by status {dict(Counter(row.status for row in stored.outbox))}",
        "inbound rows not done:",
        *(f"  {tuple(row)}" for row in stored.inbound if row.status != "done"),
        "outbox rows not sent (id, request, status, attempts, claimed_at, error; place):",
    ]
    for row in stored.outbox:
        if row.status != "sent":
            place = reply_place(row)
            fields = (row.id, row.request_reference, row.status, row.attempts)
            fields += (str(row.claimed_at), row.error)
            lines.append(f"  {fields} {place}: posted {posted[place]}x")
    twice = {place: n for place, n in posted.items() if n > 1}
    lines.append(f"posted more than once: {twice}")
    return "\n".join(lines)


def assert_handled_once(slack: SlackEmulator, sent: list[Report], stored: Stored) -> None:
    """One request per report, every reply sent and accepted by Slack."""
    why = describe(stored, slack)
    assert settled(stored), why
    inbound = stored.inbound
    assert sorted(row.platform_id for row in inbound) == sorted(f"{r.channel}:{r.ts}" for r in sent)
    assert {row.status for row in inbound} == {"done"}, why
    references = [row.request_reference for row in inbound]
    assert None not in references and len(set(references)) == EVENTS, why
    assert Counter(row.description for row in stored.requests) == Counter(r.text for r in sent)
    assert {row.state for row in stored.requests} == {"assigned"}
    assert len(stored.outbox) == 2 * EVENTS, why
    assert {row.status for row in stored.outbox} == {"sent"}, why
    posted = posts_by_place(slack)
    assert set(posted) == {r.place for r in sent} | {(STAFF_PLACE, ref) for ref in references}
    assert slack.refused("chat.postMessage") == []


async def stop(workers: list[Worker]) -> None:
    """SIGTERM each live worker: it finishes what it holds and exits 0."""
    live = [w for w in workers if w.killed_at is None]
    for worker in live:
        worker.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        await asyncio.gather(*(w.process.wait() for w in live))
    for worker in live:
        assert worker.process.returncode == 0, f"{worker.name} exited {worker.process.returncode}"
        assert "Traceback" not in worker.log(), f"{worker.name} logged an error"


async def test_two_workers_sent_every_report_twice_answer_each_once(
    tmp_path: Path, slack: SlackEmulator, db_url: str, workers: list[Worker]
) -> None:
    await start_workers(2, slack=slack, db_url=db_url, tmp_path=tmp_path, started=workers)
    sent = reports(slack)
    stream = await send_twice(slack, sent, workers)
    assert stream.statuses == Counter({200: 2 * EVENTS}) and stream.redelivered == 0
    stored, _ = await wait_until_settled(db_url, within=60)
    await stop(workers)

    assert_handled_once(slack, sent, stored)
    twice = {place: n for place, n in posts_by_place(slack).items() if n > 1}
    assert twice == {}, describe(stored, slack)
    # Both accepted reports, and both recognised copies of the other's.
    for worker in workers:
        assert DUPLICATE_LOG in worker.log(), worker.name


async def test_a_worker_killed_mid_stream_loses_no_report_and_no_reply(
    tmp_path: Path, slack: SlackEmulator, db_url: str, workers: list[Worker]
) -> None:
    started = time.monotonic()
    await start_workers(3, slack=slack, db_url=db_url, tmp_path=tmp_path, started=workers)
    sent = reports(slack)
    stream = await send_twice(slack, sent, workers, kill_after=EVENTS // 3)
    victim = workers[-1]
    assert victim.killed_at is not None
    assert await victim.process.wait() == -signal.SIGKILL
    # Every report was acknowledged in the end, by a live worker if not at first.
    assert stream.acknowledged == EVENTS
    stuck = await age_claims_of_the_dead(db_url, victim.killed_at)
    # The dead worker's messages wait for its lease and a live worker's sweep.
    stored, handled = await wait_until_settled(db_url, within=60)
    await stop(workers)

    assert_handled_once(slack, sent, stored)
    taken_over = [row for row in stored.inbound if row.attempts > 1]
    # Taken over by the live workers (a lease holder is "host:pid:random").
    live_pids = {str(w.process.pid) for w in workers[:2]}
    assert {row.worker.rsplit(":", 2)[1] for row in taken_over} <= live_pids
    # The reply the dead worker was sending when it died may have reached Slack before it
    # could record that: the live worker that takes it over finds the post in the thread.
    twice = {place: n for place, n in posts_by_place(slack).items() if n > 1}
    assert twice == {}, describe(stored, slack)
    print(
        f"{time.monotonic() - started:.0f} s in all; every report handled "
        f"{handled - started:.0f} s after the start; {len(taken_over)} reports taken over "
        f"from the dead worker, {len(stuck)} replies it had claimed sent by others "
        f"({len(twice)} of them twice); deliveries {dict(stream.statuses)}, "
        f"{stream.redelivered} delivered again"
    )


async def leader_of(db_url: str, role: str) -> tuple[str, datetime] | None:
    """The worker id leading ``role`` and until when (see junbridge.store.leaders)."""
    async with connect(db_url) as db:
        found = await db.execute(
            "SELECT value, updated_at FROM cursors WHERE name = %s", (f"leader:{role}",)
        )
        row = await found.fetchone()
    return (row.value, row.updated_at) if row is not None else None


async def test_a_killed_x_poll_leader_is_replaced_and_each_mention_answered_once(
    tmp_path: Path, slack: SlackEmulator, db_url: str, workers: list[Worker]
) -> None:
    """Three workers share one X account: one polls its mentions at a time. SIGKILL the
    one polling while residents keep mentioning the town: a live worker takes the lead once
    the dead one's lease runs out (30 s: max(30 s, 3 x poll_seconds)), resumes from the last
    stored mention, and every mention becomes one request with one public answer."""
    x = XEmulator()
    await x.start()
    try:
        await start_workers(3, slack=slack, db_url=db_url, tmp_path=tmp_path, started=workers, x=x)
        posts: list[str] = []

        def mention(n: int) -> None:
            post = x.resident_mentions(
                f"La farola {n + 1} de la calle Mayor no funciona", user=f"vecino{n}"
            )
            posts.append(post["id"])

        async def answered(count: int, within: float) -> None:
            async with asyncio.timeout(within):
                while True:
                    if all(x.replies_to(p) for p in posts[:count]):
                        return
                    await asyncio.sleep(0.2)

        for n in range(MENTIONS // 2):
            mention(n)
            await asyncio.sleep(0.05)
        await answered(MENTIONS // 2, within=30)
        lead = await leader_of(db_url, POLL_ROLE)
        assert lead is not None
        [victim] = [w for w in workers if f":{w.process.pid}:" in lead[0]]
        victim.process.send_signal(signal.SIGKILL)
        victim.killed_at = datetime.fromtimestamp(wall_clock(), UTC)
        assert await victim.process.wait() == -signal.SIGKILL
        # Residents go on writing while nobody polls.
        for n in range(MENTIONS // 2, MENTIONS):
            mention(n)
            await asyncio.sleep(0.05)
        await answered(MENTIONS, within=60)
        await asyncio.sleep(2)  # a second answer to any of them would have come by now
        new_lead = await leader_of(db_url, POLL_ROLE)
        await stop(workers)
    finally:
        await x.stop()

    assert new_lead is not None and f":{victim.process.pid}:" not in new_lead[0]
    assert any(f":{w.process.pid}:" in new_lead[0] for w in workers if w is not victim)
    stored = await database(db_url)
    from_x = [row for row in stored.inbound if not row.platform_id.startswith(("C", "D"))]
    assert len(from_x) == MENTIONS and {row.status for row in from_x} == {"done"}
    assert len({row.request_reference for row in from_x}) == MENTIONS
    answers = {p: [r for r in x.replies_to(p) if r["author_id"] == x.user_id] for p in posts}
    # Each answered once: X has no idempotency key, but the answer a worker was posting when
    # it died is the only one that could go twice, and the leader was killed between polls.
    assert {p: len(a) for p, a in answers.items() if len(a) != 1} == {}


async def test_one_bridge_killed_and_restarted_three_times_loses_nothing_and_repeats_nothing(
    tmp_path: Path, slack: SlackEmulator, db_url: str, workers: list[Worker]
) -> None:
    """One ``junbridge run`` and a steady stream of Slack reports; SIGKILL three times, each
    time started again at once (as systemd's Restart=always would). A report not answered
    200 is delivered again, as Slack does, until the bridge answers. In the end every report
    is one request and every reply reached Slack once."""
    await start_workers(1, slack=slack, db_url=db_url, tmp_path=tmp_path, started=workers)
    [bridge] = workers
    sent = reports(slack)
    stream = Stream()
    kills = {EVENTS // 4, EVENTS // 2, 3 * EVENTS // 4}
    deaths: list[datetime] = []
    restarted = asyncio.Event()
    restarted.set()
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(report: Report, client: httpx.AsyncClient) -> None:
        async with slots:
            for attempt in range(200):
                await restarted.wait()
                headers = {
                    **slack.signature(report.body, timestamp=int(wall_clock())),
                    "Content-Type": "application/json",
                }
                if attempt:
                    headers["X-Slack-Retry-Num"] = str(min(attempt, 3))
                    headers["X-Slack-Retry-Reason"] = "http_error"
                try:
                    answer = await client.post(
                        bridge.url + EVENTS_PATH, content=report.body.encode(), headers=headers
                    )
                    stream.statuses[answer.status_code] += 1
                    if answer.status_code == 200:
                        break
                except httpx.TransportError as exc:
                    stream.statuses[type(exc).__name__] += 1
                stream.redelivered += 1
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"report {report.n} was never acknowledged")
            stream.acknowledged += 1
            if stream.acknowledged in kills:
                restarted.clear()
                bridge.process.send_signal(signal.SIGKILL)
                deaths.append(datetime.fromtimestamp(wall_clock(), UTC))
                await bridge.process.wait()
                await restart(bridge, slack)
                restarted.set()

    limits = httpx.Limits(max_connections=4 * IN_FLIGHT, max_keepalive_connections=0)
    async with (
        httpx.AsyncClient(trust_env=False, timeout=20, limits=limits) as client,
        asyncio.timeout(150),
    ):
        await asyncio.gather(*(one(report, client) for report in sent))
    assert len(deaths) == 3 and stream.acknowledged == EVENTS
    # What each dead process had claimed for sending, a live one sends once its claim is
    # stale; the claims are moved back instead of waiting STUCK_AFTER.
    await age_claims_of_the_dead(db_url, max(deaths))
    stored, _ = await wait_until_settled(db_url, within=90)
    await stop(workers)

    assert_handled_once(slack, sent, stored)
    twice = {place: n for place, n in posts_by_place(slack).items() if n > 1}
    assert twice == {}, describe(stored, slack)
    taken_over = sum(1 for row in stored.inbound if row.attempts > 1)
    print(
        f"3 kills and restarts; {taken_over} reports handled by a later process than the "
        f"one that stored them; deliveries {dict(stream.statuses)}, "
        f"{stream.redelivered} delivered again"
    )
