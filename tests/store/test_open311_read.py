"""Open311's GET requests reads each request as Open311 shows it: the same answer as the
whole request would give, from its fields and its changes of state alone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from test_store import T0, new_request

from junbridge.model import Status
from junbridge.requests.lifecycle import open311
from junbridge.store import Store, Transaction
from junbridge.store.open311 import Search, public_requests
from junbridge.store.schema import request_figures

HOUR = timedelta(hours=1)


async def test_the_answer_is_what_each_whole_request_projects(store: Store) -> None:
    def work(tx: Transaction) -> list[str]:
        made = []
        for n in range(6):
            at = T0 + n * HOUR
            request = new_request(requested_datetime=at, updated_datetime=at)
            if n % 3 == 1:
                request = request.noted("acknowledged", by="paco", at=at + HOUR)
                request = request.noted("note", by="paco", at=at + HOUR, note="escalera")
                request = request.transition(
                    Status.RESOLVED, by="paco", at=at + 2 * HOUR, note="bombilla nueva"
                )
                request = request.transition(Status.CLOSED, by="junbridge", at=at + 3 * HOUR)
            elif n % 3 == 2:
                request = request.transition(
                    Status.REJECTED, by="paco", at=at + HOUR, note="no es municipal"
                )
            made.append(tx.save_request(request).reference)
        # A private one never leaves the store.
        tx.save_request(new_request(department="doctor", privacy="private"))
        return made

    references = await store.write(work)
    search = Search(start=T0 - HOUR, end=T0 + 10 * HOUR)
    for _saved_before_0014 in (False, True):
        found = await public_requests(store, search)
        assert [r.reference for r in found] == references[::-1]  # newest first
        for shown in found:
            whole = await store.get_request(shown.reference)
            assert whole is not None
            assert open311(shown, public_url="https://jun.es") == open311(
                whole, public_url="https://jun.es"
            )
        notes = {open311(r, public_url="https://jun.es")["status_notes"] for r in found}
        assert notes == {
            "received",
            "resolved, closed: bombilla nueva",
            "rejected: no es municipal",
        }
        # Then as requests saved before their notes were kept: worded from history.
        await store.write(
            lambda tx: (
                tx.connection.execute(
                    update(request_figures)
                    .where(request_figures.c.request_id % 2 == 0)
                    .values(state_notes=None)
                ).rowcount
            )
        )
