"""A small deterministic YAML writer for the generated files (PyYAML is not a dependency).

Block style throughout; strings stay plain only when no YAML 1.1 or 1.2 reader could take them
for anything else (a number, a boolean, null, a flow collection, a comment), multi-line strings
(PromQL, templates) become literal blocks, other printable strings are single-quoted (only ``'``
is escaped, as ``''``), and the rest double-quoted with JSON escapes, which YAML's double-quoted
style accepts. Mappings keep their insertion order, so the output is
byte-for-byte reproducible and the "checked-in equals generated" test is exact.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Final

_PLAIN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_./:-]*(?<!:)|[0-9][A-Za-z0-9_./-]*")
_NUMBER_LIKE: Final = re.compile(r"[-+]?[0-9_.]*([eE][-+]?[0-9_]*)?|0[xXoObB][0-9A-Fa-f_]*|[0-9:_.]+")
_RESERVED: Final = frozenset(
    {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ".inf", ".nan", "-.inf"}
)


def dump(document: object) -> str:
    """`document` (dicts, lists, str, int, float, bool, None) as YAML text ending in a newline."""
    lines: list[str] = []
    _node(document, 0, lines)
    return "\n".join(lines) + "\n"


def scalar(value: object) -> str:
    """One scalar on a single line (strings with newlines are quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r}: not a finite number")
        return repr(value)
    if isinstance(value, str):
        if _plain_ok(value):
            return value
        if value.isprintable():
            return "'" + value.replace("'", "''") + "'"
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write a {type(value).__name__} as a YAML scalar")


def _plain_ok(text: str) -> bool:
    if not _PLAIN.fullmatch(text) or text.lower() in _RESERVED:
        return False
    return not (any(char.isdigit() for char in text) and _NUMBER_LIKE.fullmatch(text))


def _block_ok(text: str) -> bool:
    """A literal block keeps `text` exactly (with |-) when no line has trailing blanks or tabs."""
    lines = text.split("\n")
    return (
        "\n" in text
        and not text.endswith("\n")
        and not lines[0].startswith(" ")
        and all(line == line.rstrip() and "\t" not in line for line in lines)
    )


def _node(value: object, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            lines.append(pad + "{}")
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"mapping keys must be strings, got {key!r}")
            _entry(pad + scalar(key) + ":", item, indent, lines)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            lines.append(pad + "[]")
        for item in value:
            _entry(pad + "-", item, indent, lines, in_list=True)
    else:
        lines.append(pad + scalar(value))


def _entry(head: str, item: object, indent: int, lines: list[str], *, in_list: bool = False) -> None:
    if isinstance(item, str) and _block_ok(item):
        lines.append(f"{head} |-")
        lines.extend((" " * (indent + 2) + line) if line else "" for line in item.split("\n"))
    elif isinstance(item, Mapping) and item:
        if in_list:
            # "- key: value" with the mapping's other keys aligned under the first.
            nested: list[str] = []
            _node(item, indent + 2, nested)
            lines.append(f"{head} {nested[0][indent + 2 :]}")
            lines.extend(nested[1:])
        else:
            lines.append(head)
            _node(item, indent + 2, lines)
    elif isinstance(item, Sequence) and not isinstance(item, str) and item:
        lines.append(head)
        # Lists inside mappings are not indented further (the common Kubernetes/Prometheus style).
        _node(item, indent if not in_list else indent + 2, lines)
    elif isinstance(item, Mapping):
        lines.append(f"{head} {{}}")
    elif isinstance(item, Sequence) and not isinstance(item, str):
        lines.append(f"{head} []")
    else:
        lines.append(f"{head} {scalar(item)}")
