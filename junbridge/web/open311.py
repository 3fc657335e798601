"""Open311 GeoReport v2 under ``/open311/v2/``: the town's services and public requests.

A town's apps (FixMyStreet, a 311 app, a newspaper's map) list the services, read the public
requests and, with an API key from channels.yaml's ``open311:``, file new reports. A report
is opened as a resident's is (``Bridge.open_request``): the department that offers the
service gets it, its staff the card. Private departments are not there at all: their
services are not listed and their requests are answered 404, as if they did not exist.
Public requests are shown as ``requests.lifecycle.open311`` projects them: no resident, no
contact details, the description and notes redacted.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from junbridge.departments import Change, Department
from junbridge.model import Public, ServiceRequest, Status
from junbridge.requests.lifecycle import OPEN311_FIELDS, open311
from junbridge.services import LISTS, Service, catalogue, in_language
from junbridge.store.open311 import public_requests
from junbridge.web import open311_input
from junbridge.web.open311_format import Format, Open311Error, error, respond, split_format

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# The fields of a request in GET answers, in the spec's order: the projection's.
FIELDS = OPEN311_FIELDS
# What a new report is told about when it will be seen to (POST's service_notice).
NOTICE = {"es": "Previsto: {expected}.", "en": "Expected by {expected}."}
# Reports filed through Open311 name this as where they came from, in their history.
VIA = "open311"
# A form of a report and its attributes is small; anything larger is no report.
MAX_BODY = 64 * 1024
# Anyone's web page may read the public requests.
PUBLIC = {"Access-Control-Allow-Origin": "*"}


def _params(query: str, body: str = "") -> dict[str, list[str]]:
    """Query and form parameters together, the form's winning (``api_key`` may be in either)."""
    params = parse_qs(query, keep_blank_values=True)
    params.update(parse_qs(body, keep_blank_values=True))
    return params


class Open311:
    """The API of one bridge: its catalogue of services, keys and time zone, read at start."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        config = bridge.config
        self.settings = config.open311
        # Two departments offering one code: refuse to start rather than misroute reports.
        self.services = catalogue(bridge.departments)
        self.hidden = frozenset(n for n, d in bridge.departments.items() if d.privacy != "public")
        self.tz = ZoneInfo(config.town.timezone)
        self.language = config.town.language
        self.public_url = config.web.public_url.rstrip("/")
        self.keys: list[tuple[str, str]] = []
        for key in self.settings.api_keys:
            if key.key.is_set:
                self.keys.append((key.name, key.key.get()))
            else:
                log.warning("open311: key %s refused: %s is not set", key.name, key.key.env)
        self.changeset = datetime.fromtimestamp(config.path.stat().st_mtime, UTC)

    def routes(self) -> list[BaseRoute]:
        """``/open311/v2/{resource}.{format}`` and ``/open311/v2/{resource}/{id}.{format}``."""
        return [
            Mount(
                PREFIX,
                routes=[
                    Route("/{resource}", self.resource, methods=["GET", "POST"]),
                    Route("/{resource}/{item}", self.item, methods=["GET"]),
                ],
            )
        ]

    # -- HTTP ---------------------------------------------------------------------------

    async def resource(self, request: Request) -> Response:
        """discovery, services, requests (GET lists, POST files a report)."""
        fmt: Format = "xml"
        try:
            name, fmt = split_format(request.path_params["resource"])
            if request.method == "POST":
                if name != "requests":
                    raise Open311Error(405, f"{name} cannot be POSTed to; requests can")
                return await self.file(request, fmt)
            if name == "discovery":
                return respond("discovery", self.discovery(), fmt, headers=PUBLIC)
            if name == "services":
                return respond("services", self.service_list(), fmt, headers=PUBLIC)
            if name == "requests":
                found = await self.requests(request.query_params.multi_items())
                return respond("service_requests", found, fmt, headers=PUBLIC)
            raise Open311Error(404, f"no resource {name!r}: discovery, services, requests")
        except Open311Error as exc:
            return error(exc, fmt)

    async def item(self, request: Request) -> Response:
        """services/{code}, requests/{id}, tokens/{token}."""
        fmt: Format = "xml"
        try:
            key, fmt = split_format(request.path_params["item"])
            resource = request.path_params["resource"]
            if resource == "services":
                return respond("service_definition", self.definition(key), fmt, headers=PUBLIC)
            if resource == "requests":
                found = self.public(await self.bridge.store.get_request(key.upper()), key)
                return respond("service_requests", [self.data(found)], fmt, headers=PUBLIC)
            if resource == "tokens":
                # A report's id is given at once; its token is that id, for clients that ask.
                found = self.public(await self.bridge.store.get_request(key.upper()), key)
                data = [{"service_request_id": found.service_request_id, "token": key}]
                return respond("service_requests", data, fmt, headers=PUBLIC)
            raise Open311Error(404, f"no resource {resource!r}: services, requests, tokens")
        except Open311Error as exc:
            return error(exc, fmt)

    # -- reading --------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        """Where the API is, which spec and formats it serves, whom to ask for a key."""
        changeset = self.changeset.isoformat(timespec="seconds")
        return {
            "changeset": changeset,
            "contact": self.settings.contact,
            "key_service": self.settings.key_service,
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": self.public_url + PREFIX,
                    "changeset": changeset,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }

    def _name(self, service: Service, department: Department) -> str:
        if service.name is None:
            return department.title(self.language)
        return in_language(service.name, self.language)

    def service_list(self) -> list[dict[str, Any]]:
        """Every service a public department offers, as ``GET services`` lists them."""
        listed = []
        for code, (service, department) in self.services.items():
            keywords = service.keywords or department.settings.keywords.get(self.language, [])
            group = department.title(self.language) if service.group is None else service.group
            listed.append(
                {
                    "service_code": code,
                    "service_name": self._name(service, department),
                    "description": in_language(service.description, self.language),
                    "metadata": bool(service.attributes),
                    "type": "realtime",
                    "keywords": ", ".join(keywords),
                    "group": in_language(group, self.language),
                }
            )
        return listed

    def service(self, code: str | None) -> tuple[Service, Department]:
        """The service ``code`` names; 400 without one, 404 for one nobody offers."""
        if not code:
            raise Open311Error(400, "service_code is required")
        found = self.services.get(code)
        if found is None:
            raise Open311Error(404, f"service_code {code!r} not found")
        return found

    def definition(self, code: str) -> dict[str, Any]:
        """A service's attributes, as ``GET services/{code}`` defines them."""
        service, _ = self.service(code)
        attributes = []
        for order, attribute in enumerate(service.attributes, start=1):
            described = attribute.datatype_description
            entry: dict[str, Any] = {
                "variable": True,
                "code": attribute.code,
                "datatype": attribute.datatype,
                "required": attribute.required,
                "datatype_description": (
                    None if described is None else in_language(described, self.language)
                ),
                "order": order,
                "description": in_language(attribute.description, self.language),
            }
            if attribute.datatype in LISTS:
                entry["values"] = [
                    {"key": key, "name": in_language(name, self.language)}
                    for key, name in attribute.values.items()
                ]
            attributes.append(entry)
        return {"service_code": code, "attributes": attributes}

    def public(self, request: ServiceRequest | None, asked: str) -> ServiceRequest:
        """``request`` if the public may see it; a private one is 404, as if it did not exist."""
        if request is None or request.privacy != "public" or request.department in self.hidden:
            raise Open311Error(404, f"service_request_id {asked!r} not found")
        return request

    def data(self, request: Public) -> dict[str, Any]:
        """One request in a GET answer: the spec's fields, nothing personal."""
        return open311(request, public_url=self.public_url, tz=self.tz)

    async def requests(self, items: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """``GET requests``: public requests by id, or by date, service and status."""
        params: dict[str, list[str]] = {}
        for key, value in items:
            params.setdefault(key, []).append(value)
        search = open311_input.search(params, now=self.bridge.clock(), tz=self.tz)
        found = await public_requests(self.bridge.store, search, hidden=self.hidden)
        return [self.data(r) for r in found]

    # -- filing a report --------------------------------------------------------------------

    def client(self, given: str | None) -> str:
        """The name of the client whose key ``given`` is; 403 for none or a wrong one."""
        for name, key in self.keys:
            if given is not None and hmac.compare_digest(given.encode(), key.encode()):
                return name
        raise Open311Error(403, "api_key is missing or not valid")

    async def file(self, request: Request, fmt: Format) -> Response:
        """``POST requests``: a new report for the department that offers its service."""
        body = await request.body()
        if len(body) > MAX_BODY:
            raise Open311Error(400, f"a report is at most {MAX_BODY // 1024} KB")
        if request.headers.get("content-type", "").startswith("multipart/"):
            raise Open311Error(400, "send the report form-encoded (x-www-form-urlencoded)")
        try:
            params = _params(request.url.query, body.decode())
        except UnicodeDecodeError:
            raise Open311Error(400, "the report is not UTF-8") from None
        # Exactly as sent: a key with a space added is not the key.
        client = self.client(params.get("api_key", [None])[-1])
        service, department = self.service(open311_input.first(params, "service_code"))
        report = open311_input.report(params, service, tz=self.tz, language=self.language)
        member = await department.assignee()
        expected = department.promise()
        notice = NOTICE.get(self.language, NOTICE["en"]).format(
            expected=department.format_time(expected, self.language)
        )
        details: dict[str, Any] = dict(report.answers)
        if report.contact:
            details["contact"] = dict(report.contact)
        change = Change(
            open=True,
            description=report.description or self._name(service, department),
            service_code=service.code,
            service_name=self._name(service, department),
            location=report.location,
            address=report.address,
            address_id=report.address_id,
            expected=expected,
            service_notice=notice,
            assignee=member.name if member else None,
            details=details,
            states=(Status.ASSIGNED,) if member else (),
        )
        filed = await self.bridge.open_request(
            department, change, by=f"{VIA}:{client}", via=VIA, media_url=report.media_url
        )
        log.info("open311: %s filed %s for %s", client, filed.reference, department.name)
        answer = {
            "service_request_id": filed.service_request_id,
            "service_notice": filed.service_notice,
            "account_id": None,
        }
        return respond("service_requests", [answer], fmt)


def routes(bridge: Bridge) -> list[BaseRoute]:
    """The Open311 routes of ``bridge``; none when channels.yaml turns the API off."""
    if not bridge.config.open311.enabled:
        return []
    return Open311(bridge).routes()
