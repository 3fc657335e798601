"""Open311 GeoReport v2 documents in XML and JSON, by the spec's own element names.

XML is what the spec requires (``<service_requests><request>…``), JSON what most apps read
(a list of objects); a resource's extension chooses (``requests.json``), and a name without
one is answered in XML. Errors are the spec's list of ``{code, description}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from xml.etree.ElementTree import Element, SubElement, tostring

import orjson
from starlette.responses import Response

Format = Literal["xml", "json"]
MEDIA_TYPES: Mapping[Format, str] = {
    "xml": "text/xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
# The element of each item in a list, by the list's own element (the spec's pairs).
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


class Open311Error(Exception):
    """A request the API refuses: the HTTP status, and the description the client reads."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def split_format(name: str) -> tuple[str, Format]:
    """``"requests.json"`` -> ``("requests", "json")``; no extension is XML, as the spec's
    examples are. Open311Error(400) for any other extension."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        return name, "xml"
    if extension == "xml":
        return stem, "xml"
    if extension == "json":
        return stem, "json"
    raise Open311Error(400, f"format {extension!r} is not served: use .xml or .json")


# Characters XML 1.0 cannot carry at all, escaped or not (a pasted control character).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: Element, value: Any) -> None:
    """``value`` as the content of ``element``: a mapping's keys as children, a list's items
    as the spec names them, None as an empty element."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _fill(SubElement(element, key), item)
    elif isinstance(value, list | tuple):
        name = ITEMS[element.tag]
        for item in value:
            _fill(SubElement(element, name), item)
    elif value is not None:
        element.text = _text(value)


def render(root: str, data: Mapping[str, Any] | Sequence[Any], fmt: Format) -> bytes:
    """``data`` as one document: a JSON value, or XML under ``root`` with its declaration."""
    if fmt == "json":
        # UTF-8, not escaped to ASCII; orjson, since an answer holds up to 1000 requests.
        return orjson.dumps(data)
    element = Element(root)
    _fill(element, data)
    document: bytes = tostring(element, encoding="utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + document


def respond(
    root: str,
    data: Mapping[str, Any] | Sequence[Any],
    fmt: Format,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An HTTP answer carrying ``data`` in ``fmt``."""
    return Response(
        render(root, data, fmt), status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers
    )


def error(exc: Open311Error, fmt: Format) -> Response:
    """The spec's error document: ``<errors><error><code/><description/>``."""
    body = [{"code": exc.status, "description": exc.description}]
    return respond("errors", body, fmt, status=exc.status)
