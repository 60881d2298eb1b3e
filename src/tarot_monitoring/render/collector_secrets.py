"""The collector's secret and PII patterns, generated from tarot_monitoring.scrubbing.

The SDK scrubs before anything leaves the process; the collector scrubs again (defence in
depth, and for services that do not use this package) with the same patterns, written into
``otel-collector/config/base.yaml`` between ``# BEGIN GENERATED <name>`` / ``# END GENERATED
<name>`` markers by ``tarot-monitor render`` (``render --check`` fails when they drift):

- ``redaction-patterns``: ``redaction/secrets``' ``blocked_key_patterns`` (scrubbing.SECRET_KEY)
  and ``blocked_values`` (scrubbing.DEFAULT_RULES, one entry per rule);
- ``scrub-statements``: ``transform/scrub``'s statements: the same value patterns as one
  alternation over span names and status messages (which the redaction processor does not
  visit), and user ids that are not the SDK's keyed hash (scrubbing.USER_ID_KEYS, HASH_PREFIX).

The blocks are generated in place rather than as a separate config file: base.yaml stays the one
self-contained pipeline every deployment loads (the native stack, docker-compose, the tests, a
plain ``otelcol --config base.yaml``), with the comments that explain these processors next to
them; a separate file would have to be added to every one of those command lines, and base.yaml
alone would no longer validate.

The collector's regular expressions are Go RE2, which has no look-around. Translation
(:func:`re2`): a look-behind guard is dropped (the collector then masks a little more than the
SDK, e.g. a token glued to more digits); a negative look-ahead of one character or class,
``(?!x)``, becomes ``(?:[^x]|$)``, which finds the same occurrences; anything else is refused.
Rules whose SDK form decides in code have a collector form of their own here
(:data:`COLLECTOR_FORMS`: card numbers by issuer prefix, as RE2 cannot run the Luhn check).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from tarot_monitoring import scrubbing
from tarot_monitoring.render.yaml_dumper import dump

__all__ = ["COLLECTOR_FORMS", "MASK", "blocked_values", "blocks", "re2", "scrub_pattern"]

MASK: Final = "****"
"""What the redaction processor puts in place of a match; transform/scrub uses the same."""

COLLECTOR_FORMS: Final[Mapping[str, tuple[str, ...]]] = {
    # Visa, Mastercard, Discover (16 or 19 digits) and Amex (15), with optional separators. The
    # SDK takes any 13-19 digit run that passes the Luhn check, which a regex cannot express.
    "card_number": (
        r"\b(?:4\d{3}|5[1-5]\d{2}|2[2-7]\d{2}|6(?:011|5\d{2}))(?:[ -]?\d{4}){3}(?:\d{3})?\b",
        r"\b3[47]\d{2}[ -]?\d{6}[ -]?\d{5}\b",
    ),
}
"""The collector's patterns for the scrubbing rules whose SDK pattern alone is not the rule."""

_LOOKAROUND: Final = re.compile(r"\(\?(<!|<=|!|=)")
_SHORTHAND_NEGATION: Final = {r"\d": r"\D", r"\w": r"\W", r"\s": r"\S"}


def _group_end(pattern: str, start: int) -> int:
    """Index just past the group opening at `start` (escapes and character classes respected)."""
    depth, index, in_class = 0, start, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1 : index + 2] == "]":  # a leading ] is a literal
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError(f"unbalanced group at {start} in {pattern!r}")


def _not_one(atom: str, pattern: str) -> str:
    """The complement of a one-character atom: ``s`` -> ``[^s]``, ``\\d`` -> ``\\D``, ``[x]`` -> ``[^x]``."""
    if atom in _SHORTHAND_NEGATION:
        return _SHORTHAND_NEGATION[atom]
    if atom.startswith("[") and atom.endswith("]") and _group_end(f"({atom})", 0) == len(atom) + 2:
        inner = atom[1:-1]
        return f"[{inner[1:]}]" if inner.startswith("^") else f"[^{inner}]"
    if len(atom) == 1 and atom not in r"\.^$|?*+()[]{}":
        return f"[^{atom}]"
    if len(atom) == 2 and atom[0] == "\\" and not atom[1].isalnum():
        return f"[^{atom}]"
    raise ValueError(f"cannot write (?!{atom}) for RE2 in {pattern!r}: only one character or class")


def re2(pattern: str) -> str:
    """`pattern` (Python ``re``) as Go RE2 finds it: see the module docstring for the translation."""
    result, index = [], 0
    while (found := _LOOKAROUND.search(pattern, index)) is not None:
        if found.start() > 0 and pattern[found.start() - 1] == "\\":
            result.append(pattern[index : found.end()])
            index = found.end()
            continue
        end = _group_end(pattern, found.start())
        result.append(pattern[index : found.start()])
        kind, body = found.group(1), pattern[found.end() : end - 1]
        if kind == "!":
            result.append(f"(?:{_not_one(body, pattern)}|$)")
        elif kind == "=":
            raise ValueError(f"cannot write the look-ahead (?={body}) for RE2 in {pattern!r}")
        # a look-behind guard is dropped
        index = end
    result.append(pattern[index:])
    return "".join(result)


def blocked_values() -> list[tuple[str, str]]:
    """(rule name, RE2 pattern) for every scrubbing rule, in the SDK's order."""
    names = {rule.name for rule in scrubbing.DEFAULT_RULES}
    unknown = set(COLLECTOR_FORMS) - names
    if unknown:
        raise ValueError(
            f"COLLECTOR_FORMS names rules scrubbing.DEFAULT_RULES does not have: {sorted(unknown)}"
        )
    values = []
    for rule in scrubbing.DEFAULT_RULES:
        forms = COLLECTOR_FORMS.get(rule.name) or (re2(rule.pattern.pattern),)
        values += [(rule.name, form) for form in forms]
    return values


def _scoped(pattern: str) -> str:
    """`pattern` usable as one branch of an alternation: a leading ``(?i)`` only covers its branch."""
    if pattern.startswith("(?i)"):
        return f"(?i:{pattern[4:]})"
    if "(?i)" in pattern:
        raise ValueError(f"an inline (?i) must lead the pattern: {pattern!r}")
    return pattern


def scrub_pattern() -> str:
    """Every blocked value as one RE2 alternation (for OTTL's replace_pattern)."""
    return "|".join(_scoped(pattern) for _, pattern in blocked_values())


def _ottl(text: str) -> str:
    """`text` as an OTTL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _raw_user_id_deletions(context: str) -> list[str]:
    hashed = _ottl(f"^{re.escape(scrubbing.HASH_PREFIX)}[0-9a-f]{{{scrubbing.HASH_HEX_DIGITS}}}$")
    statements = []
    for key in sorted(scrubbing.USER_ID_KEYS):
        value = f"{context}.attributes[{_ottl(key)}]"
        condition = f"{value} != nil and not IsMatch({value}, {hashed})"
        statements.append(f"delete_key({context}.attributes, {_ottl(key)}) where {condition}")
    return statements


def _redaction_patterns() -> str:
    lines = [
        "blocked_key_patterns:",
        *_items([re2(scrubbing.SECRET_KEY.pattern)]),
        "ignored_keys:",
        *_items(sorted(scrubbing.NOT_SECRET_KEYS)),
        "blocked_values:",
    ]
    for name, pattern in blocked_values():
        lines += [f"  # {name}", *_items([pattern])]
    return "\n".join(lines) + "\n"


def _items(values: list[str]) -> list[str]:
    return ["  " + line for line in dump(values).splitlines()]


def _scrub_statements() -> str:
    pattern, mask = _ottl(scrub_pattern()), _ottl(MASK)
    user_ids = _ottl(f"^(?:{'|'.join(re.escape(key) for key in sorted(scrubbing.USER_ID_KEYS))})$")
    return dump(
        {
            "trace_statements": [
                {
                    "context": "span",
                    "statements": [
                        f"replace_pattern(span.name, {pattern}, {mask})",
                        f"replace_pattern(span.status.message, {pattern}, {mask})",
                        *_raw_user_id_deletions("span"),
                    ],
                }
            ],
            "log_statements": [{"context": "log", "statements": _raw_user_id_deletions("log")}],
            "metric_statements": [
                {
                    "context": "datapoint",
                    "statements": [f"delete_matching_keys(datapoint.attributes, {user_ids})"],
                }
            ],
        }
    )


def blocks() -> dict[str, str]:
    """The generated blocks of base.yaml by marker name, as YAML at indentation 0."""
    return {"redaction-patterns": _redaction_patterns(), "scrub-statements": _scrub_statements()}
