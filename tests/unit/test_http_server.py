"""The shared HTTP base on its own: limits, bad requests, timeouts, keep-alive, stop.

Requests are written byte for byte on raw sockets where the point is what a misbehaving client
sends; httpx stands for the well-behaved ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from tarot_monitoring.http_server import HttpError, HttpServer, Limits, Request, Response, Router

LIMITS = Limits(max_head_bytes=1024, max_header_lines=8, max_body_bytes=64, read_timeout_s=0.3)


async def echo(request: Request) -> Response:
    body = await request.json()
    return Response(200, {"got": body, "query": dict(request.query)}, (("X-Seen", request.path),))


async def hello(request: Request) -> Response:
    return Response(
        200, {"path": request.path, "query": dict(request.query), "at": datetime(2025, 1, 2, tzinfo=UTC)}
    )


async def read_raw(request: Request) -> Response:
    return Response(200, {"body": (await request.read()).decode()})


async def silent(request: Request) -> None:
    return None


async def broken(request: Request) -> Response:
    raise RuntimeError("bug in a handler")


async def teapot(request: Request) -> Response:
    raise HttpError(418, {"error": "short and stout"}, (("X-Tea", "earl grey"),))


ROUTES = Router(
    {
        ("GET", "/hello world"): hello,
        ("HEAD", "/hello world"): hello,
        ("POST", "/echo"): echo,
        ("PUT", "/echo"): echo,
        ("POST", "/raw"): read_raw,
        ("GET", "/silent"): silent,
        ("GET", "/broken"): broken,
        ("GET", "/teapot"): teapot,
    }
)


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    async with HttpServer(ROUTES, limits=LIMITS) as running:
        yield running


async def exchange(
    server: HttpServer, raw: bytes, *, wait_s: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """Write `raw`, read until the server closes; (status, headers, body), status 0 for no answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), wait_s)
    finally:
        writer.close()
        await writer.wait_closed()
    if not data:
        return 0, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: x", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# --- routes and answers ------------------------------------------------------------------------


async def test_routes_query_and_json_answers(server: HttpServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        hi = await http.get("/hello%20world", params={"a": "1", "b": ""})
        echoed = await http.post("/echo", json={"card": "The Star"})
        missing = await http.get("/nope")
        wrong_method = await http.delete("/echo")
        head = await http.head("/hello%20world", params={"a": "1", "b": ""})

    assert hi.status_code == 200
    assert hi.headers["content-type"] == "application/json"
    assert hi.json() == {
        "path": "/hello world",
        "query": {"a": "1", "b": ""},
        "at": "2025-01-02T00:00:00+00:00",
    }
    assert (echoed.status_code, echoed.json()["got"], echoed.headers["x-seen"]) == (
        200,
        {"card": "The Star"},
        "/echo",
    )
    assert (missing.status_code, missing.json()) == (404, {"error": "no such endpoint: /nope"})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST, PUT"
    assert (head.status_code, head.content) == (200, b"")
    assert int(head.headers["content-length"]) == len(hi.content)


async def test_handler_errors(server: HttpServer, caplog: pytest.LogCaptureFixture) -> None:
    status, headers, body = await exchange(server, b"GET /teapot HTTP/1.1\r\n\r\n")
    assert (status, headers["x-tea"], json.loads(body)) == (418, "earl grey", {"error": "short and stout"})
    assert headers["content-length"] == str(len(body))
    status, _, body = await exchange(server, b"GET /broken HTTP/1.1\r\n\r\n")
    assert (status, json.loads(body)) == (500, {"error": "internal error"})
    assert "bug in a handler" in caplog.text
    # None: accepted, and the connection closed without a word
    assert await exchange(server, b"GET /silent HTTP/1.1\r\n\r\n") == (0, {}, b"")


# --- bad requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /hello%20world\r\n\r\n",
        b"GET /hello%20world HTTP/2.0\r\n\r\n",
        b"G=T / HTTP/1.1\r\n\r\n",
        b"GET /hello%20world HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /hello%20world HTTP/1.1\r\nHost: x\r\n folded: continuation\r\n\r\n",
        post("/echo", b"{}", "Content-Type: application/json", "Content-Length: 2", "Content-Length: 3"),
        post(
            "/echo",
            b"{}",
            "Content-Type: application/json",
            "Content-Length: 2",
            "Transfer-Encoding: chunked",
        ),
        post("/echo", b"{}", "Content-Type: application/json", "Content-Length: two"),
        post("/echo", b"{}", "Content-Type: application/json", "Content-Length: -2"),
        post("/echo", b"{not json", "Content-Type: application/json", "Content-Length: 9"),
    ],
)
async def test_malformed_requests_get_400(server: HttpServer, raw: bytes) -> None:
    status, headers, body = await exchange(server, raw)
    assert status == 400, body
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (post("/echo", b"{}", "Content-Type: application/json"), 411, "Content-Length required"),
        (
            post(
                "/echo",
                b"2\r\n{}\r\n0\r\n\r\n",
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            ),
            411,
            "Content-Length required",
        ),
        (post("/echo", b"{}", "Content-Type: text/plain", "Content-Length: 2"), 415, "got text/plain"),
        (post("/echo", b"{}", "Content-Length: 2"), 415, "got no Content-Type"),
        (
            post("/echo", b"x" * 65, "Content-Type: application/json", "Content-Length: 65"),
            413,
            "body of 65 bytes is larger than 64",
        ),
        (
            b"GET /hello%20world HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(9)) + b"\r\n",
            431,
            "more than 8 header lines",
        ),
        (
            b"GET /hello%20world HTTP/1.1\r\nX-Big: " + b"y" * 2000 + b"\r\n\r\n",
            431,
            "request head too large",
        ),
    ],
)
async def test_limits(server: HttpServer, raw: bytes, status: int, message: str) -> None:
    answer = await exchange(server, raw)
    assert answer[0] == status, answer
    assert message in json.loads(answer[2])["error"]


async def test_an_oversized_body_is_refused_before_it_is_sent(server: HttpServer) -> None:
    """413 arrives on the headers alone: the server never waits for (or reads) the body."""
    head = post("/echo", b"", "Content-Type: application/json", "Content-Length: 1000000")
    status, _, body = await exchange(server, head, wait_s=2)
    assert status == 413
    assert "larger than 64" in json.loads(body)["error"]


async def test_an_oversized_body_that_is_sent_still_gets_its_413() -> None:
    """The unread body is drained before the close, so no reset destroys the answer."""
    async with HttpServer(ROUTES, limits=Limits(max_body_bytes=1024)) as big, httpx.AsyncClient() as http:
        response = await http.post(
            f"{big.url}/echo", content=b"x" * (4 << 20), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413


# --- slow clients ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /hello%20world HTTP/1.1\r\nHost: x\r\n",  # the head never ends
        post("/echo", b"{", "Content-Type: application/json", "Content-Length: 2"),  # the body never ends
    ],
)
async def test_a_client_that_stops_sending_is_dropped_at_the_read_timeout(
    server: HttpServer, raw: bytes
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await exchange(server, raw, wait_s=5) == (0, {}, b"")
    assert 0.25 <= loop.time() - started < 3


async def test_expect_100_continue(server: HttpServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(post("/raw", b"", "Content-Length: 5", "Expect: 100-continue"))
    await writer.drain()
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"tarot")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b'{"body": "tarot"}')


# --- chunked bodies and keep-alive -------------------------------------------------------------


async def test_chunked_bodies_where_allowed() -> None:
    limits = Limits(max_body_bytes=10, chunked=True, read_timeout_s=1)
    async with HttpServer(ROUTES, limits=limits) as chunky:
        ok = await exchange(
            chunky,
            post(
                "/raw", b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n", "Transfer-Encoding: chunked"
            ),
        )
        too_big = await exchange(
            chunky, post("/raw", b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", "Transfer-Encoding: chunked")
        )
        bad_size = await exchange(
            chunky, post("/raw", b"zz\r\nabc\r\n0\r\n\r\n", "Transfer-Encoding: chunked")
        )
        gzip = await exchange(chunky, post("/raw", b"", "Transfer-Encoding: gzip"))
    assert (ok[0], json.loads(ok[2])) == (200, {"body": "abcde"})
    assert too_big[0] == 413
    assert bad_size[0] == 400
    assert gzip[0] == 411


async def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    async with HttpServer(ROUTES, limits=Limits(keep_alive_s=5)) as kept:
        reader, writer = await asyncio.open_connection("127.0.0.1", kept.port)
        answers = []
        for request in (
            b"GET /hello%20world?n=1 HTTP/1.1\r\n\r\n",
            post("/echo?n=2", b'{"n": 2}', "Content-Type: application/json", "Content-Length: 8"),
            b"GET /hello%20world?n=3 HTTP/1.1\r\nConnection: close\r\n\r\n",
        ):
            writer.write(request)
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
            length = int(head.lower().split("content-length: ")[1].split("\r\n")[0])
            answers.append(
                (
                    head.split("\r\n")[0],
                    "connection: keep-alive" in head.lower(),
                    json.loads(await reader.readexactly(length)),
                )
            )
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after the third, as asked
        writer.close()
        await writer.wait_closed()
    assert [(status, keep, body["query"]["n"]) for status, keep, body in answers] == [
        ("HTTP/1.1 200 OK", True, "1"),
        ("HTTP/1.1 200 OK", True, "2"),
        ("HTTP/1.1 200 OK", False, "3"),
    ]


async def test_without_keep_alive_every_answer_closes(server: HttpServer) -> None:
    status, headers, _ = await exchange(server, b"GET /hello%20world HTTP/1.1\r\n\r\n")
    assert (status, headers["connection"]) == (200, "close")


# --- lifecycle ---------------------------------------------------------------------------------


async def test_stop_closes_idle_and_busy_connections_and_the_port(caplog: pytest.LogCaptureFixture) -> None:
    gate = asyncio.Event()

    async def waits(request: Request) -> Response:
        await gate.wait()
        return Response(200, {})

    running = HttpServer(
        Router({("GET", "/wait"): waits, ("GET", "/hello world"): hello}), limits=Limits(keep_alive_s=30)
    )
    await running.start()
    url = running.url
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/hello%20world")).status_code == 200  # leaves a kept-alive connection
        busy = asyncio.create_task(http.get("/wait"))
        await asyncio.sleep(0.1)
        await asyncio.wait_for(running.stop(), timeout=5)
        with pytest.raises(httpx.RemoteProtocolError):
            await busy
        with pytest.raises(httpx.ConnectError):
            await http.get("/hello%20world")
    assert not running.running
    await asyncio.sleep(0.05)  # let the streams' done-callbacks run
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []  # a clean stop, not errors
    await running.stop()  # idempotent


def test_bad_limits_and_ports_are_named() -> None:
    with pytest.raises(ValueError, match="max_body_bytes must be a whole number >= 0"):
        Limits(max_body_bytes=-1)
    with pytest.raises(ValueError, match="max_header_lines must be a whole number >= 1"):
        Limits(max_header_lines=0)
    with pytest.raises(ValueError, match="read_timeout_s must be a positive number of seconds"):
        Limits(read_timeout_s=0)
    with pytest.raises(ValueError, match="keep_alive_s must be a >= 0 number of seconds"):
        Limits(keep_alive_s=float("nan"))
    with pytest.raises(ValueError, match="port must be between 0 and 65535"):
        HttpServer(ROUTES, port=70000)
