"""The dependency sets scripts/test-deps.sh tests are the ones pyproject.toml's ranges declare.

scripts/constraints/{lowest,newest}.txt are compiled from pyproject.toml; a range changed
without re-compiling (`scripts/test-deps.sh --compile`) would test a set the ranges no longer
describe. Checked here without the network.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
SETS = ("lowest", "newest")


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    return [req for req in map(Requirement, lines) if req.name != project["name"]]


def _pins(name: str) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "scripts" / "constraints" / f"{name}.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            package, _, version = line.partition("==")
            pins[package.lower()] = Version(version)
    return pins


@pytest.mark.parametrize("name", SETS)
def test_every_pin_is_inside_the_declared_range(name: str) -> None:
    pins = _pins(name)
    outside = [
        f"{req} but {pins[req.name.lower()]}"
        for req in _requirements()
        if not req.specifier.contains(pins[req.name.lower()], prereleases=True)
    ]
    assert outside == [], "re-run scripts/test-deps.sh --compile"


def test_lowest_set_is_the_declared_opentelemetry_floor() -> None:
    pins = _pins("lowest")
    floors = {
        req.name: Version(spec.version)
        for req in _requirements()
        if req.name.startswith("opentelemetry-")
        for spec in req.specifier
        if spec.operator == ">="
    }
    assert floors, "every opentelemetry-* requirement should have a >= floor"
    assert {name: pins[name] for name in floors} == floors


def test_one_opentelemetry_release_pair_per_set() -> None:
    # 0.xxb instrumentation pairs with SDK 1.(xx-21); mixed releases are not a set.
    for name in SETS:
        pins = _pins(name)
        sdk, instrumentation = pins["opentelemetry-sdk"], pins["opentelemetry-instrumentation"]
        assert instrumentation.minor == sdk.minor + 21, name
