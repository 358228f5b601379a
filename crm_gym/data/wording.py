"""Rendering an intent as a user utterance from the phrasebook's grammar.

Every literal value the expected arguments need is stated (formatted by ``language``); entities
are named by literal id or by the earlier turn whose result holds them, matching the expected
arguments' templates. The choice of pattern, clause forms, order, synonyms and dress all come
from the conversation's generator.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from crm_gym.data import language
from crm_gym.data.clauses import CLAUSES, FAMILY, MENTION_FORMS, REST_JOIN
from crm_gym.data.phrasebook import PATTERNS, TOKENS, WORDS
from crm_gym.data.pools import Dice

if TYPE_CHECKING:
    from crm_gym.data.scene import Intent, Mention

_TOKEN = re.compile(r"\{(\w+)\}")
_PLURALS = {f"{t}s": kind for t, kind in TOKENS.items() if t != "Company"} | {
    "Companies": "Company"
}
_WORD_TOKENS = {*TOKENS, *_PLURALS, *(f"a_{t}" for t in TOKENS)}
_KINDS = {"?": "question", "!": "statement"}
_MONEY = ("amount", "value")
_DATES = ("close_date", "valid_until", "start_date", "end_date")
_ENUMS = {
    "stage": (
        "Prospecting",
        "Qualification",
        "Proposal",
        "Negotiation",
        "Closed-Won",
        "Closed-Lost",
    ),
    "status": (
        "Active",
        "Prospect",
        "Inactive",
        "Draft",
        "Sent",
        "Approved",
        "Rejected",
        "Canceled",
        "Pending",
        "Expired",
    ),
    "type": ("Partner", "Vendor", "Competitor"),
}
_BARE = ("email", "phone", "document_url", "file_url")


def unsayable(intent: Intent, rng: Dice) -> str | None:
    """A value the utterance could leave unsaid (for under-specified data), or None."""
    slots = {**intent.values, **intent.mentions}
    keys = [
        key for key in list(intent.values)[1:] if _fits(intent.phrase, frozenset(slots) - {key})
    ]
    return rng.pick(keys) if keys else None


def _fits(phrase: str, slots: frozenset[str]) -> bool:
    try:
        return bool(_fitting(phrase, slots))
    except ValueError:
        return False


def render(
    intent: Intent, rng: Dice, turn_id: int, recovery: bool = False, unsaid: str | None = None
) -> str:
    """The utterance of one turn (``unsaid``: a value left out, for under-specified data)."""
    values = {key: value for key, value in intent.values.items() if key != unsaid}
    words = _Words(rng)
    if intent.canonical:
        words.update(
            {m.kind: WORDS[m.kind][0] for m in intent.mentions.values() if not isinstance(m, list)}
        )
    slots = {**values, **intent.mentions}
    pattern = rng.pick(_eligible(intent.phrase, slots))
    kind = _KINDS.get(pattern[0], "request")
    body = _fill(pattern.lstrip("?!"), slots, intent, rng, turn_id, words)
    return language.dress(rng, body, kind, recovery)


class _Words(dict):
    """Entity words of one utterance: a synonym per entity type, drawn when first needed."""

    def __init__(self, rng: Dice):
        super().__init__()
        self.rng = rng

    def __missing__(self, kind: str) -> tuple[str, str]:
        self[kind] = word = self.rng.pick(WORDS[kind])
        return word


@cache
def _tokens(pattern: str) -> tuple[frozenset[str], frozenset[str]]:
    """The slots a pattern needs, and the slots it states (a person states both names)."""
    tokens = set(_TOKEN.findall(pattern)) - _WORD_TOKENS - {"rest", "all"}
    needs = frozenset("first_name" if token == "person" else token for token in tokens)
    return needs, needs | {"last_name"} if "first_name" in needs else needs


def _eligible(phrase: str, slots: dict[str, Any]) -> tuple[str, ...]:
    """Patterns whose tokens are all available and that leave nothing unsaid."""
    return _fitting(phrase, frozenset(slots))


@lru_cache(maxsize=4096)
def _fitting(phrase: str, slots: frozenset[str]) -> tuple[str, ...]:
    found = []
    for pattern in PATTERNS[phrase]:
        needs, states = _tokens(pattern)
        leftover = slots - states
        if not needs <= slots:
            continue
        if "{all}" in pattern and not leftover:
            continue
        if leftover and "{rest}" not in pattern and "{all}" not in pattern:
            continue
        found.append(pattern)
    if not found:
        raise ValueError(f"no pattern of {phrase!r} fits the slots {sorted(slots)}")
    return tuple(found)


def _fill(
    pattern: str,
    slots: dict[str, Any],
    intent: Intent,
    rng: Dice,
    turn_id: int,
    words: dict[str, tuple[str, str]],
) -> str:
    family = "filter" if intent.tool.endswith("_search") else FAMILY.get(intent.phrase, "attr")
    states = _tokens(pattern)[1]
    leftover = [key for key in slots if key not in states]
    rng.shuffle(leftover)

    def token(match: re.Match[str]) -> str:
        name = match[1]
        if name in ("rest", "all"):
            clauses = [_clause(family, key, slots[key], rng, turn_id, words) for key in leftover]
            text = language.join_clauses(rng, clauses)
            return text if name == "all" or not text else rng.pick(REST_JOIN[family]) + text
        if name in _WORD_TOKENS:
            return _word(name, words)
        if name == "person":
            parts = [slots["first_name"], slots.get("last_name")]
            return language.quoted(rng, " ".join(p for p in parts if p))
        return _say(name, slots[name], rng, turn_id, words)

    return _TOKEN.sub(token, pattern)


def _word(token: str, words: dict[str, tuple[str, str]]) -> str:
    if token.startswith("a_"):
        singular = words[TOKENS[token[2:]]][0]
        return f"{language.article(singular)} {singular}"
    if token in TOKENS:
        return words[TOKENS[token]][0]
    return words[_PLURALS[token]][1]


def _clause(
    family: str, key: str, value: Any, rng: Dice, turn_id: int, words: dict[str, tuple[str, str]]
) -> str:
    form = rng.pick(CLAUSES[family][key])
    return form.replace("{v}", _say(key, value, rng, turn_id, words))


def _say(key: str, value: Any, rng: Dice, turn_id: int, words: dict[str, tuple[str, str]]) -> str:
    """One value (or mention) as text."""
    if isinstance(value, list):
        return language.join_clauses(
            rng, [mention_text(m, rng, turn_id, words, True) for m in value]
        )
    if hasattr(value, "arg"):
        return mention_text(value, rng, turn_id, words)
    return say_value(key, value, rng)


def say_value(key: str, value: Any, rng: Dice) -> str:
    """A literal argument value the way a user writes it."""
    if key in _MONEY and isinstance(value, (int, float)):
        return language.money(rng, value)
    if key == "probability" and isinstance(value, (int, float)):
        return f"{value:g}" if 0 < value < 1 else language.percent(rng, value)
    if key in _DATES and _is_iso(value):
        return language.day(rng, value)
    if key in _ENUMS or key == "entity_type":
        valid = value in _ENUMS.get(key, ())
        return (
            (value.lower() if rng.random() < 0.3 else value)
            if valid
            else language.quoted(rng, value)
        )
    if key in _BARE:
        return str(value)
    return language.quoted(rng, str(value))


def _is_iso(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-"


def mention_text(
    mention: Mention,
    rng: Dice,
    turn_id: int,
    words: dict[str, tuple[str, str]],
    explicit: bool = False,
) -> str:
    """How this turn names an entity (``explicit``: never just "that deal")."""
    word = words[mention.kind][0]
    if mention.turn is None:
        forms = MENTION_FORMS["literal"]
    elif mention.via is not None:
        forms = MENTION_FORMS["via"]
    else:
        forms = MENTION_FORMS[
            "previous" if mention.turn == turn_id - 1 and not explicit else "earlier"
        ]
    if not mention.name:
        forms = tuple(form for form in forms if "{name}" not in form)
    text = rng.pick(forms)
    source = words[mention.via][0] if mention.via else ""
    name = language.quoted(rng, mention.name) if mention.name else ""
    return (
        text.replace("{w}", word)
        .replace("{id}", mention.key)
        .replace("{name}", name)
        .replace("{n}", str(mention.turn))
        .replace("{verb}", mention.verb)
        .replace("{src}", source)
    )
