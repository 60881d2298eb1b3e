"""The live view: alert routing read from the generated Alertmanager config, the data model, the
rich and plain renderings, the demo's OTLP target, and the CLI's refusals."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from tarot_monitoring import semconv
from tarot_monitoring.cli import main
from tarot_monitoring.demo.otlp import SIGNAL_ENDPOINT_VARIABLES, STACK_COLLECTOR, otlp_target
from tarot_monitoring.demo.run import run_demo
from tarot_monitoring.live import (
    AlertView,
    BusinessView,
    CategoryView,
    DashboardState,
    PrometheusAlert,
    PrometheusClient,
    PrometheusError,
    alert_views,
)
from tarot_monitoring.live.state import metric_name
from tarot_monitoring.live.text import format_dashboard
from tarot_monitoring.live.view import (
    DEFAULT_INTERVAL_S,
    check_interval,
    render_dashboard,
    require_rich,
    watch,
)
from tarot_monitoring.render import promql
from tarot_monitoring.render.alertmanager import HISTORY, TIMINGS, WATCHDOG, alertmanager_config
from tarot_monitoring.render.routing import Matcher, receiver_for, receivers_for
from tarot_monitoring.spec import PRIORITIES, Priority, baseline_for
from tarot_monitoring.spec.performance import DASHBOARD_UPDATE_WITHIN_S

# --- routing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("priority", PRIORITIES)
def test_each_priority_goes_to_the_history_then_its_own_receiver(priority: Priority) -> None:
    labels = {"alertname": "TarotSomething", "priority": priority}
    assert receivers_for(labels) == (HISTORY.receiver, TIMINGS[priority].receiver)
    assert receiver_for(labels) == TIMINGS[priority].receiver


def test_the_watchdog_and_unprioritised_alerts_route_as_the_config_says() -> None:
    root = alertmanager_config()["route"]
    assert isinstance(root, dict)
    assert receivers_for({"alertname": "Watchdog", "priority": "P4"}) == (WATCHDOG.receiver,)
    assert receivers_for({"alertname": "HandWritten"}) == (root["receiver"],)


def test_routing_walks_the_tree_as_alertmanager_does() -> None:
    tree = {
        "receiver": "root",
        "routes": [
            {"matchers": ['team=~"a|b"'], "receiver": "copy", "continue": True},
            {
                "matchers": ['team="a"'],
                "receiver": "team-a",
                "routes": [{"matchers": ['severity!="info"'], "receiver": "team-a-loud"}],
            },
            {"matchers": ['team="a"'], "receiver": "never: the route before did not continue"},
        ],
    }
    assert receivers_for({"team": "a", "severity": "critical"}, tree) == ("copy", "team-a-loud")
    assert receivers_for({"team": "a", "severity": "info"}, tree) == ("copy", "team-a")
    # Only a `continue` route matched: the parent is not added (dispatch.Route.Match).
    assert receivers_for({"team": "b"}, tree) == ("copy",)
    assert receivers_for({"team": "c"}, tree) == ("root",)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('priority="P1"', {"priority": "P1"}, True),
        ('priority="P1"', {"priority": "P11"}, False),
        ('priority=~"P1|P2"', {"priority": "P2"}, True),
        ('priority=~"P1|P2"', {"priority": "P12"}, False),  # anchored, as Alertmanager's
        ('priority!="P1"', {}, True),
        ('alertname!~"Tarot.*"', {"alertname": "TarotX"}, False),
        ('summary="say \\"hi\\""', {"summary": 'say "hi"'}, True),
    ],
)
def test_matchers(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(text).matches(labels) is expected


def test_a_bad_matcher_is_named() -> None:
    with pytest.raises(ValueError, match="not an Alertmanager matcher: 'priority'"):
        Matcher.parse("priority")


def test_alert_views_order_and_filter_by_job() -> None:
    def alert(name: str, priority: str, state: str, job: str | None) -> PrometheusAlert:
        labels = {"alertname": name, "priority": priority, **({"job": job} if job else {})}
        return PrometheusAlert(labels, {"summary": f"{name} summary"}, state, None, 1.0)

    views = alert_views(
        [
            alert("Pending", "P1", "pending", "bot"),
            alert("Other", "P1", "firing", "other-bot"),
            alert("Quiet", "P3", "firing", "bot"),
            alert("Watchdog", "P4", "firing", None),
            alert("Page", "P1", "firing", "bot"),
        ],
        job="bot",
    )
    assert [(v.name, v.priority, v.receiver) for v in views] == [
        ("Page", "P1", TIMINGS["P1"].receiver),
        ("Quiet", "P3", TIMINGS["P3"].receiver),
        ("Watchdog", "P4", WATCHDOG.receiver),
        ("Pending", "P1", TIMINGS["P1"].receiver),
    ]
    assert views[0].summary == "Page summary"


def test_metric_names_translate_as_the_collector_does() -> None:
    assert metric_name(semconv.PAYMENTS, counter=True) == promql.PAYMENTS
    assert metric_name(semconv.READINGS, counter=True) == promql.READINGS
    assert metric_name(semconv.HEALTH_STATUS) + "_ratio" == promql.HEALTH_STATUS


def test_an_unreachable_prometheus_is_a_clear_error() -> None:
    client = PrometheusClient("http://127.0.0.1:9", timeout_s=1)
    with pytest.raises(PrometheusError, match=r"cannot read http://127\.0\.0\.1:9/api/v1/query"):
        client.query("up")
    with pytest.raises(ValueError, match="expected an http"):
        PrometheusClient("127.0.0.1:9090")


# --- the view ------------------------------------------------------------------------------------


def _state() -> DashboardState:
    payment = baseline_for("payment")
    return DashboardState(
        source="Prometheus http://127.0.0.1:9090",
        updated_at=datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC),
        categories=(
            CategoryView("reading", p95_s=1.25, p99_s=2.5, error_ratio=0.0, rate_per_s=2.0),
            CategoryView("payment", p95_s=payment.p95_seconds * 2, p99_s=0.5, error_ratio=0.6),
            CategoryView("cache"),
        ),
        business=BusinessView(
            readings_completed=360,
            readings_failed=2,
            credits={"purchase": 42.0, "spend": 360.0},
            payments={"failed": 78.0, "succeeded": 42.0},
            revenue={"EUR": 115.0},
        ),
        alerts=(
            AlertView(
                "TarotPaymentFailuresCritical",
                "P1",
                TIMINGS["P1"].receiver,
                "10 or more failed payments in 15 minutes",
            ),
        ),
    )


def test_category_verdicts_use_the_spec_targets() -> None:
    target = baseline_for("reading")
    assert CategoryView("reading", p95_s=target.p95_seconds).missed == ()  # at the target: met
    assert CategoryView("reading", p95_s=target.p95_seconds + 0.001).missed == ("p95",)
    assert CategoryView("reading", error_ratio=target.max_error_ratio * 2).missed == ("errors",)


def test_the_rich_view_shows_the_rows_and_the_alert() -> None:
    console = Console(record=True, width=200, color_system=None)
    console.print(render_dashboard(_state()))
    text = console.export_text()
    for title in ("System overview", "Performance against targets", "Business", "Alerts"):
        assert title in text
    payment = baseline_for("payment")
    payment_line = next(line for line in text.splitlines() if "payment " in line)
    assert f"{payment.p95_seconds * 2000:.0f} ms" in payment_line
    assert f"{payment.p95_seconds * 1000:.0f} ms" in payment_line
    assert "60.00%" in payment_line
    assert "MISSED p95,errors" in payment_line
    reading_line = next(line for line in text.splitlines() if "reading " in line)
    assert "1250 ms" in reading_line
    assert reading_line.rstrip(" │").endswith("ok")
    cache_line = next(line for line in text.splitlines() if "cache " in line)
    assert "no data" in cache_line
    alert_line = next(line for line in text.splitlines() if "TarotPaymentFailuresCritical" in line)
    for cell in ("P1", TIMINGS["P1"].receiver, "firing", "10 or more failed payments in 15 minutes"):
        assert cell in alert_line
    assert "failed=78" in text
    assert "EUR 115.00" in text
    assert "purchase=42" in text


def test_an_empty_alerts_panel_says_why() -> None:
    console = Console(record=True, width=200, color_system=None)
    state = DashboardState(source="x", updated_at=datetime.now(UTC), alerts_note="run the demo with --otlp")
    console.print(render_dashboard(state))
    assert "run the demo with --otlp" in console.export_text()


def test_the_plain_text_has_the_same_content() -> None:
    text = format_dashboard(_state())
    assert (
        f"[P1] TarotPaymentFailuresCritical (firing) -> {TIMINGS['P1'].receiver}: "
        "10 or more failed payments in 15 minutes"
    ) in text
    assert "payments: failed=78, succeeded=42" in text
    assert "MISSED p95,errors" in text


def test_watch_refreshes_within_the_spec_limit() -> None:
    reads: list[int] = []
    slept: list[float] = []

    def read() -> DashboardState:
        reads.append(1)
        return _state()

    console = Console(record=True, width=200, color_system=None, force_terminal=False)
    assert watch(read, console=console, refreshes=3, sleep=slept.append) == 0
    assert len(reads) == 3
    assert slept == [DEFAULT_INTERVAL_S, DEFAULT_INTERVAL_S]
    assert 0 < DEFAULT_INTERVAL_S <= DASHBOARD_UPDATE_WITHIN_S
    assert "TarotPaymentFailuresCritical" in console.export_text()


@pytest.mark.parametrize("interval", [0.0, DASHBOARD_UPDATE_WITHIN_S + 1])
def test_refresh_interval_beyond_the_spec_is_refused(interval: float) -> None:
    with pytest.raises(ValueError, match=f"at most {DASHBOARD_UPDATE_WITHIN_S:g} s"):
        check_interval(interval)


def test_missing_rich_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)
    with pytest.raises(ImportError, match=r"pip install 'tarot-monitoring\[cli\]'"):
        require_rich()


def test_cli_says_how_to_get_the_live_view(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)
    assert main(["status", "--watch", "--prometheus", "http://127.0.0.1:9"]) == 2
    assert "pip install 'tarot-monitoring[cli]'" in capsys.readouterr().err
    assert main(["demo", "--live"]) == 2
    assert "pip install 'tarot-monitoring[cli]'" in capsys.readouterr().err


def test_cli_refuses_a_slow_refresh_and_waits_for_an_embedded_alert(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", *SIGNAL_ENDPOINT_VARIABLES.values()):
        monkeypatch.delenv(name, raising=False)
    assert main(["status", "--watch", "--interval", "11"]) == 2
    assert "at most 10 s (the spec's dashboard update limit), got 11" in capsys.readouterr().err
    # Without --otlp the embedded evaluator raises the same generated rules' alerts.
    args = ["demo", "--until-alert", "P1", "--fail-payments", "1", "--users", "10", "--rounds", "1"]
    assert main([*args, "--duration", "20"]) == 0
    assert "TarotPaymentFailuresCritical -> " in capsys.readouterr().out


def test_demo_live_view_runs_on_the_embedded_default() -> None:
    out = io.StringIO()
    assert run_demo(users=3, rounds=1, live=True, out=out) == 0
    text = out.getvalue()
    assert "Performance against targets" in text
    assert "the demo's own telemetry" in text
    assert "healthy" in text  # the demo's health checks of its fakes
    assert "embedded evaluator" in text  # the alerts panel's source (wrapped at 80 columns)
    assert "Watchdog" in text  # the always-firing heartbeat, raised by the embedded evaluator
    assert "Telemetry counts equal what the bot counted itself: yes" in text


# --- the demo's OTLP target ----------------------------------------------------------------------


def test_no_target_without_flag_or_variables() -> None:
    assert otlp_target(None, {}) is None


def test_the_flag_and_the_standard_variables_turn_export_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = otlp_target("http://127.0.0.1:4999", {})
    assert explicit is not None
    assert explicit.settings["otlp_endpoint"] == "http://127.0.0.1:4999"

    monkeypatch.setenv("TAROT_STATE_DIR", str(tmp_path))  # no stack recorded: the default ports
    stack = otlp_target(STACK_COLLECTOR, {})
    assert stack is not None
    assert stack.settings["otlp_endpoint"] == "http://127.0.0.1:4317"

    general = otlp_target(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert general is not None
    assert general.settings == {}  # configure() reads the variable itself
    assert "http://collector:4317" in general.description

    per_signal = otlp_target(
        None,
        {
            SIGNAL_ENDPOINT_VARIABLES["metrics"]: "http://metrics:4318/v1/metrics",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
        },
    )
    assert per_signal is not None
    exporter = per_signal.settings["metric_exporter_override"]
    assert type(exporter).__module__ == "opentelemetry.exporter.otlp.proto.http.metric_exporter"
    assert "metrics to http://metrics:4318/v1/metrics" in per_signal.description
    exporter.shutdown()
