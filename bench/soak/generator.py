"""The soak's extra span load: pre-built OTLP/gRPC trace requests (bench_collector_throughput's
SpanLoad: 5-span traces of the six categories, 1 in 20 with an error) at a fixed rate, in a process
of its own so the reference bot keeps its CPU.

    python bench/soak/generator.py ENDPOINT SERVICE SPANS_PER_S SECONDS STATUS_FILE

Every second it rewrites STATUS_FILE with what it sent so far: spans the collector acknowledged
(``sent``) and spans whose request failed or timed out (``failed``, e.g. in the black hole).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_collector_throughput import EXPORT, SpanLoad  # bench/ is on the path above

SPANS_PER_REQUEST = 200
IN_FLIGHT = 4
TIMEOUT_S = 10.0


def main(endpoint: str, service: str, rate: float, seconds: float, status: Path) -> None:
    load = SpanLoad(service, SPANS_PER_REQUEST)
    counts = {"sent": 0, "failed": 0, "requests": 0}
    lock = threading.Lock()
    slots = threading.Semaphore(IN_FLIGHT)
    interval = load.spans_per_request / rate
    start = time.monotonic()
    next_status = start
    with grpc.insecure_channel(endpoint) as channel:
        export = channel.unary_unary(
            EXPORT, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        due = start
        while time.monotonic() - start < seconds:
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            due = max(due + interval, time.monotonic() - 1.0)  # never bursts more than 1 s of backlog
            slots.acquire()
            future = export.future(load.request(), timeout=TIMEOUT_S)

            def done(call: grpc.Future) -> None:
                with lock:
                    counts["sent" if call.exception() is None else "failed"] += load.spans_per_request
                    counts["requests"] += 1
                slots.release()

            future.add_done_callback(done)
            if time.monotonic() >= next_status:
                next_status += 1.0
                _write(status, counts, lock, start)
        for _ in range(IN_FLIGHT):
            slots.acquire()
    _write(status, counts, lock, start, done=True)


def _write(
    status: Path, counts: dict[str, int], lock: threading.Lock, start: float, done: bool = False
) -> None:
    with lock:
        payload = {**counts, "seconds": round(time.monotonic() - start, 1), "done": done}
    tmp = status.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(status)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5]))
