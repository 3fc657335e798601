"""The state machine and the value types."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from junbridge.model import (
    TRANSITIONS,
    IllegalTransition,
    Location,
    Message,
    Sender,
    ServiceRequest,
    Status,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def request(state: Status = Status.RECEIVED) -> ServiceRequest:
    return ServiceRequest(
        service_request_id="JUN-0142",
        reference="JUN-0142",
        service_code="streetlight",
        service_name="Alumbrado público",
        description="farola apagada",
        requested_datetime=NOW,
        updated_datetime=NOW,
        department="lighting",
        state=state,
    )


def test_a_lamp_goes_from_received_to_closed_with_its_history():
    r = request()
    for state in (
        Status.ACKNOWLEDGED,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.RESOLVED,
        Status.CLOSED,
    ):
        r = r.transition(state, by="electricista", at=NOW)
    assert r.state is Status.CLOSED and r.status == "closed"
    assert [h.action for h in r.history] == [
        "acknowledged",
        "assigned",
        "in_progress",
        "resolved",
        "closed",
    ]


def test_a_changed_copy_of_a_request_is_what_dataclasses_replace_makes():
    # The decide step copies requests with ServiceRequest.replaced; a field it forgot to copy
    # (or copied from the wrong place) would silently change a resident's request.
    original = dataclasses.replace(
        request(), lat=37.2, long=-3.6, details={"lamp": "112"}, version=4, stored_lines=2
    )
    changes = {"state": Status.ASSIGNED, "assignee": "electricista", "version": 5}
    copy = original.replaced(**changes)
    expected = dataclasses.replace(original, **changes)  # type: ignore[arg-type]
    assert copy == expected and copy.stored_lines == expected.stored_lines == 2
    assert original.state is Status.RECEIVED and original.version == 4  # unchanged
    with pytest.raises(TypeError, match="no field statte"):
        original.replaced(statte=Status.ASSIGNED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.state = Status.RECEIVED  # type: ignore[misc]


def test_an_illegal_transition_says_what_is_allowed():
    with pytest.raises(IllegalTransition) as err:
        request(Status.CLOSED).transition(Status.IN_PROGRESS, by="x", at=NOW)
    assert "JUN-0142 is closed; it cannot become in_progress (from closed: reopened)" in str(
        err.value
    )


@pytest.mark.parametrize("state", list(Status))
def test_open311_status_is_only_open_or_closed_and_closed_is_not_fixed(state):
    expected = "closed" if state in (Status.CLOSED, Status.REJECTED, Status.DUPLICATE) else "open"
    assert request(state).status == expected


def test_every_state_is_reachable_and_every_state_has_a_way_out():
    reachable = {Status.RECEIVED} | {t for targets in TRANSITIONS.values() for t in targets}
    assert reachable == set(Status)
    assert all(TRANSITIONS[s] for s in Status)


def test_reopening_a_resolved_lamp_is_allowed_and_recorded():
    r = request(Status.RESOLVED).transition(
        Status.REOPENED, by="vecina", at=NOW, note="sigue apagada"
    )
    assert r.state is Status.REOPENED and r.history[-1].note == "sigue apagada"


def test_message_round_trips_through_json_and_requires_utc():
    m = Message(
        channel="telegram",
        platform_id="1",
        conversation="42",
        sender=Sender(id="42", handle="vecina", language="es"),
        sent_at=NOW,
        text="farola",
        location=Location(lat=37.2, long=-3.59),
        raw={"update_id": 1},
    )
    assert Message.from_json(m.to_json()) == m
    with pytest.raises(ValueError, match="timezone-aware"):
        Message(
            channel="t",
            platform_id="1",
            conversation="1",
            sender=Sender(id="1"),
            sent_at=datetime(2026, 1, 1),
        )
