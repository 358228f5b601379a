"""The scenario generator: exact replay, determinism, requested shares, coverage and labels."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from crm_gym.crm import CrmApi
from crm_gym.crm.entities import ENTITY_TYPES as ENTITY_MODELS
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.data.conversation import Conversation
from crm_gym.data.labels import (
    ARMS,
    COMPLEXITY_TURNS,
    DIFFICULTIES,
    SKILLS,
    arm_name,
    category_of,
    difficulty_of,
    skill_of,
)
from crm_gym.data.language import states_value
from crm_gym.data.replay import replay
from crm_gym.data.seeding import seed_conversation
from crm_gym.data.templates import referenced_turns, resolve
from crm_gym.generator import Mix, default_tasks, generate, generate_lines, to_json
from crm_gym.generator.pools import Dice
from crm_gym.generator.workflows import plan

ENTITY_TYPES = {
    "Client",
    "Contact",
    "Opportunity",
    "Quote",
    "Contract",
    "Document",
    "Note",
    "Company",
}


@pytest.fixture(scope="module")
def sample() -> list[Conversation]:
    """2,000 conversations with the default mix (seed 11)."""
    return list(generate(2000, seed=11))


def test_every_turn_replays_exactly_on_two_seeds():
    conversations = [*generate(150, seed=3), *generate(150, seed=4)]
    results = [replay(conversation) for conversation in conversations]
    failed = [
        (r.conversation_id, t.turn_id, t.error) for r in results for t in r.turns if not t.passed
    ]
    assert failed == []
    assert sum(len(r.turns) for r in results) > 1000


def test_expected_failures_fail_with_their_substring(sample):
    turns = [(c, t) for c in sample[:300] for t in c.turns if not t.expect_success]
    assert turns and all(t.expected_error_substring and t.failure_category for _, t in turns)
    for conversation in {id(c): c for c, _ in turns}.values():
        for turn in replay(conversation).turns:
            if not turn.expect_success:
                assert turn.verification == "expected_failure_diagnostic" and turn.passed


def test_same_seed_same_bytes_and_other_seeds_differ():
    first = [to_json(c) for c in generate(40, seed=5)]
    assert first == [to_json(c) for c in generate(40, seed=5)]
    assert first[:10] == [to_json(c) for c in generate(10, seed=5)]  # a prefix is the smaller run
    assert not set(first) & {to_json(c) for c in generate(40, seed=6)}


def test_cached_seed_records_are_what_seeding_builds(sample):
    """The simulation's seed records (built without validation) are cached for replay.

    They equal a fresh, validating seeding in every way: values, field order, fields set, JSON.
    """
    for conversation in sample:
        cached = conversation.seed_cache[False]
        fresh = Conversation.model_validate_json(to_json(conversation))
        assert fresh.seed_cache == {}
        seed_conversation(CrmApi(seed=0), fresh)
        assert fresh.seed_cache[False] == cached
        for (_, validated), (_, built) in zip(fresh.seed_cache[False], cached, strict=True):
            for a, b in zip(validated, built, strict=True):  # built without validation: identical
                assert list(a.__dict__.items()) == list(b.__dict__.items())
                assert a.model_fields_set == b.model_fields_set
                assert a.model_dump_json() == b.model_dump_json()


def test_entity_models_can_be_built_without_validation():
    """``seeding._construct`` sets what ``model_construct`` sets; exact only for plain models."""
    for model in ENTITY_MODELS.values():
        assert not model.__private_attributes__ and model.__pydantic_post_init__ is None
        for name, field in model.model_fields.items():
            assert field.alias is None and field.validation_alias is None
            assert field.default_factory is None or name == "contacts"


def test_workers_do_not_change_the_output():
    assert list(generate_lines(30, 2, workers=2)) == list(generate_lines(30, 2))


@pytest.mark.parametrize(
    "mix",
    [
        {},
        {"failure_share": 0.0},
        {"underspecified": 0.3, "empty_searches": 0.5},
        {"complexity": {"complex": 1.0}, "failure_share": 0.8},
    ],
)
def test_lines_are_the_validated_models_json(mix):
    """``generate_lines`` skips building the model; its lines are still exactly the model's."""
    lines = list(generate_lines(60, 3, **mix))
    assert lines == [to_json(c) for c in generate(60, 3, **mix)]
    assert all(to_json(Conversation.model_validate_json(line)) == line for line in lines)


def test_failure_share_and_complexity_shares_match_the_request(sample):
    turns = [t for c in sample for t in c.turns]
    share = sum(not t.expect_success for t in turns) / len(turns)
    assert abs(share - 0.4) < 0.02
    counts = Counter(c.complexity_level for c in sample)
    for level, wanted in Mix().complexity.items():
        assert abs(counts[level] / len(sample) - wanted) < 0.035, (level, counts)


def test_a_custom_mix_is_honoured():
    mix = {"failure_share": 0.15, "complexity": {"simple": 0.7, "complex": 0.3}}
    conversations = list(generate(600, seed=8, **mix))
    turns = [t for c in conversations for t in c.turns]
    assert abs(sum(not t.expect_success for t in turns) / len(turns) - 0.15) < 0.03
    levels = Counter(c.complexity_level for c in conversations)
    assert levels["medium"] == 0 and abs(levels["simple"] / 600 - 0.7) < 0.06
    assert all(t.expect_success for c in generate(100, seed=8, failure_share=0.0) for t in c.turns)


def test_plan_keeps_the_expected_failure_count():
    rng = Dice(np.random.default_rng(0))
    for policy in (False, True):
        counts = [plan(rng, 5, 0.4, policy).count("F") for _ in range(4000)]
        assert abs(np.mean(counts) - 2.0) < 0.06
    assert all(plan(rng, 1, 0.4, True).count("F") <= 1 for _ in range(100))


def test_all_tools_and_all_entity_types_are_covered(sample):
    tools = {t.expected_tool for c in sample for t in c.turns}
    assert tools == set(TOOL_SPECS)
    seeded = {kind for c in sample for kind, records in c.seed_data.items() if records}
    assert seeded == ENTITY_TYPES


def test_searches_return_none_one_and_several():
    """Default data has 0-, 1- and many-hit searches, each declaring its replayed hit count."""
    sizes = Counter()
    for conversation in generate(250, seed=9):
        replayed = replay(conversation).turns
        for turn, result in zip(conversation.turns, replayed, strict=True):
            if turn.expected_tool.endswith("_search") and turn.expect_success:
                assert turn.model_extra["expected_hits"] == len(result.result)
                sizes[min(len(result.result), 2)] += 1
                empty = turn.expected_response.text.startswith("No results")
                assert empty == (result.result == [])
    assert sizes[0] and sizes[1] and sizes[2]
    for conversation in generate(100, seed=9, empty_searches=0.0):
        for turn in replay(conversation).turns:
            assert not (turn.tool_name.endswith("_search") and turn.result == [])


def test_unknown_ids_are_typos_made_up_or_deleted(sample):
    """Unknown-id failures name an id nothing seeded (a typo, a made-up id or a deleted record);
    the utterance states the literal id unless a template names the deleted record."""
    kinds = Counter()
    for conversation in sample:
        seeded = {key for records in conversation.seed_data.values() for key in records}
        for turn in conversation.turns:
            if turn.failure_category != "unknown_id":
                continue
            bad = turn.expected_error_substring.split("'")[1]
            literal = bad in json.dumps(turn.expected_args)
            assert not literal or bad in turn.user_utterance
            near = [
                key for key in seeded if sum(a != b for a, b in zip(key, bad, strict=True)) <= 2
            ]
            kinds["deleted" if bad in seeded or not literal else "typo" if near else "other"] += 1
    assert kinds["typo"] > 50 and kinds["other"] > 50 and kinds["deleted"] > 0, kinds


def test_templates_resolve_and_references_are_declared(sample):
    for conversation in sample[:500]:
        results = {t.turn_id: t for t in replay(conversation).turns}
        payloads = {}
        for turn in conversation.turns:
            assert set(turn.references_previous_turns) == referenced_turns(turn.expected_args)
            assert all(
                n < turn.turn_id and results[n].error is None
                for n in turn.references_previous_turns
            )
            resolved = resolve(turn.expected_args, payloads, turn.turn_id)
            assert "{{" not in json.dumps(resolved)
            assert "{" not in turn.user_utterance and "{" not in turn.expected_response.text
            if results[turn.turn_id].error is None:
                result = results[turn.turn_id].result
                payloads[turn.turn_id] = (
                    result[0] if isinstance(result, list) and result else result
                )


def test_utterances_state_every_literal_value(sample):
    for conversation in sample[:500]:
        for turn in conversation.turns:
            for key, value in _literals(turn.expected_args):
                assert states_value(turn.user_utterance, value), (key, value, turn.user_utterance)


def _literals(args):
    for key, value in args.items():
        if isinstance(value, dict):
            yield from _literals(value)
        elif (
            key not in ("entity_type",) and not key.endswith(("_id", "_ids")) and value is not None
        ):
            yield key, value


def test_underspecified_turns_only_on_request():
    flagged = [
        t
        for c in generate(200, seed=12, underspecified=0.5)
        for t in c.turns
        if t.model_extra.get("underspecified")
    ]
    assert flagged and any(
        not all(states_value(t.user_utterance, v) for _, v in _literals(t.expected_args))
        for t in flagged
    )


def test_labels_are_true(sample):
    for conversation in sample:
        low, high = COMPLEXITY_TURNS[conversation.complexity_level]
        assert low <= len(conversation.turns) <= high
        extra = conversation.model_extra
        assert extra["skill"] in SKILLS and extra["difficulty"] in DIFFICULTIES
        assert arm_name(skill_of(conversation), difficulty_of(conversation)) in ARMS
        assert extra["difficulty"] == difficulty_of(conversation)
        assert conversation.workflow_category == category_of(
            t.expected_tool for t in conversation.turns
        )
        assert f"_{conversation.complexity_level}_" in conversation.conversation_id
        failing = [t.turn_id for t in conversation.turns if not t.expect_success]
        assert conversation.contains_failure == bool(failing)
        assert conversation.failure_turn == (failing[0] if failing else None)
    arms = Counter(arm_name(skill_of(c), difficulty_of(c)) for c in sample)
    assert set(arms) == set(ARMS)


@pytest.mark.parametrize(
    "tools, category",
    [
        ((), "General"),
        (("add_note",), "Notes & Collaboration"),
        (("create_quote", "client_search", "modify_client"), "Client Management"),
        (("create_quote", "client_search"), "Quote Management"),  # a tie: the earliest
        (("client_search", "create_quote", "add_note", "quote_search"), "Quote Management"),
        (("mystery_tool", "client_search"), "General"),
    ],
)
def test_category_of_is_the_most_frequent_category_and_the_earliest_on_a_tie(tools, category):
    assert category_of(tools) == category


def test_policy_conversations_test_a_business_rule(sample):
    policy = [c for c in sample if c.model_extra["skill"] == "policy" and c.contains_failure]
    assert policy and all(skill_of(c.model_dump(exclude={"skill"})) == "policy" for c in policy)


def test_paraphrase_hook_rewrites_utterances():
    def shout(text: str, rng: np.random.Generator) -> str:
        assert isinstance(rng, np.random.Generator)
        return text.upper()

    conversation = next(generate(1, seed=1, paraphrase=shout))
    assert all(t.user_utterance == t.user_utterance.upper() for t in conversation.turns)


def test_bad_mix_is_refused():
    with pytest.raises(ValueError, match="failure_share"):
        Mix(failure_share=1.5)
    with pytest.raises(ValueError, match="weights"):
        Mix(complexity={"tiny": 1.0})


def test_default_tasks_are_generated_cached_and_replay():
    tasks = default_tasks(20)
    assert tasks is default_tasks(20) and len(tasks) == 20
    assert all(replay(task).passed for task in tasks)
