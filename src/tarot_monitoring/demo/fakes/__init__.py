"""Local fakes of the three outside services the bot calls: OpenAI, the Telegram Bot API, and a
Stripe-shaped payment provider, one module each.

Why: the demo and the test suite must drive real HTTP clients (httpx, aiohttp, python-telegram-bot,
aiogram, Alertmanager's Telegram receiver) through the real URL shapes without reaching the
internet. Each fake is an HTTP server bound to 127.0.0.1 on an ephemeral port, served from a
daemon thread so sync and async clients both work (:mod:`.server`, on
:mod:`tarot_monitoring.http_server`). Faults (latency, a share of failures, requests that are
accepted and never answered) are settable at runtime from Python (:meth:`FakeServer.set_faults`)
or over HTTP (``POST /_fault``), deterministically when a seed or ``fail_every_nth`` is given
(:mod:`.faults`). Requests are counted per route template (``GET /_stats``); the Telegram token
never appears in a count, a log line or an error body.
"""

from tarot_monitoring.demo.fakes.faults import Faults
from tarot_monitoring.demo.fakes.openai import FakeOpenAI
from tarot_monitoring.demo.fakes.payments import FakePayments
from tarot_monitoring.demo.fakes.server import FakeServer
from tarot_monitoring.demo.fakes.services import FakeServices
from tarot_monitoring.demo.fakes.telegram import FakeTelegram

__all__ = [
    "FakeOpenAI",
    "FakePayments",
    "FakeServer",
    "FakeServices",
    "FakeTelegram",
    "Faults",
]
