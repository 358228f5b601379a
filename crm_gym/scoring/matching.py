"""Matching rules: upstream's per-turn checks (SPEC-arc.md section 4.1) and the argument score.

Upstream's checks are all-or-nothing (argument match, error match, structured reply match); the
argument score is the share of expected values matched, which the shaped reward pays for.
"""

from __future__ import annotations

import re
from typing import Any

from crm_gym.data.conversation import ExpectedResponse

_WHITESPACE = re.compile(r"\s+")


def arguments_match(expected: Any, actual: Any, path: str = "") -> tuple[bool, str | None]:
    """Every expected key must be present and equal in ``actual`` (extra keys are ignored).

    An expected number matches a number or numeric string of equal float value, strings compare
    after trimming (case-sensitive), lists need equal length and equal elements (dict elements
    recursively, others by ``==``), dicts recursively. Returns ``(matched, reason_if_not)``.
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False, f"{path or 'arguments'}: expected an object"
        for key, value in expected.items():
            where = f"{path}.{key}" if path else key
            if key not in actual:
                return False, f"{where}: missing"
            matched, reason = arguments_match(value, actual[key], where)
            if not matched:
                return False, reason
        return True, None
    if isinstance(expected, list):
        return _lists_match(expected, actual, path)
    if _values_equal(expected, actual):
        return True, None
    return False, f"{path}: expected {expected!r}, got {actual!r}"


def _lists_match(expected: list, actual: Any, path: str) -> tuple[bool, str | None]:
    if not isinstance(actual, list) or len(actual) != len(expected):
        return False, f"{path}: expected a list of {len(expected)}"
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        if isinstance(want, dict) and isinstance(got, dict):
            matched, reason = arguments_match(want, got, f"{path}[{index}]")
            if not matched:
                return False, reason
        elif want != got:  # upstream compared non-dict list elements plainly
            return False, f"{path}[{index}]: expected {want!r}, got {got!r}"
    return True, None


def _values_equal(expected: Any, actual: Any) -> bool:
    # Upstream coerced only the agent's side: an expected number accepts a numeric string, an
    # expected string never matches a number (``bool`` is a number here, as in Python).
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float, str)):
        try:
            return float(actual) == float(expected)
        except (ValueError, OverflowError):
            return False
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip() == actual.strip()
    return expected == actual


def error_matches(error: str | None, substring: str | None) -> bool:
    """Whether an expected failure's error contains the expected case-insensitive substring.

    ``validation error`` (any case) and an absent substring match any error.
    """
    if error is None:
        return False
    if not substring or substring.strip().lower() == "validation error":
        return True
    return substring.lower() in error.lower()


def normalize_reply(text: str) -> str:
    """Lower-case and collapse whitespace runs, as upstream compared replies."""
    return _WHITESPACE.sub(" ", text.strip().lower())


def response_matches(reply: str | None, expected: ExpectedResponse | None) -> bool | None:
    """Structured reply check: True/False, or None when there is nothing structured to check."""
    if expected is None or (not expected.text and not expected.answers):
        return None
    if expected.evaluation != "structured":
        return None
    if not reply or not reply.strip():
        return False
    wanted = {normalize_reply(answer) for answer in expected.answers}
    if expected.text:  # upstream accepted the text as well as every answer
        wanted.add(normalize_reply(expected.text))
    return normalize_reply(reply) in wanted


def argument_score(expected: dict[str, Any], actual: dict[str, Any]) -> float:
    """Share of expected argument values matched; ``criteria`` entries count one by one.

    1.0 when nothing is expected; a value matches when ``arguments_match`` accepts it, so 1.0
    exactly when ``arguments_match(expected, actual)`` holds.
    """
    leaves = []
    for key, value in expected.items():
        if key == "criteria" and isinstance(value, dict):
            given = actual.get("criteria") if isinstance(actual.get("criteria"), dict) else {}
            leaves += [(value[k], given.get(k, _MISSING), k in given) for k in value]
        else:
            leaves.append((value, actual.get(key, _MISSING), key in actual))
    if not leaves:
        return 1.0
    matched = 0
    for want, got, present in leaves:
        # equal plain strings match (arguments_match compares them stripped), without the call
        if present and (
            (type(want) is str and type(got) is str and want == got)
            or arguments_match(want, got)[0]
        ):
            matched += 1
    return matched / len(leaves)


_MISSING = object()
