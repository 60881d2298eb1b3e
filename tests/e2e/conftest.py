"""End-to-end tests run against the real services; every test here carries the ``e2e`` marker,
so ``pytest -m "not e2e"`` selects the unit tests alone."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)
