"""``/metrics``: the bridge in Prometheus' text format, for dashboards and alerts.

Two kinds of figures. What this process did since it started (messages in, replies sent,
retried and failed, webhooks refused, how long batches took: ``junbridge.activity``) are
counters, summed across workers by Prometheus. What every worker shares is read from the
store at scrape time: requests by department and state (running totals kept as requests
change, ``figure_states``: a few rows however large the store), replies not delivered yet
or failed for good, messages waiting or parked (a grouped count over a small index each).
Each app has a registry of its own (never prometheus_client's global one), so two bridges
in one process, as in the tests, do not mix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select
from starlette.requests import Request
from starlette.responses import Response

from junbridge.store.schema import figure_states, inbound, outbox

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

# The outbox and inbound statuses worth watching; "sent" and "done" rows are the bulk of
# each table and are counted by the process counters instead.
WAITING_REPLIES = ("pending", "sending", "failed")
WAITING_MESSAGES = ("pending", "failed", "parked")
# A store that does not answer within this long is reported down (junbridge_store_up 0):
# Prometheus' own scrape timeout is 10 s by default.
STORE_TIMEOUT = 5.0


@dataclass
class StoreCounts:
    """What the store said at the last scrape (None: it could not be read)."""

    requests: list[tuple[str, str, int]] = field(default_factory=list)
    replies: list[tuple[str, str, int]] = field(default_factory=list)
    messages: list[tuple[str, int]] = field(default_factory=list)


def read_counts(connection: Connection) -> StoreCounts:
    """The shared figures, one GROUP BY each (blocking)."""
    fs = figure_states
    requests = connection.execute(
        select(fs.c.department, fs.c.state, func.sum(fs.c.n))
        .group_by(fs.c.department, fs.c.state)
        .order_by(fs.c.department, fs.c.state)
    )
    replies = connection.execute(
        select(outbox.c.channel, outbox.c.status, func.count())
        .where(outbox.c.status.in_(WAITING_REPLIES))
        .group_by(outbox.c.channel, outbox.c.status)
    )
    messages = connection.execute(
        select(inbound.c.status, func.count())
        .where(inbound.c.status.in_(WAITING_MESSAGES))
        .group_by(inbound.c.status)
    )
    return StoreCounts(
        requests=[(d, s, int(n)) for d, s, n in requests],
        replies=[(c, s, int(n)) for c, s, n in replies],
        messages=[(s, int(n)) for s, n in messages],
    )


class BridgeCollector(Collector):
    """Reads the bridge's counters, and the store counts fetched just before the scrape."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.counts: StoreCounts | None = None

    def collect(self) -> Iterator[Metric]:
        """Every metric, each labelled by channel, department or status where it applies."""
        activity = self.bridge.activity
        per_channel: list[tuple[str, str, Any]] = [
            (
                "messages_received",
                "Messages from residents and staff stored, per channel",
                activity.received,
            ),
            (
                "webhook_rejections",
                "Webhook calls refused as forged, unsigned or stale (401/403)",
                activity.rejected,
            ),
        ]
        for name, documentation, counter in per_channel:
            family = CounterMetricFamily(f"junbridge_{name}", documentation, labels=["channel"])
            for channel, value in sorted(counter.items()):
                family.add_metric([channel], value)
            yield family
        replies = CounterMetricFamily(
            "junbridge_replies",
            "Replies by outcome of a delivery attempt: sent, retried (queued again), failed "
            "(given up)",
            labels=["channel", "outcome"],
        )
        for outcome, counter in (
            ("sent", activity.sent),
            ("retried", activity.retried),
            ("failed", activity.failed),
        ):
            for channel, value in sorted(counter.items()):
                replies.add_metric([channel, outcome], value)
        yield replies
        yield CounterMetricFamily(
            "junbridge_handled_messages", "Messages handled by this process", value=activity.handled
        )
        histogram = activity.handling
        yield HistogramMetricFamily(
            "junbridge_handle_batch_seconds",
            "Seconds to handle a batch of messages (a lone message is a batch of one)",
            buckets=[
                ("+Inf" if bound == float("inf") else repr(bound), count)
                for bound, count in histogram.cumulative()
            ],
            sum_value=histogram.total,
        )
        yield GaugeMetricFamily(
            "junbridge_inbound_queue_messages",
            "Messages stored and waiting in this process's queue",
            value=len(self.bridge.inbound),
        )
        for name, documentation, moments in (
            (
                "last_received",
                "When a message last came in, per channel (Unix time)",
                activity.last_received,
            ),
            (
                "last_sent",
                "When a reply was last delivered, per channel (Unix time)",
                activity.last_sent,
            ),
        ):
            gauge = GaugeMetricFamily(
                f"junbridge_channel_{name}_timestamp_seconds", documentation, labels=["channel"]
            )
            for channel in sorted(self.bridge.channels):
                if channel in moments:
                    gauge.add_metric([channel], moments[channel])
            yield gauge
        running = GaugeMetricFamily(
            "junbridge_channel_up",
            "Channels running in this process: 1 delivering, 0 down (every send failing for "
            "minutes: see /healthz)",
            labels=["channel"],
        )
        down = self.bridge.outbox.outages.down()
        for channel in sorted(self.bridge.channels):
            running.add_metric([channel], 0 if channel in down else 1)
        yield running
        yield from self._store()

    def _store(self) -> Iterator[Metric]:
        counts = self.counts
        yield GaugeMetricFamily(
            "junbridge_store_up",
            "Whether the store answered this scrape",
            value=int(counts is not None),
        )
        if counts is None:
            return
        requests = GaugeMetricFamily(
            "junbridge_requests", "Requests by department and state", labels=["department", "state"]
        )
        for department, state, count in counts.requests:
            requests.add_metric([department, state], count)
        yield requests
        replies = GaugeMetricFamily(
            "junbridge_outbox_replies",
            "Replies not delivered: pending, sending, or failed for good",
            labels=["channel", "status"],
        )
        for channel, status, count in counts.replies:
            replies.add_metric([channel, status], count)
        yield replies
        messages = GaugeMetricFamily(
            "junbridge_inbound_messages",
            "Messages stored and not handled: pending (the queue), failed (to retry), parked",
            labels=["status"],
        )
        found = dict(counts.messages)
        for status in WAITING_MESSAGES:
            messages.add_metric([status], found.get(status, 0))
        yield messages


def metrics(bridge: Bridge) -> Any:
    """The ``/metrics`` endpoint of ``bridge``, with a registry of its own."""
    registry = CollectorRegistry(auto_describe=False)
    collector = BridgeCollector(bridge)
    registry.register(collector)

    async def endpoint(request: Request) -> Response:
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                collector.counts = await bridge.store.read(read_counts)
        except Exception:  # the process's own counters are still worth scraping
            collector.counts = None
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return endpoint
