"""Where the public pages live: one place, so that every link to them agrees.

A public reply that links to its request (a post on X cut short, an Open311 record) builds
its address here, and the web app serves the same path.
"""

from __future__ import annotations

from urllib.parse import quote

REQUEST_PATH = "/requests/{reference}"


def request_path(reference: str) -> str:
    """The public page of request ``reference``: ``/requests/JUN-0001``."""
    return REQUEST_PATH.format(reference=quote(reference.upper(), safe="-"))


def request_url(public_url: str, reference: str) -> str:
    """The full address of that page at ``web.public_url``."""
    return public_url.rstrip("/") + request_path(reference)
