"""Rendering's precompiled forms say exactly what the grammar's text forms say.

``wording`` and ``phrasing`` split patterns, clause, mention and politeness forms once and cache
value spellings; these tests check each fast form against the plain text form it replaces.
"""

from __future__ import annotations

import random
import re

import pytest

from crm_gym.crm.tools import ToolResult
from crm_gym.data import language
from crm_gym.generator import phrasing, responses, wording
from crm_gym.generator.clauses import CLAUSES, MENTION_FORMS
from crm_gym.generator.intents import Intent
from crm_gym.generator.phrasebook import PATTERNS
from crm_gym.generator.pools import Dice

ALL_PATTERNS = sorted({pattern for patterns in PATTERNS.values() for pattern in patterns})


@pytest.mark.parametrize("pattern", ALL_PATTERNS)
def test_a_plan_rebuilds_its_pattern(pattern):
    plan = wording._compiled(pattern)
    text = plan.head + "".join(_token(how, token) + after for how, token, after in plan.steps)
    assert text == pattern.lstrip("?!")
    assert plan.clausal == ("{rest}" in pattern or "{all}" in pattern)
    assert plan.kind == {"?": "question", "!": "statement"}.get(pattern[0], "request")


def _token(how: str, token: str) -> str:
    """The pattern token a plan step was compiled from."""
    if how not in ("one", "many", "a_one"):
        return f"{{{token}}}"
    word = next(word for word, kind in wording.TOKENS.items() if kind == token)
    if how == "many":
        return "{Companies}" if word == "Company" else f"{{{word}s}}"
    return f"{{{word}}}" if how == "one" else f"{{a_{word}}}"


def test_plans_follow_fitting_whatever_the_slot_order():
    phrase = "create_new_opportunity"
    slots = ("name", "amount", "stage", "client")
    fitting = wording._fitting(phrase, frozenset(slots))
    for order in (slots, slots[::-1]):
        plans = wording._plans(phrase, *order)
        assert plans == tuple(wording._compiled(pattern) for pattern in fitting)


def test_split_clause_forms_rebuild_their_forms():
    for family, by_key in CLAUSES.items():
        for key, forms in by_key.items():
            split = wording._SPLIT_CLAUSES[family][key]
            assert [head + "{v}" + tail for head, tail in split] == list(forms)


def test_positional_mention_forms_say_what_the_keyword_forms_say():
    fields = {"w": "deal", "id": "d-1", "name": "'Atlas'", "n": 3, "verb": "created", "src": "x"}
    for category, forms in MENTION_FORMS.items():
        named = wording._NAMED_FORMS[category]
        assert [form.format(*fields.values()) for form in named] == [
            form.format(**fields) for form in forms
        ]
        unnamed = [form.format(**fields) for form in forms if "{name}" not in form]
        assert [form.format(*fields.values()) for form in wording._UNNAMED_FORMS[category]] == (
            unnamed
        )


@pytest.mark.parametrize("kind", ["request", "statement", "question"])
@pytest.mark.parametrize("recovery", [False, True])
def test_dress_says_what_replacing_the_forms_says(kind, recovery):
    for seed in range(200):
        body = random.Random(seed).choice(["create a deal", "I need a quote", "we are done"])
        expected = _dress_by_replacing(Dice(seed), body, kind, recovery)
        assert phrasing.dress(Dice(seed), body, kind, recovery) == expected


def _dress_by_replacing(rng: Dice, body: str, kind: str, recovery: bool) -> str:
    """``dress`` as first written: replacing ``{b}`` and ``{B}`` in the text forms."""
    capital = body[0].upper() + body[1:]
    if kind == "question":
        text = capital
    else:
        form = rng.pick(phrasing._PLEASE if kind == "request" else phrasing._STATE)
        text = form.replace("{b}", body).replace("{B}", capital)
    opener = rng.pick(phrasing._RECOVERY) if recovery else rng.pick(phrasing._OPENERS)
    if opener and opener[-2] not in ".!:" and not text.startswith(("I ", "I'")):
        text = text[0].lower() + text[1:]
    closer = rng.pick(phrasing._CLOSERS)
    if closer and text[-1] not in ".?!":
        text += "."
    return opener + text + closer


@pytest.mark.parametrize("value", [1, 999, 1000, 120_000, 1_500_000, 2_000_000, 1_234_567])
def test_cached_money_is_one_of_the_money_forms(value):
    rng = Dice(value)
    said = {phrasing.money(rng, value) for _ in range(300)}
    assert said == set(language.money_forms(value))


@pytest.mark.parametrize("iso", ["2025-03-15", "2026-12-01"])
def test_cached_days_and_percents_are_their_forms(iso):
    rng = Dice(1)
    assert {phrasing.day(rng, iso) for _ in range(200)} == set(language.day_forms(iso))
    assert {phrasing.percent(rng, 40) for _ in range(200)} == set(language.percent_forms(40))


def test_a_describer_is_chosen_per_tool():
    record = {"quote_id": "q-1", "name": "Atlas Quote", "status": "Draft", "amount": 5.0}
    created = ToolResult("create_quote", {}, True, payload=record)
    assert (
        _describe(created) == "Created quote Atlas Quote: quote_id=q-1, status=Draft, amount=5.0."
    )
    deleted = ToolResult("delete_quote", {"quote_id": "q-1"}, True, payload=None)
    assert _describe(deleted) == "Deleted quote q-1."
    found = ToolResult("quote_search", {}, True, payload=[record, {**record, "name": "B"}])
    assert re.match(r"Found 2 quotes \(the others: B\)\. First: quote Atlas", _describe(found))


def _describe(outcome: ToolResult) -> str:
    return responses.describe(Intent(outcome.name, {}), outcome)
