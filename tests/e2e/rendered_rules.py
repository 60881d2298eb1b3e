"""The alert rules as `tarot-monitor render` wrote them (deploy/prometheus/rules), looked up by name,
so an e2e test queries a rule's own expression and never a hand copy of it."""

from __future__ import annotations

from typing import Any

import yaml

from tests.e2e.conftest_stack import REPO

RULES = REPO / "deploy" / "prometheus" / "rules"


def rendered_alert(alertname: str) -> dict[str, Any]:
    """The one rendered rule named `alertname` (its expr, for, labels, annotations)."""
    found = [
        rule
        for path in sorted(RULES.glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if rule.get("alert") == alertname
    ]
    assert len(found) == 1, f"expected one rendered rule {alertname} in {RULES}, found {len(found)}"
    return found[0]
