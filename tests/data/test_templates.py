"""``{{turn_N.field}}`` templates and reference payloads (SPEC-arc.md sections 2.3 and 3.3)."""

from __future__ import annotations

from datetime import date

import pytest

from crm_gym.data.templates import is_plain, reference_payload, referenced_turns, resolve

OPP = "7d1c2e44-0b7a-4e55-8f3e-5a6b7c8d9e01"
CLIENT = "1f2e3d4c-5b6a-4789-8a0b-c1d2e3f4a5b6"
PAYLOADS = {
    1: {"client_id": CLIENT, "name": "Halden Labs", "owner": None},
    2: {
        "opportunity_id": OPP,
        "amount": 50000.0,
        "probability": 50.0,
        "close_date": date(2025, 3, 31),
    },
    3: {},
}


# ---- reference_payload ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "result, payload",
    [
        (
            {"client_id": CLIENT, "name": "Halden Labs"},
            {"client_id": CLIENT, "name": "Halden Labs"},
        ),
        ([{"quote_id": "q1"}, {"quote_id": "q2"}], {"quote_id": "q1"}),
        ([], {}),
        (["ACME", "BETA"], {"value": "ACME"}),
        (
            {"total_count": 2, "by_stage": {"Proposal": 2}},
            {"total_count": 2, "by_stage": {"Proposal": 2}},
        ),
        (True, {"value": True}),
        (None, {"value": None}),
        (3, {"value": 3}),
    ],
    ids=["record", "list-first", "empty-list", "list-of-scalars", "dict", "true", "none", "int"],
)
def test_reference_payload(result, payload):
    assert reference_payload(result) == payload


# ---- resolve -------------------------------------------------------------------------------------
def test_a_whole_value_template_becomes_a_string():
    assert resolve("{{turn_2.opportunity_id}}", PAYLOADS, 3) == OPP
    assert resolve("{{turn_2.amount}}", PAYLOADS, 3) == "50000.0"
    assert resolve({"probability": "{{turn_2.probability}}"}, PAYLOADS, 3) == {
        "probability": "50.0"
    }


@pytest.mark.parametrize(
    "field, text",
    [("close_date", "2025-03-31"), ("amount", "50000.0"), ("probability", "50.0")],
)
def test_values_are_rendered_with_str(field, text):
    assert resolve(f"{{{{turn_2.{field}}}}}", PAYLOADS, 3) == text


def test_none_becomes_the_text_none():
    assert resolve("owner={{turn_1.owner}}", PAYLOADS, 2) == "owner=None"


def test_templates_embedded_in_longer_text():
    text = "Deal {{turn_2.opportunity_id}} for {{turn_1.name}} ({{turn_1.client_id}})"
    assert resolve(text, PAYLOADS, 3) == f"Deal {OPP} for Halden Labs ({CLIENT})"


def test_nested_dicts_and_lists_are_resolved_but_keys_are_not():
    value = {
        "criteria": {"client_id": "{{turn_1.client_id}}"},
        "quote_ids": ["{{turn_2.opportunity_id}}", "literal", 7, None],
        "{{turn_1.name}}": "{{turn_1.name}}",
        "amount": 12.5,
    }
    assert resolve(value, PAYLOADS, 3) == {
        "criteria": {"client_id": CLIENT},
        "quote_ids": [OPP, "literal", 7, None],
        "{{turn_1.name}}": "Halden Labs",
        "amount": 12.5,
    }


def test_resolve_does_not_mutate_its_input():
    value = {"ids": ["{{turn_1.client_id}}"]}
    resolve(value, PAYLOADS, 2)
    assert value == {"ids": ["{{turn_1.client_id}}"]}


@pytest.mark.parametrize("current", [1, 2])
def test_turns_not_before_the_current_one_stay_verbatim(current):
    assert resolve("{{turn_2.opportunity_id}}", PAYLOADS, current) == "{{turn_2.opportunity_id}}"


@pytest.mark.parametrize(
    "text",
    ["{{turn_3.quote_id}}", "{{turn_1.quote_id}}", "{{turn_4.client_id}}", "{{turn_9.name}}"],
    ids=["empty-payload", "missing-field", "no-payload", "unknown-turn"],
)
def test_unresolvable_templates_stay_verbatim(text):
    assert resolve(text, PAYLOADS, 10) == text


def test_a_partly_resolvable_string_keeps_the_rest():
    text = "{{turn_1.client_id}} / {{turn_3.quote_id}}"
    assert resolve(text, PAYLOADS, 5) == f"{CLIENT} / {{{{turn_3.quote_id}}}}"


@pytest.mark.parametrize(
    "text",
    [
        "{{opportunity_name}}",
        "{{contact_first}} and {{company_name}}",
        "Find opportunities in stage {stage}",
        "{criteria}",
        "{turn_1.client_id}",
        "{{ turn_1.client_id }}",
        "{{turn_x.client_id}}",
        "no braces at all",
    ],
)
def test_other_placeholders_and_single_braces_are_untouched(text):
    assert resolve(text, PAYLOADS, 5) == text


def test_non_string_scalars_pass_through():
    for value in (None, 3, 2.5, True):
        assert resolve(value, PAYLOADS, 5) is value


def test_an_empty_payload_map_resolves_nothing():
    assert resolve({"id": "{{turn_1.client_id}}"}, {}, 4) == {"id": "{{turn_1.client_id}}"}


# ---- referenced_turns ----------------------------------------------------------------------------
def test_referenced_turns_searches_nested_values():
    value = {
        "a": "{{turn_1.client_id}}",
        "b": ["x {{turn_3.quote_id}} {{turn_1.name}}"],
        "c": {"d": "{{opportunity_name}}"},
        "e": 5,
    }
    assert referenced_turns(value) == {1, 3}
    assert referenced_turns("plain") == set()


# ---- is_plain ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, plain",
    [
        ({}, True),
        ({"name": "Acme", "amount": 5, "owner": None, "rate": 2.5}, True),
        ({"name": "{single} braces {turn_1.name}"}, True),
        ({"client_id": "{{turn_1.client_id}}"}, False),
        ({"note": "see {{opportunity_name}}"}, False),
        ({"criteria": {"name": "Acme"}}, False),
        ({"quote_ids": ["a", "b"]}, False),
    ],
)
def test_plain_arguments_resolve_to_a_copy_and_reference_nothing(args, plain):
    assert is_plain(args) is plain
    if plain:  # the scene's shortcut: a copy instead of resolve, no referenced turns
        assert resolve(args, PAYLOADS, 5) == dict(args) and referenced_turns(args) == set()


@pytest.mark.parametrize(
    "value",
    [
        {"client_id": "{{turn_1.client_id}}", "amount": 5},
        {"criteria": {"opportunity_id": "{{turn_2.opportunity_id}}", "name": "Acme"}},
        {"quote_ids": ["{{turn_4.quote_id}}", "q-2", "{{turn_3.quote_id}} {{turn_1.name}}"]},
        {"note": "{{turn_9.name}} and {{opportunity_name}}", "n": None},
        "{{turn_2.amount}}",
        {"plain": "text"},
    ],
)
def test_resolve_collects_the_turns_that_referenced_turns_finds(value):
    found: set[int] = set()
    assert resolve(value, PAYLOADS, 5, found) == resolve(value, PAYLOADS, 5)
    assert found == referenced_turns(value)
