"""Platform-rendered text as a person sees it on their phone, for terminal output.

Telegram gets HTML (``<b>``, ``<a>``) and Slack gets mrkdwn (``*bold*``, ``<url|label>``);
the CLI and the demo show them bold and plain, as the apps do, not as their source. Replies
as stored (``junbridge requests show``) are in junbridge's own markup: :func:`from_markup`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from rich.text import Text

from junbridge.markup import Break, Link, parse

_HTML = re.compile(r"<b>|</b>|<a href=\"([^\"]*)\">|</a>")
_SLACK = re.compile(r"\*([^*\n]+)\*|<([^|>@]+)\|([^>]+)>|<@([UW][A-Z0-9]+)>")


def displayed(channel: str, text: str, people: Mapping[str, str] | None = None) -> Text:
    """``text`` as rendered for ``channel``, shown the way that app shows it.

    ``people`` names Slack members by id: a mention ``<@U0ELECTRIC>`` shows as
    ``@electricista``, as Slack shows it (``@U0ELECTRIC`` when the name is not known).
    """
    if channel == "telegram":
        return _from_html(text)
    if channel == "slack":
        return _from_mrkdwn(text, people or {})
    return Text(text)


def from_markup(source: str) -> Text:
    """junbridge's own markup (``**bold**``, ``[label](url)``) as a terminal shows it.

    Bold is bold; a link keeps its address after the label, since plain output (a pipe, a
    log) has no other way to show where it goes.
    """
    out = Text()
    for token in parse(source):
        if isinstance(token, Break):
            out.append("\n")
        elif isinstance(token, Link):
            out.append(token.label, style=f"{'bold ' if token.bold else ''}link {token.url}")
            out.append(f" ({token.url})", style="dim")
        else:
            out.append(token.text, style="bold" if token.bold else "")
    return out


def _from_html(source: str) -> Text:
    out = Text()
    bold = False
    position = 0
    for tag in _HTML.finditer(source):
        out.append(html.unescape(source[position : tag.start()]), style="bold" if bold else "")
        if tag.group(0) == "<b>":
            bold = True
        elif tag.group(0) == "</b>":
            bold = False
        position = tag.end()
    out.append(html.unescape(source[position:]), style="bold" if bold else "")
    return out


def _from_mrkdwn(source: str, people: Mapping[str, str]) -> Text:
    out = Text()
    position = 0
    for found in _SLACK.finditer(source):
        out.append(_unescape_slack(source[position : found.start()]))
        if found.group(1) is not None:
            out.append(_unescape_slack(found.group(1)), style="bold")
        elif found.group(4) is not None:
            out.append(f"@{people.get(found.group(4), found.group(4))}", style="bold blue")
        else:
            out.append(_unescape_slack(found.group(3)), style=f"link {found.group(2)}")
        position = found.end()
    out.append(_unescape_slack(source[position:]))
    return out


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
