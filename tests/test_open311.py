"""Open311 GeoReport v2 as a town's apps use it: the real web app over real HTTP.

Jun's test town (tests/data/jun.yaml) with an API key for FixMyStreet; SQLite and
PostgreSQL. Residents' reports come in through the bridge as a channel hands them over;
Open311 clients POST form-encoded reports and read JSON and XML back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
import yaml

from junbridge import Attribute, Service
from junbridge.bridge import Bridge
from junbridge.services import catalogue
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock
from junbridge.web.app import create_app
from junbridge.web.open311 import FIELDS
from junbridge.web.open311_format import render
from junbridge.web.server import RunningServer, serve

ROOT = Path(__file__).parent.parent
KEY = "fixmystreet-test-key"
API = "/open311/v2"
# A lamp by its number, somewhere on Calle Real; the reporter's contact comes along.
LAMP = {
    "api_key": KEY,
    "service_code": "streetlight",
    "lat": "37.2218",
    "long": "-3.5930",
    "attribute[lamp]": "112",
    "description": "La farola 112 está apagada. Soy Ana García, llamadme al 612 345 678",
    "email": "ana@correo.es",
    "phone": "612345678",
    "first_name": "Ana",
    "last_name": "García",
}


def jun_with_open311(folder: Path) -> Path:
    """tests/data/jun.yaml in ``folder``, its paths made absolute, with an open311 block."""
    config = yaml.safe_load((ROOT / "tests" / "data" / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(ROOT / "menu.yaml")
    config["open311"] = {
        "api_keys": [
            {"name": "fixmystreet", "key": {"$env": "OPEN311_TEST_KEY_FMS"}},
            # Its variable is never set: no key opens it.
            {"name": "nobody", "key": {"$env": "OPEN311_TEST_KEY_UNSET"}},
        ]
    }
    path = folder / "channels.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


@dataclass
class Town:
    """The bridge, its web app served on a free port, a client of it and the clock."""

    bridge: Bridge
    server: RunningServer
    http: httpx.AsyncClient
    clock: ManualClock

    async def post(self, fmt: str = "json", **form: str) -> httpx.Response:
        return await self.http.post(f"{API}/requests.{fmt}", data=form)

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.http.get(API + path, params=params)

    async def listed(self, **params: str) -> list[str]:
        """The ids ``GET requests.json`` answers with these filters."""
        response = await self.get("/requests.json", **params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]


@pytest.fixture
async def town(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Town]:
    monkeypatch.setenv("OPEN311_TEST_KEY_FMS", KEY)
    monkeypatch.delenv("OPEN311_TEST_KEY_UNSET", raising=False)
    clock = ManualClock()
    bridge = await make_bridge(
        config=jun_with_open311(tmp_path), clock=clock, workdir=tmp_path, store_url=db_url
    )
    server = await serve(create_app(bridge))
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as http:
        yield Town(bridge=bridge, server=server, http=http, clock=clock)
    await server.stop()
    await bridge.close()


def error_of(response: httpx.Response) -> tuple[int, str]:
    """The spec's error document: ``[{code, description}]``, its code the HTTP status."""
    [body] = response.json()
    assert set(body) == {"code", "description"}
    assert body["code"] == response.status_code
    return response.status_code, body["description"]


async def police_report(town: Town) -> str:
    """A resident's theft report: a private police matter."""
    handled = await town.bridge.receive(
        make_message("Me han robado la bici, soy Ana García, mi móvil 612 345 678")
    )
    assert handled.request.department == "police" and handled.request.privacy == "private"
    return handled.request.reference


async def doctor_booking(town: Town) -> str:
    """A verified resident books the doctor on Telegram: a private appointment."""
    asked = await town.bridge.receive(make_message("Quiero cita con el médico"))
    assert asked.request is None  # not verified yet: told how to be
    await town.bridge.store.verify_resident("telegram:vecina", by="administrativa", at=town.clock())
    offered = await town.bridge.receive(make_message("Quiero cita con el médico"))
    slot = offered.replies[-1].choices[0]
    booked = await town.bridge.receive(make_message(slot.label, choice=slot.value))
    assert booked.request.department == "doctor" and booked.request.privacy == "private"
    return booked.request.reference


async def lamp_from_chat(town: Town, text: str = "La farola de la calle Real no funciona") -> str:
    """A resident's lamp report on X: public."""
    handled = await town.bridge.receive(
        make_message(text, channel="twitter", location=(37.2218, -3.5930))
    )
    assert handled.request.department == "lighting"
    return handled.request.reference


# -- services ------------------------------------------------------------------------------


async def test_services_are_the_public_departments_with_the_lamp_number_asked(town) -> None:
    services = (await town.get("/services.json")).json()
    assert [s["service_code"] for s in services] == ["streetlight", "school"]
    lamp = services[0]
    assert lamp == {
        "service_code": "streetlight",
        "service_name": "Farola apagada o que parpadea",
        "description": "",
        "metadata": True,
        "type": "realtime",
        "keywords": lamp["keywords"],
        "group": "Alumbrado público",
    }
    assert "farola" in lamp["keywords"].split(", ")
    definition = (await town.get("/services/streetlight.json")).json()
    assert definition == {
        "service_code": "streetlight",
        "attributes": [
            {
                "variable": True,
                "code": "lamp",
                "datatype": "number",
                "required": False,
                "datatype_description": None,
                "order": 1,
                "description": "Número pintado en el poste",
            }
        ],
    }


@pytest.mark.parametrize("code", ["police", "doctor", "general", "farolas"])
async def test_private_and_unknown_services_are_not_found(town, code: str) -> None:
    assert error_of(await town.get(f"/services/{code}.json")) == (
        404,
        f"service_code {code!r} not found",
    )
    form = {**LAMP, "service_code": code}
    assert error_of(await town.post(**form)) == (404, f"service_code {code!r} not found")


# -- filing a report -------------------------------------------------------------------------


async def test_a_posted_lamp_reaches_the_electricians_and_reads_back_open(town) -> None:
    response = await town.post(**LAMP)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    [answer] = response.json()
    assert answer == {
        "service_request_id": "JUN-0001",
        "service_notice": "Previsto: vie, 4 de diciembre, 9:00.",
        "account_id": None,
    }
    stored = await town.bridge.store.get_request("JUN-0001")
    assert stored.department == "lighting" and stored.assignee == "electricista"
    assert stored.details == {
        "lamp": 112,
        "contact": {
            "email": "ana@correo.es",
            "phone": "612345678",
            "first_name": "Ana",
            "last_name": "García",
        },
    }
    assert [(h.by, h.action) for h in stored.history] == [
        ("open311:fixmystreet", "received"),
        ("open311:fixmystreet", "assigned"),
    ]
    # The electricians' card, in their staff place, as for a resident's report.
    [card] = [
        r.reply
        for r in await town.bridge.store.replies_for("JUN-0001")
        if r.reply.conversation == "C0LIGHTSTAFF"
    ]
    assert card.text.startswith("**JUN-0001** · Alumbrado público · assigned")
    assert "@U0ELECTRIC" in card.text

    [read] = (await town.get("/requests/JUN-0001.json")).json()
    assert list(read) == list(FIELDS)
    assert read["status"] == "open"
    assert read["status_notes"] == "assigned: electricista"
    assert read["description"] == (
        "La farola 112 está apagada. Soy [nombre], llamadme al [teléfono]"
    )
    assert read["requested_datetime"] == "2026-11-25T10:00:00+01:00"
    assert (read["lat"], read["long"], read["zipcode"]) == (37.2218, -3.593, None)
    # Contact details are private: never shown back.
    for page in ((await town.get("/requests.json")).text, json.dumps(read)):
        for secret in ("ana@correo.es", "612", "Ana", "García"):
            assert secret not in page


async def test_a_report_can_be_posted_in_xml_with_an_address_and_a_photo(town) -> None:
    form = {
        "api_key": KEY,
        "service_code": "streetlight",
        "address_string": "Plaza de la Constitución",
        "media_url": "https://fixmystreet.example/photo/1.jpeg",
    }
    response = await town.post("xml", **form)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "service_requests"
    [request] = root
    assert request.tag == "request"
    assert [e.tag for e in request] == ["service_request_id", "service_notice", "account_id"]
    assert request.findtext("service_request_id") == "JUN-0001"
    [read] = (await town.get("/requests/JUN-0001.json")).json()
    assert read["address"] == "Plaza de la Constitución"
    assert read["media_url"] == "https://fixmystreet.example/photo/1.jpeg"
    # No description: the service's name stands in for one.
    assert read["description"] == "Farola apagada o que parpadea"


@pytest.mark.parametrize("given", [None, "", "not-the-key", KEY.upper(), KEY + " "])
async def test_a_missing_or_forged_api_key_is_refused_and_nothing_is_stored(
    town, given: str | None
) -> None:
    form = {k: v for k, v in LAMP.items() if k != "api_key"}
    if given is not None:
        form["api_key"] = given
    assert error_of(await town.post(**form)) == (403, "api_key is missing or not valid")
    assert await town.bridge.store.list() == []


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"service_code": ""}, "service_code is required"),
        (
            {"lat": "", "long": ""},
            "where is it? send lat and long, address_string or address_id",
        ),
        ({"long": ""}, "lat and long go together: send both or neither"),
        ({"lat": "norte"}, "lat 'norte' is not a number"),
        ({"lat": "137.2"}, "lat '137.2' is not between -90 and 90"),
        ({"attribute[lamp]": "doce"}, "attribute[lamp] 'doce' is not a number"),
        ({"media_url": "ftp://x/1.jpg"}, "media_url 'ftp://x/1.jpg' is not an http(s) address"),
        ({"description": "x" * 4001}, "description is longer than 4000 characters"),
    ],
)  # fmt: skip
async def test_a_bad_report_is_400_and_names_what_is_wrong(
    town, change: dict[str, str], description: str
) -> None:
    assert error_of(await town.post(**{**LAMP, **change})) == (400, description)
    assert await town.bridge.store.list() == []


def test_a_service_asks_what_its_attributes_say() -> None:
    with pytest.raises(ValueError, match="'contact' is a detail junbridge keeps itself"):
        Attribute(code="contact", description="Your phone")
    with pytest.raises(ValueError, match="values go with"):
        Attribute(code="colour", description="Colour", datatype="singlevaluelist")
    with pytest.raises(ValueError, match="asks the same attribute twice"):
        Service(code="x", attributes=(Attribute(code="a", description="A"),) * 2)


def test_two_departments_offering_one_code_cannot_start() -> None:
    def department(name: str, privacy: str = "public") -> Any:
        return SimpleNamespace(name=name, privacy=privacy, services=None, service_code="lamp")

    with pytest.raises(ValueError, match="'lamp' is offered by both lighting and works"):
        catalogue({"lighting": department("lighting"), "works": department("works")})
    # A private department offers nothing, so it takes no code.
    assert list(catalogue({"a": department("a"), "b": department("b", "private")})) == ["lamp"]


# -- reading requests --------------------------------------------------------------------------


async def test_private_requests_are_absent_from_every_read(town) -> None:
    appointment = await doctor_booking(town)
    theft = await police_report(town)
    lamp = await lamp_from_chat(town)
    assert await town.listed() == [lamp]
    asked = f"{appointment},{theft},{lamp}"
    assert await town.listed(service_request_id=asked) == [lamp]
    assert await town.listed(service_code="doctor,police") == []
    assert await town.listed(status="open") == [lamp]
    for private in (appointment, theft):
        for path in (f"/requests/{private}.json", f"/tokens/{private}.json"):
            assert error_of(await town.get(path)) == (
                404,
                f"service_request_id {private!r} not found",
            )
        xml = await town.get(f"/requests/{private}.xml")
        assert xml.status_code == 404 and b"<errors><error><code>404</code>" in xml.content
    everything = (await town.get("/requests.xml")).text + (await town.get("/requests.json")).text
    for word in ("bici", "médico", theft, appointment):
        assert word not in everything


async def test_a_public_report_from_chat_is_read_without_personal_data(town) -> None:
    lamp = await lamp_from_chat(
        town, "Me llamo Ana García, la farola de la calle Real 12 no funciona, 612 345 678"
    )
    [read] = (await town.get(f"/requests/{lamp}.json")).json()
    assert (
        read["description"]
        == "Me llamo [nombre], la farola de la calle Real no funciona, [teléfono]"
    )
    assert read["service_code"] == "streetlight"
    [token] = (await town.get(f"/tokens/{lamp.lower()}.json")).json()
    assert token == {"service_request_id": lamp, "token": lamp.lower()}


async def test_the_default_is_the_last_90_days_and_a_range_may_be_asked(town) -> None:
    lamp = await lamp_from_chat(town)
    assert await town.listed() == [lamp]
    assert await town.listed(start_date="2026-11-25T10:00:00+01:00") == [lamp]
    assert await town.listed(start_date="2026-11-25T10:00:01+01:00") == []
    assert await town.listed(end_date="2026-11-25T09:00:00Z") == [lamp]
    # A day with no offset is the town's day: Jun's 25 November began at 23:00 UTC.
    assert await town.listed(start_date="2026-11-25", end_date="2026-11-26") == [lamp]
    assert await town.listed(start_date="2026-11-26") == []
    town.clock.advance(timedelta(days=91).total_seconds())
    assert await town.listed() == []
    assert await town.listed(start_date="2026-11-01T00:00:00+01:00") == [lamp]


NOT_W3C = "is not a W3C datetime like 2026-11-30T09:15:00+01:00"
SPAN = "may not span more than 90 days"


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"start_date": "ayer"}, f"start_date 'ayer' {NOT_W3C}"),
        ({"end_date": "2026-13-01"}, f"end_date '2026-13-01' {NOT_W3C}"),
        ({"start_date": "2026-11-20", "end_date": "2026-11-10"}, "end_date is before start_date"),
        ({"start_date": "2026-01-01", "end_date": "2026-12-01"}, f"start_date to end_date {SPAN}"),
        ({"status": "pending"}, "status 'pending' is neither open nor closed"),
        ({"page_size": "0"}, "page_size must be a whole number from 1, got '0'"),
        ({"page_size": "5000"}, "page_size is at most 1000, got 5000"),
        ({"page": "-1"}, "page must be a whole number from 1, got '-1'"),
    ],
)  # fmt: skip
async def test_bad_filters_are_400(town, params: dict[str, str], description: str) -> None:
    assert error_of(await town.get("/requests.json", **params)) == (400, description)


async def test_pages_of_requests_newest_first(town) -> None:
    made = []
    for n in range(3):
        made.append(await lamp_from_chat(town, f"La farola {n + 1} de la plaza no funciona"))
        town.clock.advance(60)
    newest_first = made[::-1]
    assert await town.listed() == newest_first
    assert await town.listed(page_size="2") == newest_first[:2]
    assert await town.listed(page_size="2", page="2") == newest_first[2:]
    assert await town.listed(page_size="2", page="3") == []


async def test_a_staff_resolve_closes_a_posted_report_with_its_notes(town) -> None:
    [answer] = (await town.post(**LAMP)).json()
    reference = answer["service_request_id"]
    handled = await town.bridge.receive(
        make_message(
            f"resolve {reference} bombilla nueva",
            channel="slack",
            conversation="C0LIGHTSTAFF",
            user="U0ELECTRIC",
            private=False,
        )
    )
    assert handled.request.reference == reference
    [read] = (await town.get(f"/requests/{reference}.json")).json()
    assert read["status"] == "closed"
    assert read["status_notes"] == "resolved, closed: bombilla nueva"
    assert await town.listed(status="closed") == [reference]
    assert await town.listed(status="open") == []
    assert await town.listed(status="open,closed") == [reference]


# -- the documents themselves ------------------------------------------------------------------


async def test_xml_documents_use_the_spec_element_names(town) -> None:
    lamp = await lamp_from_chat(town)
    expected = {
        "/discovery.xml": ("discovery", None),
        "/services.xml": ("services", "service"),
        "/services/streetlight.xml": ("service_definition", None),
        "/requests.xml": ("service_requests", "request"),
        f"/requests/{lamp}.xml": ("service_requests", "request"),
        f"/requests/{lamp}": ("service_requests", "request"),  # XML when no format is named
        "/services/nothing.xml": ("errors", "error"),
        "/requests.xml?status=nope": ("errors", "error"),
    }
    for path, (root_name, item) in expected.items():
        response = await town.http.get(API + path)
        assert response.headers["content-type"] == "text/xml; charset=utf-8", path
        assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        root = ElementTree.fromstring(response.content)
        assert root.tag == root_name, path
        if item is not None:
            assert {child.tag for child in root} == {item}, path
    root = ElementTree.fromstring((await town.get("/requests.xml")).content)
    [request] = root
    assert [e.tag for e in request] == list(FIELDS)
    assert request.findtext("status") == "open"
    assert request.findtext("requested_datetime") == "2026-11-25T10:00:00+01:00"
    definition = ElementTree.fromstring((await town.get("/services/streetlight.xml")).content)
    [attribute] = definition.find("attributes")
    assert attribute.tag == "attribute" and attribute.findtext("code") == "lamp"
    assert attribute.findtext("variable") == "true"
    discovery = ElementTree.fromstring((await town.get("/discovery.xml")).content)
    endpoint = discovery.find("endpoints/endpoint")
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.findtext("url") == "http://127.0.0.1:8080/open311/v2"
    assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]


async def test_other_formats_and_resources_are_refused(town) -> None:
    # A format it does not serve is answered in the one the spec requires.
    response = await town.get("/services.csv")
    assert response.status_code == 400
    error = ElementTree.fromstring(response.content).find("error")
    assert error.findtext("description") == "format 'csv' is not served: use .xml or .json"
    response = await town.http.post(f"{API}/services.json", data={"api_key": KEY})
    assert error_of(response) == (405, "services cannot be POSTed to; requests can")
    assert (await town.get("/reports.json")).status_code == 404


def test_xml_leaves_out_what_xml_cannot_carry() -> None:
    document = render("service_requests", [{"description": "farola\x1b rota \x0b😀"}], "xml")
    [request] = ElementTree.fromstring(document)
    assert request.findtext("description") == "farola rota 😀"
