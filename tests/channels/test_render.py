"""Outbound rendering: one Reply, as Telegram, Slack, X and the console would show it."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from pydantic import ValidationError

from junbridge.channels import console, slack, telegram, twitter
from junbridge.channels.base import Channel
from junbridge.channels.twitter_length import parse_tweet
from junbridge.channels.twitter_render import MAX_POSTS
from junbridge.markup import BREAK, Link, RenderError, Text, parse, split
from junbridge.model import Attachment, Choice, Reply

SLOTS = (
    Choice(label="Lun 30 nov 09:00", value="slot:2026-11-30T09:00"),
    Choice(label="Cancelar", value="cancel"),
)
LONG_URL = "https://jun.es/transparencia/solicitudes/JUN-0142?idioma=es&vista=completa&" + (
    "x" * 120
)
# Realistic Spanish prose, bold words and links in it, for the splitting tests.
PARAGRAPH = (
    "La farola de la **calle Real** sigue apagada desde el martes; el electricista pasará "
    "mañana por la mañana y te avisaremos aquí. Más detalles en [la página del aviso]"
    "(https://jun.es/r/JUN-0142) & en el tablón <del> ayuntamiento.\n"
)


def reply(text: str, **changes: Any) -> Reply:
    return Reply(text=text, channel="telegram", conversation="1001", **changes)


def words_of(text: str) -> list[str]:
    return re.sub(r"<[^>]+>", " ", text).split()


# -- markup ------------------------------------------------------------------------------


def test_markup_is_parsed_once_into_tokens() -> None:
    assert parse("Hola **Ana**\nmira [aquí](https://jun.es/a) ** suelto") == (
        Text("Hola "),
        Text("Ana", bold=True),
        BREAK,
        Text("mira "),
        Link("aquí", "https://jun.es/a"),
        Text(" ** suelto"),
    )
    assert parse("[no es enlace](javascript:alert(1))") == (
        Text("[no es enlace](javascript:alert(1))"),
    )


def test_split_prefers_a_line_break_in_the_second_half() -> None:
    tokens = parse("uno dos tres cuatro\ncinco seis")
    parts = split(tokens, 25, lambda t: sum(len(getattr(x, "text", "\n")) for x in t))
    assert parts == [(Text("uno dos tres cuatro"),), (Text("cinco seis"),)]


# -- Telegram ----------------------------------------------------------------------------


class TagChecker(HTMLParser):
    """Fails on an unbalanced tag, the way Telegram refuses such a message."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in ("b", "a"), tag
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag

    @classmethod
    def check(cls, text: str) -> None:
        checker = cls()
        checker.feed(text)
        checker.close()
        assert checker.open == []


def test_telegram_escapes_user_text_and_renders_bold_and_links() -> None:
    [message] = telegram.render(
        reply("Aviso <script>alert('x')</script> & **Pan & Co** [web](https://jun.es/?a=1&b=2)")
    )
    assert message == {
        "chat_id": "1001",
        "text": "Aviso &lt;script&gt;alert('x')&lt;/script&gt; &amp; <b>Pan &amp; Co</b> "
        '<a href="https://jun.es/?a=1&amp;b=2">web</a>',
        "parse_mode": "HTML",
    }


def test_telegram_inline_keyboard_and_thread() -> None:
    [message] = telegram.render(reply("¿Qué hora te viene bien?", choices=SLOTS, thread="77"))
    assert message["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Lun 30 nov 09:00", "callback_data": "slot:2026-11-30T09:00"}],
            [{"text": "Cancelar", "callback_data": "cancel"}],
        ]
    }
    assert message["reply_parameters"] == {"message_id": 77, "allow_sending_without_reply": True}
    assert telegram.preview(reply("¿Qué hora?", choices=SLOTS)) == [
        "¿Qué hora?\n[ Lun 30 nov 09:00 ]\n[ Cancelar ]"
    ]


def test_telegram_callback_data_over_64_bytes_is_refused() -> None:
    # 33 "ñ" are 33 characters but 66 bytes in UTF-8: bytes are what Telegram counts.
    too_long = (Choice(label="Sí", value="ñ" * 33),)
    with pytest.raises(RenderError, match="66 bytes; Telegram callback_data allows 64"):
        telegram.render(reply("¿Seguro?", choices=too_long))


def test_telegram_long_text_is_split_without_breaking_tags_or_words() -> None:
    text = PARAGRAPH * 22
    assert 5000 <= len(text) < 8192
    messages = telegram.render(reply(text, choices=SLOTS))
    assert len(messages) == 2
    for message in messages:
        assert telegram.utf16_len(message["text"]) <= telegram.MESSAGE_LIMIT
        TagChecker.check(message["text"])
    assert "reply_markup" not in messages[0] and "reply_markup" in messages[1]
    rendered = [w for m in messages for w in words_of(m["text"])]
    assert rendered == words_of(telegram.render_html(parse(text)))
    # The cut fell on a line break, so the first message ends a paragraph.
    assert messages[0]["text"].endswith("ayuntamiento.")


def test_telegram_word_longer_than_a_message_is_cut() -> None:
    messages = telegram.render(reply("a" * 5000))
    assert [len(m["text"]) for m in messages] == [4096, 904]


def test_telegram_photo_caption_holds_1024_and_the_rest_follows() -> None:
    photo = Attachment(platform_ref="AgAD-file-id", url="https://jun.es/media/farola.jpg")
    messages = telegram.render(reply(PARAGRAPH * 6, photo=photo, choices=SLOTS))
    assert messages[0]["photo"] == "https://jun.es/media/farola.jpg"
    assert telegram.utf16_len(messages[0]["caption"]) <= telegram.CAPTION_LIMIT
    assert [("photo" in m, "reply_markup" in m) for m in messages] == [(True, False), (False, True)]
    [only] = telegram.render(reply("", photo=Attachment(platform_ref="AgAD-file-id")))
    assert only == {"chat_id": "1001", "photo": "AgAD-file-id"}


def test_private_replies_go_to_the_recipient_and_never_to_the_group() -> None:
    private = reply("Tu cita médica", private=True, recipient="42", thread="77")
    [message] = telegram.render(private)
    assert message["chat_id"] == "42" and "reply_parameters" not in message
    with pytest.raises(RenderError, match="needs a recipient"):
        telegram.render(reply("Tu cita médica", private=True))
    with pytest.raises(RenderError, match="needs a recipient"):
        twitter.render(reply("Tu cita médica", private=True))


# -- Slack -------------------------------------------------------------------------------


def test_slack_mrkdwn_escapes_and_formats() -> None:
    tokens = parse("<!channel> & **urgente ** [ver](https://jun.es/?a=1&b=2|3)")
    assert slack.render_mrkdwn(tokens) == (
        "&lt;!channel&gt; &amp; *urgente*  <https://jun.es/?a=1&amp;b=2%7C3|ver>"
    )


def test_slack_blocks_with_buttons_in_the_thread() -> None:
    [message] = slack.render(reply("**JUN-0142**: ¿qué hora?", choices=SLOTS, thread="1733.42"))
    assert message == {
        "channel": "1001",
        "text": "*JUN-0142*: ¿qué hora?",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*JUN-0142*: ¿qué hora?"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Lun 30 nov 09:00", "emoji": True},
                        "action_id": "choice-0",
                        "value": "slot:2026-11-30T09:00",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Cancelar", "emoji": True},
                        "action_id": "choice-1",
                        "value": "cancel",
                    },
                ],
            },
        ],
        "thread_ts": "1733.42",
    }
    assert slack.preview(reply("¿Qué hora?", choices=SLOTS)) == [
        "¿Qué hora?\n[ Lun 30 nov 09:00 ] [ Cancelar ]"
    ]


def test_slack_long_text_becomes_several_sections() -> None:
    [message] = slack.render(reply(PARAGRAPH * 20))
    sections = [b["text"]["text"] for b in message["blocks"]]
    assert len(sections) == 2
    assert all(len(s) <= slack.SECTION_LIMIT for s in sections)
    assert "thread_ts" not in message


# -- X -----------------------------------------------------------------------------------


def test_x_counts_a_url_as_23_and_an_emoji_as_2() -> None:
    text = f"Tu aviso: {LONG_URL}"
    assert len(text) > 200
    assert parse_tweet(text).weightedLength == 10 + 23 == twitter.weighted_length(text)
    assert twitter.weighted_length("Arreglada 💡") == 10 + 2
    [body] = twitter.render(reply(f"**Arreglada** 💡 [ver aviso]({LONG_URL})"))
    assert body["text"] == f"Arreglada 💡 ver aviso {LONG_URL}"
    assert parse_tweet(body["text"]).weightedLength == 13 + 10 + 23


def test_x_long_text_becomes_a_numbered_thread_of_valid_posts() -> None:
    text = ("El camión de la basura pasará el jueves por la calle Real y la plaza. " * 9).strip()
    assert len(text) > 600
    bodies = twitter.render(reply(text))
    assert len(bodies) == 3
    for number, body in enumerate(bodies, start=1):
        result = parse_tweet(body["text"])
        assert result.valid and result.weightedLength <= 280
        assert body["text"].endswith(f" {number}/3")
        assert body["reply"] == {"in_reply_to_tweet_id": "1001"}
    joined = " ".join(b["text"].rsplit(" ", 1)[0] for b in bodies)
    assert joined.split() == text.split()


def test_x_a_very_long_answer_is_cut_to_a_few_posts_ending_at_its_page() -> None:
    page = "https://jun.example/requests/JUN-0001"
    text = " ".join(f"palabra{n}" for n in range(10_000))  # about 100,000 characters
    bodies = twitter.render(reply(text), more=page)
    assert len(bodies) <= MAX_POSTS + 1
    assert all(parse_tweet(b["text"]).valid for b in bodies)
    assert bodies[-1]["text"].endswith(f"… {page} {len(bodies)}/{len(bodies)}")
    # What is shown is the beginning, word for word; the rest is on the page.
    shown = " ".join(b["text"].rsplit(" ", 1)[0] for b in bodies).replace(f"… {page}", "")
    assert shown.split() == text.split()[: len(shown.split())]


def test_x_emoji_heavy_text_is_split_by_weight_not_characters() -> None:
    text = " ".join(["💡🔧"] * 100)  # 299 characters, weighted 499
    bodies = twitter.render(reply(text))
    assert len(bodies) == 2
    assert all(parse_tweet(b["text"]).weightedLength <= 280 for b in bodies)


def test_x_choices_are_numbered_and_private_goes_to_a_dm() -> None:
    [body] = twitter.render(reply("¿Qué hora?", choices=SLOTS), hint="Responde con el número")
    assert body["text"] == (
        "¿Qué hora?\n\n1) Lun 30 nov 09:00\n2) Cancelar\nResponde con el número"
    )
    [dm] = twitter.render(reply("Tu cita: **lunes 09:00**", private=True, recipient="9876"))
    assert dm == {"participant_id": "9876", "text": "Tu cita: lunes 09:00"}


def test_x_hint_under_choices_is_in_the_readers_language_only() -> None:
    [es] = twitter.preview(reply("¿Está arreglado?", choices=SLOTS, language="es"))
    [en] = twitter.preview(reply("Is it fixed?", choices=SLOTS, language="en"))
    assert es.endswith("\n2) Cancelar\nResponde con el número")
    assert en.endswith("\n2) Cancelar\nReply with the number")
    # Unknown language: the first hint; a town may also set one sentence for everyone.
    [unknown] = twitter.preview(reply("?", choices=SLOTS, language="fr"))
    assert unknown.endswith("Responde con el número")
    [one] = twitter.preview(reply("?", choices=SLOTS, language="en"), hint="Pulsa el número")
    assert one.endswith("Pulsa el número")


def test_previews_name_a_kept_photo_instead_of_its_local_path() -> None:
    kept = Attachment(
        platform_ref="F0PHOTO",
        url="file:///var/lib/junbridge/media/5d878d3e457eef9abffae8915b8280d2.jpg",
        name="farola-arreglada.jpg",
    )
    from_x = Attachment(platform_ref="3_1", url="https://pbs.twimg.com/media/FZxA1.jpg")
    for module in (telegram, slack, twitter):
        [shown] = module.preview(reply("JUN-0001 está resuelto", photo=kept))
        assert "[photo farola-arreglada.jpg]" in shown.splitlines(), module
        [shown] = module.preview(reply("JUN-0001 está resuelto", photo=from_x))
        assert "[photo FZxA1.jpg]" in shown.splitlines(), module


# -- console and registration ------------------------------------------------------------


def test_console_numbers_choices() -> None:
    shown = console.render(reply("¿Qué hora? [más](https://jun.es/citas)", choices=SLOTS))
    assert shown == "¿Qué hora? más (https://jun.es/citas)\n[1] Lun 30 nov 09:00\n[2] Cancelar"


@pytest.mark.parametrize(
    ("module", "name"),
    [(telegram, "telegram"), (slack, "slack"), (twitter, "twitter"), (console, "console")],
)
def test_each_module_registers_its_channel(module: Any, name: str) -> None:
    registered: list[type[Channel]] = []
    register: Callable[[type[Channel]], None] = registered.append
    module.register_channels(register)
    [cls] = registered
    assert cls.name == name
    settings = cls.Settings.model_validate(
        {
            "telegram": {"token": {"$env": "TELEGRAM_TOKEN"}},
            "slack": {"bot_token": {"$env": "A"}, "signing_secret": {"$env": "B"}},
            "twitter": {"handle": "@AytoJun"},
            "console": {},
        }[name]
    )
    assert cls(settings).preview(reply("**Hola**"))


def test_settings_refuse_incomplete_set_ups() -> None:
    with pytest.raises(ValidationError, match="webhook_secret"):
        telegram.TelegramChannel.Settings.model_validate(
            {"token": {"$env": "T"}, "mode": "webhook"}
        )
    with pytest.raises(ValidationError, match="app_token"):
        slack.SlackChannel.Settings.model_validate(
            {"bot_token": {"$env": "A"}, "signing_secret": {"$env": "B"}, "mode": "socket"}
        )
    with pytest.raises(ValidationError, match="missing access_token, access_token_secret"):
        twitter.TwitterChannel.Settings.model_validate(
            {"handle": "AytoJun", "consumer_key": {"$env": "K"}, "consumer_secret": {"$env": "S"}}
        )


def test_slack_staff_handles_become_mentions_that_notify():
    [message] = slack.render(reply("**JUN-0001**: queda un 25% del plazo. @U0ELECTRIC"))
    assert "<@U0ELECTRIC>" in message["text"]
    # An ordinary @word, or an e-mail, is not a Slack member id.
    [plain] = slack.render(reply("escribe a @ayuntamiento o a info@jun.es"))
    assert "<@" not in plain["text"]
