"""Turns at SQLite's one writer: a webhook waiting to answer goes before queued work.

SQLite lets one transaction write at a time, so the writers of a process queue for it
(``Store.write``). Under load that queue holds the worker's group commits, the outbox's
claims and sends, timers; a batch of accepted webhooks, whose platforms are waiting for an
HTTP answer (Slack retries after 3 s), would wait behind all of them. Here it waits only
for the transaction in progress. Nothing starves: accepts are written one batch at a time
(``intake.Intake``), and between two batches the next queued writer goes in.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class WriterTurns:
    """One writer at a time, in the order they came; urgent ones before all the others."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._urgent: deque[object] = deque()
        self._queued: deque[object] = deque()

    @property
    def waiting(self) -> int:
        """How many writers wait for their turn."""
        return len(self._urgent) + len(self._queued)

    def _next(self) -> object | None:
        for line in (self._urgent, self._queued):
            if line:
                return line[0]
        return None

    @contextmanager
    def turn(self, *, urgent: bool = False) -> Iterator[None]:
        """Hold the writer's turn for the block."""
        me, line = object(), self._urgent if urgent else self._queued
        with self._changed:
            line.append(me)
            try:
                while self._busy or self._next() is not me:
                    self._changed.wait()
            except BaseException:
                # Gone from the line without its turn: the next one may be free to go in.
                line.remove(me)
                self._changed.notify_all()
                raise
            line.remove(me)
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()
