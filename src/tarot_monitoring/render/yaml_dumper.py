"""How the generated YAML files are written: PyYAML's safe dumper with a house style.

Block style throughout, keys in the order the generator built them (a rule reads ``alert``,
``expr``, ``for``, ``labels``, ``annotations``, as Prometheus' documentation writes it, and the
output is byte-for-byte reproducible, so "checked-in equals generated" is an exact test),
multi-line strings (PromQL, templates) as literal blocks, and no line folding (a long
description stays on one line, as greppable as the generator's source). PyYAML decides the
quoting: a string that a YAML reader could take for a number, a boolean or null is quoted. Its
resolver knows YAML 1.1; Prometheus 3 and Alertmanager read with YAML 1.2 rules as well, so the
1.2 float forms PyYAML would leave plain (``1e3``) are quoted too.
"""

from __future__ import annotations

import re
from typing import Final

import yaml

__all__ = ["GeneratedFileDumper", "dump"]

_NO_FOLDING: Final = 2**31 - 1
_YAML_12_FLOAT: Final = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")


class GeneratedFileDumper(yaml.SafeDumper):
    """SafeDumper writing multi-line strings as literal blocks (``|-``), quoting YAML 1.2 floats."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style by itself where a literal block could not keep the
    # text exactly (trailing spaces on a line, tabs, a leading blank).
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


GeneratedFileDumper.add_representer(str, _represent_str)
GeneratedFileDumper.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_12_FLOAT, list("-+.0123456789"))


def dump(document: object) -> str:
    """`document` (dicts, lists, str, int, float, bool, None) as YAML text ending in a newline."""
    return yaml.dump(
        document,
        Dumper=GeneratedFileDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=_NO_FOLDING,
    )
