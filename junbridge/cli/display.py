"""Platform-rendered text as a person sees it on their phone, for terminal output.

Telegram gets HTML (``<b>``, ``<a>``) and Slack gets mrkdwn (``*bold*``, ``<url|label>``);
the CLI and the demo show them bold and plain, as the apps do, not as their source.
"""

from __future__ import annotations

import html
import re

from rich.text import Text

_HTML = re.compile(r"<b>|</b>|<a href=\"([^\"]*)\">|</a>")
_SLACK = re.compile(r"\*([^*\n]+)\*|<([^|>]+)\|([^>]+)>")


def displayed(channel: str, text: str) -> Text:
    """``text`` as rendered for ``channel``, shown the way that app shows it."""
    if channel == "telegram":
        return _from_html(text)
    if channel == "slack":
        return _from_mrkdwn(text)
    return Text(text)


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


def _from_mrkdwn(source: str) -> Text:
    out = Text()
    position = 0
    for found in _SLACK.finditer(source):
        out.append(_unescape_slack(source[position : found.start()]))
        if found.group(1) is not None:
            out.append(_unescape_slack(found.group(1)), style="bold")
        else:
            out.append(_unescape_slack(found.group(3)), style=f"link {found.group(2)}")
        position = found.end()
    out.append(_unescape_slack(source[position:]))
    return out


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
