"""A local HTTP endpoint that records every JSON POST: the receiving end of Alertmanager webhooks
and of the dead man's switch's out-of-band webhook in the end-to-end tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class WebhookSink:
    """POSTs to 127.0.0.1:<port>, any path, recorded as (path, JSON body, headers); answers 200."""

    def __init__(self) -> None:
        sink = self
        self._lock = threading.Lock()
        self._posts: list[tuple[str, Any, dict[str, str], float]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink._lock:
                    sink._posts.append(
                        (self.path, json.loads(body or b"null"), dict(self.headers), time.monotonic())
                    )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-sink", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def posts(self, path: str | None = None) -> list[Any]:
        """The JSON bodies received (on `path` only, when given), oldest first."""
        with self._lock:
            return [body for p, body, _, _ in self._posts if path is None or p == path]

    def received(self, path: str) -> list[tuple[Any, dict[str, str], float]]:
        """(body, headers, monotonic arrival time) of every POST to `path`."""
        with self._lock:
            return [(body, headers, at) for p, body, headers, at in self._posts if p == path]

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
