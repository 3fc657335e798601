"""What a failed Slack Web API call means: the platform out of reach, or asking to slow down.

Shared by the replies (``slack.delivery_error``) and the members' profiles
(``slack_people``).
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError

# Slack not reached at all (or not in time): nothing was said about the request itself.
UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)


def retry_after(exc: SlackApiError) -> float | None:
    """The seconds a rate-limited call asks to wait (``Retry-After``, 1 if it does not
    say); None if the call was not rate-limited."""
    response = exc.response
    if response.status_code != 429 and response.get("error") != "ratelimited":
        return None
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    try:
        return float(headers.get("retry-after", 1))
    except ValueError:
        return 1.0
