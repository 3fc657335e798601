"""What the CLI and the demo show: messages as the apps display them, not their source."""

from __future__ import annotations

from junbridge.cli.display import displayed, from_markup


def test_telegram_html_is_shown_bold_and_unescaped():
    shown = displayed("telegram", "Referencia <b>JUN-0002</b> &amp; 3 &lt; 4")
    assert shown.plain == "Referencia JUN-0002 & 3 < 4"
    [bold] = [span for span in shown.spans if span.style == "bold"]
    assert shown.plain[bold.start : bold.end] == "JUN-0002"


def test_slack_mrkdwn_bold_and_links_read_as_in_slack():
    shown = displayed("slack", "*JUN-0001* · <https://jun.es/r/1|ver aviso> &amp; más")
    assert shown.plain == "JUN-0001 · ver aviso & más"


def test_other_channels_are_shown_as_they_are():
    assert displayed("twitter", "JUN-0001 **no bold on X**").plain == "JUN-0001 **no bold on X**"


def test_junbridge_markup_is_shown_bold_with_each_link_address():
    shown = from_markup("**JUN-0001** resuelto\nMás: [ver aviso](https://jun.es/r/1)")
    assert shown.plain == "JUN-0001 resuelto\nMás: ver aviso (https://jun.es/r/1)"
    [bold] = [span for span in shown.spans if span.style == "bold"]
    assert shown.plain[bold.start : bold.end] == "JUN-0001"


def test_a_slack_mention_shows_the_members_name_as_slack_does():
    shown = displayed(
        "slack", "*JUN-0001*: es para <@U0ELECTRIC> y <@U0NADIE>.", {"U0ELECTRIC": "electricista"}
    )
    assert shown.plain == "JUN-0001: es para @electricista y @U0NADIE."
