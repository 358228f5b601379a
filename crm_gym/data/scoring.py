"""Upstream's per-turn checks (SPEC-arc.md section 4.1): argument match, error and reply match."""

from __future__ import annotations

import re
from typing import Any

from crm_gym.data.conversation import ExpectedResponse

_WHITESPACE = re.compile(r"\s+")


def arguments_match(expected: Any, actual: Any, path: str = "") -> tuple[bool, str | None]:
    """Every expected key must be present and equal in ``actual`` (extra keys are ignored).

    Numbers compare as floats (a numeric string counts), strings after trimming (case-sensitive),
    lists element by element, dicts recursively. Returns ``(matched, reason_if_not)``.
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
        if not isinstance(actual, list) or len(actual) != len(expected):
            return False, f"{path}: expected a list of {len(expected)}"
        for index, (want, got) in enumerate(zip(expected, actual)):
            matched, reason = arguments_match(want, got, f"{path}[{index}]")
            if not matched:
                return False, reason
        return True, None
    if _values_equal(expected, actual):
        return True, None
    return False, f"{path}: expected {expected!r}, got {actual!r}"


def _values_equal(expected: Any, actual: Any) -> bool:
    if _is_number(expected) or _is_number(actual):
        left, right = _as_float(expected), _as_float(actual)
        return left is not None and left == right
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip() == actual.strip()
    return expected == actual


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def error_matches(error: str | None, substring: str | None) -> bool:
    """An expected failure's error text: a case-insensitive substring (``validation error`` and
    an absent substring match any error)."""
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
    wanted = {normalize_reply(answer) for answer in expected.answers or [expected.text]}
    return normalize_reply(reply) in wanted
