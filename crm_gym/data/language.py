"""Every way a value is written in an utterance, and how utterances are masked.

Every written form of a value is exact: ``$120k`` is said only of 120,000, "one hundred twenty
thousand dollars" spells the exact number, dates keep their day. So an agent can always recover
the expected argument from the text (``states_value``). ``mask_utterance`` undoes the values
again, to count the distinct sentence shapes (the diversity report). The generator picks among
these forms (``crm_gym.generator.phrasing``); the format reads them.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from crm_gym.crm.entities import (
    CLIENT_STATUSES,
    COMPANY_TYPES,
    CONTRACT_STATUSES,
    OPPORTUNITY_STAGES,
    QUOTE_STATUSES,
    UUID_PATTERN,
)

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"))
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def number_words(n: int) -> str:
    """English words of a non-negative integer: ``120000`` -> ``one hundred twenty thousand``."""
    for scale, word in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            tail = f" {number_words(rest)}" if rest else ""
            return f"{number_words(head)} {word}{tail}"
    if n >= 100:
        head, rest = divmod(n, 100)
        return f"{_ONES[head]} hundred" + (f" {number_words(rest)}" if rest else "")
    if n >= 20:
        tens, rest = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[rest]}" if rest else "")
    return _ONES[n]


def money_forms(value: float) -> list[str]:
    """Every exact way the grammar writes an amount (digits, ``$120k``, ``$1.5M``, words)."""
    n = int(value)
    if n != value:
        return [f"${value:,.2f}", f"{value:,.2f}"]
    if n <= 0:
        return [f"-${-n:,}", f"-{-n:,}", f"minus ${-n:,}"] if n else ["$0", "0", "zero dollars"]
    return [*digit_forms(n), dollar_words(n)]


@lru_cache(maxsize=4096)
def digit_forms(n: int) -> tuple[str, ...]:
    """The forms of a positive whole amount in digits (all of ``money_forms`` but the words).

    Cached: amounts repeat across conversations and spelling them costs more than the draw.
    """
    forms = [f"${n:,}", f"{n:,}", f"${n:,}.00", f"{n:,} dollars", f"USD {n:,}", f"{n}"]
    if n % 1000 == 0 and n < 1_000_000:
        forms += [f"${n // 1000}k", f"{n // 1000}k", f"${n // 1000}K"]
    if n % 10_000 == 0 and n >= 1_000_000:
        forms += [f"${n / 1e6:g}M", f"{n / 1e6:g} million dollars", f"${n / 1e6:g} million"]
    return tuple(forms)


@lru_cache(maxsize=1024)
def dollar_words(n: int) -> str:
    """An amount in words (``one hundred dollars``; cached, spelling costs more than a draw)."""
    return f"{number_words(n)} dollars"


def percent_forms(value: float) -> list[str]:
    """Every way the grammar writes a probability (``40%``, ``40 percent``, ``forty percent``)."""
    if value != int(value) or value < 0:
        return [f"{value:g}%"]
    n = int(value)
    return [f"{n}%", f"{n} percent", f"{number_words(n)} percent"]


def day_forms(iso: str) -> list[str]:
    """Every way the grammar writes a date (``2025-03-15``, ``March 15, 2025``, ...)."""
    when = date.fromisoformat(iso)
    month = _MONTHS[when.month - 1]
    return [
        iso,
        f"{month} {when.day}, {when.year}",
        f"{when.day} {month} {when.year}",
        f"{month[:3]} {when.day}, {when.year}",
    ]


def states_value(text: str, value: object) -> bool:
    """True when ``text`` states ``value`` in any of the forms the grammar writes it.

    For checks that every expected argument is recoverable from an utterance (the linter's
    under-specification check can use it for generated data).

    Example:
        >>> states_value("Quote it at $120k, closing March 3, 2025.", 120000)
        True
        >>> states_value("Quote it at $120k, closing March 3, 2025.", "2025-03-03")
        True
    """
    lowered = text.lower()
    if isinstance(value, bool) or value is None:
        return str(value).lower() in lowered
    if isinstance(value, (int, float)):
        forms = money_forms(value) + percent_forms(value) + [f"{value:g}"]
    elif isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        forms = day_forms(value) if _iso(value) else [value]
    else:
        forms = [str(value)]
    return any(form.lower() in lowered for form in forms)


def _iso(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


# ---- masking (diversity report) ------------------------------------------------------------------
_NUMBER_WORD = (
    r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen"
    r"|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty"
    r"|sixty|seventy|eighty|ninety|hundred|thousand|million|billion)"
)
_MONTH = r"(?:" + "|".join(m[:3] + f"(?:{m[3:]})?" for m in _MONTHS) + r")"
_ISO = r"\b\d{4}-\d{2}-\d{2}\b"
_ENUM_VALUES = dict.fromkeys(
    OPPORTUNITY_STAGES + CLIENT_STATUSES + QUOTE_STATUSES + CONTRACT_STATUSES + COMPANY_TYPES
)
"""Stage, status and type values: masked as ``<ENUM>`` (record kinds are words, not values)."""
_MASKS = (
    (re.compile(UUID_PATTERN), "<ID>"),
    (re.compile(r"https?://\S+"), "<URL>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<EMAIL>"),
    (re.compile(r"(?<!\w)'[^']*'(?!\w)|\"[^\"]*\""), "<TEXT>"),
    (re.compile(rf"\b{_MONTH} \d{{1,2}}, \d{{4}}|\b\d{{1,2}} {_MONTH} \d{{4}}|{_ISO}"), "<DATE>"),
    (re.compile(r"\+\d[\d-]{6,}\d"), "<PHONE>"),
    (re.compile(r"(?:USD |minus |-)?\$?\d[\d,]*(?:\.\d+)?(?: ?(?:k|K|M|million)\b)?%?"), "<NUM>"),
    (re.compile(rf"\b{_NUMBER_WORD}(?:[ -]+{_NUMBER_WORD})*\b", re.IGNORECASE), "<NUM>"),
    (
        re.compile(
            rf"\b(?:{'|'.join(map(re.escape, _ENUM_VALUES))})\b",
            re.IGNORECASE,
        ),
        "<ENUM>",
    ),
)


def mask_utterance(text: str) -> str:
    """The utterance with its values replaced by placeholders (``<ID>``, ``<NUM>``, ``<TEXT>``...).

    Ids, URLs, emails, quoted text, dates, phone numbers, numbers (digits, ``$120k``, words) and
    enum values are masked, so two requests that differ only in their values mask the same.

    Example:
        >>> mask_utterance("Set deal 'Atlas Pilot' to Proposal, worth $120k, by March 3, 2025.")
        'Set deal <TEXT> to <ENUM>, worth <NUM>, by <DATE>.'
    """
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return text
