"""Check an upstream chart's values file of ours against the chart's own values.yaml.

No chart repository is reachable from the CI machines, so the charts' documented keys (their
values.yaml, where every key is declared with its default and comment) are read where they can
be had: `helm show values grafana/tempo-distributed --version X > tempo.values.yaml` on a machine
with the repository, or the chart's source. A key of ours passes when the upstream values.yaml
declares the same path, or when the path lies under a key upstream declares as an open map or
list (`{}`/`[]`, e.g. Loki's `loki.limits_config` or Grafana's `datasources`), which the chart
passes through to the program's own configuration, or when the chart's templates (and the
config templates inside its values.yaml) read that path (`.Values.a.b`, `dig "a" "b" ...`) or pass
an ancestor through whole (`toYaml .Values.a`, `with .Values.a`), as Loki's `loki.limits_config`
and Tempo's `storage.trace.s3` are.

    python deploy/kubernetes/upstream/check_keys.py UPSTREAM_VALUES OURS [--templates DIR]...

Exit 1 and list the unknown paths. deploy/kubernetes/upstream/keys-checked.yaml records the
charts and versions each file was checked against, and the paths (tests/unit/test_helm_chart.py
fails when a file sets a key that is not recorded there, i.e. was never checked).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


def leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every path to a scalar, empty map or list (lists are leaves: their items are data)."""
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaf_paths(value, (*prefix, str(key)))
    else:
        yield prefix


_VALUES_REF = re.compile(r"(toYaml|with|\(|\s)\s*\.Values\.([A-Za-z0-9_.]+)")
_DIG_REF = re.compile(r'dig((?:\s+"[^"]*")+)\s+""\s+\.Values\.([A-Za-z0-9_.]+)')


def template_references(text: str) -> tuple[set[str], set[str]]:
    """Paths the templates read (`.Values.a.b`) and paths they pass through whole (toYaml/with)."""
    read: set[str] = set()
    whole: set[str] = set()
    for verb, path in _VALUES_REF.findall(text):
        read.add(path)
        if verb in ("toYaml", "with"):
            whole.add(path)
    for keys, root in _DIG_REF.findall(text):
        read.add(".".join([root, *re.findall(r'"([^"]*)"', keys)]))
    return read, whole


def unknown_paths(upstream: Any, ours: Any, templates: str = "") -> list[str]:
    """Our leaf paths that upstream neither declares, leaves open, reads nor passes through."""
    read, whole = template_references(templates)
    unknown = []
    for path in leaf_paths(ours):
        dotted = ".".join(path)
        if dotted in read or any(".".join(path[:n]) in whole for n in range(1, len(path))):
            continue
        node = upstream
        for key in path:
            if isinstance(node, dict) and key in node:
                node = node[key]
                continue
            if node == {} or node == [] or (node is None and path.index(key) > 0):
                break  # an open map/list (or a null placeholder) upstream: free-form below
            unknown.append(".".join(path))
            break
    return unknown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream", type=Path, help="the chart's values.yaml")
    parser.add_argument("ours", type=Path, help="our values file for that chart")
    parser.add_argument("--templates", type=Path, action="append", default=[], help="the chart's templates/")
    args = parser.parse_args()
    upstream = yaml.safe_load(args.upstream.read_text())
    ours = yaml.safe_load(args.ours.read_text())
    texts = [args.upstream.read_text()]
    for directory in args.templates:
        texts += [p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()]
    unknown = unknown_paths(upstream, ours, "\n".join(texts))
    for path in unknown:
        print(f"{args.ours}: {path}: not a key of the chart's values.yaml")
    print(f"{args.ours}: {sum(1 for _ in leaf_paths(ours))} keys, {len(unknown)} unknown")
    return 1 if unknown else 0


if __name__ == "__main__":
    sys.exit(main())
