"""The promtool unit test file as data: suites, cases, input series and expected alerts.

A ``PromtoolSuite`` is one file under deploy/prometheus/tests/ (``promtool test rules`` input); it
renders to the YAML promtool reads, including its expanding series notation (``0+5x60``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tarot_monitoring.prometheus_semantics.durations import format_duration
from tarot_monitoring.prometheus_semantics.promql_math import Sample
from tarot_monitoring.render.model import RuleFile


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def notation(values: Sequence[float | None]) -> str:
    """promtool's expanding notation: runs with a constant whole step as ``a+bxn``, gaps as ``_xn``."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        value = values[i]
        if value is None:
            j = i
            while j < len(values) and values[j] is None:
                j += 1
            parts.append("_" if j - i == 1 else f"_x{j - i}")
            i = j
            continue
        j = i + 1
        step: float | None = None
        while j < len(values) and values[j] is not None:
            delta = values[j] - value if step is None else values[j] - values[j - 1]  # type: ignore[operator]
            if step is None:
                if delta != int(delta):
                    break
                step = delta
            elif delta != step:
                break
            j += 1
        count = j - i - 1
        if count == 0:
            parts.append(_number(value))
        else:
            assert step is not None
            sign = "+" if step >= 0 else "-"
            parts.append(f"{_number(value)}{sign}{_number(abs(step))}x{count}")
        i = j
    return " ".join(parts)


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    values: list[float | None]

    def samples(self, step_s: int) -> list[Sample]:
        """The present values as (milliseconds, value), sampled every `step_s` from 0."""
        return [(i * step_s * 1000, v) for i, v in enumerate(self.values) if v is not None]

    def to_dict(self) -> dict[str, str]:
        inner = ", ".join(f'{key}="{value}"' for key, value in self.labels.items())
        return {"series": f"{self.name}{{{inner}}}", "values": notation(self.values)}


@dataclass
class Expected:
    labels: dict[str, str]
    annotations: dict[str, str]

    def to_dict(self) -> dict[str, object]:
        return {"exp_labels": self.labels, "exp_annotations": self.annotations}


@dataclass
class Check:
    at_s: int
    alertname: str
    alerts: list[Expected]

    def to_dict(self) -> dict[str, object]:
        return {
            "eval_time": format_duration(self.at_s),
            "alertname": self.alertname,
            "exp_alerts": [alert.to_dict() for alert in self.alerts],
        }


@dataclass
class Case:
    name: str
    step_s: int
    series: list[Series]
    checks: list[Check] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "interval": format_duration(self.step_s),
            "input_series": [series.to_dict() for series in self.series],
            "alert_rule_test": [check.to_dict() for check in sorted(self.checks, key=lambda c: c.at_s)],
        }


@dataclass
class PromtoolSuite:
    name: str
    rule_files: tuple[str, ...]
    evaluation_interval: str
    cases: list[Case]

    group_order: tuple[str, ...] = ()

    def ordered(self, files: Sequence[RuleFile]) -> PromtoolSuite:
        """This file evaluating its rule files' groups in file order (recordings before alerts)."""
        by_name = {rule_file.name: rule_file for rule_file in files}
        self.group_order = tuple(group.name for name in self.rule_files for group in by_name[name].groups)
        return self

    @property
    def filename(self) -> str:
        return f"{self.name}.yml"

    def to_dict(self) -> dict[str, object]:
        return {
            "rule_files": [f"../rules/{name}.yml" for name in self.rule_files],
            "evaluation_interval": self.evaluation_interval,
            # promtool 2.42 evaluates groups in an unspecified order unless told: recordings first.
            "group_eval_order": list(self.group_order),
            "tests": [case.to_dict() for case in self.cases],
        }
