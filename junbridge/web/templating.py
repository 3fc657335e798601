"""The Jinja2 environment the web pages (public and staff) are rendered with."""

from __future__ import annotations

import jinja2
from starlette.templating import Jinja2Templates


def page_templates() -> Jinja2Templates:
    """The package's templates: autoescaped, a missing value an error, tidy whitespace."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("junbridge.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=environment)
