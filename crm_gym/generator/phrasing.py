"""How a request is worded: a value in one of its written forms, quoting, joining, politeness.

The forms themselves (``money_forms``, ``day_forms``...) belong to the Arc format
(``crm_gym.data.language``), which reads them back; here the generator's dice pick one.
"""

from __future__ import annotations

from functools import lru_cache

from crm_gym.data.language import day_forms, digit_forms, dollar_words, money_forms, percent_forms
from crm_gym.generator.pools import Dice


def money(rng: Dice, value: float) -> str:
    """An amount in one of the ways people write it (``$120k``, ``120,000``, words...)."""
    if int(value) == value and value > 0:  # words are rarer than digits (and spelled only then)
        n = int(value)
        return dollar_words(n) if rng.chance(0.12) else rng.pick(digit_forms(n))
    return rng.pick(money_forms(value))


def percent(rng: Dice, value: float) -> str:
    """A probability in one of ``percent_forms`` (digits twice as often as words)."""
    return rng.pick(_percent_choices(value))


@lru_cache(maxsize=1024)
def _percent_choices(value: float) -> tuple[str, ...]:
    """``percent``'s choices, the first form twice (cached: a pure function of the value)."""
    forms = percent_forms(value)
    return (forms[0], *forms)


def day(rng: Dice, iso: str) -> str:
    """A date in one of ``day_forms`` (ISO twice as often)."""
    return rng.pick(_day_choices(iso))


@lru_cache(maxsize=4096)
def _day_choices(iso: str) -> tuple[str, ...]:
    """``day``'s choices, ISO twice (cached: a pure function of the date)."""
    return (iso, *day_forms(iso))


def quoted(rng: Dice, text: str) -> str:
    """Free text in single or double quotes (names, contents, file names)."""
    return f"'{text}'" if rng.chance(0.6) else f'"{text}"'


def article(word: str) -> str:
    """``a`` or ``an`` for the word that follows."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def join_clauses(rng: Dice, clauses: list[str]) -> str:
    """Clauses joined as a list: ``a, b and c`` (or ``a; b; c``)."""
    if len(clauses) <= 1:
        return "".join(clauses)
    if rng.chance(0.2):
        return "; ".join(clauses)
    comma = "," if rng.chance(0.4) else ""
    return ", ".join(clauses[:-1]) + f"{comma} and {clauses[-1]}"


_PLEASE = (
    "Please {b}.",
    "{B}, please.",
    "Could you {b}?",
    "Can you {b}?",
    "I need you to {b}.",
    "I'd like you to {b}.",
    "Go ahead and {b}.",
    "Kindly {b}.",
    "{B}.",
    "{B}.",
    "{B}",
    "Would you {b}?",
    "Let's {b}.",
)
_STATE = ("{B}.", "{B}.", "{B}, please.", "{B}, thanks.", "{B}")
_OPENERS = (
    "",
    "",
    "",
    "",
    "Hi! ",
    "Quick one: ",
    "For the pipeline review, ",
    "Next, ",
    "One more thing: ",
    "Following up on this morning's call, ",
    "Before the QBR, ",
    "While we're at it, ",
    "Hey there, ",
    "OK, ",
    "Now ",
)
_CLOSERS = ("", "", "", "", "", " Thanks!", " Thank you.", " Thanks in advance.", " Cheers.")
_RECOVERY = (
    "Sorry, my mistake. ",
    "Let me correct that: ",
    "That didn't work. Instead, ",
    "OK, try again: ",
    "My bad. ",
    "Scratch that. ",
    "Let's fix that: ",
)


def dress(rng: Dice, body: str, kind: str = "request", recovery: bool = False) -> str:
    """A body with politeness, an opener and a closer.

    ``kind`` is ``request`` (a verb phrase: "create a deal..."), ``statement`` (a full sentence:
    "we need a quote...") or ``question`` (kept as it is).
    """
    if kind == "question":
        text = body[0].upper() + body[1:]
    else:
        head, capitalised, tail = rng.pick(_SPLIT_PLEASE if kind == "request" else _SPLIT_STATE)
        text = head + (body[0].upper() + body[1:] if capitalised else body) + tail
    opener = rng.pick(_RECOVERY if recovery else _OPENERS)
    if opener and opener[-2] not in ".!:" and not text.startswith(("I ", "I'")):
        text = text[0].lower() + text[1:]
    closer = rng.pick(_CLOSERS)
    if closer and text[-1] not in ".?!":
        text += "."
    return opener + text + closer


def _split_form(form: str) -> tuple[str, bool, str]:
    """A politeness form as (text before, whether the body is capitalised, text after)."""
    capitalised = "{B}" in form
    head, tail = form.split("{B}" if capitalised else "{b}")
    return head, capitalised, tail


_SPLIT_PLEASE = tuple(_split_form(form) for form in _PLEASE)
_SPLIT_STATE = tuple(_split_form(form) for form in _STATE)
"""The politeness forms split once, so dressing a body needs no replacing."""
