"""Reproducible facts of an expected reply, and how well an answer states them (recall, precision).

Upstream compared replies to texts that embed another run's ids and database timestamps, so no
agent could match them without a judge. A fact here is a value that the reference run actually
produced (a field of the tool's payload, or the expected error text) and that the expected reply
states. An answer is scored by F1: recall is the share of facts it states (ids mapped to this
run's ids); precision is the share of its claims that are facts, where a claim is a value of the
agent's own successful payloads this turn that the answer states. Echoing the request states no
claim, and a dump of a whole result states many claims that are not facts, so neither pays.

"States" is one rule for facts and claims: the value's text appears in the answer (case
ignored), or the value is a number that appears among the answer's numbers ("$120,000" states
120000.0). Values shorter than two characters never count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from crm_gym.data.conversation import Turn
from crm_gym.data.templates import reference_payload

_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])-?\d[\d,]*(?:\.\d+)?")
"""A number as written in text; not the digits inside a word such as ``Q4``."""
_NUMERIC = re.compile(r"-?\d+(?:\.\d+)?")
MIN_FACT_CHARS = 2
PRECISION_TO_PASS = 0.5
"""A passing reply states every fact, and at least half of what it states from results are facts."""


@dataclass(frozen=True)
class ResponseScore:
    """How an answer states the reference reply's facts."""

    recall: float
    """Facts stated / facts."""
    precision: float
    """Claims that are facts / claims (1.0 without claims)."""

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall (0 when both are 0)."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def passes(self) -> bool:
        """Every fact stated, and at least half the claims are facts."""
        return self.recall == 1.0 and self.precision >= PRECISION_TO_PASS


@dataclass(frozen=True)
class ReplyFacts:
    """A reference reply's facts, and the reference payload's ``*_id`` fields that map them."""

    facts: tuple[str, ...]
    id_fields: tuple[tuple[str, str], ...] = ()


class _Text:
    """An answer (or reply), ready for "does it state this value" questions."""

    def __init__(self, text: str):
        self.lowered = text.lower()
        self._text = text
        self._numbers: set[float] | None = None

    def states(self, value: str) -> bool:
        if len(value) < MIN_FACT_CHARS:
            return False
        if value.lower() in self.lowered:
            return True
        if not _NUMERIC.fullmatch(value):
            return False
        if self._numbers is None:
            self._numbers = {_to_float(match) for match in _NUMBER.findall(self._text)}
        return float(value) in self._numbers


def reply_facts(turn: Turn, payload: Any, error: str | None) -> tuple[str, ...]:
    """The payload values (and expected error text) that the turn's expected reply states."""
    expected = turn.expected_response
    if expected is None or not expected.text:
        return ()
    text = _Text(expected.text)
    candidates = scalars(payload)
    if error is not None and turn.expected_error_substring:
        candidates.append(turn.expected_error_substring)
    return tuple(dict.fromkeys(value for value in candidates if text.states(value)))


def scalars(value: Any) -> list[str]:
    """Every scalar in ``value`` as text, depth first (booleans and None are no facts)."""
    out: list[str] = []
    _scalars(value, out)
    return out


def _scalars(value: Any, out: list[str]) -> None:
    # exact types, one level inlined: payloads are plain JSON values, and every value of every
    # result passes here once per turn
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        if value is not None and kind is not bool:
            out.append(value if kind is str else str(value))
        return
    for item in items:
        kind = type(item)
        if kind is str:
            out.append(item)
        elif kind is dict or kind is list or kind is tuple:
            _scalars(item, out)
        elif item is not None and kind is not bool:
            out.append(str(item))


def response_score(
    answer: str,
    facts: tuple[str, ...],
    id_map: Mapping[str, str],
    payloads: Iterable[Any] = (),
    neutral: frozenset[str] = frozenset(),
) -> ResponseScore | None:
    """Recall and precision of ``answer`` (None when the reply states no reproducible fact).

    Args:
        answer: the agent's final answer of the turn.
        facts: the reference reply's facts (``reply_facts``), in the reference run's ids.
        id_map: reference ids -> this run's ids.
        payloads: the payloads of the agent's successful calls in this turn (its claims' source).
        neutral: values that count as no claim (``unstated_ids``).
    """
    if not facts:
        return None
    text = _Text(answer)
    mapped = tuple(id_map.get(fact, fact) for fact in facts) if id_map else facts
    lowered = text.lowered
    stated = sum(fact.lower() in lowered or text.states(fact) for fact in mapped)
    recall = stated / len(mapped)
    claims = _claims(text, payloads, neutral)
    if not claims:
        return ResponseScore(recall, 1.0)
    return ResponseScore(recall, len(claims & _fact_keys(mapped)) / len(claims))


@lru_cache(maxsize=8192)
def _fact_keys(facts: tuple[str, ...]) -> frozenset[str | float]:
    """The facts' keys (``_key``), cached: a reference turn's facts are scored again and again."""
    return frozenset(_key(fact) for fact in facts)


def id_fields(payload: Any) -> tuple[tuple[str, str], ...]:
    """A payload's ``*_id`` fields that hold text: what maps its ids to another run's."""
    payload = reference_payload(payload) if payload is not None else {}
    if not isinstance(payload, dict):
        return ()
    return tuple(
        (key, value)
        for key, value in payload.items()
        if key.endswith("_id") and isinstance(value, str)
    )


def unstated_ids(
    reference_ids: tuple[tuple[str, str], ...], facts: tuple[str, ...], ours: Any
) -> frozenset[str]:
    """This run's ids in the ``*_id`` fields whose reference id the reply does not state.

    Upstream's replies state the ids of another run, which are then no facts; this run's id in
    such a field is true, so an answer that states it makes neither a fact nor a wrong claim.
    """
    if not reference_ids or ours is None:
        return frozenset()
    ours = reference_payload(ours)
    stated = set(facts)
    return frozenset(
        ours[key]
        for key, value in reference_ids
        if value not in stated and isinstance(ours.get(key), str)
    )


def id_map(reference_ids: tuple[tuple[str, str], ...], ours: Any) -> dict[str, str]:
    """Reference ids -> this run's ids, read from the two payloads' ``*_id`` fields.

    ``reference_ids``: the reference payload's ``(field, id)`` pairs; ``ours``: this run's payload.
    """
    if not reference_ids or ours is None:
        return {}
    ours = reference_payload(ours)
    return {value: ours[key] for key, value in reference_ids if isinstance(ours.get(key), str)}


def _claims(text: _Text, payloads: Iterable[Any], neutral: frozenset[str]) -> set[str | float]:
    """The keys of the payload values that ``text`` states (``states``, unrolled: this is hot)."""
    strings: set[str] = set()
    numbers: set[int | float] = set()
    for payload in payloads:
        _split_scalars(payload, strings, numbers)
    lowered = text.lowered
    claims: set[str | float] = set()
    for number in numbers:
        written = str(number)
        if len(written) >= MIN_FACT_CHARS and (written in lowered or text.states(written)):
            claims.add(_key(written))  # as a fact's key: 1e+16 and nan stay text
    for value in strings - neutral:
        if len(value) < MIN_FACT_CHARS:
            continue
        if value[0] in _NUMBER_STARTS and _NUMERIC.fullmatch(value):
            if value in lowered or text.states(value):
                claims.add(float(value))
        elif value.lower() in lowered:
            claims.add(value.lower())
    return claims


def _split_scalars(value: Any, strings: set[str], numbers: set[int | float]) -> None:
    """``_scalars`` into text and numbers (a number needs no parsing to be compared)."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        items = (value,)
    for item in items:
        kind = type(item)
        if kind is str:
            strings.add(item)
        elif kind is float or kind is int:
            numbers.add(item)
        elif kind is dict or kind is list or kind is tuple:
            _split_scalars(item, strings, numbers)
        elif item is not None and kind is not bool:
            strings.add(str(item))


_NUMBER_STARTS = frozenset("-0123456789")


def _key(value: str) -> str | float:
    """The normal form facts and claims compare in: numbers as numbers, text without case."""
    return float(value) if _NUMERIC.fullmatch(value) else value.lower()


def _to_float(text: str) -> float:
    return float(text.replace(",", ""))
