"""Open requests near a new report: by a box around its point, its street or its lamp number.

A report with a place may join an open request of its department that is already there
(``junbridge.desk.nearby``). Finding those is one indexed statement, read with the batch's
other reads at the places departments see in each message (``Department.where``), or once
the department decided when its report is elsewhere. The partial indexes of
open requests by (department, lat, long), (department, address) and (department,
address_id) answer it, the box narrowing the points to the few inside it; the true distance
is worked out in Python on those few (:func:`distance_metres`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, literal_column, or_, select

from junbridge.model import ServiceRequest, Status
from junbridge.store import records
from junbridge.store.schema import REQUEST_IS_OPEN, requests

# The mean radius of the Earth: a town's distances are right to well under a metre.
EARTH_RADIUS_METRES = 6_371_008.8
# A resolved request is open until confirmed, but a new report there means it is broken
# again: that is a new request (or "no, not fixed"), not one more resident to tell.
JOINABLE = and_(
    REQUEST_IS_OPEN,
    requests.c.state != literal_column(f"'{Status.RESOLVED.value}'"),
    requests.c.privacy == literal_column("'public'"),
)


def distance_metres(lat: float, long: float, other_lat: float, other_long: float) -> float:
    """The great-circle distance between two points, in metres (haversine)."""
    phi, other_phi = math.radians(lat), math.radians(other_lat)
    half_lat = math.sin((other_phi - phi) / 2)
    half_long = math.sin(math.radians(other_long - long) / 2)
    h = half_lat**2 + math.cos(phi) * math.cos(other_phi) * half_long**2
    return 2 * EARTH_RADIUS_METRES * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Box:
    """The latitudes and longitudes within which a point ``metres`` away may lie."""

    south: float
    north: float
    west: float
    east: float

    def holds(self, lat: float | None, long: float | None) -> bool:
        """Whether the point is inside the box."""
        if lat is None or long is None:
            return False
        return self.south <= lat <= self.north and self.west <= long <= self.east


def box_around(lat: float, long: float, metres: float) -> Box:
    """A box holding every point within ``metres`` of (lat, long), a little more at its
    corners (the distance decides those)."""
    spread = math.degrees(metres / EARTH_RADIUS_METRES)
    # A degree of longitude shrinks towards the poles; near one, every longitude is close.
    across = math.cos(math.radians(lat))
    wide = 180.0 if across < 1e-6 else min(180.0, spread / across)
    west, east = long - wide, long + wide
    if west < -180.0 or east > 180.0:
        west, east = -180.0, 180.0  # across the antimeridian: every longitude, then distance
    return Box(south=lat - spread, north=lat + spread, west=west, east=east)


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """Where a new report is, to find open requests there.

    ``departments`` and how far each looks (metres): one department once a message is
    routed, or every department that joins reports, read before routing.
    """

    departments: Mapping[str, float]
    lat: float | None = None
    long: float | None = None
    address: str | None = None
    address_id: str | None = None

    @property
    def box(self) -> Box | None:
        """The box around the point, as wide as the farthest-looking department asks."""
        if self.lat is None or self.long is None or not self.departments:
            return None
        return box_around(self.lat, self.long, max(self.departments.values()))

    def may_hold(self, request: ServiceRequest) -> bool:
        """Whether ``request`` is at this place: in the box, the street or at the lamp number."""
        if request.department not in self.departments:
            return False
        box = self.box
        return (
            (box is not None and box.holds(request.lat, request.long))
            or (bool(self.address) and request.address == self.address)
            or (bool(self.address_id) and request.address_id == self.address_id)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """The open requests read at a place, before the message's department decided."""

    place: Place
    requests: tuple[ServiceRequest, ...]

    def covers(self, place: Place) -> bool:
        """Whether what was read here is all that is open at ``place``: the same point,
        street and lamp number, for the same departments looking as far."""
        where = (place.lat, place.long, place.address, place.address_id)
        here = (self.place.lat, self.place.long, self.place.address, self.place.address_id)
        return where == here and place.departments.items() <= self.place.departments.items()


def open_near(
    connection: Connection, places: Sequence[Place | None]
) -> list[tuple[ServiceRequest, ...] | None]:
    """The open public requests at each place (None where there is no place), in one
    statement for all of them (and, if any is found, their history and reporters).

    The statement asks for every lamp number and every street of the batch at once (two
    IN lists, so its shape and its compiled form do not change with the batch) and for
    each box around a point; which place each request found is at is worked out here
    (:meth:`Place.may_hold`)."""
    wanted = _wanted([p for p in places if p is not None and p.departments])
    found: list[ServiceRequest] = []
    if wanted:
        query = select(requests).where(JOINABLE, or_(*wanted)).order_by(requests.c.id)
        found = records.load_requests(connection, query)
    return [
        None if place is None else tuple(r for r in found if place.may_hold(r)) for place in places
    ]


def _wanted(places: Sequence[Place]) -> list[ColumnElement[bool]]:
    """What a request must match to be at one of ``places``: a superset, checked after."""
    departments = sorted({name for place in places for name in place.departments})
    lamps = sorted({place.address_id for place in places if place.address_id})
    streets = sorted({place.address for place in places if place.address})
    wanted: list[ColumnElement[bool]] = []
    if lamps:
        wanted.append(
            and_(requests.c.department.in_(departments), requests.c.address_id.in_(lamps))
        )
    if streets:
        wanted.append(and_(requests.c.department.in_(departments), requests.c.address.in_(streets)))
    for place in places:
        box = place.box
        if box is not None:
            wanted.append(
                and_(
                    requests.c.department.in_(sorted(place.departments)),
                    requests.c.lat.between(box.south, box.north),
                    requests.c.long.between(box.west, box.east),
                )
            )
    return wanted
