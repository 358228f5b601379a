"""The conversation models (SPEC-arc.md sections 3.1 and 3.2): defaults, normalisation, variants,
and upstream's schema rules that ``strict_upstream`` enforces."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from crm_gym.data.conversation import (
    Conversation,
    ExpectedResponse,
    Turn,
    check_upstream_schema,
    upstream_schema_error,
)
from crm_gym.data.loading import load_conversations
from crm_gym.errors import DatasetError

CLIENT = "3b0c6f1e-5d2a-4c8b-9e7f-1a2b3c4d5e6f"


def minimal(**extra: Any) -> dict[str, Any]:
    """The smallest valid record: an id and one turn with its mandatory keys."""
    return {
        "conversation_id": "c-1",
        "turns": [{"turn_id": 1, "expected_tool": "list_clients"}],
        **extra,
    }


def turns(*ids: int) -> list[dict[str, Any]]:
    return [{"turn_id": i, "expected_tool": "list_clients"} for i in ids]


# ---- loader defaults (SPEC 3.1 / 3.2) ------------------------------------------------------------
def test_conversation_defaults_when_keys_are_absent():
    conversation = Conversation.model_validate(minimal())
    assert conversation.workflow_category == "Unknown"
    assert conversation.complexity_level == "simple"
    assert conversation.initial_entities == {}
    assert conversation.final_expected_state == {}
    assert conversation.success_criteria == "all_turns"
    assert conversation.contains_failure is False
    assert conversation.failure_turn is None
    assert conversation.verification_mode == "database"
    assert conversation.cumulative_context == {}
    for key in ("chain_id", "segment_number", "segment_boundaries", "expected_outcome"):
        assert getattr(conversation, key) is None
    assert conversation.seed_data == {}


def test_turn_defaults_when_keys_are_absent():
    turn = Conversation.model_validate(minimal()).turns[0]
    assert turn.user_utterance == ""
    assert turn.expected_args == {}
    assert turn.references_previous_turns == []
    assert turn.expect_success is True
    assert turn.expected_error_substring is None
    assert turn.failure_category is None
    assert turn.expected_response is None


def test_turn_nulls_take_the_defaults():
    turn = Turn.model_validate(
        {
            "turn_id": 1,
            "expected_tool": "list_clients",
            "user_utterance": None,
            "expected_args": None,
            "references_previous_turns": None,
        }
    )
    assert (turn.user_utterance, turn.expected_args, turn.references_previous_turns) == ("", {}, [])


@pytest.mark.parametrize(
    "record",
    [
        {"turns": turns(1)},
        {"conversation_id": "c-1", "turns": [{"expected_tool": "list_clients"}]},
        {"conversation_id": "c-1", "turns": [{"turn_id": 1}]},
    ],
    ids=["conversation_id", "turn_id", "expected_tool"],
)
def test_mandatory_keys(record):
    with pytest.raises(ValidationError):
        Conversation.model_validate(record)


@pytest.mark.parametrize(
    "key, value",
    [("complexity_level", "hard"), ("success_criteria", "some_turns"), ("verification_mode", "db")],
)
def test_enumerated_fields_are_checked(key, value):
    with pytest.raises(ValidationError):
        Conversation.model_validate(minimal(**{key: value}))


def test_seed_data_property_reads_initial_entities():
    seed = {"Client": {CLIENT: {"name": "Halden Labs"}}}
    record = minimal(initial_entities={"seed_data": seed, "client_id": CLIENT})
    assert Conversation.model_validate(record).seed_data == seed
    assert Conversation.model_validate(minimal(initial_entities={"seed_data": []})).seed_data == {}


# ---- expected_response normalisation -------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, evaluation, text, answers",
    [
        ({"text": "  Done.  "}, "structured", "Done.", ["Done."]),
        (
            {"text": "Done.", "answers": ["Done!", "All set."]},
            "structured",
            "Done.",
            ["Done!", "All set."],
        ),
        ({"text": "Done.", "answers": ["", "   "]}, "structured", "Done.", ["Done."]),
        ({"text": "Done.", "answers": ["", "Finished."]}, "structured", "Done.", ["Finished."]),
        ({"text": "Done.", "requires_judge": True}, "judge", "Done.", []),
        (
            {"text": "Done.", "evaluation": "structured", "requires_judge": True},
            "judge",
            "Done.",
            [],
        ),
        ({"text": "Done.", "evaluation": "judge"}, "judge", "Done.", []),
        ({}, "structured", "", []),
        ({"text": "   "}, "structured", "", []),
    ],
)
def test_expected_response_normalisation(raw, evaluation, text, answers):
    response = ExpectedResponse.model_validate(raw)
    assert (response.evaluation, response.text, response.answers) == (evaluation, text, answers)


def test_requires_judge_stays_true_and_null_response_is_none():
    response = ExpectedResponse.model_validate({"text": "x", "requires_judge": True})
    assert response.requires_judge is True
    turn = Turn.model_validate(
        {"turn_id": 1, "expected_tool": "list_notes", "expected_response": None}
    )
    assert turn.expected_response is None


def test_unknown_evaluation_mode_is_rejected():
    with pytest.raises(ValidationError):
        ExpectedResponse.model_validate({"text": "x", "evaluation": "fuzzy"})


# ---- unknown keys are kept -----------------------------------------------------------------------
def test_unknown_extra_keys_are_kept_and_round_trip():
    record = minimal(source="crm-gym", tags=["demo"])
    record["turns"][0].update(persona="ops lead", expected_response={"text": "Ok", "tone": "brief"})
    conversation = Conversation.model_validate(record)
    dumped = conversation.model_dump()
    assert dumped["source"] == "crm-gym" and dumped["tags"] == ["demo"]
    assert dumped["turns"][0]["persona"] == "ops lead"
    assert dumped["turns"][0]["expected_response"]["tone"] == "brief"
    assert Conversation.model_validate(dumped) == conversation


# ---- turn order ----------------------------------------------------------------------------------
@pytest.mark.parametrize("ids", [(2, 1), (1, 3), (0, 1), (1, 1), (2,)])
def test_turn_ids_must_be_one_to_n_in_order(ids):
    with pytest.raises(ValidationError, match="turn_id values must be 1.."):
        Conversation.model_validate({"conversation_id": "c-1", "turns": turns(*ids)})


def test_a_conversation_needs_a_turn():
    with pytest.raises(ValidationError):
        Conversation.model_validate({"conversation_id": "c-1", "turns": []})


def test_ten_ordered_turns_load():
    conversation = Conversation.model_validate(
        {"conversation_id": "c-1", "complexity_level": "complex", "turns": turns(*range(1, 11))}
    )
    assert [turn.turn_id for turn in conversation.turns] == list(range(1, 11))


# ---- the older single-turn scenario variant ------------------------------------------------------
SCENARIO = {
    "scenario_id": "SC-017",
    "task": "create_quote",
    "utterance": "Quote 4,500 for the Halden pilot.",
    "setup_entities": {"Client": {CLIENT: {"name": "Halden Labs"}}},
    "expected_tool": "create_quote",
    "expected_args": {"opportunity_id": CLIENT, "amount": 4500, "status": "Draft"},
    "expect_success": False,
    "expected_error_substring": "Opportunity not found",
    "failure_category": "unknown_id",
}


def test_scenario_record_becomes_a_one_turn_conversation():
    conversation = Conversation.from_record(dict(SCENARIO))
    assert conversation.conversation_id == "SC-017"
    assert conversation.initial_entities == {"seed_data": SCENARIO["setup_entities"]}
    (turn,) = conversation.turns
    assert turn.turn_id == 1
    assert turn.user_utterance == SCENARIO["utterance"]
    assert turn.expected_tool == "create_quote"
    assert turn.expected_args == SCENARIO["expected_args"]
    assert turn.expect_success is False
    assert turn.expected_error_substring == "Opportunity not found"
    assert turn.failure_category == "unknown_id"
    assert conversation.model_dump()["task"] == "create_quote"


def test_scenario_variants_of_ids_and_setup():
    nested = {"seed_data": {"Client": {CLIENT: {"name": "Halden Labs"}}}}
    record = {
        "case_id": "CASE-3",
        "user_utterance": "List clients",
        "expected_tool": "list_clients",
        "setup_entities": nested,
    }
    conversation = Conversation.from_record(record)
    assert conversation.conversation_id == "CASE-3"
    assert conversation.initial_entities == nested
    assert conversation.turns[0].user_utterance == "List clients"
    bare = Conversation.from_record({"id": 7, "expected_tool": "summarize_counts"})
    assert bare.conversation_id == "7" and bare.initial_entities == {"seed_data": {}}


def test_from_record_passes_ordinary_records_through():
    assert Conversation.from_record(minimal()) == Conversation.model_validate(minimal())


# ---- chain metadata ------------------------------------------------------------------------------
def test_chain_metadata_is_accepted():
    summaries = [
        {"segment_number": 1, "expected_outcome": "success"},
        {"segment_id": 2, "expected_outcome": "failure", "notes": "bad stage"},
    ]
    record = minimal(
        complexity_level="complex",
        chain_id="CHAIN-7",
        segment_number=1,
        segment_boundaries=[6, 12],
        expected_outcome="failure",
        cumulative_context={"segment_summaries": summaries, "carried": {"client_id": CLIENT}},
    )
    record["turns"] = turns(*range(1, 13))
    conversation = Conversation.model_validate(record)
    assert conversation.chain_id == "CHAIN-7"
    assert conversation.segment_number == 1
    assert conversation.segment_boundaries == [6, 12]
    assert conversation.expected_outcome == "failure"
    assert conversation.cumulative_context["segment_summaries"] == summaries
    assert len(conversation.turns) == 12


# ---- upstream's schema (checked under strict_upstream only) --------------------------------------
def conversation_of(count: int, **extra: Any) -> Conversation:
    return Conversation.model_validate(
        {"conversation_id": "c-9", "turns": turns(*range(1, count + 1)), **extra}
    )


@pytest.mark.parametrize(
    "level, count, expected",
    [
        ("simple", 4, "Simple conversations must have 1-3 turns, got 4"),
        ("medium", 3, "Medium conversations must have 4-6 turns, got 3"),
        ("medium", 7, "Medium conversations must have 4-6 turns, got 7"),
        ("complex", 6, "Complex conversations must have 7-10 turns, got 6"),
        ("complex", 11, "Complex conversations must have 7-10 turns, got 11"),
    ],
)
def test_upstream_ties_complexity_to_turn_count(level, count, expected):
    conversation = conversation_of(count, complexity_level=level)  # crm-gym loads it
    assert upstream_schema_error(conversation) == expected
    with pytest.raises(
        DatasetError, match=f"^conversations: 1 rejected by upstream's schema: c-9: {expected}$"
    ):
        check_upstream_schema([conversation])


@pytest.mark.parametrize(
    "level, count",
    [("simple", 1), ("simple", 3), ("medium", 4), ("medium", 6), ("complex", 7), ("complex", 10)],
)
def test_upstream_bounds_are_inclusive(level, count):
    conversation = conversation_of(count, complexity_level=level)
    assert upstream_schema_error(conversation) is None
    assert check_upstream_schema([conversation]) == [conversation]


def test_a_chained_complex_conversation_has_no_turn_bounds():
    assert (
        upstream_schema_error(conversation_of(12, complexity_level="complex", chain_id="C")) is None
    )
    assert (
        upstream_schema_error(conversation_of(2, complexity_level="complex", chain_id="C")) is None
    )
    chained_simple = conversation_of(4, complexity_level="simple", chain_id="C")
    assert (
        upstream_schema_error(chained_simple) == "Simple conversations must have 1-3 turns, got 4"
    )


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"contains_failure": True}, "failure_turn must be set when contains_failure=True"),
        ({"failure_turn": 0}, "failure_turn (0) must be between 1 and 2"),
        ({"failure_turn": 3, "contains_failure": True}, "failure_turn (3) must be between 1 and 2"),
        ({"failure_turn": 2, "contains_failure": True}, None),
        ({"failure_turn": 1}, None),
    ],
)
def test_upstream_failure_turn_rules(extra, expected):
    assert upstream_schema_error(conversation_of(2, **extra)) == expected


def test_check_names_the_source_and_counts_every_rejection():
    bad = [conversation_of(5) for _ in range(4)]
    with pytest.raises(DatasetError) as info:
        check_upstream_schema([conversation_of(1), *bad], source="tasks.jsonl")
    assert str(info.value).startswith("tasks.jsonl: 4 rejected by upstream's schema: c-9: Simple")
    assert str(info.value).endswith("(+1 more)")


def test_load_conversations_strict_upstream_rejects_what_upstream_rejects(tmp_path):
    path = tmp_path / "tasks.jsonl"
    record = {"conversation_id": "c-5", "complexity_level": "medium", "turns": turns(1, 2)}
    path.write_text(json.dumps(record) + "\n")
    assert len(load_conversations(path)) == 1  # crm-gym's default loads it
    with pytest.raises(DatasetError, match=r"tasks.jsonl: 1 rejected .* c-5: Medium conversations"):
        load_conversations(path, strict_upstream=True)


def test_the_public_data_passes_upstreams_schema(public_path):
    conversations = load_conversations(public_path, strict_upstream=True)
    assert len(conversations) == 400
