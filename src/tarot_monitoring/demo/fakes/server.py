"""What every fake shares: serving on 127.0.0.1, routes by template, fault injection, request counts.

A fake is a :class:`tarot_monitoring.http_server.HttpServer` on its own event loop in a daemon
thread (:class:`ThreadedHttpServer`), so sync and async clients both work. Latency and hung
requests wait on that loop; the services' route handlers are plain functions run in the
server's thread pool (the Bot API's long poll blocks), guarded by one lock per fake. Requests
are counted per route template (``GET /_stats``), so the Telegram token never appears in a
count, a log line or an error body.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import email.parser
import email.policy
import itertools
import json
import random
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any, ClassVar, Final, Self

from tarot_monitoring.demo.fakes.faults import Faults
from tarot_monitoring.http_server import HttpServer, Limits, Request, Response

__all__ = [
    "JSON",
    "LOOPBACK",
    "BadBody",
    "FakeServer",
    "RouteHandler",
    "ThreadedHttpServer",
    "bearer_token",
    "request_params",
]

JSON = dict[str, Any]
LOOPBACK: Final = "127.0.0.1"

# Real clients keep connections alive and may send chunked bodies (uploads); the Bot API takes
# files up to 50 MB.
_LIMITS: Final = Limits(max_body_bytes=50 << 20, read_timeout_s=60.0, keep_alive_s=60.0, chunked=True)
_HANG_POLL_S: Final = 0.02


class BadBody(ValueError):
    """The request body could not be decoded as its Content-Type says."""


def request_params(request: Request) -> JSON:
    """Query string merged with the (already read) body: JSON object, urlencoded or multipart form."""
    merged: JSON = dict(request.query)
    body = request.body
    if not body:
        return merged
    if request.media_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise BadBody(f"request body is not valid JSON: {exc}") from None
        if not isinstance(decoded, dict):
            raise BadBody("request body must be a JSON object")
        merged.update(decoded)
    elif request.media_type == "multipart/form-data":
        merged.update(_parse_multipart(request.header("Content-Type"), body))
    else:  # urlencoded, also what clients send without a Content-Type
        try:
            text = body.decode("utf-8")
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


def bearer_token(request: Request) -> str | None:
    """The Bearer token, or the Basic-auth username (Stripe's other form), or None."""
    scheme, _, credentials = request.header("Authorization").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if scheme.lower() == "basic" and credentials.strip():
        try:
            return base64.b64decode(credentials.strip()).decode().partition(":")[0] or None
        except ValueError:
            return None
    return None


RouteHandler = Callable[[Request, Mapping[str, str]], Response]
"""A service's answer to one request (body already read) and its path parameters; may block."""


@dataclass(frozen=True)
class Route:
    """``template`` is what requests are counted under; ``pattern`` matches the path."""

    method: str
    template: str
    pattern: re.Pattern[str]
    handler: RouteHandler


class ThreadedHttpServer:
    """An :class:`HttpServer` on its own event loop in a daemon thread, for sync and async callers.

    Handlers run on that loop; ones that block call ``asyncio.to_thread``/``run_in_executor``,
    which use this server's pool of `threads` (finished, not abandoned, on :meth:`stop`).
    """

    def __init__(self, server: HttpServer, *, name: str = "http-server", threads: int = 64) -> None:
        self.server, self.name, self.threads = server, name, threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Bind and serve; returns once the port is bound (a bind error is raised here)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already running at {self.server.url}")
        loop = asyncio.new_event_loop()
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix=f"{self.name}-handler")
        )
        bound = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:
                failure.append(exc)
                return
            finally:
                bound.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name=self.name, daemon=True)
        thread.start()
        bound.wait()
        if failure:
            thread.join()
            loop.close()
            raise failure[0]
        self._loop, self._thread = loop, thread

    def stop(self) -> None:
        """Close the port and every connection, let blocking handlers finish, end the thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        assert self._loop is not None
        await self.server.stop()
        await self._loop.shutdown_default_executor()
        await self._loop.shutdown_asyncgens()


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
        self._serving: ThreadedHttpServer | None = None
        self._routes: list[Route] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self so ``fake = FakeX().start()`` reads well."""
        if self._serving is not None:
            raise RuntimeError(f"fake {self.service} is already running at {self.base_url}")
        self._stopping.clear()
        serving = ThreadedHttpServer(
            HttpServer(self._serve, host=LOOPBACK, port=self._port, limits=_LIMITS),
            name=f"fake-{self.service}",
        )
        serving.start()
        self._serving = serving
        return self

    def stop(self) -> None:
        """Stop serving, release hung requests and close open connections. Idempotent."""
        serving, self._serving = self._serving, None
        if serving is None:
            return
        self._stopping.set()
        serving.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._serving is not None

    @property
    def port(self) -> int:
        if self._serving is None:
            raise RuntimeError(f"fake {self.service} is not running; call start() first")
        return self._serving.server.port

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

    def _add_route(self, method: str, template: str, regex: str, handler: RouteHandler) -> None:
        self._routes.append(Route(method, template, re.compile(regex), handler))

    def _resolve(self, request: Request) -> tuple[str, RouteHandler | None, Mapping[str, str]]:
        """The route template for counting, its handler (None: not found) and path parameters."""
        for route in self._routes:
            matched = route.pattern.fullmatch(request.path)
            if matched and route.method == request.method:
                return route.template, route.handler, matched.groupdict()
        return "<unmatched>", None, {}

    async def _serve(self, request: Request) -> Response | None:
        """Count, apply the faults, then answer in the thread pool. None: hung, then released."""
        await request.read()
        if request.path == "/_fault":
            return self._control_faults(request)
        if request.path == "/_stats" and request.method == "GET":
            return Response(200, {"service": self.service, "requests": self.request_counts()})
        template, handler, path_params = self._resolve(request)
        with self._lock:
            self._counts[f"{request.method} {template}"] += 1
            faults, generation = self._faults, self._generation
        if faults.hang:
            # Polled: faults change from any thread, and an asyncio.Event belongs to one loop.
            while not self._stopping.is_set() and self._generation == generation:  # noqa: ASYNC110
                await asyncio.sleep(_HANG_POLL_S)
            return None
        if faults.latency_s > 0:
            await asyncio.sleep(faults.latency_s)
        return await asyncio.to_thread(self._handle, request, template, handler, path_params, faults)

    def _handle(
        self,
        request: Request,
        template: str,
        handler: RouteHandler | None,
        path_params: Mapping[str, str],
        faults: Faults,
    ) -> Response:
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
