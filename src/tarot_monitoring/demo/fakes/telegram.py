"""A fake of the Telegram Bot API: ``/bot<TOKEN>/<method>`` with the Bot API's answers and errors.

getMe, sendMessage, answerCallbackQuery, answerPreCheckoutQuery, getUpdates (with long polling),
setWebhook, deleteWebhook and getWebhookInfo; method names are case-insensitive as Telegram's are. Only the
configured token is accepted, and requests are counted as ``/bot{token}/<method>``.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from tarot_monitoring.demo.fakes.faults import Faults
from tarot_monitoring.demo.fakes.server import JSON, FakeServer, RouteHandler, request_params
from tarot_monitoring.http_server import Request, Response

__all__ = ["FakeTelegram", "TelegramError"]

_TOKEN_FORMAT = re.compile(r"(?P<bot_id>\d+):[A-Za-z0-9_-]+")
_TELEGRAM_METHODS = (
    "getMe",
    "sendMessage",
    "answerCallbackQuery",
    "answerPreCheckoutQuery",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
)


class TelegramError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


class FakeTelegram(FakeServer):
    """The Bot API at ``/bot<TOKEN>/<method>``; only the configured token is accepted.

    python-telegram-bot: ``Bot(fake.token, base_url=f"{fake.base_url}/bot")``; aiogram:
    ``session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))``. Messages the bot
    sends are kept in :attr:`sent_messages`; :meth:`push_update` queues what ``getUpdates`` returns.
    """

    service = "telegram"

    def __init__(
        self,
        *,
        token: str = "123456789:AAFakeTelegramTokenForTests_0123456789",
        bot_username: str = "tarot_test_bot",
        port: int = 0,
    ) -> None:
        matched = _TOKEN_FORMAT.fullmatch(token)
        if matched is None:
            raise ValueError("token must look like a Bot API token: '<digits>:<letters, digits, _ or ->'")
        super().__init__(port=port)
        self.token, self.bot_username = token, bot_username
        self.bot_id = int(matched["bot_id"])
        self._sent: list[JSON] = []
        self._pre_checkout_answers: list[JSON] = []
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._updates_changed = threading.Condition()
        self._webhook_url = ""
        self._methods: dict[str, Callable[[JSON], object]] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "answercallbackquery": self._answer_callback_query,
            "answerprecheckoutquery": self._answer_pre_checkout_query,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
        }
        self._canonical = {name.lower(): name for name in _TELEGRAM_METHODS}

    @property
    def api_url(self) -> str:
        """``<base_url>/bot<token>``: prefix of every method URL."""
        return f"{self.base_url}/bot{self.token}"

    @property
    def sent_messages(self) -> list[JSON]:
        """The Message objects returned for every successful sendMessage, oldest first."""
        with self._lock:
            return list(self._sent)

    @property
    def pre_checkout_answers(self) -> list[JSON]:
        """Every accepted answerPreCheckoutQuery as ``{"id": ..., "ok": bool}``, oldest first."""
        with self._lock:
            return list(self._pre_checkout_answers)

    @property
    def webhook_url(self) -> str:
        return self._webhook_url

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue an Update for getUpdates; assigns ``update_id`` when missing and returns it."""
        with self._updates_changed:
            queued = dict(update)
            queued.setdefault("update_id", next(self._update_ids))
            self._updates.append(queued)
            self._updates_changed.notify_all()
            return int(queued["update_id"])

    def push_message(
        self, text: str, *, chat_id: int = 1001, user_id: int = 1001, first_name: str = "Alice"
    ) -> int:
        """Queue a private text message from a user, as Telegram would deliver it."""
        user = {"id": user_id, "is_bot": False, "first_name": first_name}
        message = {
            "message_id": self._next_id(),
            "from": user,
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "date": int(time.time()),
            "text": text,
        }
        return self.push_update({"message": message})

    # -- dispatch ----------------------------------------------------------------------------------

    def _resolve(self, request: Request) -> tuple[str, RouteHandler | None, Mapping[str, str]]:
        parts = request.path.split("/")
        if len(parts) != 3 or parts[0] != "" or not parts[1].startswith("bot") or not parts[2]:
            return "<unmatched>", None, {}
        method = self._canonical.get(parts[2].lower())
        template = f"/bot{{token}}/{method or '{method}'}"
        if request.method not in ("GET", "POST"):
            return template, None, {}
        return template, self._call, {"token": parts[1][3:], "method": method or ""}

    def _call(self, request: Request, path: Mapping[str, str]) -> Response:
        if path["token"] != self.token:
            return self._fail(401, "Unauthorized")
        if not path["method"]:
            return self._fail(404, "Not Found")
        try:
            result = self._methods[path["method"].lower()](request_params(request))
        except TelegramError as exc:
            return self._fail(exc.code, exc.description)
        extra = {}
        if isinstance(result, tuple):
            result, extra = result[0], {"description": result[1]}
        return Response(200, {"ok": True, "result": result, **extra})

    @staticmethod
    def _fail(code: int, description: str, **more: object) -> Response:
        return Response(code, {"ok": False, "error_code": code, "description": description, **more})

    def _injected_failure(self, request: Request, template: str, faults: Faults) -> Response:
        if faults.error_status == 429:
            return self._fail(429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
        return self._fail(faults.error_status, "Internal Server Error")

    def _not_found(self, request: Request) -> Response:
        return self._fail(404, "Not Found")

    def _bad_request(self, message: str) -> Response:
        return self._fail(400, f"Bad Request: {message}")

    # -- methods -------------------------------------------------------------------------------------

    def _bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Tarot Test Bot",
            "username": self.bot_username,
        }

    def _get_me(self, params: JSON) -> object:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _chat(chat_id: object) -> JSON:
        if isinstance(chat_id, str) and chat_id.startswith("@") and len(chat_id) > 1:
            return {"id": -1000000000001, "type": "channel", "title": chat_id[1:], "username": chat_id[1:]}
        try:
            numeric = int(str(chat_id))
        except ValueError:
            raise TelegramError(400, "Bad Request: chat not found") from None
        if numeric > 0:
            return {"id": numeric, "type": "private", "first_name": "User"}
        return {
            "id": numeric,
            "type": "supergroup" if numeric < -1000000000000 else "group",
            "title": "Group",
        }

    def _send_message(self, params: JSON) -> object:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, ""):
            raise TelegramError(400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            raise TelegramError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise TelegramError(400, "Bad Request: message is too long")
        message = {
            "message_id": self._next_id(),
            "from": self._bot_user(),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": text,
        }
        with self._lock:
            self._sent.append(message)
        return message

    def _answer_callback_query(self, params: JSON) -> object:
        if not params.get("callback_query_id"):
            raise TelegramError(400, 'Bad Request: parameter "callback_query_id" is required')
        return True

    def _answer_pre_checkout_query(self, params: JSON) -> object:
        if not params.get("pre_checkout_query_id"):
            raise TelegramError(400, 'Bad Request: parameter "pre_checkout_query_id" is required')
        ok = str(params.get("ok", "")).lower()
        if ok not in ("true", "false"):
            raise TelegramError(400, 'Bad Request: parameter "ok" is required')
        if ok == "false" and not params.get("error_message"):
            raise TelegramError(400, "Bad Request: PRECHECKOUT_ERROR_MESSAGE_EMPTY")
        with self._lock:
            self._pre_checkout_answers.append({"id": params["pre_checkout_query_id"], "ok": ok == "true"})
        return True

    @staticmethod
    def _int_param(params: JSON, name: str, default: int) -> int:
        value = params.get(name, default)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise TelegramError(400, f'Bad Request: invalid parameter "{name}"') from None

    def _get_updates(self, params: JSON) -> object:
        if self._webhook_url:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first",
            )
        offset = self._int_param(params, "offset", 0)
        limit = min(max(self._int_param(params, "limit", 100), 1), 100)
        deadline = time.monotonic() + max(self._int_param(params, "timeout", 0), 0)
        with self._updates_changed:
            if offset:  # confirms every update before it, as the real API does
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._updates_changed.wait(min(left, 0.05))
            return self._updates[:limit]

    def _set_webhook(self, params: JSON) -> object:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise TelegramError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook_url = url
        return True, "Webhook was set" if url else "Webhook was deleted"

    def _delete_webhook(self, params: JSON) -> object:
        was_set, self._webhook_url = bool(self._webhook_url), ""
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            with self._updates_changed:
                self._updates.clear()
        return True, "Webhook was deleted" if was_set else "Webhook is already deleted"

    def _get_webhook_info(self, params: JSON) -> object:
        with self._updates_changed:
            pending = len(self._updates)
        return {"url": self._webhook_url, "has_custom_certificate": False, "pending_update_count": pending}
