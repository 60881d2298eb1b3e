"""What adopting the kit changes in the example bots, measured: each bot without the kit (its
``# tarot-monitoring`` lines removed), with it as shipped (configure() before the bot's
logging.basicConfig), with configure() moved after basicConfig, and with the collector
unreachable. Prints the bot's own log lines, reply times, traces and spans per update, exported
records and the time to stop after SIGINT, side by side.

Needs PostgreSQL and Redis (``eval "$(scripts/services.sh env)"``); runs the same conversation
as tests/e2e/test_examples.py, through its runner.

    .venv/bin/python bench/bench_examples.py
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "examples"), os.environ.get("PYTHONPATH", "")])

from tests.e2e import test_examples as examples  # noqa: E402

from tarot_monitoring.stack import free_ports  # noqa: E402

CONFIGURE = '    tm.configure(service_name="tarot-bot")  # tarot-monitoring\n'
LOGGING_DONE = "        handlers=[logging.FileHandler(settings.log_file), logging.StreamHandler()],\n    )\n"


def without_the_kit(source: str) -> str:
    lines = []
    for line in source.splitlines(keepends=True):
        if "# tarot-monitoring" not in line:
            lines.append(line)
        elif "tm.shutdown()" in line:
            lines.append(line.split("tm.")[0] + "pass\n")
    return "".join(lines)


def configure_after_logging(source: str) -> str:
    if CONFIGURE not in source or LOGGING_DONE not in source:
        raise SystemExit("the example's configure() or logging setup changed; update bench_examples.py")
    return source.replace(CONFIGURE, "").replace(LOGGING_DONE, LOGGING_DONE + CONFIGURE)


def main() -> None:
    dsn, redis = os.environ["TAROT_TEST_POSTGRES_DSN"], os.environ["TAROT_TEST_REDIS_URL"]
    for bot, path in examples.BOTS.items():
        work = Path(tempfile.mkdtemp(prefix=f"bench-{bot}-"))
        variants = {"without": without_the_kit, "after": configure_after_logging}
        scripts = {}
        for name, change in variants.items():
            scripts[name] = work / f"{bot}_{name}.py"
            scripts[name].write_text(change(path.read_text()))
        runs = {}
        for name, script in [("without the kit", scripts["without"]), ("as shipped", None),
                             ("configure after basicConfig", scripts["after"])]:  # fmt: skip
            (work / name).mkdir()
            runs[name] = examples._run_bot(bot, "polling", dsn, redis, work / name, script=script)
        (port,) = free_ports(1)
        (work / "down").mkdir()
        down = examples._run_bot(
            bot, "polling", dsn, redis, work / "down", otlp_endpoint=f"http://127.0.0.1:{port}"
        )
        print(f"\n== {bot} (polling, {examples.UPDATES} updates)")
        for name, run in runs.items():
            records = run.capture.log_records()
            start_ms, reading_ms = run.step_s["start"] * 1000, run.step_s["reading"] * 1000
            with_trace = sum(1 for r in records if r.get("traceId"))
            print(
                f"  {name:30} log file {len(run.log_file.read_text().splitlines()):3} lines, "
                f"reply /start {start_ms:5.0f} ms, reading {reading_ms:5.0f} ms, stop {run.stop_s:4.1f} s, "
                f"exported: {len(run.traces()):3} traces, {len(records):3} log records "
                f"({with_trace} with a trace id)"
            )
        print(f"  {'collector unreachable':30} stop {down.stop_s:4.1f} s, exit code {down.exit_code}")
        shipped = runs["as shipped"]
        traces = shipped.traces()
        updates = {span["traceId"]: span for span in shipped.update_spans()}
        for trace_id, update in updates.items():
            kinds = collections.Counter(
                s["attributes"].get("tarot.category") or s["attributes"].get("tarot.dependency") or "update"
                for s in traces[trace_id]
            )
            command = update["attributes"].get("telegram.command", "")
            print(f"    {update['name']:36} {command:8} {dict(kinds)}")
        others = collections.Counter(
            spans[0]["name"] + (" getUpdates" if "getUpdates" in str(spans[0]["attributes"]) else "")
            for trace_id, spans in traces.items()
            if trace_id not in updates
        )
        print(f"    traces outside an update: {sum(others.values())} {dict(others)}")


if __name__ == "__main__":
    main()
