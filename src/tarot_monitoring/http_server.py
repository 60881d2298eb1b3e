"""One small asyncio HTTP/1.1 server: the base of the health endpoint, the alert history and the fakes.

Each of them answers JSON to a handful of routes on loopback; none needs more than this module:
request parsing with limits (head size and header lines: 431; body size: 413 before a byte of
it is read; chunked bodies only where allowed, else 411), read timeouts (a client that stops
sending is dropped, not waited for), JSON answers, a route table with 404 and 405 (with
``Allow``), optional keep-alive, ``Expect: 100-continue``, and a clean stop that closes every
open connection. A handler may raise :class:`HttpError` for any other status, or return None to
close the connection without an answer (the fakes' "accepted, never answered").

Why not ``aiohttp.web``: aiohttp is only an optional extra here (aiogram brings it; a
python-telegram-bot bot has none), and the core package's health endpoint and alert history
must not require it. It would add aiohttp 3.14 (8 MB installed) and seven companions
(multidict, yarl, frozenlist, propcache, aiosignal, aiohappyeyeballs, attrs; about 4 MB, four
with compiled extensions) to every bot that only wants ``/readyz``. What the three servers need
is the few hundred lines below, tested on their own in tests/unit/test_http_server.py.

Nor would it answer hostile input better (probed with aiohttp 3.14.5, its C parser, in this
venv): a JSON body nested 100,000 deep or holding a 5,000-digit integer gets 500 and a traceback
from ``request.json()`` there too, and each over-long request line, over-long header or
``Content-Length: 1_0`` is a logged traceback as well (77 log lines for those five requests).
Here each of them gets a 4xx and, with `refusal_log`, one WARNING line
(tests/unit/test_alert_history_hostile.py). A little over 500 lines with that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "Handler",
    "HttpError",
    "HttpServer",
    "Limits",
    "Request",
    "Response",
    "Router",
]

_log = logging.getLogger(__name__)

_HEAD_END: Final = b"\r\n\r\n"
_LINGER_S: Final = 1.0
_LINGER_BYTES: Final = 4 << 20


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one connection may cost the server."""

    max_head_bytes: int = 16 * 1024
    """Request line and headers together; above it the answer is 431."""
    max_header_lines: int = 64
    """Header lines; above it the answer is 431."""
    max_body_bytes: int = 1 << 20
    """A body larger than this is refused with 413 before it is read."""
    read_timeout_s: float = 10.0
    """For the first request's head, and again for each body: a client that stops sending is dropped."""
    keep_alive_s: float = 0.0
    """0: one request per connection. Else how long an idle connection waits for its next request."""
    chunked: bool = False
    """Accept ``Transfer-Encoding: chunked`` bodies; when False such a request gets 411."""

    def __post_init__(self) -> None:
        for name, least in (("max_head_bytes", 1), ("max_header_lines", 1), ("max_body_bytes", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
        for name in ("read_timeout_s", "keep_alive_s"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0 or (value == 0 and name == "read_timeout_s"):
                raise ValueError(
                    f"{name} must be a {'positive' if name == 'read_timeout_s' else '>= 0'} "
                    f"number of seconds, got {value!r}"
                )


class HttpError(Exception):
    """An answer other than success, raised from anywhere in a handler: status, JSON body, headers."""

    def __init__(self, status: int, body: object, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers

    @property
    def response(self) -> Response:
        return Response(self.status, self.body, self.headers)


@dataclass(frozen=True)
class Response:
    """An answer: status, body (encoded with ``json.dumps``, datetimes as ISO 8601; bytes sent as
    they are, as ``application/octet-stream``), extra headers."""

    status: int
    body: object = None
    headers: tuple[tuple[str, str], ...] = ()


_INTERNAL_ERROR: Final = Response(500, {"error": "internal error"})


class _Drop(Exception):
    """The client stopped sending (timeout, EOF): close without an answer."""


class Request:
    """One request: method, path (percent-decoded), query, headers (lower-cased names), lazy body.

    The body is read on demand (:meth:`read`, :meth:`json`), so a handler can refuse a request
    (401, 405) before a byte of its body is read.
    """

    def __init__(
        self,
        method: str,
        target: str,
        version: str,
        headers: Mapping[str, str],
        *,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        limits: Limits,
    ) -> None:
        split = urlsplit(target)
        self.method, self.target, self.version = method, target, version
        self.path = unquote(split.path) or "/"
        self.query: Mapping[str, str] = dict(parse_qsl(split.query, keep_blank_values=True))
        self.headers: Mapping[str, str] = headers
        self._reader, self._writer, self._limits = reader, writer, limits
        self._body: bytes | None = None

    def header(self, name: str) -> str:
        """A header's value by case-insensitive name, or ``""``."""
        return self.headers.get(name.lower(), "")

    @property
    def media_type(self) -> str:
        """``Content-Type`` without its parameters, lower-cased (``""`` when absent)."""
        return self.header("content-type").split(";", 1)[0].strip().lower()

    @property
    def body(self) -> bytes:
        """The body once read by :meth:`read` or :meth:`json`."""
        if self._body is None:
            raise RuntimeError("the body has not been read yet: await request.read() first")
        return self._body

    @property
    def body_pending(self) -> bool:
        """Whether a body was announced and not read (the connection cannot be reused then)."""
        if self._body is not None:
            return False
        return self._chunked or self.header("content-length") not in ("", "0")

    @property
    def _chunked(self) -> bool:
        return bool(self.header("transfer-encoding"))

    def _declared_length(self, *, required: bool) -> int:
        """The announced body length, checked against the limits before anything is read."""
        if self._chunked:
            if self.header("transfer-encoding").strip().lower() != "chunked" or not self._limits.chunked:
                raise HttpError(411, {"error": "Content-Length required"})
            return -1
        raw = self.header("content-length")
        if not raw:
            if required:
                raise HttpError(411, {"error": "Content-Length required"})
            return 0
        if not raw.isascii() or not raw.isdigit():
            raise HttpError(400, {"error": "Content-Length is not a number"})
        length = int(raw)
        if length > self._limits.max_body_bytes:
            raise HttpError(
                413, {"error": f"body of {length} bytes is larger than {self._limits.max_body_bytes}"}
            )
        return length

    async def read(self, *, length_required: bool = False) -> bytes:
        """The body (``b""`` when none was announced); 411/400/413 as :class:`HttpError`."""
        if self._body is not None:
            return self._body
        length = self._declared_length(required=length_required)
        if length == 0:
            self._body = b""
            return self._body
        if self.header("expect").lower() == "100-continue":
            self._writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            async with asyncio.timeout(self._limits.read_timeout_s):
                if length > 0:
                    self._body = await self._reader.readexactly(length)
                else:
                    self._body = await self._read_chunked()
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            raise _Drop from exc
        return self._body

    async def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = await self._line()
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpError(400, {"error": "malformed chunk size"}) from None
            if size < 0:
                raise HttpError(400, {"error": "malformed chunk size"})
            if size == 0:
                while await self._line():  # trailers, ignored
                    pass
                return b"".join(chunks)
            total += size
            if total > self._limits.max_body_bytes:
                raise HttpError(413, {"error": f"body is larger than {self._limits.max_body_bytes} bytes"})
            chunks.append(await self._reader.readexactly(size))
            if await self._reader.readexactly(2) != b"\r\n":
                raise HttpError(400, {"error": "malformed chunk"})

    async def _line(self) -> bytes:
        try:
            return (await self._reader.readuntil(b"\r\n"))[:-2]
        except asyncio.LimitOverrunError:
            raise HttpError(400, {"error": "chunk header line too long"}) from None

    async def json(self) -> object:
        """The body decoded as JSON: 411 without a length, 413, 415 unless JSON, 400 when broken."""
        self._declared_length(required=True)
        if self.media_type != "application/json":
            got = self.media_type or "no Content-Type"
            raise HttpError(415, {"error": f"expected application/json, got {got}"})
        raw = await self.read(length_required=True)
        try:
            return json.loads(raw)
        except RecursionError:
            raise HttpError(400, {"error": "body is not valid JSON: nested too deeply"}) from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer over 4,300 digits
            raise HttpError(400, {"error": f"body is not valid JSON: {_first_line(exc)}"}) from None


Handler = Callable[[Request], Awaitable[Response | None]]
"""Answers one request; None closes the connection without an answer."""


class Router:
    """A handler that dispatches on (method, path): 404 for an unknown path, 405 with ``Allow``."""

    def __init__(self, routes: Mapping[tuple[str, str], Handler]) -> None:
        self._routes = dict(routes)

    async def __call__(self, request: Request) -> Response | None:
        handler = self._routes.get((request.method, request.path))
        if handler is not None:
            return await handler(request)
        allowed = [method for method, path in self._routes if path == request.path]
        if allowed:
            raise HttpError(
                405,
                {"error": f"{request.method} not allowed on {request.path}; use {', '.join(allowed)}"},
                (("Allow", ", ".join(allowed)),),
            )
        raise HttpError(404, {"error": f"no such endpoint: {request.path}"})


class HttpServer:
    """Serve `handler` on host:port (port 0: any free port, see :attr:`port`) within `limits`."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits | None = None,
        refusal_log: logging.Logger | None = None,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port!r}")
        self.handler = handler
        self.refusal_log = refusal_log
        """Where each refused request (a 4xx answer) gets one WARNING line; None: not logged (the fakes)."""
        self.host, self._port = host, port
        self.limits = limits or Limits()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port once started (useful with port=0), else the one asked for."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` with no trailing slash (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._connection, self.host, self._port, limit=self.limits.max_head_bytes, backlog=128
            )

    async def stop(self) -> None:
        """Stop listening and close every open connection (in-flight handlers are cancelled)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=2.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=2.0)

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- one connection ---------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            timeout = self.limits.read_timeout_s
            while await self._exchange(reader, writer, head_timeout_s=timeout):
                timeout = self.limits.keep_alive_s
        except (ConnectionError, _Drop):
            pass
        except asyncio.CancelledError:
            # stop() cancelled this connection; ending quietly keeps Python 3.11's stream callback
            # from logging the cancellation as an error.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, head_timeout_s: float
    ) -> bool:
        """One request and its answer; whether the connection stays open for another."""
        try:
            async with asyncio.timeout(head_timeout_s):
                head = await reader.readuntil(_HEAD_END)
        except (TimeoutError, asyncio.IncompleteReadError):
            return False
        except asyncio.LimitOverrunError:
            error = HttpError(431, {"error": "request head too large"})
            self._log_refusal(writer, None, error)
            await self._refuse(reader, writer, error)
            return False
        try:
            request = self._parse(head, reader, writer)
        except HttpError as error:
            self._log_refusal(writer, None, error)
            await self._refuse(reader, writer, error)
            return False
        try:
            response = await self.handler(request)
        except HttpError as error:
            self._log_refusal(writer, request, error)
            response = error.response
        except _Drop:
            return False
        except Exception:
            # Not the path: the fake Bot API's carries a token.
            _log.exception("a %s request's handler failed", request.method)
            response = _INTERNAL_ERROR
        if response is None:
            return False
        keep = (
            self.limits.keep_alive_s > 0
            and request.version == "HTTP/1.1"
            and "close" not in request.header("connection").lower()
            and not request.body_pending
        )
        head_only = request.method == "HEAD"
        try:
            data = _encode(response, keep=keep, head_only=head_only)
        except (TypeError, ValueError):  # a circular body, a header with a line break
            _log.exception("a %s request's answer could not be encoded", request.method)
            data = _encode(_INTERNAL_ERROR, keep=keep, head_only=head_only)
        writer.write(data)
        await writer.drain()
        if not keep and request.body_pending:
            await _linger(reader, writer)
        return keep

    def _parse(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request:
        lines = head[: -len(_HEAD_END)].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not parts[0].isalpha():
            raise HttpError(400, {"error": "malformed request line"})
        method, target, version = parts
        if len(lines) - 1 > self.limits.max_header_lines:
            raise HttpError(431, {"error": f"more than {self.limits.max_header_lines} header lines"})
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise HttpError(400, {"error": f"malformed header line {line[:40]!r}"})
            key, value = name.lower(), value.strip()
            if key in headers:
                if key == "content-length" and headers[key] != value:
                    raise HttpError(400, {"error": "conflicting Content-Length headers"})
                value = value if key == "content-length" else f"{headers[key]}, {value}"
            headers[key] = value
        if "transfer-encoding" in headers and "content-length" in headers:
            raise HttpError(400, {"error": "both Transfer-Encoding and Content-Length"})
        return Request(
            method.upper(), target, version, headers, reader=reader, writer=writer, limits=self.limits
        )

    def _log_refusal(self, writer: asyncio.StreamWriter, request: Request | None, error: HttpError) -> None:
        """One line per refused request: who, what, the status and why (bounded, escaped; no body)."""
        if self.refusal_log is None or not 400 <= error.status < 500:
            return
        peer = writer.get_extra_info("peername")
        who = peer[0] if isinstance(peer, tuple) and peer else "?"
        what = "a request" if request is None else f"{request.method[:16]} {request.path[:80]!r}"
        reason = error.body.get("error", "") if isinstance(error.body, dict) else ""
        self.refusal_log.warning("refused %s from %s: %d %.200r", what, who, error.status, reason)

    async def _refuse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, error: HttpError
    ) -> None:
        writer.write(_encode(error.response, keep=False, head_only=False))
        await writer.drain()
        await _linger(reader, writer)


def _encode(response: Response, *, keep: bool, head_only: bool) -> bytes:
    raw = isinstance(response.body, bytes)  # a file download (the fake Bot API's /file/ route)
    payload = (
        response.body
        if isinstance(response.body, bytes)
        else (json.dumps(response.body, default=_json_default).encode())
    )
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Status"
    typed = any(name.lower() == "content-type" for name, _ in response.headers)  # e.g. /metrics text
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        *([] if typed else [f"Content-Type: {'application/octet-stream' if raw else 'application/json'}"]),
        f"Content-Length: {len(payload)}",
        f"Connection: {'keep-alive' if keep else 'close'}",
    ]
    for name, value in response.headers:
        if any(c in name or c in value for c in "\r\n"):
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else payload)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Refused before its body was read: say we are done, and swallow what the client still sends.

    Closing with unread bytes makes the kernel reset the connection, and the reset can destroy
    our answer (a 413, say) before the client reads it. So the body is drained, bounded in time
    and bytes.
    """
    with contextlib.suppress(Exception):
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(_LINGER_S):
            drained = 0
            while drained < _LINGER_BYTES and (chunk := await reader.read(65536)):
                drained += len(chunk)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
