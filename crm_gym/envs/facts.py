"""Reproducible facts of an expected reply, and how many of them an answer states.

Upstream compared replies to texts that embed another run's ids and database timestamps, so no
agent could match them without a judge. A fact here is a value that the reference run actually
produced (a field of the tool's payload, or the expected error text) and that the expected reply
states; an answer is scored by the share of facts it states (ids mapped to this run's ids,
numbers compared as numbers: "$120,000" states 120000.0).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from crm_gym.data.conversation import Turn

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_NUMERIC_FACT = re.compile(r"-?\d+(?:\.\d+)?")
MIN_FACT_CHARS = 2


def reply_facts(turn: Turn, payload: Any, error: str | None) -> tuple[str, ...]:
    """The payload values (and expected error text) that the turn's expected reply states."""
    expected = turn.expected_response
    if expected is None or not expected.text:
        return ()
    text = expected.text.lower()
    candidates: list[str] = []
    _scalars(payload, candidates)
    if error is not None and turn.expected_error_substring:
        candidates.append(turn.expected_error_substring)
    facts: dict[str, None] = {}
    for value in candidates:
        if len(value) >= MIN_FACT_CHARS and value.lower() in text:
            facts[value] = None
    return tuple(facts)


def _scalars(value: Any, out: list[str]) -> None:
    """Every scalar in ``value`` as text, depth first, appended to ``out``."""
    if isinstance(value, (dict, list, tuple)):
        for item in value.values() if isinstance(value, dict) else value:
            _scalars(item, out)
    elif value is not None and not isinstance(value, bool):
        out.append(str(value))


def response_score(answer: str, facts: tuple[str, ...], id_map: Mapping[str, str]) -> float | None:
    """Share of ``facts`` stated in ``answer`` (None when there are no facts to check)."""
    if not facts:
        return None
    lowered = answer.lower()
    numbers: set[float] | None = None
    stated = 0
    for fact in facts:
        fact = id_map.get(fact, fact)
        if fact.lower() in lowered:
            stated += 1
        elif _NUMERIC_FACT.fullmatch(fact):
            if numbers is None:
                numbers = {_to_float(match) for match in _NUMBER.findall(answer)}
            stated += float(fact) in numbers
    return stated / len(facts)


def _to_float(text: str) -> float:
    return float(text.replace(",", ""))
