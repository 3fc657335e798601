"""python-telegram-bot's own webhook server with a no-op handler: the raw-SDK anchor of
bench/bench_webhook_load.py.

An ``Application`` whose one ``MessageHandler`` does nothing, served by ptb's webhook
server (``Updater.start_webhook``: tornado) on 127.0.0.1, checking the secret token as
junbridge does. ptb answers 200 once the update is parsed and queued, keeping nothing; its
Application then hands the update to the handler. Its Bot API (getMe, setWebhook) is
answered in-process: no network. Prints ``ready`` once listening and runs until killed.

    .venv/bin/python bench/ptb_webhook_server.py PORT URL_PATH SECRET
"""

from __future__ import annotations

import asyncio
import sys

from ptb_api import InProcessBotApi
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

TOKEN = f"{InProcessBotApi.ME['id']}:bench"


async def nothing(_update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """The no-op handler: what ptb costs before any bot logic runs."""


async def serve(port: int, url_path: str, secret: str) -> None:
    """Serve the webhook until the process is killed."""
    answers = {"setWebhook": True, "deleteWebhook": True}
    application = (
        Application.builder()
        .token(TOKEN)
        .request(InProcessBotApi(answers))
        .get_updates_request(InProcessBotApi())
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, nothing))
    async with application:
        assert application.updater is not None
        await application.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path=url_path,
            secret_token=secret,
            webhook_url=f"http://127.0.0.1:{port}/{url_path.lstrip('/')}",
        )
        await application.start()
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
