"""Cost of contextual scrubbing: on the event loop per update, and in the exporter gate per span.

    python bench/bench_update_secrets.py [--updates 20000] [--spans 512] [--active 200]

Part 1 — event loop: `protect_update` (read the update's ids and words, register them under its
trace id) for an aiogram and a python-telegram-bot message update, against the baseline of
starting and ending the update's span, the least the integrations do per update anyway.

Part 2 — export thread: the span gate exporting a batch of spans of registered updates (each
with attributes and an exception event whose message holds the user's words), with `--active`
updates in the registry, against the same gate with an empty registry (pattern scrubbing only).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

from aiogram.types import Update as AiogramUpdate
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import set_span_in_context
from telegram import Update as PtbUpdate

from tarot_monitoring.exporters import DeliveryStats, ScrubbingSpanExporter
from tarot_monitoring.scrubbing import Scrubber
from tarot_monitoring.update_secrets import protect_update, registry


class Sink(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def raw_update(index: int) -> dict[str, object]:
    user_id, name = 700000000 + index, f"Name{index}"
    user = {"id": user_id, "is_bot": False, "first_name": name, "username": f"user_{index}"}
    chat = {"id": user_id, "type": "private", "first_name": name}
    text = f"will my exam number {index} go well, or should I stay home?"
    message = {"message_id": index, "from": user, "chat": chat, "date": 0, "text": text}
    return {"update_id": index, "message": message}


def per_call_us(work: Callable[[int], object], count: int, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for index in range(count):
            work(index)
        samples.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(samples)


def event_loop_part(updates: int) -> None:
    tracer = TracerProvider().get_tracer("bench")
    aiogram = [AiogramUpdate.model_validate(raw_update(i)) for i in range(256)]
    ptb = [PtbUpdate.de_json(raw_update(i), None) for i in range(256)]

    def span_only(index: int) -> None:
        tracer.start_span("telegram.update message").end()

    def with_secrets(updates_: list[object]) -> Callable[[int], None]:
        def work(index: int) -> None:
            span = tracer.start_span("telegram.update message")
            protect_update(updates_[index % len(updates_)], span)
            span.end()

        return work

    base = per_call_us(span_only, updates)
    print("Part 1: per update, on the event loop")
    print(f"  update span only {'':<27} {base:7.1f} us")
    for name, parsed in (("aiogram", aiogram), ("python-telegram-bot", ptb)):
        ours = per_call_us(with_secrets(parsed), updates)  # type: ignore[arg-type]
        registry.clear()
        extra = f"(+{ours - base:.1f} us, {ours / base:.2f}x)"
        print(f"  span + protect_update, {name:<20} {ours:7.1f} us   {extra}")


def gate_part(batch_size: int, active: int) -> None:
    tracer = TracerProvider().get_tracer("bench")
    roots = []
    for index in range(active):
        root = tracer.start_span("telegram.update message")
        protect_update(raw_update(index), root)
        roots.append(root)
    spans: list[ReadableSpan] = []
    for index in range(batch_size):
        update = index % active
        with tracer.start_as_current_span(
            "reading.generate",
            context=set_span_in_context(roots[update]),
            attributes={
                "tarot.category": "reading",
                "db.query.text": "SELECT balance FROM credits WHERE user_id = $1",
                "server.address": "127.0.0.1",
                "tarot.note": f"asked by user_{update}",
            },
        ) as span:
            span.record_exception(ValueError(f"bad question 'will my exam number {update} go well'"))
        spans.append(span)  # type: ignore[arg-type]
    gate = ScrubbingSpanExporter(Sink(), Scrubber(), DeliveryStats())

    def export_batch(_: int) -> None:
        gate.export(spans)

    ours = per_call_us(export_batch, 20) / batch_size
    registry.clear()  # the baseline: nothing registered, pattern scrubbing only
    base = per_call_us(export_batch, 20) / batch_size
    print(f"Part 2: per span in the exporter thread, {active} updates registered")
    print(f"  pattern scrubbing only    {base:7.1f} us")
    print(f"  + contextual scrubbing    {ours:7.1f} us   ({ours / base:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20000)
    parser.add_argument("--spans", type=int, default=512)
    parser.add_argument("--active", type=int, default=200)
    args = parser.parse_args()
    event_loop_part(args.updates)
    gate_part(args.spans, args.active)


if __name__ == "__main__":
    main()
