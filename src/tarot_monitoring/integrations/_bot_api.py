"""What a Telegram Bot API request looks like, whatever server answers it.

Every Bot API call is ``<server>/bot<TOKEN>/<method>`` (``.../bot<TOKEN>/test/<method>`` in the
test environment, ``<server>/file/bot<TOKEN>/<path>`` for downloads), on api.telegram.org or on a
local Bot API server at any host and port. The token's shape is the scrubber's
``telegram_bot_token`` rule (imported, not copied), so a URL is recognised as a Bot API call by its
path alone: the HTTP integrations tag it ``tarot.dependency=telegram`` and keep the long-poll
``getUpdates`` out of traces without any host setting. A URL whose token was already replaced
by ``[REDACTED]`` (the aiohttp URL filter does that before the span starts) still matches.
"""

from __future__ import annotations

import re
from typing import Final

from tarot_monitoring.scrubbing import DEFAULT_RULES, REDACTED

__all__ = ["is_bot_api_url", "is_long_poll_url", "redact_bot_token"]

_TOKEN_RULE: Final = next(rule for rule in DEFAULT_RULES if rule.name == "telegram_bot_token")
_TOKEN: Final = _TOKEN_RULE.pattern.pattern
_BOT_SEGMENT: Final = rf"/bot(?:{_TOKEN}|{re.escape(REDACTED)})/"
_BOT_API: Final = re.compile(_BOT_SEGMENT)
# Method names are case-insensitive in the Bot API; a trailing query string or slash is allowed.
_LONG_POLL: Final = re.compile(rf"{_BOT_SEGMENT}(?:test/)?(?i:getupdates)/?(?:[?#]|$)")


def is_bot_api_url(url: str) -> bool:
    """True for a Bot API method or file URL, on any server (the token may be redacted already)."""
    return "/bot" in url and _BOT_API.search(url) is not None


def is_long_poll_url(url: str) -> bool:
    """True for a ``getUpdates`` call: the long poll that must not become a trace of its own."""
    return "/bot" in url and _LONG_POLL.search(url) is not None


def redact_bot_token(url: str) -> str:
    """`url` with the bot token replaced by ``[REDACTED]`` (what the exporter gate also does)."""
    return _TOKEN_RULE.pattern.sub(_TOKEN_RULE.replacement, url) if "/bot" in url else url
