"""Charts for the public pages, drawn on the server as inline SVG.

No script and nothing fetched: a resident's phone shows the chart with the page, and the
page works where the town hall's network is the only one. Each chart is a small SVG with
a text alternative (``aria-label``) and a ``<title>`` per mark, so a screen reader and a
pointer both get the numbers. Colours come from classes styled in ``static/public.css``,
with a plain fill as fallback.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 320


def _svg(width: int, height: int, label: str, body: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"{body}</svg>"
    )


def columns(
    values: Sequence[int], titles: Sequence[str], *, label: str, height: int = 90
) -> Markup:
    """One column per value (the backlog per day), the highest reaching the top; each
    column's ``title`` says its value. The highest value is written at the top left."""
    if not values:
        return Markup("")
    top = max(max(values), 1)
    axis = 14  # room for the highest value's label
    room = height - axis - 2
    step = WIDTH / len(values)
    gap = min(2.0, step / 4)
    body = [
        f'<text class="chart-scale" x="0" y="10" font-size="10" fill="#555">{top}</text>',
        f'<line class="chart-axis" x1="0" y1="{height - 1}" x2="{WIDTH}" y2="{height - 1}" '
        'stroke="#999" stroke-width="1"/>',
    ]
    for number, (value, title) in enumerate(zip(values, titles, strict=True)):
        bar = room * value / top
        x = number * step + gap / 2
        body.append(
            f'<rect class="chart-bar" x="{x:.1f}" y="{height - 1 - bar:.1f}" '
            f'width="{step - gap:.1f}" height="{bar:.1f}" fill="#3b6ea5">'
            f"<title>{escape(title)}</title></rect>"
        )
    return _svg(WIDTH, height, label, "".join(body))


def split(kept: int, broken: int, *, kept_title: str, broken_title: str, label: str) -> Markup:
    """One bar split in two: promises kept (left) and broken (right), as shares."""
    decided = kept + broken
    if decided == 0:
        return Markup("")
    height = 18
    left = WIDTH * kept / decided
    body = (
        f'<rect class="chart-good" x="0" y="0" width="{left:.1f}" height="{height}" '
        f'fill="#2e7d32"><title>{escape(kept_title)}</title></rect>'
        f'<rect class="chart-bad" x="{left:.1f}" y="0" width="{WIDTH - left:.1f}" '
        f'height="{height}" fill="#c62828"><title>{escape(broken_title)}</title></rect>'
    )
    return _svg(WIDTH, height, label, body)


def rows(
    values: Sequence[int], names: Sequence[str], titles: Sequence[str], *, label: str
) -> Markup:
    """A horizontal bar per value (the ratings 5 to 1), named on the left."""
    if not values or sum(values) == 0:
        return Markup("")
    top = max(values)
    line, name_width = 14, 34
    room = WIDTH - name_width - 30
    body = []
    for number, (value, name, title) in enumerate(zip(values, names, titles, strict=True)):
        y = number * line
        bar = room * value / top
        body.append(
            f'<text class="chart-name" x="0" y="{y + 11}" font-size="10" fill="#333">'
            f"{escape(name)}</text>"
            f'<rect class="chart-bar" x="{name_width}" y="{y + 2}" width="{bar:.1f}" '
            f'height="{line - 4}" fill="#3b6ea5"><title>{escape(title)}</title></rect>'
            f'<text class="chart-value" x="{name_width + bar + 4:.1f}" y="{y + 11}" '
            f'font-size="10" fill="#333">{value}</text>'
        )
    return _svg(WIDTH, line * len(values), label, "".join(body))
