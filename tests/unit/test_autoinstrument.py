"""Zero-code use: `opentelemetry-instrument` with our distro scrubs and tags like configure() does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tarot_monitoring.demo.fakes import FakeTelegram

BOT_TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


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
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TAROT_"))}
        env.update(
            {
                "OTEL_SERVICE_NAME": "zero-code-bot",
                "OTEL_TRACES_EXPORTER": "console",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                "TAROT_DEPENDENCY_HOSTS": "127.0.0.1=telegram",
                "TAROT_RESOURCE_METRICS": "false",
            }
        )
        instrument = Path(sys.executable).with_name("opentelemetry-instrument")
        result = subprocess.run(
            [str(instrument), sys.executable, str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert BOT_TOKEN not in result.stdout + result.stderr
    start = result.stdout.index("{")
    span = json.loads(result.stdout[start : result.stdout.rindex("}") + 1])
    assert span["name"] == "POST"
    assert span["attributes"]["tarot.dependency"] == "telegram"
    assert span["attributes"]["url.full"].endswith("/bot[REDACTED]/sendMessage")
    assert span["resource"]["attributes"]["service.name"] == "zero-code-bot"
