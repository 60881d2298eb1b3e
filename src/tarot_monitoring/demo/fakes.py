"""Local fakes of the three outside services the bot calls: OpenAI, the Telegram Bot API, and a
Stripe-shaped payment provider.

Why: the demo and the test suite must drive real HTTP clients (httpx, aiohttp, python-telegram-bot,
aiogram, Alertmanager's Telegram receiver) through the real URL shapes without reaching the
internet. Each fake is a stdlib HTTP server bound to 127.0.0.1 on an ephemeral port, served from a
daemon thread so sync and async clients both work. Faults (latency, a share of failures, requests
that are accepted and never answered) are settable at runtime from Python (:meth:`FakeServer.set_faults`)
or over HTTP (``POST /_fault``), deterministically when a seed or ``fail_every_nth`` is given.
Requests are counted per route template (``GET /_stats``); the Telegram token never appears in a
count, a log line or an error body.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import math
import random
import re
import socket
import socketserver
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = [
    "FakeOpenAI",
    "FakePayments",
    "FakeServer",
    "FakeServices",
    "FakeTelegram",
    "Faults",
]

JSON = dict[str, Any]
LOOPBACK = "127.0.0.1"

# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Faults:
    """What a fake does wrong, applied to every request after it is counted.

    ``error_rate`` is drawn from ``random.Random(seed)`` (reproducible when ``seed`` is set);
    ``fail_every_nth`` overrides it and fails exactly requests N, 2N, ... after the faults were set.
    Injected failures answer ``error_status`` (429 or 5xx) in the service's own error shape; on the
    payment fake ``decline=True`` turns them into card declines on payment-intent creation and
    confirmation. ``hang`` accepts the request and never answers until the faults change or the
    fake stops, when the connection is closed without a response.
    """

    latency_s: float = 0.0
    error_rate: float = 0.0
    fail_every_nth: int = 0
    seed: int | None = None
    hang: bool = False
    error_status: int = 500
    decline: bool = False

    def __post_init__(self) -> None:
        def number(name: str, value: object) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"fault {name!r} must be a finite number, got {value!r}")
            return float(value)

        def integer(name: str, value: object) -> int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"fault {name!r} must be an integer, got {value!r}")
            return value

        if number("latency_s", self.latency_s) < 0:
            raise ValueError(f"fault 'latency_s' must be >= 0, got {self.latency_s!r}")
        if not 0.0 <= number("error_rate", self.error_rate) <= 1.0:
            raise ValueError(f"fault 'error_rate' must be between 0 and 1, got {self.error_rate!r}")
        if integer("fail_every_nth", self.fail_every_nth) < 0:
            raise ValueError(f"fault 'fail_every_nth' must be >= 0, got {self.fail_every_nth!r}")
        if self.seed is not None:
            integer("seed", self.seed)
        status = integer("error_status", self.error_status)
        if status != 429 and not 500 <= status <= 599:
            raise ValueError(f"fault 'error_status' must be 429 or 5xx, got {status!r}")
        for name in ("hang", "decline"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"fault {name!r} must be true or false, got {getattr(self, name)!r}")

    @classmethod
    def from_mapping(cls, data: object) -> Faults:
        """Build faults from a decoded ``POST /_fault`` body; unknown keys are an error."""
        if not isinstance(data, dict):
            raise ValueError(f"fault settings must be a JSON object, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; known: {known}")
        return cls(**data)

    @property
    def any(self) -> bool:
        """Whether any fault is active."""
        return self != Faults()


# ---------------------------------------------------------------------------------------------
# Requests, responses and the HTTP plumbing
# ---------------------------------------------------------------------------------------------


class BadBody(ValueError):
    """The request body could not be decoded as its Content-Type says."""


@dataclass(frozen=True)
class Request:
    """One decoded HTTP request as the fakes see it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str:
        """Header value by case-insensitive name, or ``""``."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), "")

    def params(self) -> JSON:
        """Query string merged with the body: JSON object, urlencoded form or multipart form."""
        merged: JSON = dict(self.query)
        if not self.body:
            return merged
        content_type = self.header("Content-Type")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type == "application/json":
            try:
                decoded = json.loads(self.body)
            except ValueError as exc:
                raise BadBody(f"request body is not valid JSON: {exc}") from None
            if not isinstance(decoded, dict):
                raise BadBody("request body must be a JSON object")
            merged.update(decoded)
        elif media_type == "multipart/form-data":
            merged.update(_parse_multipart(content_type, self.body))
        else:  # urlencoded, also what clients send without a Content-Type
            try:
                text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadBody("form body is not UTF-8") from None
            merged.update(urllib.parse.parse_qsl(text, keep_blank_values=True))
        return merged


def _parse_multipart(content_type: str, body: bytes) -> JSON:
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    parser = email.parser.BytesParser(_class=EmailMessage, policy=email.policy.HTTP)
    message = parser.parsebytes(head + body)
    if not message.is_multipart():
        raise BadBody("multipart body could not be parsed (missing boundary?)")
    out: JSON = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise BadBody("multipart part without a name")
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        out[name] = raw if part.get_filename() else raw.decode(part.get_content_charset() or "utf-8")
    return out


@dataclass(frozen=True)
class Response:
    """A JSON answer: status, body, extra headers."""

    status: int
    body: object
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Request, Mapping[str, str]], Response]


@dataclass(frozen=True)
class Route:
    """``template`` is what requests are counted under; ``pattern`` matches the path."""

    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Keep-alive connections would make server_close() wait for clients; stop() closes them instead.
    block_on_close = False
    # socketserver's listen backlog of 5 drops the SYNs of a burst of new connections, and each
    # dropped one costs the client a 1 s retransmit: latency that is the fake's, not the bot's.
    request_queue_size = 128

    def __init__(self, fake: FakeServer, port: int) -> None:
        self.fake = fake
        super().__init__((LOOPBACK, port), _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup we neither need nor want.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = LOOPBACK, self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, stop()) are normal here; anything else is printed."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would add ~40 ms
    timeout = 60  # an idle keep-alive connection is dropped after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        self.server.fake._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the default prints the request line, and Telegram's carries the bot token."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        split = urllib.parse.urlsplit(self.path)
        request = Request(
            method=self.command,
            path=urllib.parse.unquote(split.path),
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            headers=dict(self.headers.items()),
            body=self._read_body(),
        )
        response = self.server.fake._dispatch(request)
        if response is None:  # hung, then released: close without a word
            self.close_connection = True
            return
        payload = json.dumps(response.body).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


# ---------------------------------------------------------------------------------------------
# The common server
# ---------------------------------------------------------------------------------------------


class FakeServer:
    """A fake outside service on ``127.0.0.1``; use ``with Fake() as fake:`` or start()/stop()."""

    service: ClassVar[str] = "fake"

    def __init__(self, *, port: int = 0) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port!r}")
        self._port = port
        self._lock = threading.Lock()
        self._faults = Faults()
        self._generation = 0
        self._rng = random.Random()
        self._eligible = 0
        self._counts: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._routes: list[Route] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self so ``fake = FakeX().start()`` reads well."""
        if self._server is not None:
            raise RuntimeError(f"fake {self.service} is already running at {self.base_url}")
        self._stopping.clear()
        self._server = _Server(self, self._port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{self.service}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hung requests and close open connections. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"fake {self.service} is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` with no trailing slash."""
        return f"http://{LOOPBACK}:{self.port}"

    # -- faults and counts -------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, faults: Faults | None = None, /, **changes: Any) -> Faults:
        """Replace the faults (``set_faults()`` clears them); keyword arguments build a `Faults`."""
        if faults is not None and changes:
            raise TypeError("pass either a Faults object or keyword arguments, not both")
        new = faults if faults is not None else Faults(**changes)
        with self._lock:
            self._faults = new
            self._generation += 1
            self._rng = random.Random(new.seed)
            self._eligible = 0
        return new

    def clear_faults(self) -> None:
        self.set_faults()

    def request_counts(self) -> dict[str, int]:
        """Requests seen per ``"<METHOD> <route template>"``, e.g. ``"POST /bot{token}/sendMessage"``."""
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    # -- dispatch ----------------------------------------------------------------------------------

    def _next_id(self) -> int:
        return next(self._ids)

    def _add_route(self, method: str, template: str, regex: str, handler: Handler) -> None:
        self._routes.append(Route(method, template, re.compile(regex), handler))

    def _resolve(self, request: Request) -> tuple[str, Handler | None, Mapping[str, str]]:
        """The route template for counting, its handler (None: not found) and path parameters."""
        for route in self._routes:
            matched = route.pattern.fullmatch(request.path)
            if matched and route.method == request.method:
                return route.template, route.handler, matched.groupdict()
        return "<unmatched>", None, {}

    def _dispatch(self, request: Request) -> Response | None:
        if request.path == "/_fault":
            return self._control_faults(request)
        if request.path == "/_stats" and request.method == "GET":
            return Response(200, {"service": self.service, "requests": self.request_counts()})
        template, handler, path_params = self._resolve(request)
        with self._lock:
            self._counts[f"{request.method} {template}"] += 1
            faults, generation = self._faults, self._generation
        if faults.hang:
            while not self._stopping.wait(0.02):
                if self._generation != generation:
                    break
            return None
        if faults.latency_s > 0:
            self._stopping.wait(faults.latency_s)
        if handler is None:
            return self._not_found(request)
        if self._fault_applies(template, faults) and self._draw_failure(faults):
            return self._injected_failure(request, template, faults)
        try:
            return handler(request, path_params)
        except BadBody as exc:
            return self._bad_request(str(exc))

    def _draw_failure(self, faults: Faults) -> bool:
        with self._lock:
            self._eligible += 1
            if faults.fail_every_nth:
                return self._eligible % faults.fail_every_nth == 0
            return faults.error_rate > 0 and self._rng.random() < faults.error_rate

    def _control_faults(self, request: Request) -> Response:
        if request.method == "GET":
            return Response(200, asdict(self._faults))
        if request.method != "POST":
            return Response(405, {"error": "use GET or POST on /_fault"})
        try:
            data = json.loads(request.body or b"{}")
            faults = self.set_faults(Faults.from_mapping(data))
        except (ValueError, TypeError) as exc:
            return Response(400, {"error": str(exc)})
        return Response(200, asdict(faults))

    # -- per-service shapes, overridden --------------------------------------------------------------

    def _fault_applies(self, template: str, faults: Faults) -> bool:
        return True

    def _injected_failure(self, request: Request, template: str, faults: Faults) -> Response:
        return Response(faults.error_status, {"error": "injected failure"})

    def _not_found(self, request: Request) -> Response:
        return Response(404, {"error": "not found"})

    def _bad_request(self, message: str) -> Response:
        return Response(400, {"error": message})


def _bearer(request: Request) -> str | None:
    """The Bearer token, or the Basic-auth username (Stripe's other form), or None."""
    import base64

    scheme, _, credentials = request.header("Authorization").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if scheme.lower() == "basic" and credentials.strip():
        try:
            return base64.b64decode(credentials.strip()).decode().partition(":")[0] or None
        except ValueError:
            return None
    return None


def _approx_tokens(text: str) -> int:
    """OpenAI's rule of thumb (about four characters a token), so usage grows with the text."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


# ---------------------------------------------------------------------------------------------
# OpenAI
# ---------------------------------------------------------------------------------------------

_OPENAI_ERRORS: Mapping[int, tuple[str, str, str | None]] = {
    429: ("Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


class FakeOpenAI(FakeServer):
    """OpenAI's REST API: ``POST /v1/chat/completions``, ``GET /v1/models[/{model}]``.

    Point the client at ``f"{fake.base_url}/v1"`` with ``api_key=fake.api_key``.
    """

    service = "openai"
    DEFAULT_MODELS: ClassVar[tuple[str, ...]] = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1")
    DEFAULT_REPLY: ClassVar[str] = (
        "The Star, upright: after a hard season, hope returns. Trust the slow work you have begun."
    )

    def __init__(
        self,
        *,
        api_key: str = "sk-fake-openai-key-for-tests",
        models: tuple[str, ...] = DEFAULT_MODELS,
        reply: str = DEFAULT_REPLY,
        port: int = 0,
    ) -> None:
        if not api_key.startswith("sk-"):
            raise ValueError("api_key must start with 'sk-' like OpenAI's keys")
        if not models:
            raise ValueError("models must name at least one model")
        super().__init__(port=port)
        self.api_key, self.models, self.reply = api_key, models, reply
        self._created = int(time.time())
        self._add_route("POST", "/v1/chat/completions", r"/v1/chat/completions", self._chat_completions)
        self._add_route("GET", "/v1/models", r"/v1/models", self._list_models)
        self._add_route("GET", "/v1/models/{model}", r"/v1/models/(?P<model>[^/]+)", self._get_model)

    @staticmethod
    def _error(
        status: int, message: str, type_: str, *, code: str | None = None, param: str | None = None
    ) -> Response:
        body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        return Response(status, body, (("x-request-id", f"req_{time.time_ns():x}"),))

    def _auth_error(self, request: Request) -> Response | None:
        key = _bearer(request)
        if key is None:
            return self._error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
            )
        if key != self.api_key:
            return self._error(
                401,
                "Incorrect API key provided: sk-****. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                code="invalid_api_key",
            )
        return None

    def _model_object(self, model: str) -> JSON:
        return {"id": model, "object": "model", "created": self._created, "owned_by": "system"}

    def _list_models(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._auth_error(request) or Response(
            200, {"object": "list", "data": [self._model_object(m) for m in self.models]}
        )

    def _get_model(self, request: Request, path: Mapping[str, str]) -> Response:
        if denied := self._auth_error(request):
            return denied
        if path["model"] not in self.models:
            return self._model_not_found(path["model"])
        return Response(200, self._model_object(path["model"]))

    def _model_not_found(self, model: str) -> Response:
        return self._error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            code="model_not_found",
        )

    def _chat_completions(self, request: Request, path: Mapping[str, str]) -> Response:
        if denied := self._auth_error(request):
            return denied
        if request.header("Content-Type").split(";")[0].strip().lower() != "application/json":
            return self._bad_request(
                "Unsupported content type. Send a JSON body with Content-Type: application/json."
            )
        params = request.params()
        model, messages = params.get("model"), params.get("messages")
        if not model:
            return self._error(400, "you must provide a model parameter", "invalid_request_error")
        if messages is None:
            return self._error(
                400,
                "Missing required parameter: 'messages'.",
                "invalid_request_error",
                code="missing_required_parameter",
                param="messages",
            )
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return self._error(
                400,
                "Invalid 'messages': expected a non-empty array of message objects.",
                "invalid_request_error",
                code="invalid_value",
                param="messages",
            )
        if str(model) not in self.models:
            return self._model_not_found(str(model))
        if params.get("stream"):
            return self._error(
                400, "stream=true is not supported by this fake", "invalid_request_error", param="stream"
            )
        prompt_tokens = 3 + sum(4 + _approx_tokens(str(m.get("content") or "")) for m in messages)
        content, finish_reason = self.reply, "stop"
        limit = params.get("max_completion_tokens", params.get("max_tokens"))
        if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < _approx_tokens(content):
            content, finish_reason = content[: limit * 4], "length"
        completion_tokens = _approx_tokens(content)
        body = {
            "id": f"chatcmpl-fake{self._next_id():012d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }
        return Response(200, body, (("x-request-id", f"req_{time.time_ns():x}"),))

    def _injected_failure(self, request: Request, template: str, faults: Faults) -> Response:
        message, type_, code = _OPENAI_ERRORS.get(faults.error_status, _OPENAI_ERRORS[500])
        return self._error(faults.error_status, message, type_, code=code)

    def _not_found(self, request: Request) -> Response:
        return self._error(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error")

    def _bad_request(self, message: str) -> Response:
        return self._error(400, message, "invalid_request_error")


# ---------------------------------------------------------------------------------------------
# Telegram Bot API
# ---------------------------------------------------------------------------------------------

_TOKEN_FORMAT = re.compile(r"(?P<bot_id>\d+):[A-Za-z0-9_-]+")
_TELEGRAM_METHODS = (
    "getMe",
    "sendMessage",
    "answerCallbackQuery",
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
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._updates_changed = threading.Condition()
        self._webhook_url = ""
        self._methods: dict[str, Callable[[JSON], object]] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "answercallbackquery": self._answer_callback_query,
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

    def _resolve(self, request: Request) -> tuple[str, Handler | None, Mapping[str, str]]:
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
            result = self._methods[path["method"].lower()](request.params())
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


# ---------------------------------------------------------------------------------------------
# Payment provider (Stripe-shaped)
# ---------------------------------------------------------------------------------------------

# Stripe's test payment methods and what confirming with them does (None: success).
_TEST_PAYMENT_METHODS: Mapping[str, tuple[str, str] | None] = {
    "pm_card_visa": None,
    "pm_card_mastercard": None,
    "pm_card_chargeDeclined": ("card_declined", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds"),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card"),
}
_DECLINE_MESSAGES: Mapping[str, str] = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
}
_GENERIC_DECLINE = ("card_declined", "generic_decline")
_MINIMUM_AMOUNT = 50  # Stripe's minimum charge is about $0.50 in most currencies


class StripeError(Exception):
    """An error answer in Stripe's ``{"error": {...}}`` shape."""

    def __init__(self, status: int, error: JSON) -> None:
        super().__init__(error.get("message", ""))
        self.status, self.error = status, error


def _invalid(
    message: str, *, code: str | None = None, param: str | None = None, status: int = 400
) -> StripeError:
    error: JSON = {"message": message, "type": "invalid_request_error"}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return StripeError(status, error)


class FakePayments(FakeServer):
    """Stripe's PaymentIntents and Refunds: form-encoded posts, amounts in minor units.

    ``POST /v1/payment_intents`` (``amount``, ``currency``, optional ``payment_method`` such as
    ``pm_card_visa`` or ``pm_card_chargeDeclined`` and ``confirm=true``), ``GET`` and ``POST .../confirm``
    on ``/v1/payment_intents/{id}``, ``POST /v1/refunds``. ``Idempotency-Key`` replays the first answer.
    """

    service = "payment"

    def __init__(self, *, api_key: str = "sk_test_fake_payments_key_for_tests", port: int = 0) -> None:
        if not api_key.startswith("sk_test_"):
            raise ValueError("api_key must start with 'sk_test_' like Stripe's test-mode secret keys")
        super().__init__(port=port)
        self.api_key = api_key
        self._intents: dict[str, JSON] = {}
        self._refunded: dict[str, int] = {}
        self._idempotent: dict[tuple[str, str], Response] = {}
        self._add_route("POST", "/v1/payment_intents", r"/v1/payment_intents", self._create_intent)
        self._add_route(
            "GET", "/v1/payment_intents/{id}", r"/v1/payment_intents/(?P<id>[^/]+)", self._retrieve_intent
        )
        self._add_route(
            "POST",
            "/v1/payment_intents/{id}/confirm",
            r"/v1/payment_intents/(?P<id>[^/]+)/confirm",
            self._confirm_intent,
        )
        self._add_route("POST", "/v1/refunds", r"/v1/refunds", self._create_refund)

    def payment_intent(self, intent_id: str) -> JSON | None:
        """The stored PaymentIntent, for assertions."""
        with self._lock:
            intent = self._intents.get(intent_id)
            return dict(intent) if intent else None

    # -- plumbing ------------------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_Fake{self._next_id():020d}"

    def _answer(self, status: int, body: JSON) -> Response:
        return Response(status, body, (("Request-Id", self._new_id("req")),))

    def _guarded(self, request: Request, work: Callable[[JSON], JSON]) -> Response:
        """Auth, form decoding, idempotency replay and error shaping around one POST/GET."""
        key = _bearer(request)
        if key is None:
            return self._answer(
                401,
                {
                    "error": {
                        "message": "You did not provide an API key. You need to provide your API key in "
                        "the Authorization header, using Bearer auth "
                        "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). "
                        "See https://stripe.com/docs/api#authentication for details.",
                        "type": "invalid_request_error",
                    }
                },
            )
        if key != self.api_key:
            return self._answer(
                401,
                {
                    "error": {
                        "message": "Invalid API Key provided: sk_test_****",
                        "type": "invalid_request_error",
                    }
                },
            )
        idempotency = (request.header("Idempotency-Key"), request.path) if request.method == "POST" else None
        if idempotency and idempotency[0]:
            with self._lock:
                replay = self._idempotent.get(idempotency)
            if replay is not None:
                return Response(
                    replay.status, replay.body, (*replay.headers, ("Idempotent-Replayed", "true"))
                )
        try:
            response = self._answer(200, work(_stripe_form(request.params())))
        except StripeError as exc:
            response = self._answer(exc.status, {"error": exc.error})
        if idempotency and idempotency[0] and response.status != 401 and response.status < 500:
            with self._lock:
                self._idempotent.setdefault(idempotency, response)
        return response

    def _fault_applies(self, template: str, faults: Faults) -> bool:
        if faults.decline:  # declines only make sense where a card is charged
            return template in ("/v1/payment_intents", "/v1/payment_intents/{id}/confirm")
        return True

    def _injected_failure(self, request: Request, template: str, faults: Faults) -> Response:
        if faults.decline:
            confirming = re.fullmatch(r"/v1/payment_intents/(?P<id>[^/]+)/confirm", request.path)
            if confirming:
                intent_id = confirming["id"]
                return self._guarded(
                    request,
                    lambda form: self._raise(self._decline(self._stored(intent_id), *_GENERIC_DECLINE)),
                )
            return self._guarded(request, self._declined_intent)
        if faults.error_status == 429:
            error: JSON = {
                "code": "rate_limit",
                "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                "message": "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                "type": "invalid_request_error",
            }
        else:
            error = {"message": "An unknown error occurred", "type": "api_error"}
        return self._answer(faults.error_status, {"error": error})

    def _not_found(self, request: Request) -> Response:
        error = f"Unrecognized request URL ({request.method}: {request.path}). Please see https://stripe.com/docs."
        return self._answer(404, {"error": {"message": error, "type": "invalid_request_error"}})

    def _bad_request(self, message: str) -> Response:
        return self._answer(400, {"error": {"message": message, "type": "invalid_request_error"}})

    # -- PaymentIntents --------------------------------------------------------------------------------

    def _create_intent(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._guarded(request, self._new_intent)

    def _new_intent(self, form: JSON) -> JSON:
        amount = _amount(form, required=True)
        currency = str(form.get("currency") or "")
        if not currency:
            raise _invalid("Missing required param: currency.", code="parameter_missing", param="currency")
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise _invalid(f"Invalid currency: {currency.lower()}.", param="currency")
        if amount is not None and amount < _MINIMUM_AMOUNT:
            raise _invalid(
                f"Amount must be at least {_MINIMUM_AMOUNT} {currency.lower()} minor units",
                code="amount_too_small",
                param="amount",
            )
        metadata = form.get("metadata", {})
        intent_id = self._new_id("pi")
        intent: JSON = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency.lower(),
            "client_secret": f"{intent_id}_secret_fake",
            "created": int(time.time()),
            "description": form.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata if isinstance(metadata, dict) else {},
            "payment_method": None,
            "payment_method_types": ["card"],
            "status": "requires_payment_method",
        }
        with self._lock:
            self._intents[intent_id] = intent
        method = form.get("payment_method")
        if method:
            self._attach(intent, str(method))
        if str(form.get("confirm", "")).lower() == "true":
            return self._confirm(intent_id, form)
        return dict(intent)

    def _declined_intent(self, form: JSON) -> JSON:
        """An injected decline: store an intent as create would, then decline it."""
        intent = self._new_intent({k: v for k, v in form.items() if k not in ("confirm", "payment_method")})
        with self._lock:
            stored = self._intents[intent["id"]]
            stored["payment_method"] = str(form.get("payment_method") or "pm_card_visa")
        raise self._decline(stored, *_GENERIC_DECLINE)

    @staticmethod
    def _raise(error: StripeError) -> JSON:
        raise error

    def _attach(self, intent: JSON, method: str) -> None:
        if method not in _TEST_PAYMENT_METHODS:
            raise _invalid(
                f"No such PaymentMethod: '{method}'", code="resource_missing", param="payment_method"
            )
        with self._lock:
            intent["payment_method"] = method
            intent["status"] = "requires_confirmation"

    def _stored(self, intent_id: str) -> JSON:
        with self._lock:
            intent = self._intents.get(intent_id)
        if intent is None:
            raise _invalid(
                f"No such payment_intent: '{intent_id}'", code="resource_missing", param="intent", status=404
            )
        return intent

    def _retrieve_intent(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._guarded(request, lambda form: dict(self._stored(path["id"])))

    def _confirm_intent(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._guarded(request, lambda form: self._confirm(path["id"], form))

    def _confirm(self, intent_id: str, form: JSON) -> JSON:
        intent = self._stored(intent_id)
        if form.get("payment_method"):
            self._attach(intent, str(form["payment_method"]))
        if intent["status"] == "succeeded":
            raise _invalid(
                "This PaymentIntent's status is succeeded, and it cannot be confirmed.",
                code="payment_intent_unexpected_state",
            )
        if not intent["payment_method"]:
            raise _invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        outcome = _TEST_PAYMENT_METHODS[str(intent["payment_method"])]
        if outcome is not None:
            raise self._decline(intent, *outcome)
        with self._lock:
            intent.update(
                status="succeeded", amount_received=intent["amount"], latest_charge=self._new_id("ch")
            )
            intent["last_payment_error"] = None
            return dict(intent)

    def _decline(self, intent: JSON, code: str, decline_code: str) -> StripeError:
        charge = self._new_id("ch")
        error: JSON = {
            "charge": charge,
            "code": code,
            "decline_code": decline_code,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
            "message": _DECLINE_MESSAGES[decline_code],
            "type": "card_error",
        }
        with self._lock:
            intent.update(status="requires_payment_method", latest_charge=charge)
            intent["last_payment_error"] = {k: v for k, v in error.items() if k != "charge"}
            error["payment_intent"] = dict(intent)
        return StripeError(402, error)

    # -- Refunds ---------------------------------------------------------------------------------------

    def _create_refund(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._guarded(request, self._refund)

    def _refund(self, form: JSON) -> JSON:
        intent_id = str(form.get("payment_intent") or "")
        if not intent_id:
            raise _invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
                param="payment_intent",
            )
        with self._lock:
            intent = self._intents.get(intent_id)
        if intent is None:
            raise _invalid(
                f"No such payment_intent: '{intent_id}'", code="resource_missing", param="payment_intent"
            )
        if intent["status"] != "succeeded":
            raise _invalid(f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.")
        with self._lock:
            remaining = int(intent["amount_received"]) - self._refunded.get(intent_id, 0)
            if remaining <= 0:
                raise _invalid(
                    f"Charge {intent['latest_charge']} has already been refunded.",
                    code="charge_already_refunded",
                )
            amount = _amount(form, required=False)
            amount = remaining if amount is None else amount
            if amount > remaining:
                raise _invalid(
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                    code="amount_too_large",
                    param="amount",
                )
            self._refunded[intent_id] = self._refunded.get(intent_id, 0) + amount
        return {
            "id": self._new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": {},
            "payment_intent": intent_id,
            "reason": form.get("reason"),
            "status": "succeeded",
        }


def _stripe_form(params: JSON) -> JSON:
    """Fold Stripe's bracket notation (``metadata[order]=7``) into nested dicts, one level deep."""
    out: JSON = {}
    for key, value in params.items():
        matched = re.fullmatch(r"(\w+)\[(\w*)\]", key)
        if matched:
            nested = out.setdefault(matched[1], {})
            if isinstance(nested, dict):
                nested[matched[2]] = value
        else:
            out[key] = value
    return out


def _amount(form: JSON, *, required: bool) -> int | None:
    raw = form.get("amount")
    if raw in (None, ""):
        if required:
            raise _invalid("Missing required param: amount.", code="parameter_missing", param="amount")
        return None
    try:
        amount = int(str(raw))
    except ValueError:
        raise _invalid(f"Invalid integer: {raw}", param="amount") from None
    if amount <= 0:
        raise _invalid("This value must be greater than or equal to 1.", param="amount")
    return amount


# ---------------------------------------------------------------------------------------------
# The bundle
# ---------------------------------------------------------------------------------------------


@dataclass
class FakeServices:
    """All three fakes started and stopped together; ``base_urls`` names them as the health checks do."""

    openai: FakeOpenAI = field(default_factory=FakeOpenAI)
    telegram: FakeTelegram = field(default_factory=FakeTelegram)
    payments: FakePayments = field(default_factory=FakePayments)

    @property
    def servers(self) -> tuple[FakeServer, ...]:
        return (self.openai, self.telegram, self.payments)

    def start(self) -> Self:
        started: list[FakeServer] = []
        try:
            for server in self.servers:
                if not server.running:
                    server.start()
                    started.append(server)
        except BaseException:
            for server in started:
                server.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_urls(self) -> dict[str, str]:
        """``{"openai": ..., "telegram": ..., "payment": ...}`` (service name to base URL)."""
        return {server.service: server.base_url for server in self.servers}

    def set_faults(self, faults: Faults | None = None, /, **changes: Any) -> None:
        """Apply the same faults to all three fakes."""
        for server in self.servers:
            server.set_faults(faults, **changes)

    def request_counts(self) -> dict[str, dict[str, int]]:
        return {server.service: server.request_counts() for server in self.servers}
