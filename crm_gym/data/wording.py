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
    values = intent.values
    if unsaid is not None:
        values = {key: value for key, value in values.items() if key != unsaid}
    words = _Words(rng)
    if intent.canonical:
        words.update(
            {m.kind: WORDS[m.kind][0] for m in intent.mentions.values() if not isinstance(m, list)}
        )
    slots = {**values, **intent.mentions}
    pattern = rng.pick(_eligible(intent.phrase, slots))
    body = _fill(pattern, slots, intent, rng, turn_id, words)
    return language.dress(rng, body, _compiled(pattern)[2], recovery)


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
    parts, states, _ = _compiled(pattern)
    leftover = [key for key in slots if key not in states]
    rng.shuffle(leftover)
    out = [parts[0]]
    for index in range(1, len(parts), 2):  # token names at odd positions, text after each
        part = parts[index]
        if part in ("rest", "all"):
            clauses = [_clause(family, key, slots[key], rng, turn_id, words) for key in leftover]
            text = language.join_clauses(rng, clauses)
            out.append(text if part == "all" or not text else rng.pick(REST_JOIN[family]) + text)
        elif part in _WORD_TOKENS:
            out.append(_word(part, words))
        elif part == "person":
            names = [slots["first_name"], slots.get("last_name")]
            out.append(language.quoted(rng, " ".join(name for name in names if name)))
        else:
            out.append(_say(part, slots[part], rng, turn_id, words))
        out.append(parts[index + 1])
    return "".join(out)


@cache
def _compiled(pattern: str) -> tuple[tuple[str, ...], frozenset[str], str]:
    """A pattern split once: text and token names, the slots it states, and its kind.

    Parts alternate literal text and token names (text first), so filling needs no regular
    expression; the kind is ``request``, ``question`` or ``statement``.
    """
    kind = _KINDS.get(pattern[0], "request")
    return tuple(_TOKEN.split(pattern.lstrip("?!"))), _tokens(pattern)[1], kind


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
    say = _SAY.get(key)
    return say(value, rng) if say is not None else language.quoted(rng, str(value))


def _say_money(value: Any, rng: Dice) -> str:
    if isinstance(value, (int, float)):
        return language.money(rng, value)
    return language.quoted(rng, str(value))


def _say_probability(value: Any, rng: Dice) -> str:
    if isinstance(value, (int, float)):
        return f"{value:g}" if 0 < value < 1 else language.percent(rng, value)
    return language.quoted(rng, str(value))


def _say_date(value: Any, rng: Dice) -> str:
    return language.day(rng, value) if _is_iso(value) else language.quoted(rng, str(value))


def _enum_sayer(allowed: tuple[str, ...]) -> Any:
    def say(value: Any, rng: Dice) -> str:
        if value in allowed:
            return value.lower() if rng.random() < 0.3 else value
        return language.quoted(rng, value)

    return say


def _say_bare(value: Any, rng: Dice) -> str:
    return str(value)


_SAY = {
    **dict.fromkeys(_MONEY, _say_money),
    "probability": _say_probability,
    **dict.fromkeys(_DATES, _say_date),
    **{key: _enum_sayer(allowed) for key, allowed in _ENUMS.items()},
    "entity_type": _enum_sayer(()),
    **dict.fromkeys(_BARE, _say_bare),
}
"""How each kind of argument is written (anything else: quoted text)."""


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
    turn, via, name = mention.turn, mention.via, mention.name
    if turn is None:
        category = "literal"
    elif via is not None:
        category = "via"
    else:
        category = "previous" if turn == turn_id - 1 and not explicit else "earlier"
    text = rng.pick(MENTION_FORMS[category] if name else _UNNAMED_FORMS[category])
    source = words[via][0] if via else ""
    shown = language.quoted(rng, name) if name else ""
    return text.format(w=word, id=mention.key, name=shown, n=turn, verb=mention.verb, src=source)


_UNNAMED_FORMS = {
    category: tuple(form for form in forms if "{name}" not in form)
    for category, forms in MENTION_FORMS.items()
}
"""The mention forms usable for an entity without a name."""
