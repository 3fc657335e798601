"""The Bridge: receive(message) -> dedupe -> route -> department -> persist -> outbox.

Every inbound message is stored (``accept``) before any department sees it, so a crash
loses nothing: pending messages are processed again at the next start. The request, its
history, the conversation state and the replies to send are written in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Literal

import pluggy

from junbridge import conversations
from junbridge.channels.base import Channel
from junbridge.commit import commit, committed, write_all
from junbridge.config import Config, plugins_dir_of
from junbridge.departments import Conversation, Department, DepartmentContext, Outcome
from junbridge.desk import abuse, commands, followup, staff
from junbridge.effects import Effects
from junbridge.handled import Handled, Requests
from junbridge.inbound import InboundQueue
from junbridge.media import MediaStore
from junbridge.model import (
    Message,
    MessageKind,
    Reply,
    Resident,
    ServiceRequest,
    Status,
    VersionConflict,
)
from junbridge.outbox import Outbox
from junbridge.plugins import collect, get_plugin_manager
from junbridge.requests import outcomes, timers
from junbridge.routing import Route
from junbridge.store import Accepted, ConversationState, Store, Transaction
from junbridge.store.leases import LeaseLost
from junbridge.store.records import Usage

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
TRIAGE = "triage"
# The conversation key of an exchange a private department moved to private messages.
MOVED = "@private"
# A handoff chain longer than this is a plugin bug, not a conversation.
MAX_HANDOFFS = 3
# How long the worker waits for a platform to complete a message (a profile lookup).
COMPLETE_TIMEOUT = 3.0

# Redo a message this often when the request it changes was changed meanwhile.
MAX_CONFLICTS = 5


class NotRead(Enum):
    """The resident's open exchange was not read yet (None means: read, and there is none)."""

    NOT_READ = "not read"


NOT_READ = NotRead.NOT_READ
Exchange = ConversationState | None | Literal[NotRead.NOT_READ]


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
        self.outbox = Outbox(store, self.channels, clock)
        self.inbound = InboundQueue(self.handle_batch)
        self.media = MediaStore(config.config_dir / config.store.media_dir)

    @classmethod
    async def start(
        cls,
        config_path: Path,
        *,
        store_url: str | None = None,
        clock: Clock = utcnow,
        plugin_files: Sequence[Path] = (),
        recover: bool = True,
    ) -> Bridge:
        """Load plugins and channels.yaml, open the store, and finish any pending messages.

        ``recover=False`` for commands that only read or edit the store (``junbridge
        requests``): handling messages is the running workers' job.
        """
        pm = get_plugin_manager(plugins_dir_of(config_path), extra=plugin_files, town=True)
        registry = collect(pm)
        config = registry.load_config(config_path)
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
            residents = await self.store.residents_for([(m.channel, m.sender) for _, m in batch])
            earliest = min(abuse.sent_at(self, m) for _, m in batch)
            exchanges, usages = await self.store.batch_context(
                [
                    (r.id, m.channel, conversation_keys(m))
                    for (_, m), r in zip(batch, residents, strict=True)
                ],
                now=self.clock(),
                since=earliest - abuse.DAY,
            )
            decided = []
            alone = []
            for (inbound_id, message), resident, exchange in zip(
                batch, residents, exchanges, strict=True
            ):
                try:
                    message, effects = await self.decide(
                        message, resident, open_exchange=exchange, usage=usages[resident.id]
                    )
                except Exception:
                    alone.append((inbound_id, message))  # handle_held records the failure
                    continue
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
        resident = await self.store.resident_for(message.channel, message.sender)
        message, effects = await self.decide(message, resident)
        return await commit(self, inbound_id, message, effects)

    async def decide(
        self,
        message: Message,
        resident: Resident,
        *,
        open_exchange: Exchange = NOT_READ,
        usage: Usage | None = None,
    ) -> tuple[Message, Effects]:
        """The steps, in order; the first that takes the message says what it changes.

        Blocked or flooding sender, staff desk, resident command, "is it fixed?" answer,
        edit, department. Steps read; none writes. Returns the message as handled (photos
        made local) and its Effects. ``open_exchange`` is the resident's open conversation
        and ``usage`` what their rate limits count, when the caller has already read them
        (a batch reads all of them at once).
        """
        place = staff.department_for_place(self.departments, message)
        if place is not None:
            message = await self.media.localize(message, self.channels.get(message.channel))
            return message, await staff.handle(self, message, place)
        at = abuse.sent_at(self, message)
        if usage is None:
            [usage] = (await self.store.usage_of([resident.id], since=at - abuse.DAY)).values()
        stopped = abuse.check(self, message, resident, usage)
        if stopped is not None:
            return message, stopped  # kept, not handled, nothing fetched
        message = await self.media.localize(message, self.channels.get(message.channel))
        message, effects = await self.resident_steps(message, resident, open_exchange)
        # Passed the limits: it counts toward them once committed, whatever became of it.
        return message, dataclasses.replace(effects, counted=(resident.id, at))

    async def resident_steps(
        self,
        message: Message,
        resident: Resident,
        open_exchange: Exchange,
    ) -> tuple[Message, Effects]:
        """Resident command, "is it fixed?" answer, edit, department: the first that takes
        the message."""
        for step in (commands.handle, followup.answer):
            effects = await step(self, message, resident)
            if effects is not None:
                return message, effects
        if message.kind is MessageKind.EDIT and message.edit_of:
            edited = await self.edit_effects(message)
            if edited is not None:
                return message, edited
        return message, await self.department_effects(message, resident, open_exchange)

    async def department_effects(
        self,
        message: Message,
        resident: Resident,
        open_exchange: Exchange = NOT_READ,
    ) -> Effects:
        """Route to the open conversation's department or a new one, and ask it."""
        now = self.clock()
        if open_exchange is NotRead.NOT_READ:
            keys = conversation_keys(message)
            stored = await self.store.conversation(resident.id, message.channel, *keys, now=now)
        else:
            stored = open_exchange
        state = stored
        if state is None or state.department not in self.departments:
            state = self.new_conversation(resident, message, now)
        request = None
        if state.request_reference:
            request = await self.store.get_request(state.request_reference)
        department = self.departments[state.department]
        language = self.language_for(message, resident, department)
        error = None
        try:
            department, outcome, request = await self.run_department(
                department, message, state, resident, language, request
            )
        except Exception as exc:
            error = f"{department.name}: {type(exc).__name__}: {exc}"
            log.error(
                "department failed on %s:%s\n%s",
                message.channel,
                message.platform_id,
                traceback.format_exc(),
            )
            department = self.departments[TRIAGE]
            state = conversations.fresh(resident.id, message, TRIAGE, now)
            outcome = await department.handle(
                message, self.conversation(state, resident, language, None)
            )
        return self.outcome_effects(
            message, resident, stored, state, department, outcome, request, language, error
        )

    async def run_department(
        self,
        department: Department,
        message: Message,
        state: ConversationState,
        resident: Resident,
        language: str,
        request: ServiceRequest | None,
    ) -> tuple[Department, Outcome, ServiceRequest | None]:
        """Call the department, following handoffs (triage -> the department chosen)."""
        conversation = self.conversation(state, resident, language, request)
        outcome = await department.handle(message, conversation)
        for _ in range(MAX_HANDOFFS):
            if outcome.handoff is None:
                break
            department = self.departments[outcome.handoff]
            first = state.first_message or message
            language = self.language_for(first, resident, department)
            conversation = Conversation(
                department=department.name,
                resident=resident,
                language=language,
                request=request,
                first_message=first,
            )
            outcome = await department.handle(first, conversation)
        else:
            raise RuntimeError(f"more than {MAX_HANDOFFS} handoffs")
        return department, outcome, request

    def outcome_effects(
        self,
        message: Message,
        resident: Resident,
        stored: ConversationState | None,
        state: ConversationState,
        department: Department,
        outcome: Outcome,
        original: ServiceRequest | None,
        language: str,
        error: str | None,
    ) -> Effects:
        """The request, conversation and replies a department's Outcome asks for.

        ``stored`` is the open exchange the message continued, if any: it ends here, and a
        new one is kept if the department asked something.
        """
        now = self.clock()
        request = original
        if outcome.change is not None:
            request = outcomes.changed(
                original,
                outcome.change,
                department=department,
                message=message,
                resident=resident,
                language=language,
                now=now,
            )
        if error and request is not None:
            request = request.noted("plugin_failed", by="junbridge", at=now, note=error)
        keep = None
        if outcome.ask is not None:
            moved = department.privacy == "private" and not message.is_private
            keep = conversations.continued(
                dataclasses.replace(state, conversation=MOVED) if moved else state,
                outcome=outcome,
                department=department.name,
                message=message,
                # A new request's reference is known only once it is saved: commit fills it.
                request_reference=request.reference if request else None,
                now=now,
            )

        def render(saved: ServiceRequest | None) -> list[Reply]:
            return outcomes.replies(
                outcome.says,
                department=department,
                desk=self.departments[TRIAGE],
                request=saved,
                message=message,
                language=language,
            )

        return Effects(
            request=request,
            original=original,
            render=render,
            end=((resident.id, stored.channel, stored.conversation),) if stored else (),
            keep=keep,
            error=error,
            department=department.name,
        )

    async def edit_effects(self, message: Message) -> Effects | None:
        """An edited message updates the request it opened; None if it opened none."""
        assert message.edit_of is not None
        reference = await self.store.inbound_reference(message.channel, message.edit_of)
        original = await self.store.get_request(reference) if reference else None
        if original is None:
            return None
        request = original
        if original.description != message.text:
            request = original.noted(
                "edited",
                by=outcomes.resident_label(message),
                at=self.clock(),
                note="the resident edited the message",
                description=message.text,
                via=message.channel,
            )
        return Effects(request=request, original=original, department=request.department)

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
            if department is None:
                return changed, []
            if state is Status.REOPENED:
                changed = timers.restarted(changed, department)
            key = f"state_{state.value}"
            if department.template(key, changed.language or department.town.language) is None:
                return changed, []  # nothing to tell (closed after "is it fixed?" is answered)
            notice = staff.to_resident(changed, department, key, note=note or "")
            return changed, [notice] if notice is not None else []

        return await self.change(reference, edit)

    # -- helpers --------------------------------------------------------------------------

    def new_conversation(
        self, resident: Resident, message: Message, now: datetime
    ) -> ConversationState:
        """A conversation for a message no open one claims, with the department routed to."""
        route = self.route(message)
        state = conversations.fresh(resident.id, message, route.department or TRIAGE, now)
        if route.is_ambiguous:
            language = self.language_for(message, resident, None)
            candidates = [[n, self.departments[n].title(language)] for n in route.candidates]
            state = dataclasses.replace(state, data={"candidates": candidates})
        return state

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

    def conversation(
        self,
        state: ConversationState,
        resident: Resident,
        language: str,
        request: ServiceRequest | None,
    ) -> Conversation:
        """The department's view of a stored conversation."""
        return Conversation(
            department=state.department,
            resident=resident,
            language=language,
            awaiting=state.awaiting,
            data=state.data,
            request=request,
            first_message=state.first_message,
        )

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


def conversation_keys(message: Message) -> tuple[str, ...]:
    """Where the sender's open exchange may be kept: this conversation, then (in private)
    the one a private department moved here from a public post."""
    return (message.conversation, MOVED) if message.is_private else (message.conversation,)


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
