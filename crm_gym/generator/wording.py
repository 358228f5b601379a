"""Rendering an intent as a user utterance from the phrasebook's grammar.

Every literal value the expected arguments need is stated (formatted by ``phrasing``); entities
are named by literal id or by the earlier turn whose result holds them, matching the expected
arguments' templates. The choice of pattern, clause forms, order, synonyms and dress all come
from the conversation's generator.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any, NamedTuple, cast

from crm_gym.crm import entities
from crm_gym.generator import phrasing
from crm_gym.generator.clauses import CLAUSES, FAMILY, MENTION_FORMS, REST_JOIN
from crm_gym.generator.holdout import Side, is_held_out_pattern
from crm_gym.generator.intents import Intent, Mention
from crm_gym.generator.phrasebook import PATTERNS, TOKENS, WORDS
from crm_gym.generator.pools import Dice

_TOKEN = re.compile(r"\{(\w+)\}")
_PLURALS = {f"{t}s": kind for t, kind in TOKENS.items() if t != "Company"} | {
    "Companies": "Company"
}
_WORD_TOKENS = {*TOKENS, *_PLURALS, *(f"a_{t}" for t in TOKENS)}
_KINDS = {"?": "question", "!": "statement"}
_MONEY = ("amount", "value")
_DATES = ("close_date", "valid_until", "start_date", "end_date")
_ENUMS = {
    "stage": entities.OPPORTUNITY_STAGES,
    "status": tuple(
        dict.fromkeys(
            entities.CLIENT_STATUSES + entities.QUOTE_STATUSES + entities.CONTRACT_STATUSES
        )
    ),
    "type": entities.COMPANY_TYPES,
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
    plans = (
        _plans(intent.phrase, *slots)
        if rng.side == "all"
        else _side_plans(intent.phrase, rng.side, *slots)
    )
    plan = rng.pick(plans)
    body = _fill(plan, slots, intent, rng, turn_id, words)
    return phrasing.dress(rng, body, plan.kind, recovery)


class _Words(dict):
    """Entity words of one utterance: a synonym per entity type, drawn when first needed."""

    __slots__ = ("rng",)

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


@lru_cache(maxsize=4096)
def _fitting(phrase: str, slots: frozenset[str]) -> tuple[str, ...]:
    """Patterns whose tokens are all available and that leave nothing unsaid."""
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


@lru_cache(maxsize=4096)
def _plans(phrase: str, *slots: str) -> tuple[_Plan, ...]:
    """The compiled plans of ``_fitting``'s patterns.

    Keyed by the slot names in their order (a frozenset per turn costs more): few orders occur,
    and the cache is bounded all the same.
    """
    return tuple(map(_compiled, _fitting(phrase, frozenset(slots))))


@lru_cache(maxsize=4096)
def _side_plans(phrase: str, side: Side, *slots: str) -> tuple[_Plan, ...]:
    """``_plans`` of one side of the held-out split (``crm_gym.generator.holdout``).

    Where no fitting pattern is on that side (a request with an unusual set of values), every
    fitting pattern is used, and ``SIDE_FALLBACKS`` records it for the split's test.
    """
    fitting = _fitting(phrase, frozenset(slots))
    patterns = PATTERNS[phrase]
    held_out = side == "held_out"
    kept = tuple(p for p in fitting if is_held_out_pattern(patterns.index(p)) == held_out)
    if not kept:
        SIDE_FALLBACKS.add((phrase, side, slots))
    return tuple(map(_compiled, kept or fitting))


SIDE_FALLBACKS: set[tuple[str, str, tuple[str, ...]]] = set()
"""(phrase, side, slots) whose side had no fitting pattern: the split's leaks, for its test."""


class _Plan(NamedTuple):
    """A pattern compiled once, so filling it needs no parsing.

    ``steps`` are (how, token, text after): ``how`` is ``say`` (a value or mention), ``rest``,
    ``all``, ``person``, or a word token's form (``one``, ``many``, ``a_one``) with the entity
    type as token. ``kind`` is ``request``, ``question`` or ``statement``; a ``clausal`` pattern
    says leftover slots as clauses (``{rest}`` or ``{all}``).
    """

    head: str
    steps: tuple[tuple[str, str, str], ...]
    states: frozenset[str]
    kind: str
    clausal: bool


@cache
def _compiled(pattern: str) -> _Plan:
    parts = _TOKEN.split(pattern.lstrip("?!"))
    tokens, texts = parts[1::2], parts[2::2]
    steps = tuple(_step(token, after) for token, after in zip(tokens, texts, strict=True))
    kind = _KINDS.get(pattern[0], "request")
    clausal = "{rest}" in pattern or "{all}" in pattern
    return _Plan(parts[0], steps, _tokens(pattern)[1], kind, clausal)


def _step(token: str, after: str) -> tuple[str, str, str]:
    if token in ("rest", "all", "person"):
        return token, token, after
    if token.startswith("a_"):
        return "a_one", TOKENS[token[2:]], after
    if token in TOKENS:
        return "one", TOKENS[token], after
    if token in _PLURALS:
        return "many", _PLURALS[token], after
    return "say", token, after


def _fill(
    plan: _Plan,
    slots: dict[str, Any],
    intent: Intent,
    rng: Dice,
    turn_id: int,
    words: dict[str, tuple[str, str]],
) -> str:
    leftover = []  # without {rest} or {all}, the pattern's tokens state every slot
    if plan.clausal:
        leftover = [key for key in slots if key not in plan.states]
        rng.shuffle(leftover)
    out = [plan.head]
    for how, token, after in plan.steps:
        if how == "say":
            out.append(_say(token, slots[token], rng, turn_id, words))
        elif how == "rest" or how == "all":
            clauses, joins = _family_forms(intent.tool)
            out.append(_clauses(how, clauses, joins, leftover, slots, rng, turn_id, words))
        elif how == "person":
            names = [slots["first_name"], slots.get("last_name")]
            out.append(phrasing.quoted(rng, " ".join(name for name in names if name)))
        elif how == "one":
            out.append(words[token][0])
        elif how == "many":
            out.append(words[token][1])
        else:
            singular = words[token][0]
            out.append(f"{phrasing.article(singular)} {singular}")
        out.append(after)
    return "".join(out)


def _family_forms(tool: str) -> tuple[dict[str, tuple[tuple[str, str], ...]], tuple[str, ...]]:
    """The clause forms (split) and rest joins of a tool's clause family."""
    family = FAMILY[tool]
    return _SPLIT_CLAUSES[family], REST_JOIN[family]


def _clauses(
    how: str,
    forms: dict[str, tuple[tuple[str, str], ...]],
    joins: tuple[str, ...],
    keys: list[str],
    slots: dict[str, Any],
    rng: Dice,
    turn_id: int,
    words: dict[str, tuple[str, str]],
) -> str:
    """The values of ``keys`` as clauses (of ``forms``), joined as a list.

    ``how`` is ``all`` (the clauses are the text) or ``rest`` (joined to the body by one of
    ``joins``, if any).
    """
    clauses = []
    for key in keys:
        head, tail = rng.pick(forms[key])
        clauses.append(head + _say(key, slots[key], rng, turn_id, words) + tail)
    text = phrasing.join_clauses(rng, clauses)
    if how == "all" or not text:
        return text
    return rng.pick(joins) + text


def _split_clause(form: str) -> tuple[str, str]:
    head, tail = form.split("{v}")
    return head, tail


_SPLIT_CLAUSES = {
    family: {key: tuple(_split_clause(form) for form in forms) for key, forms in by_key.items()}
    for family, by_key in CLAUSES.items()
}
"""The clause forms split once around their value (``{v}``)."""


def _say(key: str, value: Any, rng: Dice, turn_id: int, words: dict[str, tuple[str, str]]) -> str:
    """One value (or mention: a named tuple, or a list of them) as text."""
    if isinstance(value, list):
        return phrasing.join_clauses(
            rng, [mention_text(m, rng, turn_id, words, True) for m in value]
        )
    if isinstance(value, tuple):
        return mention_text(cast("Mention", value), rng, turn_id, words)
    say = _SAY.get(key)  # how this kind of literal value is written (else: quoted text)
    return say(value, rng) if say is not None else phrasing.quoted(rng, str(value))


def _say_money(value: Any, rng: Dice) -> str:
    if isinstance(value, (int, float)):
        return phrasing.money(rng, value)
    return phrasing.quoted(rng, str(value))


def _say_probability(value: Any, rng: Dice) -> str:
    if isinstance(value, (int, float)):
        return f"{value:g}" if 0 < value < 1 else phrasing.percent(rng, value)
    return phrasing.quoted(rng, str(value))


def _say_date(value: Any, rng: Dice) -> str:
    return phrasing.day(rng, value) if _is_iso(value) else phrasing.quoted(rng, str(value))


def _enum_sayer(allowed: tuple[str, ...]) -> Any:
    def say(value: Any, rng: Dice) -> str:
        if value in allowed:
            return value.lower() if rng.random() < 0.3 else value
        return phrasing.quoted(rng, value)

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
    forms = _NAMED_FORMS[category] if name else _UNNAMED_FORMS[category]
    text = rng.pick(forms)
    source = words[via][0] if via else ""
    shown = phrasing.quoted(rng, name) if name else ""
    return text.format(word, mention.key, shown, turn, mention.verb, source)


def _positional(form: str) -> str:
    """A mention form with positional fields, as ``mention_text`` passes them (no keywords)."""
    for index, field in enumerate(("w", "id", "name", "n", "verb", "src")):
        form = form.replace(f"{{{field}}}", f"{{{index}}}")
    return form


_NAMED_FORMS = {
    category: tuple(_positional(form) for form in forms)
    for category, forms in MENTION_FORMS.items()
}
"""The mention forms, with positional fields."""
_UNNAMED_FORMS = {
    category: tuple(_positional(form) for form in forms if "{name}" not in form)
    for category, forms in MENTION_FORMS.items()
}
"""The mention forms usable for an entity without a name."""
