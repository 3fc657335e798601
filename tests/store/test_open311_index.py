"""Open311's GET requests reads a range of dates through an index, never the whole table."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from test_open_requests import plans
from test_store import T0, new_request

from junbridge.model import Status
from junbridge.store import Store, Transaction
from junbridge.store.open311 import Search, public_requests

BY_DATE = "ix_requests_requested_datetime"
BY_SERVICE = "ix_requests_service_code_requested_datetime"


async def stored(store: Store) -> list[str]:
    """Six requests an hour apart: two services, one private, one closed."""

    def work(tx: Transaction) -> list[str]:
        saved = []
        for n in range(6):
            request = dataclasses.replace(
                new_request(),
                requested_datetime=T0 + timedelta(hours=n),
                service_code="streetlight" if n % 2 else "school",
                privacy="private" if n == 5 else "public",
            )
            request = tx.save_request(request)
            if n == 1:
                request = tx.save_request(request.transition(Status.CLOSED, by="paco", at=T0))
            saved.append(request.reference)
        return saved

    return await store.write(work)


@pytest.mark.parametrize(
    ("search", "index", "expected"),
    [
        ({}, BY_DATE, [4, 3, 2, 1, 0]),
        ({"service_codes": ("streetlight",)}, BY_SERVICE, [3, 1]),
        ({"service_codes": ("streetlight",), "status": frozenset({"open"})}, BY_SERVICE, [3]),
        ({"status": frozenset({"closed"})}, BY_DATE, [1]),
    ],
)
async def test_requests_by_date_and_service_use_an_index(
    store: Store, search: dict[str, Any], index: str, expected: list[int]
) -> None:
    references = await stored(store)
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM requests" in statement:
            statements.append((statement, parameters))

    # Read on the store's blocking engine (Store.read), as every Open311 query is.
    event.listen(store._sync, "before_cursor_execute", seen)
    try:
        asked = Search(start=T0 - timedelta(days=1), end=T0 + timedelta(days=1), **search)
        found = await public_requests(store, asked, hidden={"police"})
    finally:
        event.remove(store._sync, "before_cursor_execute", seen)
    assert [r.reference for r in found] == [references[n] for n in expected]
    [plan] = await plans(store, statements)
    assert index in plan, plan
