"""The Slack emulator answers the real slack_sdk client as Slack does, limits included."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from junbridge.testing.emulators.slack import SlackEmulator


def client(slack: SlackEmulator, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token or slack.bot_token, base_url=slack.api_url)


async def refusal(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        await call  # type: ignore[misc]
    return raised.value


async def test_tokens_are_checked_and_errors_are_http_200(slack: SlackEmulator) -> None:
    wrong = await refusal(client(slack, "xoxb-wrong").auth_test())
    assert (wrong.response.status_code, wrong.response["error"]) == (200, "invalid_auth")
    identity = await client(slack).auth_test()
    assert identity["user_id"] == "U0JUNBOT" and identity["bot_id"] == "B0JUNBOT"
    # The app-level token opens Socket Mode connections; the bot token cannot.
    bot = await refusal(client(slack).apps_connections_open(app_token=slack.bot_token))
    assert bot.response["error"] == "invalid_auth"
    opened = await client(slack).apps_connections_open(app_token=slack.app_token)
    assert opened["url"].startswith("ws://127.0.0.1:")


async def test_documented_message_limits(slack: SlackEmulator) -> None:
    api = client(slack)
    long = await refusal(api.chat_postMessage(channel="C0PLAZA", text="x" * 40_001))
    assert long.response["error"] == "msg_too_long"
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}
    many = await refusal(api.chat_postMessage(channel="C0PLAZA", text="t", blocks=[section] * 51))
    assert many.response["error"] == "invalid_blocks"
    wide = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    too_wide = await refusal(api.chat_postMessage(channel="C0PLAZA", text="t", blocks=[wide]))
    assert too_wide.response["error"] == "invalid_blocks"
    nowhere = await refusal(api.chat_postMessage(channel="C0NOWHERE", text="hola"))
    assert nowhere.response["error"] == "channel_not_found"
    ok = await api.chat_postMessage(channel="C0PLAZA", text="x" * 40_000, blocks=[section] * 50)
    assert ok["ts"] and len(slack.refused("chat.postMessage")) == 4


async def test_a_rate_limit_answers_429_with_retry_after(slack: SlackEmulator) -> None:
    slack.limit("chat.postMessage", calls=2, per=3600, retry_after=7)
    api = client(slack)
    await api.chat_postMessage(channel="C0PLAZA", text="1")
    await api.chat_postMessage(channel="C0PLAZA", text="2")
    limited = await refusal(api.chat_postMessage(channel="C0PLAZA", text="3"))
    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "7"
    assert limited.response["error"] == "ratelimited"


async def test_a_per_channel_rate_limit_counts_each_channel_apart(slack: SlackEmulator) -> None:
    slack.limit("chat.postMessage", calls=1, per=3600, per_channel=True)
    api = client(slack)
    await api.chat_postMessage(channel="C0PLAZA", text="1")
    await api.chat_postMessage(channel="C0LIGHTING", text="2")
    limited = await refusal(api.chat_postMessage(channel="C0PLAZA", text="3"))
    assert limited.response.status_code == 429
    assert [c.params["channel"] for c in slack.refused("chat.postMessage")] == ["C0PLAZA"]


async def test_threads_updates_dms_and_locales(slack: SlackEmulator) -> None:
    api = client(slack)
    parent = await api.chat_postMessage(channel="C0PLAZA", text="JUN-0001")
    answer = await api.chat_postMessage(channel="C0PLAZA", text="¿Dónde?", thread_ts=parent["ts"])
    assert answer["message"]["thread_ts"] == parent["ts"]
    await api.chat_update(channel="C0PLAZA", ts=answer["ts"], text="¿Dónde está la farola?")
    assert slack.posts("C0PLAZA")[1]["text"] == "¿Dónde está la farola?"
    missing = await refusal(api.chat_update(channel="C0PLAZA", ts="1.000001", text="x"))
    assert missing.response["error"] == "message_not_found"
    dm = await api.conversations_open(users="U0VECINA")
    assert dm["channel"]["id"] == "D0VECINA"
    plain = await api.users_info(user="U0VECINA")
    assert "locale" not in plain["user"]
    localized = await api.users_info(user="U0VECINA", include_locale=True)
    assert localized["user"]["locale"] == "es-ES"
    unknown = await refusal(api.users_info(user="U0NOBODY"))
    assert unknown.response["error"] == "user_not_found"


async def test_users_list_pages_through_the_members_with_a_cursor(slack: SlackEmulator) -> None:
    api = client(slack)
    everyone = await api.users_list()
    assert everyone["response_metadata"]["next_cursor"] == ""
    assert [m["id"] for m in everyone["members"]] == ["U0ELECTRIC", "U0NEIGHBOR", "U0VECINA"]
    assert all("locale" not in m for m in everyone["members"])
    first = await api.users_list(limit=2, include_locale=True)
    cursor = first["response_metadata"]["next_cursor"]
    assert [m["locale"] for m in first["members"]] == ["es-ES", "en-GB"] and cursor
    last = await api.users_list(limit=2, include_locale=True, cursor=cursor)
    assert [m["id"] for m in last["members"]] == ["U0VECINA"]
    assert last["response_metadata"]["next_cursor"] == ""
    # The same member as users.info shows her.
    info = await api.users_info(user="U0VECINA", include_locale=True)
    assert last["members"][0] == info["user"]
    wrong = await refusal(api.users_list(cursor="not-a-cursor"))
    assert wrong.response["error"] == "invalid_cursor"


async def test_files_upload_v2_goes_through_the_three_steps(slack: SlackEmulator) -> None:
    content = b"\xff\xd8 a jpeg \xff\xd9"
    result = await client(slack).files_upload_v2(
        channel="C0PLAZA", content=content, filename="farola.jpg", title="Farola"
    )
    [file] = result["files"]
    assert slack.workspace.uploads[file["id"]] == content
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    # What a resident shares is downloadable with the bot token only, as on Slack.
    slack.deliver_to("http://127.0.0.1:9")  # not used: nothing is pushed here
    shared = slack.workspace.files[file["id"]]
    assert shared["title"] == "Farola"


async def test_a_resident_file_is_served_to_the_bot_token_only(slack: SlackEmulator) -> None:
    slack.mode = "events"
    slack.deliver_to(slack.url)  # the emulator answers 404: only the payload matters here
    push = await slack.resident_shares_file("foto", content=b"jpeg bytes")
    [file] = push.body["event"]["files"]
    async with httpx.AsyncClient(trust_env=False) as http:
        anonymous = await http.get(file["url_private"])
        bot = await http.get(
            file["url_private"], headers={"Authorization": f"Bearer {slack.bot_token}"}
        )
    assert anonymous.status_code == 401
    assert (bot.status_code, bot.content) == (200, b"jpeg bytes")
