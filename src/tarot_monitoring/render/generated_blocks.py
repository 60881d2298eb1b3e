"""Generated blocks inside hand-written files: the text between two marker comments.

A block starts with a line ``# BEGIN GENERATED <name>`` (anything may follow on that line) and
ends with ``# END GENERATED <name>``; :func:`splice` replaces what lies between them with the
generator's text, indented as the BEGIN line is. Everything outside the markers, comments
included, stays as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["splice"]


def _block(name: str) -> re.Pattern[str]:
    marker = re.escape(name)
    return re.compile(
        rf"^(?P<begin>(?P<indent>[ ]*)# BEGIN GENERATED {marker}(?:[ :][^\n]*)?\n)"
        rf".*?"
        rf"^(?P<end>[ ]*# END GENERATED {marker}[ ]*$)",
        re.M | re.S,
    )


def splice(text: str, blocks: Mapping[str, str], *, source: str = "the file") -> str:
    """`text` with each named block's contents replaced; a ValueError naming a missing marker."""
    for name, body in blocks.items():
        found = list(_block(name).finditer(text))
        if len(found) != 1:
            raise ValueError(
                f"{source}: expected one '# BEGIN GENERATED {name}' ... '# END GENERATED {name}' block, "
                f"found {len(found)}"
            )
        (match,) = found
        indent = match.group("indent")
        lines = "".join(f"{indent}{line}\n" if line else "\n" for line in body.splitlines())
        text = text[: match.start()] + match.group("begin") + lines + match.group("end") + text[match.end() :]
    return text
