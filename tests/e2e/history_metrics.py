"""Scrape the alert history's ``/metrics`` as Prometheus does (Bearer token), into {series: value}."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from typing import Final

_SAMPLE: Final = re.compile(r"^(?P<series>[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (?P<value>\S+)$")


def parse(text: str) -> dict[str, float]:
    """Every sample line of a text-format body; a line that is neither a sample nor a comment fails."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        samples[match["series"]] = float(match["value"])
    return samples


def scrape(url: str, token: str | None) -> tuple[int, str, dict[str, float]]:
    """(status, Content-Type, samples) of GET `url`/metrics with `token` (None: without one)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"{url}/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read().decode()
            return int(response.status), str(response.headers["Content-Type"]), parse(body)
    except urllib.error.HTTPError as error:
        return error.code, str(error.headers["Content-Type"]), {}
