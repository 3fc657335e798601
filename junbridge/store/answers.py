"""Requests waiting for a resident's answer ("is it fixed?", then the rating).

A short reply ("sí", "4", a button) may answer one (``junbridge.desk.followup``). Which
requests wait for whom is the indexed ``awaiting`` column: read for a whole batch of
messages with the batch's other reads, for the senders whose message could be an answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import BindParameter, Connection, bindparam, select, union

from junbridge.model import ServiceRequest
from junbridge.store import records
from junbridge.store.schema import AWAITING, reporters, requests

_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_JOINED = select(reporters.c.request_id).where(reporters.c.resident_id.in_(_IDS))
# Two lookups, each through its index: theirs by ix_requests_awaiting, those they joined by
# ix_reporters_resident_id (an OR of the two would read every request the residents ever
# made). Built once: building it costs more than running it on SQLite.
_WAITING = union(
    select(requests.c.id).where(requests.c.resident_id.in_(_IDS), AWAITING),
    select(requests.c.id).where(requests.c.id.in_(_JOINED), AWAITING),
)
_AWAITING = select(requests).where(requests.c.id.in_(_WAITING)).order_by(requests.c.id.desc())


def awaiting(
    connection: Connection, resident_ids: Iterable[int]
) -> dict[int, tuple[ServiceRequest, ...]]:
    """Each resident's requests with a question to them not answered yet, theirs or joined,
    newest first; a resident with none is left out. Three statements for any number of
    residents: the requests (two indexed lookups), their history, and who joined them."""
    wanted = sorted(set(resident_ids))
    if not wanted:
        return {}
    asked = set(wanted)
    found: defaultdict[int, list[ServiceRequest]] = defaultdict(list)
    for request in records.load_requests(connection, _AWAITING, {"ids": wanted}):
        concerned = {request.resident_id, *(r.resident_id for r in request.reported_by)}
        for resident_id in asked.intersection(concerned):
            found[resident_id].append(request)
    return {resident_id: tuple(waiting) for resident_id, waiting in found.items()}
