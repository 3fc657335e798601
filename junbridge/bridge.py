"""The Bridge: accept -> decide (``junbridge.steps``) -> commit (``junbridge.commit``).

Every inbound message is stored (``accept``) before any department sees it, so a crash
loses nothing: pending messages are taken again (leases, ``recover``, ``sweep``). The
worker takes accepted messages in batches; each is decided by the steps, and a batch's
effects are written in one transaction. ``change`` is the one door for changes from
outside a message (the CLI, the web).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pluggy

from junbridge import conversations, outages, steps
from junbridge.activity import Activity
from junbridge.channels.base import Channel
from junbridge.commit import commit, committed, write, write_all
from junbridge.config import Config, plugins_dir_of
from junbridge.departments import Change, Department, DepartmentContext
from junbridge.desk import abuse, followup, nearby, staff
from junbridge.effects import Effects
from junbridge.handled import Handled, Requests
from junbridge.inbound import InboundQueue
from junbridge.media import MediaStore
from junbridge.model import (
    Message,
    Reply,
    Resident,
    ServiceRequest,
    Status,
    VersionConflict,
)
from junbridge.outbox import Outbox
from junbridge.plugins import collect, get_plugin_manager
from junbridge.requests import outcomes, timers, undelivered
from junbridge.routing import Route
from junbridge.steps import TRIAGE, conversation_keys
from junbridge.store import Accepted, ConversationState, Store, Transaction
from junbridge.store.leases import LeaseLost
from junbridge.store.nearby import Found, Place
from junbridge.store.records import Usage

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
StepsRead = tuple[ConversationState | None, Usage, tuple[Found, ...], tuple[ServiceRequest, ...]]
"""What the steps read about one message before deciding (see ``Bridge.read_for_steps``)."""
# How long the worker waits for a platform to complete a message (a profile lookup).
COMPLETE_TIMEOUT = 3.0

# Redo a message this often when the request it changes was changed meanwhile.
MAX_CONFLICTS = 5


# An edit of a stored request: the changed request and the replies it wants sent.
Edit = Callable[[ServiceRequest, Department | None], tuple[ServiceRequest, list[Reply]]]


def utcnow() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class Bridge:
    """One town's bridge: config, plugins, departments, channels and the store."""

    def __init__(
        self,
        *,
        config: Config,
        pm: pluggy.PluginManager,
        store: Store,
        departments: Mapping[str, Department],
        channel_classes: Mapping[str, type[Channel]],
        clock: Clock = utcnow,
    ) -> None:
        self.config = config
        self.pm = pm
        self.store = store
        self.departments = dict(departments)
        self.channel_classes = dict(channel_classes)
        self.clock = clock
        self.requests = Requests(store)
        self.channels: dict[str, Channel] = {}
        self.activity = Activity()
        self.outbox = Outbox(
            store,
            self.channels,
            clock,
            activity=self.activity,
            on_failed=lambda row, error: undelivered.private_failed(self, row, error),
            on_down=lambda outage, first: outages.went_down(self, outage, first),
            on_up=lambda outage: outages.came_back(self, outage),
        )
        self.inbound = InboundQueue(self.activity.timed(self.handle_batch))
        self.media = MediaStore(config.config_dir / config.store.media_dir)
        # The departments whose new reports join an open one nearby, and how far each looks.
        self.joining = nearby.joining(self.departments)

    @classmethod
    async def start(
        cls,
        config_path: Path,
        *,
        store_url: str | None = None,
        clock: Clock = utcnow,
        plugin_files: Sequence[Path] = (),
        recover: bool = True,
        run_plugin_files: bool = False,
    ) -> Bridge:
        """Load plugins and channels.yaml, open the store, and finish any pending messages.

        ``recover=False`` for commands that only read or edit the store (``junbridge
        requests``): handling messages is the running workers' job. ``run_plugin_files``
        runs the departments of ``plugin_files`` even without a block in channels.yaml (the
        test harness); installed ones still need theirs.
        """
        pm = get_plugin_manager(plugins_dir_of(config_path), extra=plugin_files, town=True)
        registry = collect(pm)
        given = registry.departments_from(plugin_files) if run_plugin_files else []
        config = registry.load_config(config_path, without_block=given)
        store = await Store.open(
            store_url or database_url(config),
            reference_prefix=config.town.reference_prefix,
            clock=clock,
        )
        context = DepartmentContext(
            town=config.town, clock=clock, requests=store, config_dir=config.config_dir
        )
        departments = {
            name: registry.departments[name](settings, context)
            for name, settings in config.departments.items()
            if settings.enabled or name == TRIAGE
        }
        bridge = cls(
            config=config,
            pm=pm,
            store=store,
            departments=departments,
            channel_classes=registry.channels,
            clock=clock,
        )
        pm.hook.startup(bridge=bridge)
        if recover:
            await bridge.recover()
        return bridge

    async def close(self) -> None:
        """Finish the messages in hand and release the store."""
        await self.inbound.close()
        await self.store.close()

    # -- inbound from channels: store first, answer the platform, work after -------------

    async def submit(self, message: Message) -> Accepted:
        """Store ``message`` (the dedupe point) and queue it for processing; return at once.

        Channels call this before they answer the platform, so an acknowledged message is
        never lost: if the process dies before it is handled, ``recover`` does it at start.
        """
        accepted = await self.store.accept_together(message)
        if accepted.is_new:
            self.activity.message_in(message.channel)
            self.inbound.put(accepted.inbound_id, message)
        else:
            log.info("duplicate %s:%s ignored", message.channel, message.platform_id)
        return accepted

    async def sweep(self, stop: asyncio.Event, *, interval: float = 5.0) -> None:
        """Until ``stop``: queue messages nobody holds (a dead worker's, retries) every few s.

        A claim takes one message per conversation, the oldest; once those are handled the
        next ones are looked for at once, so a dead worker's backlog in one busy channel is
        not taken over one message per ``interval``.
        """
        while not stop.is_set():
            claimed = []
            try:
                claimed = await self.store.claim_expired()
                for held in claimed:
                    self.inbound.put(held.inbound_id, held.message)
            except Exception:
                log.exception("sweep of unclaimed messages failed; trying again")
            if claimed:
                await self.inbound.drain()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def drain(self) -> None:
        """Wait until every submitted message has been handled."""
        await self.inbound.drain()

    async def add_channel(self, channel: Channel) -> None:
        """Start a channel and let the outbox deliver through it."""
        await channel.start(self)
        self.channels[channel.name] = channel

    async def stop_channels(self) -> None:
        """Stop every running channel."""
        for name in list(self.channels):
            await self.channels.pop(name).stop()

    # -- the pipeline ---------------------------------------------------------------------

    async def receive(self, message: Message) -> Handled:
        """Take one inbound message through the whole pipeline; a repeat is recognised.

        If handling raises, the failure is recorded (the message is retried, then parked)
        and the error raised to the caller.
        """
        accepted = await self.store.accept(message)
        if not accepted.is_new:
            request = None
            if accepted.request_reference:
                request = await self.store.get_request(accepted.request_reference)
            log.info("duplicate %s:%s ignored", message.channel, message.platform_id)
            return Handled(message=message, duplicate=True, request=request)
        try:
            return await self.process_fresh(accepted.inbound_id, message)
        except LeaseLost:
            raise
        except Exception as exc:
            await self.store.release_failed(accepted.inbound_id, error=describe(exc))
            raise

    async def recover(self) -> list[Handled]:
        """Handle messages nobody holds: left by a crash, or by a worker whose lease ran out.

        Never raises: a message that fails is retried later and parked after the last try,
        so one bad message cannot stop the bridge from starting.
        """
        handled = []
        while claimed := await self.store.claim_expired():
            for held in claimed:
                result = await self.handle_held(held.inbound_id, held.message)
                if result is not None:
                    handled.append(result)
        return handled

    async def handle_held(self, inbound_id: int, message: Message) -> Handled | None:
        """Handle a message this worker holds; a failure is recorded, never raised."""
        try:
            return await self.process_fresh(inbound_id, message)
        except LeaseLost as exc:
            log.warning("%s:%s: %s", message.channel, message.platform_id, exc)
        except Exception as exc:
            status = await self.store.release_failed(inbound_id, error=describe(exc))
            log.error(
                "message %s:%s failed (%s)%s\n%s",
                message.channel,
                message.platform_id,
                describe(exc),
                "; parked: see junbridge requests parked" if status == "parked" else "; will retry",
                traceback.format_exc(),
            )
        return None

    async def handle_batch(self, batch: list[tuple[int, Message]]) -> list[Handled]:
        """Handle held messages together: their effects in one commit (group commit).

        Each message is decided on its own; if the shared commit fails (one message's
        request changed meanwhile, a lease lost, a template that raises), nothing of it is
        written and each message is handled alone, so one cannot hold back the others.
        """
        if len(batch) == 1:
            handled = await self.handle_held(*batch[0])
            return [handled] if handled is not None else []
        try:
            # Profile lookups run side by side, not one resident after another.
            completed = await asyncio.gather(*(self.completed(m) for _, m in batch))
            batch = [(inbound_id, m) for (inbound_id, _), m in zip(batch, completed, strict=True)]
            # Staff at work are not residents: only the others' senders are read.
            at_desk = [staff.department_for_place(self.departments, m) for _, m in batch]
            residents_here = [
                m for (_, m), place in zip(batch, at_desk, strict=True) if place is None
            ]
            read = iter(await self.read_for_steps(residents_here) if residents_here else ())
            decided = []
            alone = []
            # Requests as this batch's commit will have stored them: a lamp many residents
            # report at once is joined by each in turn, not refused to all but the first.
            ahead: dict[str, ServiceRequest] = {}
            # Requests the batch opens at a place (or first places): a later message of the
            # batch reporting the same matter there joins it, once it is stored.
            placed: list[ServiceRequest] = []
            for (inbound_id, message), desk in zip(batch, at_desk, strict=True):
                try:
                    if desk is not None:
                        message, effects = await steps.at_the_desk_of(self, message, desk)
                    else:
                        resident, (exchange, usage, near, waiting) = next(read)
                        if ahead and waiting:
                            waiting = tuple(ahead.get(r.reference, r) for r in waiting)
                        if ahead:
                            near = tuple(
                                dataclasses.replace(
                                    found,
                                    requests=tuple(
                                        ahead.get(r.reference, r) for r in found.requests
                                    ),
                                )
                                for found in near
                            )
                        message, effects = await steps.decide(
                            self, message, resident, exchange, usage, near, waiting
                        )
                except Exception:
                    alone.append((inbound_id, message))  # handle_held records the failure
                    continue
                changed = _changed(effects)
                if any(ahead.get(r.reference, r).version != r.version for r in changed):
                    # Decided on a copy an earlier message of the batch changes: again, alone,
                    # from fresh reads once the batch is committed.
                    alone.append((inbound_id, message))
                    continue
                opened = self._opened_at_a_place(effects)
                if opened is not None:
                    place, request = opened
                    if any(place.may_hold(earlier) for earlier in placed):
                        # Where an earlier message of the batch opens a request, not stored
                        # yet: alone, after the batch, from fresh reads (it may join that).
                        alone.append((inbound_id, message))
                        continue
                    placed.append(request)
                for request in changed:
                    ahead[request.reference] = dataclasses.replace(
                        request, version=request.version + 1
                    )
                decided.append((inbound_id, message, effects))
                # Deciding is plain Python: let waiting webhooks be answered between messages.
                await asyncio.sleep(0)
            written = await self.store.write(
                lambda tx: write_all(tx, self, [(inbound_id, e) for inbound_id, _, e in decided])
            )
        except Exception as exc:
            log.info("group commit of %d messages fell back to one by one: %s", len(batch), exc)
            alone_results = [await self.handle_held(inbound_id, m) for inbound_id, m in batch]
            return [h for h in alone_results if h is not None]
        results = [
            committed(self, message, effects, w)
            for (_, message, effects), w in zip(decided, written, strict=True)
        ]
        for inbound_id, message in alone:
            one = await self.handle_held(inbound_id, message)
            if one is not None:
                results.append(one)
        return results

    def _opened_at_a_place(self, effects: Effects) -> tuple[Place, ServiceRequest] | None:
        """The request ``effects`` open at a place where reports join (or give their first
        place), and that place; None for anything else, a report joining one included."""
        request, original = effects.request, effects.original
        if request is None or effects.reporter is not None:
            return None
        metres = self.joining.get(request.department)
        if metres is None or request.privacy != "public":
            return None
        place = nearby.place_of_request(request, metres)
        if place is None:
            return None
        if original is not None and nearby.place_of_request(original, metres) is not None:
            return None  # it had its place before this message
        return place, request

    async def completed(self, message: Message) -> Message:
        """``message`` with what its channel adds once stored (see ``Channel.complete``)."""
        channel = self.channels.get(message.channel)
        if channel is None:
            return message
        try:
            async with asyncio.timeout(COMPLETE_TIMEOUT):
                return await channel.complete(message)
        except Exception as exc:  # a platform's profile API must never stop a report
            log.info("%s:%s kept as it came (%s)", message.channel, message.platform_id, exc)
            return message

    async def process_fresh(self, inbound_id: int, message: Message) -> Handled:
        """``process``, redone from fresh reads when a request changed under it."""
        for _ in range(MAX_CONFLICTS - 1):
            try:
                return await self.process(inbound_id, message)
            except VersionConflict as exc:
                log.info("%s; handling %s again", exc, message.platform_id)
        return await self.process(inbound_id, message)

    async def process(self, inbound_id: int, message: Message) -> Handled:
        """Decide what one accepted message changes, then write it in one commit."""
        message = await self.completed(message)
        decided = await steps.at_the_desk(self, message)
        if decided is None:
            [(resident, context)] = await self.read_for_steps([message])
            decided = await steps.decide(self, message, resident, *context)
        message, effects = decided
        return await commit(self, inbound_id, message, effects)

    async def read_for_steps(self, messages: Sequence[Message]) -> list[tuple[Resident, StepsRead]]:
        """Each message's resident and what the steps read about them, for a whole batch in
        one trip: their open exchange in that chat, what their rate limits count, and the
        open requests where each public department sees the message's matter (its
        location, a street, a lamp number: ``Department.where``), which a report there may
        join, and, for a message that could answer "is it fixed?" or the rating, the
        requests waiting for that answer. Senders new to the town (or with a new name) are
        written by the store on the way (see ``Store.batch_context``)."""
        earliest = min(abuse.sent_at(self, m) for m in messages)
        places = [self.places_seen(m) for m in messages]
        read = await self.store.batch_context(
            [(m.channel, m.sender, conversation_keys(m)) for m in messages],
            now=self.clock(),
            since=earliest - abuse.DAY,
            places=[place for seen in places for place in seen],
            answering=[followup.may_be_an_answer(m) for m in messages],
        )
        # One result per place asked, in order (never None: every place was given).
        found = iter([requests or () for requests in read.near])
        near = [tuple(Found(place=p, requests=next(found)) for p in seen) for seen in places]
        return [
            (r, (exchange, read.usages.get(r.id, Usage()), n, waiting))
            for r, exchange, n, waiting in zip(
                read.residents, read.exchanges, near, read.awaiting, strict=True
            )
        ]

    def places_seen(self, message: Message) -> list[Place]:
        """Where each department that joins reports sees ``message``'s matter, if anywhere.

        A department whose ``where`` fails is left out (its report is then looked up once
        it has decided): the message is read all the same.
        """
        seen = []
        for name, metres in self.joining.items():
            try:
                place = nearby.place_seen(self.departments[name], message, metres)
            except Exception:
                log.exception(
                    "%s.where failed on %s:%s", name, message.channel, message.platform_id
                )
                continue
            if place is not None:
                seen.append(place)
        return seen

    async def change(self, reference: str, edit: Edit) -> ServiceRequest:
        """The one way to change a stored request outside an inbound message.

        Loads the request, applies ``edit`` (which returns the changed request and the
        replies it wants sent), saves it with its timers and replies, all in one
        transaction; a conflict with another writer is redone on the fresh row. Raises
        LookupError for an unknown reference and whatever ``edit`` raises (IllegalTransition).
        """

        def write(tx: Transaction) -> ServiceRequest:
            request = tx.load_request(reference.upper())
            if request is None:
                raise LookupError(f"no request {reference.upper()}")
            department = self.departments.get(request.department)
            changed, replies = edit(request, department)
            changed = tx.save_request(changed)
            if department is not None:
                timers.plan(tx, changed, department, was=request.state)
            tx.enqueue_many(timers.replies_with_quiet(self, replies))
            return changed

        for attempt in range(1, MAX_CONFLICTS + 1):
            try:
                changed = await self.store.write(write)
                break
            except VersionConflict:
                if attempt == MAX_CONFLICTS:
                    raise
        self.notify(changed, changed.history[-1].action)
        return changed

    async def open_request(
        self,
        department: Department,
        change: Change,
        *,
        by: str,
        via: str,
        media_url: str | None = None,
    ) -> ServiceRequest:
        """Open a request no message brought (an Open311 client's report) for ``department``.

        It is committed as a resident's report is (``commit.write``): saved with its
        history, its timers planned and its card queued for the staff place, in one
        transaction. ``by`` is who filed it (``open311:fixmystreet``), ``via`` from where.
        """
        request = outcomes.filed(
            change, department=department, by=by, via=via, now=self.clock(), media_url=media_url
        )
        effects = Effects(request=request, department=department.name)
        saved, _, _, _ = await self.store.write(lambda tx: write(tx, self, None, effects))
        assert saved is not None
        for entry in saved.history:
            self.notify(saved, entry.action)
        return saved

    async def set_state(
        self, reference: str, state: Status, *, by: str, note: str | None = None
    ) -> ServiceRequest:
        """Move a request to ``state`` and tell the resident, as a staff command would.

        Raises IllegalTransition or LookupError.
        """

        def edit(
            request: ServiceRequest, department: Department | None
        ) -> tuple[ServiceRequest, list[Reply]]:
            changed = request.transition(state, by=by, at=self.clock(), note=note, channel="cli")
            changed = timers.settled(changed, by=by, at=self.clock())
            if department is None:
                return changed, []
            if state is Status.REOPENED:
                changed = timers.restarted(changed, department)
            key = f"state_{state.value}"
            if department.template(key, changed.language or department.town.language) is None:
                return changed, []  # nothing to tell (closed after "is it fixed?" is answered)
            return changed, staff.to_reporters(changed, department, key, note=note or "")

        return await self.change(reference, edit)

    # -- helpers --------------------------------------------------------------------------

    def route(self, message: Message) -> Route:
        """Ask the ``route`` hook where a new message goes (the default router is last)."""
        candidates = {n: d for n, d in self.departments.items() if n != TRIAGE}
        result: Route | None = self.pm.hook.route(
            message=message, departments=candidates, bridge=self
        )
        return result or Route(reason="no router answered")

    def pinned_department(self, message: Message) -> str | None:
        """The department channels.yaml pins the message's conversation to, if any."""
        settings = self.config.channels.get(message.channel)
        return settings.pins.get(message.conversation) if settings else None

    def language_for(
        self, message: Message, resident: Resident, department: Department | None
    ) -> str:
        """The language to answer in (see :func:`conversations.language_for`)."""
        return conversations.language_for(message, resident, department, self.config.town.languages)

    def notify(self, request: ServiceRequest, change: str) -> None:
        """Tell ``request_changed`` plugins; their failures are logged, never raised."""
        try:
            self.pm.hook.request_changed(request=request, change=change, bridge=self)
        except Exception:
            log.exception("request_changed hook failed for %s", request.reference)

    def channel(self, name: str) -> Channel:
        """A channel instance with its configured settings (defaults if not configured)."""
        cls = self.channel_classes[name]
        settings = self.config.channels.get(name)
        # Unconfigured channels still render previews (junbridge simulate).
        return cls(settings if settings is not None else cls.Settings.model_construct())


def describe(exc: BaseException) -> str:
    """``KeyError: 'referencia'``: what an admin reads next to a parked message."""
    return f"{type(exc).__name__}: {exc}"


def database_url(config: Config) -> str:
    """The store URL, with a relative SQLite path taken from channels.yaml's folder."""
    url = config.store.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(config.config_dir / url.removeprefix(prefix))
    return url


def _changed(effects: Effects) -> list[ServiceRequest]:
    """The stored requests ``effects`` change (a new one is no other message's to change)."""
    pairs = [(effects.request, effects.original)]
    if effects.other is not None:
        pairs.append((effects.other.request, effects.other.original))
    return [
        request
        for request, original in pairs
        if request is not None and request.reference != "" and request != original
    ]
