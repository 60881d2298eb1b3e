"""Zero-code use: `opentelemetry-instrument` with our distro scrubs and tags like configure() does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from opentelemetry.instrumentation import system_metrics as upstream_system_metrics

from tarot_monitoring import semconv
from tarot_monitoring.demo.fakes import FakeTelegram

BOT_TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def run_instrumented(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`opentelemetry-instrument python script` with no OTEL_/TAROT_ variable but `env`'s."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TAROT_"))}
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    return subprocess.run(
        [str(instrument), sys.executable, str(script)],
        env={**clean, "OTEL_SERVICE_NAME": "zero-code-bot", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_opentelemetry_instrument_uses_our_configurator(tmp_path: Path) -> None:
    script = tmp_path / "bot.py"
    with FakeTelegram(token=BOT_TOKEN) as telegram:
        script.write_text(
            textwrap.dedent(f"""
            import httpx
            response = httpx.post("{telegram.api_url}/sendMessage", json={{"chat_id": 1, "text": "hi"}})
            response.raise_for_status()
        """)
        )
        result = run_instrumented(
            script,
            {
                "OTEL_TRACES_EXPORTER": "console",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                "TAROT_DEPENDENCY_HOSTS": "127.0.0.1=telegram",
                "TAROT_RESOURCE_METRICS": "false",
            },
        )
    assert result.returncode == 0, result.stderr
    assert BOT_TOKEN not in result.stdout + result.stderr
    start = result.stdout.index("{")
    span = json.loads(result.stdout[start : result.stdout.rindex("}") + 1])
    assert span["name"] == "POST"
    assert span["attributes"]["tarot.dependency"] == "telegram"
    assert span["attributes"]["url.full"].endswith("/bot[REDACTED]/sendMessage")
    assert span["resource"]["attributes"]["service.name"] == "zero-code-bot"


def test_zero_code_setup_reports_each_system_metric_once(tmp_path: Path) -> None:
    # `opentelemetry-instrument` loads every installed instrumentor, upstream system metrics too;
    # configure() already registers it (wrapped), so a second copy must not appear.
    script = tmp_path / "bot.py"
    script.write_text(
        "import json\n"
        "from tarot_monitoring import _state\n"
        "data = _state.current().collect_metrics_now()\n"
        "found = {}\n"
        "for rm in data.resource_metrics:\n"
        "    for sm in rm.scope_metrics:\n"
        "        for m in sm.metrics:\n"
        "            found.setdefault(m.name, []).append(sm.scope.name)\n"
        "print(json.dumps(found))\n"
    )
    result = run_instrumented(
        script,
        {
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "TAROT_RESOURCE_METRICS": "true",
        },
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["system.cpu.utilization"] == [semconv.RUNTIME_METRICS_SCOPE]
    assert found["process.memory.usage"] == [upstream_system_metrics.__name__]
    assert all(len(owners) == 1 for owners in found.values()), found


def test_zero_code_leaves_the_bots_logging_as_python_has_it_and_exports_its_records(tmp_path: Path) -> None:
    # Upstream's logging instrumentor adds a root handler: a bot with no logging setup loses
    # Python's last-resort stderr output of its warnings, and one that replaces the root
    # handlers loses the export. Ours adds no handler to any logger.
    log_file = tmp_path / "bot.log"
    script = tmp_path / "bot.py"
    script.write_text(
        "import logging\n"
        "logging.getLogger('bot').warning('the tower card was drawn')\n"
        f"logging.root.handlers = [logging.FileHandler({str(log_file)!r})]\n"
        "logging.root.setLevel(logging.INFO)\n"
        "logging.getLogger('bot').info('the moon card was drawn')\n"
    )
    result = run_instrumented(
        script,
        {
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "console",
            "TAROT_RESOURCE_METRICS": "false",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "the tower card was drawn" in result.stderr  # Python's last resort, as without the package
    assert log_file.read_text() == "the moon card was drawn\n"
    assert result.stdout.count("the tower card was drawn") == 1, result.stdout
    assert result.stdout.count("the moon card was drawn") == 1, result.stdout
