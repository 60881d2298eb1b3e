"""A fake of the Telegram Bot API, enough to drive a real aiogram or python-telegram-bot bot.

URL shapes are Telegram's: ``/bot<TOKEN>/<method>`` (GET or POST; JSON, urlencoded or multipart
bodies, as PTB and aiogram send them) and ``/file/bot<TOKEN>/<file_path>`` for downloads; answers
are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``
with Telegram's descriptions. Method names are case-insensitive as Telegram's are; an unknown
method is Telegram's 404 "Not Found". The methods live in one table, :data:`METHODS` (name to
handler), so adding one is one function and one line.

Updates reach the bot the two ways Telegram offers: ``getUpdates`` long polling (``offset``
confirms, ``timeout`` waits, bounded by :attr:`FakeTelegram.MAX_POLL_TIMEOUT_S`), or, once
``setWebhook`` is called, POSTed to the webhook URL by a delivery thread with the
``X-Telegram-Bot-Api-Secret-Token`` header, retried until the bot answers 2xx, as Telegram does.
One deliberate difference: Telegram accepts only HTTPS webhooks; the fake also accepts plain HTTP
to a loopback address, so a bot's webhook mode can run in tests without certificates.

Tests inject updates with :meth:`FakeTelegram.push_message`, :meth:`~FakeTelegram.push_callback_query`
and :meth:`~FakeTelegram.pay_invoice` (a pre-checkout query; answering it ``ok`` makes the fake
deliver the ``successful_payment`` message, as Telegram does), and assert on :meth:`~FakeTelegram.calls`,
a record of every Bot API call with its decoded parameters (never the token).

One module of about 800 lines, on purpose: it is one concept, Telegram's side of the Bot API,
and most of it is the method table's short functions, each next to the objects it returns.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from tarot_monitoring.demo.fakes.faults import Faults
from tarot_monitoring.demo.fakes.server import JSON, FakeServer, RouteHandler, request_params
from tarot_monitoring.http_server import Request, Response

__all__ = ["METHODS", "BotApiCall", "FakeTelegram", "TelegramError"]

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_WEBHOOK_RETRY_S: Final = (0.1, 0.25, 0.5, 1.0, 2.0)


class TelegramError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, **more: object) -> None:
        super().__init__(description)
        self.code, self.description, self.more = code, description, more


def _bad(description: str) -> TelegramError:
    return TelegramError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class BotApiCall:
    """One Bot API call as the fake decoded it: canonical method name, parameters, what it answered."""

    method: str
    params: JSON
    ok: bool
    result: object = None
    at: float = field(default_factory=time.time)


class FakeTelegram(FakeServer):
    """The Bot API at ``/bot<TOKEN>/<method>``; only the configured token is accepted.

    python-telegram-bot: ``Bot(fake.token, base_url=f"{fake.base_url}/bot")``; aiogram:
    ``session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))``.
    """

    service = "telegram"
    MAX_POLL_TIMEOUT_S: ClassVar[float] = 50.0  # Telegram's own ceiling for getUpdates' timeout

    def __init__(
        self,
        *,
        token: str = "123456789:AAFakeTelegramTokenForTests_0123456789",
        bot_username: str = "tarot_test_bot",
        port: int = 0,
    ) -> None:
        bot_id, sep, secret = token.partition(":")
        if not (bot_id.isdigit() and sep and secret and all(c.isalnum() or c in "_-" for c in secret)):
            raise ValueError("token must look like a Bot API token: '<digits>:<letters, digits, _ or ->'")
        super().__init__(port=port)
        self.token, self.bot_username, self.bot_id = token, bot_username, int(bot_id)
        self._calls: list[BotApiCall] = []
        self._sent: list[JSON] = []
        self._messages: dict[tuple[int, int], JSON] = {}
        self._files: dict[str, tuple[str, bytes | None]] = {}  # file_id -> (file_path, content)
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._charges: dict[str, bool] = {}  # telegram_payment_charge_id -> refunded
        self._pre_checkouts: dict[str, JSON] = {}
        self._invoice_payloads: dict[int, str] = {}  # message_id of an invoice -> its payload
        self._commands: list[JSON] = []
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._changed = threading.Condition()  # guards updates, webhook and calls; wakes pollers
        self._webhook: JSON = {}
        self._webhook_thread: threading.Thread | None = None

    # -- addresses and records -----------------------------------------------------------------------

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
    def webhook_url(self) -> str:
        return str(self._webhook.get("url", ""))

    @property
    def commands(self) -> list[JSON]:
        """What the last setMyCommands set."""
        with self._lock:
            return list(self._commands)

    def calls(self, method: str | None = None) -> list[BotApiCall]:
        """Every Bot API call so far (or those of `method`), oldest first."""
        with self._changed:
            return [c for c in self._calls if method is None or c.method.lower() == method.lower()]

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[BotApiCall], bool] = lambda call: True,
        *,
        timeout_s: float = 10.0,
    ) -> BotApiCall:
        """The first successful call of `method` matching `predicate`, waited for up to `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for call in self._calls:
                    if call.ok and call.method.lower() == method.lower() and predicate(call):
                        return call
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({c.method for c in self._calls})
                    raise TimeoutError(f"no {method} call within {timeout_s:.0f}s; methods called: {seen}")
                self._changed.wait(min(left, 0.1))

    # -- injecting updates ---------------------------------------------------------------------------

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue an Update for getUpdates or the webhook; assigns ``update_id`` when missing, returns it."""
        with self._changed:
            queued = dict(update)
            queued.setdefault("update_id", next(self._update_ids))
            self._updates.append(queued)
            self._changed.notify_all()
            return int(queued["update_id"])

    def _user(
        self, user_id: int, first_name: str, username: str | None, last_name: str | None = None
    ) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        with self._lock:
            self._users[user_id] = user
            self._chats.setdefault(user_id, {"id": user_id, "type": "private", "first_name": first_name})
        return user

    def push_message(
        self,
        text: str,
        *,
        chat_id: int = 1001,
        user_id: int = 1001,
        first_name: str = "Alice",
        last_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """Queue a private text message from a user (a ``/command`` gets its bot_command entity)."""
        message = self._incoming(user_id, first_name, username, chat_id, last_name)
        message["text"] = text
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
        return self.push_update({"message": message})

    def _incoming(
        self, user_id: int, first_name: str, username: str | None, chat_id: int, last_name: str | None = None
    ) -> JSON:
        user = self._user(user_id, first_name, username, last_name)
        with self._lock:
            chat = self._chats.get(chat_id) or {"id": chat_id, "type": "private", "first_name": first_name}
        return {"message_id": self._next_id(), "from": user, "chat": chat, "date": int(time.time())}

    def push_callback_query(
        self, message: Mapping[str, Any], data: str, *, user_id: int | None = None
    ) -> int:
        """Queue a press on an inline button of `message` (one the bot sent) carrying `data`."""
        chat_id = int(message["chat"]["id"])
        uid = user_id if user_id is not None else chat_id
        with self._lock:
            user = self._users.get(uid) or {"id": uid, "is_bot": False, "first_name": "User"}
        query = {
            "id": str(self._next_id() * 1000 + 7),
            "from": user,
            "message": dict(message),
            "chat_instance": str(-abs(chat_id) * 31),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def pay_invoice(self, invoice_message: Mapping[str, Any], *, user_id: int | None = None) -> int:
        """Queue the pre-checkout query of a user paying `invoice_message` (a sendInvoice result).

        When the bot answers it with ``ok``, the fake delivers the ``successful_payment`` message,
        as Telegram does; its ``telegram_payment_charge_id`` can then be refunded.
        """
        invoice = invoice_message["invoice"]
        chat_id = int(invoice_message["chat"]["id"])
        uid = user_id if user_id is not None else chat_id
        with self._lock:
            user = self._users.get(uid) or {"id": uid, "is_bot": False, "first_name": "User"}
            payload = self._invoice_payloads.get(int(invoice_message["message_id"]))
        if payload is None:
            raise ValueError(f"message {invoice_message['message_id']} is not an invoice this fake sent")
        query = {
            "id": str(self._next_id() * 1000 + 11),
            "from": user,
            "currency": invoice["currency"],
            "total_amount": invoice["total_amount"],
            "invoice_payload": payload,
        }
        self.expect_pre_checkout_query(query, chat_id=chat_id)
        return self.push_update({"pre_checkout_query": query})

    def expect_pre_checkout_query(self, query: Mapping[str, Any], *, chat_id: int) -> None:
        """Make `query` (a ``pre_checkout_query`` object a test feeds the bot itself) answerable."""
        with self._lock:
            self._pre_checkouts[str(query["id"])] = {**query, "chat_id": chat_id}

    # -- dispatch --------------------------------------------------------------------------------------

    def _resolve(self, request: Request) -> tuple[str, RouteHandler | None, Mapping[str, str]]:
        parts = request.path.split("/")
        if len(parts) >= 4 and parts[:2] == ["", "file"] and parts[2].startswith("bot"):
            if request.method != "GET":
                return "/file/bot{token}/{path}", None, {}
            file_path = "/".join(parts[3:])
            return "/file/bot{token}/{path}", self._download, {"token": parts[2][3:], "path": file_path}
        if len(parts) != 3 or parts[0] != "" or not parts[1].startswith("bot") or not parts[2]:
            return "<unmatched>", None, {}
        method = _CANONICAL.get(parts[2].lower())
        template = f"/bot{{token}}/{method or '{method}'}"
        if request.method not in ("GET", "POST"):
            return template, None, {}
        return template, self._call, {"token": parts[1][3:], "method": method or ""}

    def _call(self, request: Request, path: Mapping[str, str]) -> Response:
        if path["token"] != self.token:
            return self._fail(401, "Unauthorized")
        method = path["method"]
        if not method:
            return self._fail(404, "Not Found")
        params = request_params(request)
        try:
            result = METHODS[method](self, params)
        except TelegramError as exc:
            self._record(BotApiCall(method, params, ok=False, result=exc.description))
            return self._fail(exc.code, exc.description, **exc.more)
        extra = {}
        if isinstance(result, tuple):
            result, extra = result[0], {"description": result[1]}
        self._record(BotApiCall(method, params, ok=True, result=result))
        return Response(200, {"ok": True, "result": result, **extra})

    def _record(self, call: BotApiCall) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def _download(self, request: Request, path: Mapping[str, str]) -> Response:
        if path["token"] != self.token:
            return self._fail(401, "Unauthorized")
        with self._lock:
            content = next((data for fp, data in self._files.values() if fp == path["path"]), None)
        if content is None:
            return self._fail(404, "Not Found")
        return Response(200, content)

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

    def stop(self) -> None:
        super().stop()
        with self._changed:
            self._changed.notify_all()
        thread, self._webhook_thread = self._webhook_thread, None
        if thread is not None:
            thread.join(timeout=5)

    # -- objects -----------------------------------------------------------------------------------

    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Tarot Test Bot",
            "username": self.bot_username,
        }

    def _chat(self, chat_id: object) -> JSON:
        if chat_id in (None, ""):
            raise _bad("chat_id is empty")
        if isinstance(chat_id, str) and chat_id.startswith("@") and len(chat_id) > 1:
            return {"id": -1000000000001, "type": "channel", "title": chat_id[1:], "username": chat_id[1:]}
        try:
            numeric = int(str(chat_id))
        except ValueError:
            raise _bad("chat not found") from None
        with self._lock:
            known = self._chats.get(numeric)
        if known is not None:
            return dict(known)
        if numeric > 0:
            return {"id": numeric, "type": "private", "first_name": "User"}
        return {
            "id": numeric,
            "type": "supergroup" if numeric < -1000000000000 else "group",
            "title": "Group",
        }

    def _new_message(self, params: JSON, **content: object) -> JSON:
        message: JSON = {
            "message_id": self._next_id(),
            "from": self.bot_user(),
            "chat": self._chat(params.get("chat_id")),
            "date": int(time.time()),
            **content,
        }
        _set_markup(message, _json_param(params, "reply_markup"))  # Telegram echoes only inline keyboards
        with self._lock:
            self._messages[(message["chat"]["id"], message["message_id"])] = message
        return message

    def _stored(self, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        message_id = _int_param(params, "message_id", required=True)
        with self._lock:
            message = self._messages.get((chat["id"], message_id))
        if message is None:
            raise _bad("message to edit not found")
        return message


def _int_param(params: JSON, name: str, default: int = 0, *, required: bool = False) -> int:
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise _bad(f'parameter "{name}" is required')
        return default
    try:
        return int(str(value))
    except ValueError:
        raise _bad(f'invalid parameter "{name}"') from None


def _bool_param(params: JSON, name: str, default: bool = False) -> bool:
    value = params.get(name, default)
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1")


def _json_param(params: JSON, name: str) -> object:
    """A parameter Telegram takes as JSON: an object in a JSON body, serialized text in a form."""
    value = params.get(name)
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {name} JSON object") from None
    return value


def _text(params: JSON, name: str = "text", *, limit: int = 4096) -> str:
    text = params.get(name)
    if not isinstance(text, str) or not text.strip():
        raise _bad("message text is empty")
    if len(text) > limit:
        raise _bad("message is too long")
    return text


# -- the methods: one function each, (fake, params) -> result ------------------------------------------


def _get_me(fake: FakeTelegram, params: JSON) -> object:
    return {
        **fake.bot_user(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def _get_updates(fake: FakeTelegram, params: JSON) -> object:
    offset = _int_param(params, "offset")
    limit = min(max(_int_param(params, "limit", 100), 1), 100)
    timeout = min(max(_int_param(params, "timeout"), 0), fake.MAX_POLL_TIMEOUT_S)
    deadline = time.monotonic() + timeout
    with fake._changed:
        if fake._webhook:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first",
            )
        if offset:  # confirms every update before it, as the real API does
            fake._updates = [u for u in fake._updates if u["update_id"] >= offset]
        while not fake._updates and not fake._stopping.is_set() and not fake._webhook:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            fake._changed.wait(min(left, 0.05))
        return list(fake._updates[:limit])


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _set_webhook(fake: FakeTelegram, params: JSON) -> object:
    url = str(params.get("url") or "")
    if url:
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname)):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
    secret = str(params.get("secret_token") or "")
    if len(secret) > 256 or not all(c.isalnum() or c in "_-" for c in secret):
        raise _bad("secret token contains unallowed characters")
    with fake._changed:
        if _bool_param(params, "drop_pending_updates"):
            fake._updates.clear()
        fake._webhook = {"url": url, "secret_token": secret} if url else {}
        fake._changed.notify_all()
        if url and fake._webhook_thread is None:
            fake._webhook_thread = threading.Thread(
                target=_deliver_to_webhook, args=(fake,), name="fake-telegram-webhook", daemon=True
            )
            fake._webhook_thread.start()
    return True, "Webhook was set" if url else "Webhook was deleted"


def _deliver_to_webhook(fake: FakeTelegram) -> None:
    """POST queued updates to the webhook one at a time, retried until a 2xx, as Telegram does."""
    failures = 0
    while not fake._stopping.is_set():
        with fake._changed:
            while not (fake._webhook and fake._updates) and not fake._stopping.is_set():
                fake._changed.wait(0.1)
            if fake._stopping.is_set():
                return
            hook, update = dict(fake._webhook), fake._updates[0]
        request = urllib.request.Request(
            hook["url"], data=json.dumps(update).encode(), headers={"Content-Type": "application/json"}
        )
        if hook["secret_token"]:
            request.add_header("X-Telegram-Bot-Api-Secret-Token", hook["secret_token"])
        error = ""
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            error = f"Wrong response from the webhook: {exc.code} {exc.reason}"
        except OSError as exc:
            error = f"Connection refused: {exc}"
        with fake._changed:
            if not error:
                failures = 0
                fake._updates = [u for u in fake._updates if u is not update]
                fake._changed.notify_all()
                continue
            fake._webhook.update(last_error_date=int(time.time()), last_error_message=error)
        time.sleep(_WEBHOOK_RETRY_S[min(failures, len(_WEBHOOK_RETRY_S) - 1)])
        failures += 1


def _delete_webhook(fake: FakeTelegram, params: JSON) -> object:
    with fake._changed:
        was_set, fake._webhook = bool(fake._webhook), {}
        if _bool_param(params, "drop_pending_updates"):
            fake._updates.clear()
        fake._changed.notify_all()
    return True, "Webhook was deleted" if was_set else "Webhook is already deleted"


def _get_webhook_info(fake: FakeTelegram, params: JSON) -> object:
    with fake._changed:
        info: JSON = {
            "url": fake._webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(fake._updates),
        }
        for key in ("last_error_date", "last_error_message"):
            if key in fake._webhook:
                info[key] = fake._webhook[key]
        if fake._webhook:
            info["max_connections"] = 40
    return info


def _send_message(fake: FakeTelegram, params: JSON) -> object:
    message = fake._new_message(params, text=_text(params))
    with fake._lock:
        fake._sent.append(message)
    return message


def _photo(fake: FakeTelegram, params: JSON) -> list[JSON]:
    photo = params.get("photo")
    if isinstance(photo, str) and photo.startswith("attach://"):
        photo = params.get(photo.removeprefix("attach://"))
    if isinstance(photo, bytes):
        content: bytes | None = photo
    elif isinstance(photo, str) and photo.startswith(("http://", "https://")):
        content = None
    elif isinstance(photo, str) and photo in fake._files:
        return [{"file_id": photo, "file_unique_id": f"u{photo}", "width": 800, "height": 800}]
    else:
        raise _bad(
            "wrong file identifier/HTTP URL specified" if photo else "there is no photo in the request"
        )
    sizes = []
    for width in (90, 320, 800):
        number = fake._next_id()
        file_id = f"AgACAgIAAxkBAAI{number:08d}"
        with fake._lock:
            fake._files[file_id] = (f"photos/file_{number}.jpg", content)
        size: JSON = {
            "file_id": file_id,
            "file_unique_id": f"AQAD{number:08d}",
            "width": width,
            "height": width,
        }
        if content is not None:
            size["file_size"] = len(content)
        sizes.append(size)
    return sizes


def _send_photo(fake: FakeTelegram, params: JSON) -> object:
    content: JSON = {"photo": _photo(fake, params)}
    if params.get("caption"):
        content["caption"] = _text(params, "caption", limit=1024)
    return fake._new_message(params, **content)


def _get_file(fake: FakeTelegram, params: JSON) -> object:
    file_id = str(params.get("file_id") or "")
    with fake._lock:
        stored = fake._files.get(file_id)
    if stored is None:
        raise _bad("invalid file_id")
    result: JSON = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_path": stored[0]}
    if stored[1] is not None:
        result["file_size"] = len(stored[1])
    return result


def _send_chat_action(fake: FakeTelegram, params: JSON) -> object:
    fake._chat(params.get("chat_id"))
    if params.get("action") not in _CHAT_ACTIONS:
        raise _bad("wrong parameter action in request")
    return True


def _edit_message_text(fake: FakeTelegram, params: JSON) -> object:
    text = _text(params)
    if params.get("inline_message_id"):
        return True
    message = fake._stored(params)
    markup = _json_param(params, "reply_markup")
    if message.get("text") == text and message.get("reply_markup") == _without_nulls(markup):
        raise _bad(
            "message is not modified: specified new message content and reply markup are exactly the same "
            "as a current content and reply markup of the message"
        )
    with fake._lock:
        message["text"], message["edit_date"] = text, int(time.time())
        _set_markup(message, markup)
        return dict(message)


def _without_nulls(value: object) -> object:
    """What Telegram echoes of an object the bot sent: fields given as null are left out."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _set_markup(message: JSON, markup: object) -> None:
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        message["reply_markup"] = _without_nulls(markup)
    else:
        message.pop("reply_markup", None)


def _edit_message_reply_markup(fake: FakeTelegram, params: JSON) -> object:
    if params.get("inline_message_id"):
        return True
    message = fake._stored(params)
    markup = _json_param(params, "reply_markup")
    if message.get("reply_markup") == _without_nulls(markup) or (
        markup in (None, "") and "reply_markup" not in message
    ):
        raise _bad(
            "message is not modified: specified new message content and reply markup are exactly the same"
        )
    with fake._lock:
        message["edit_date"] = int(time.time())
        _set_markup(message, markup)
        return dict(message)


def _delete_message(fake: FakeTelegram, params: JSON) -> object:
    chat = fake._chat(params.get("chat_id"))
    key = (chat["id"], _int_param(params, "message_id", required=True))
    with fake._lock:
        if fake._messages.pop(key, None) is None:
            raise _bad("message to delete not found")
    return True


def _answer_callback_query(fake: FakeTelegram, params: JSON) -> object:
    if not params.get("callback_query_id"):
        raise _bad('parameter "callback_query_id" is required')
    if len(str(params.get("text") or "")) > 200:
        raise _bad("MESSAGE_TOO_LONG")
    return True


def _send_invoice(fake: FakeTelegram, params: JSON) -> object:
    for name in ("title", "description", "payload", "currency"):
        if not params.get(name):
            raise _bad(f'parameter "{name}" is required')
    prices = _json_param(params, "prices")
    if not isinstance(prices, list) or not prices or not all(isinstance(p, dict) for p in prices):
        raise _bad("can't parse prices JSON object")
    currency = str(params["currency"])
    if currency == "XTR" and (len(prices) != 1 or params.get("provider_token")):
        raise _bad("CURRENCY_TOTAL_AMOUNT_INVALID" if len(prices) != 1 else "PAYMENT_PROVIDER_INVALID")
    if currency != "XTR" and not params.get("provider_token"):
        raise _bad("PAYMENT_PROVIDER_INVALID")
    try:
        total = sum(int(p["amount"]) for p in prices)
    except (KeyError, TypeError, ValueError):
        raise _bad("can't parse prices JSON object") from None
    if total <= 0:
        raise _bad("CURRENCY_TOTAL_AMOUNT_INVALID")
    invoice = {
        "title": str(params["title"]),
        "description": str(params["description"]),
        "start_parameter": str(params.get("start_parameter") or ""),
        "currency": currency,
        "total_amount": total,
    }
    message = fake._new_message(params, invoice=invoice)
    with fake._lock:
        fake._invoice_payloads[message["message_id"]] = str(params["payload"])
    return message


def _answer_pre_checkout_query(fake: FakeTelegram, params: JSON) -> object:
    query_id = str(params.get("pre_checkout_query_id") or "")
    ok = _bool_param(params, "ok")
    if not ok and not params.get("error_message"):
        raise _bad("error_message is required when ok is false")
    with fake._lock:
        query = fake._pre_checkouts.pop(query_id, None)
    if query is None:
        raise _bad("query is too old and response timeout expired or query ID is invalid")
    if ok:
        charge = f"stxFake{fake._next_id():012d}"
        with fake._lock:
            fake._charges[charge] = False
        message: JSON = {
            "message_id": fake._next_id(),
            "from": query["from"],
            "chat": fake._chat(query["chat_id"]),
            "date": int(time.time()),
        }
        message["successful_payment"] = {
            "currency": query["currency"],
            "total_amount": query["total_amount"],
            "invoice_payload": query["invoice_payload"],
            "telegram_payment_charge_id": charge,
            "provider_payment_charge_id": "" if query["currency"] == "XTR" else f"ch_fake{charge}",
        }
        fake.push_update({"message": message})
    return True


def _refund_star_payment(fake: FakeTelegram, params: JSON) -> object:
    _int_param(params, "user_id", required=True)
    charge = str(params.get("telegram_payment_charge_id") or "")
    with fake._lock:
        refunded = fake._charges.get(charge)
        if refunded is None:
            raise _bad("CHARGE_NOT_FOUND")
        if refunded:
            raise _bad("CHARGE_ALREADY_REFUNDED")
        fake._charges[charge] = True
    return True


def _set_my_commands(fake: FakeTelegram, params: JSON) -> object:
    commands = _json_param(params, "commands")
    if not isinstance(commands, list) or not all(
        isinstance(c, dict) and c.get("command") and c.get("description") for c in commands
    ):
        raise _bad("can't parse commands JSON object")
    with fake._lock:
        fake._commands = [{"command": c["command"], "description": c["description"]} for c in commands]
    return True


def _get_my_commands(fake: FakeTelegram, params: JSON) -> object:
    return fake.commands


def _delete_my_commands(fake: FakeTelegram, params: JSON) -> object:
    with fake._lock:
        fake._commands = []
    return True


def _log_out_or_close(fake: FakeTelegram, params: JSON) -> object:
    return True


METHODS: Final[Mapping[str, Callable[[FakeTelegram, JSON], object]]] = {
    "answerCallbackQuery": _answer_callback_query,
    "answerPreCheckoutQuery": _answer_pre_checkout_query,
    "close": _log_out_or_close,
    "deleteMessage": _delete_message,
    "deleteMyCommands": _delete_my_commands,
    "deleteWebhook": _delete_webhook,
    "editMessageReplyMarkup": _edit_message_reply_markup,
    "editMessageText": _edit_message_text,
    "getFile": _get_file,
    "getMe": _get_me,
    "getMyCommands": _get_my_commands,
    "getUpdates": _get_updates,
    "getWebhookInfo": _get_webhook_info,
    "logOut": _log_out_or_close,
    "refundStarPayment": _refund_star_payment,
    "sendChatAction": _send_chat_action,
    "sendInvoice": _send_invoice,
    "sendMessage": _send_message,
    "sendPhoto": _send_photo,
    "setMyCommands": _set_my_commands,
    "setWebhook": _set_webhook,
}
"""Every Bot API method the fake answers, by Telegram's name; one line per method."""
_CANONICAL: Final = {name.lower(): name for name in METHODS}
