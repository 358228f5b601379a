"""Rewards: the formula by hand, then whole turns played through the envs.

Default weights (``RewardConfig``): tool 0.04, arguments 0.26, execution 0.2, state 0.3,
response 0.2, summing to 1; ``shaped = w_tool*t + w_args*a + a*(w_exec*x + w_state*s +
w_resp*r')`` with ``r' = x`` when the reply states no fact. Penalties: 0.1 per malformed action,
0.05 per step beyond one call and one answer, 0.1 for a write that leaves the CRM unlike the
reference's, capped together at 0.5. These tests pin the numbers of the new (v1) reward.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_gym import RewardConfig as TopLevelRewardConfig
from crm_gym.actions import format_tool_call
from crm_gym.envs import ConversationEnv, CrmEnv
from crm_gym.scoring import RewardConfig, TurnEvidence, turn_reward
from tests.envs.support import ACME, ACME_EMAIL, DEAL

CONFIG = RewardConfig()


def evidence(**overrides) -> TurnEvidence:
    """Perfect evidence, with ``overrides``."""
    base = dict(tool=1.0, arguments=1.0, execution=1.0, state=1.0, response=1.0, passed=True)
    base |= dict(malformed_actions=0, extra_steps=0)
    return TurnEvidence(**{**base, **overrides})


# ---- turn_reward ---------------------------------------------------------------------------------
def test_perfect_turn_scores_one_with_every_component():
    reward, components = turn_reward(evidence(), CONFIG)
    assert reward == 1.0
    scores = dict(tool=1.0, arguments=1.0, execution=1.0, state=1.0, response=1.0)
    assert components == {**scores, "penalty": 0.0, "side_effect": 0.0, "passed": 1.0, "total": 1.0}


def test_the_package_exports_the_same_reward_config():
    assert TopLevelRewardConfig is RewardConfig


def test_default_weights_sum_to_one():
    weights = (
        CONFIG.tool_weight,
        CONFIG.arguments_weight,
        CONFIG.execution_weight,
        CONFIG.state_weight,
        CONFIG.response_weight,
    )
    assert weights == (0.04, 0.26, 0.2, 0.3, 0.2) and math.fsum(weights) == 1.0
    assert (CONFIG.side_effect_penalty, CONFIG.format_floor) == (0.1, 0.0)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"tool": 0.0}, 0.96),
        ({"arguments": 0.5}, 0.04 + 0.13 + 0.5 * 0.7),  # the argument score scales x, s and r
        ({"arguments": 0.0}, 0.04),
        ({"execution": 0.0}, 0.8),
        ({"state": 0.0}, 0.7),
        ({"response": 0.0}, 0.8),
        ({"response": 0.5}, 0.9),
        ({"arguments": 0.5, "execution": 0.0, "response": 0.5}, 0.04 + 0.13 + 0.5 * (0.3 + 0.1)),
        ({"tool": 0.0, "arguments": 0.0, "execution": 0.0, "state": 0.0, "response": 0.0}, 0.0),
    ],
)
def test_each_component_weighs_its_weight(overrides, expected):
    reward, components = turn_reward(evidence(**overrides), CONFIG)
    assert reward == pytest.approx(expected)
    for name, value in overrides.items():
        assert components[name] == value


def test_without_facts_the_correct_call_stands_in_for_the_reply():
    reward, components = turn_reward(evidence(response=None), CONFIG)
    assert reward == 1.0 and "response" not in components
    assert turn_reward(evidence(response=None, execution=0.0), CONFIG)[0] == pytest.approx(0.6)
    half = turn_reward(evidence(response=None, arguments=0.5), CONFIG)[0]
    assert half == pytest.approx(0.04 + 0.13 + 0.5 * 0.7)


def test_state_and_reply_pay_nothing_without_the_expected_call():
    """Read-only turns leave the CRM as the reference does: that alone earns nothing now."""
    idle = evidence(tool=0.0, arguments=0.0, execution=0.0, state=1.0, response=1.0, passed=False)
    assert turn_reward(idle, CONFIG)[0] == 0.0
    empty_call = evidence(arguments=0.0, execution=1.0, state=1.0, response=1.0, passed=False)
    assert turn_reward(empty_call, CONFIG)[0] == pytest.approx(CONFIG.tool_weight)


def test_custom_weights():
    only_tool = RewardConfig(
        tool_weight=1.0, arguments_weight=0, execution_weight=0, state_weight=0, response_weight=0
    )
    assert turn_reward(evidence(tool=0.0, arguments=1.0), only_tool)[0] == 0.0
    assert turn_reward(evidence(tool=1.0, arguments=0.0, state=0.0), only_tool)[0] == 1.0
    near = RewardConfig(tool_weight=0.04 + 5e-10)  # within the tolerance: capped at 1
    assert turn_reward(evidence(), near)[0] == 1.0


@pytest.mark.parametrize(
    ("malformed", "extra", "side_effect", "penalty"),
    [
        (1, 0, False, 0.1),
        (0, 1, False, 0.05),
        (2, 1, False, 0.25),
        (0, 10, False, 0.5),
        (4, 3, False, 0.5),
        (100, 100, False, 0.5),
        (0, 0, True, 0.1),
        (1, 1, True, 0.25),
        (3, 3, True, 0.5),
    ],
)
def test_penalties_add_up_and_are_capped(malformed, extra, side_effect, penalty):
    reward, components = turn_reward(
        evidence(malformed_actions=malformed, extra_steps=extra, side_effect=side_effect), CONFIG
    )
    assert reward == pytest.approx(1.0 - penalty)
    assert components["penalty"] == pytest.approx(-penalty)
    assert components["side_effect"] == (-0.1 if side_effect else 0.0)
    assert components["total"] == reward


def test_the_lowest_shaped_reward_is_minus_the_cap():
    zero = dict(tool=0.0, arguments=0.0, execution=0.0, state=0.0, response=0.0, passed=False)
    reward, _ = turn_reward(evidence(**zero, malformed_actions=9, extra_steps=9), CONFIG)
    assert reward == pytest.approx(-0.5) == CONFIG.bounds[0]
    capped = RewardConfig(max_penalty=0.2)
    assert turn_reward(evidence(**zero, malformed_actions=9), capped)[0] == pytest.approx(-0.2)
    assert capped.bounds == (-0.2, 1.0)


def test_a_write_alone_costs_the_side_effect_penalty():
    zero = dict(tool=0.0, arguments=0.0, execution=0.0, state=0.0, response=None, passed=False)
    assert turn_reward(evidence(**zero, side_effect=True), CONFIG)[0] == pytest.approx(-0.1)


def test_the_format_floor_pays_a_well_formed_answer_only():
    floor = RewardConfig(format_floor=0.02)
    idle = dict(tool=0.0, arguments=0.0, execution=0.0, state=1.0, response=0.0, passed=False)
    assert turn_reward(evidence(**idle), floor)[0] == 0.02
    assert turn_reward(evidence(**idle, answered=False), floor)[0] == 0.0  # the budget ran out
    assert turn_reward(evidence(**idle, malformed_actions=1), floor)[0] == pytest.approx(-0.1)
    assert turn_reward(evidence(), floor)[0] == 1.0  # a floor, not a bonus
    assert turn_reward(evidence(**idle), CONFIG)[0] == 0.0  # off by default


def test_binary_mode_is_passed_only():
    binary = RewardConfig(mode="binary")
    assert binary.bounds == (0.0, 1.0)
    reward, components = turn_reward(evidence(malformed_actions=2, extra_steps=1), binary)
    assert reward == 1.0 and components["penalty"] == pytest.approx(-0.25)  # reported, not applied
    reward, components = turn_reward(evidence(passed=False), binary)
    assert reward == 0.0 and components["total"] == 0.0 and components["tool"] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tool_weight": -0.1}, "RewardConfig.tool_weight must be a number >= 0, got -0.1"),
        ({"state_weight": "0.3"}, "RewardConfig.state_weight must be a number >= 0, got '0.3'"),
        ({"max_penalty": None}, "RewardConfig.max_penalty must be a number >= 0, got None"),
        ({"step_penalty": -1}, "RewardConfig.step_penalty must be a number >= 0, got -1"),
        (
            {"side_effect_penalty": float("nan")},
            "RewardConfig.side_effect_penalty must be a number >= 0, got nan",
        ),
        ({"format_penalty": True}, "RewardConfig.format_penalty must be a number >= 0, got True"),
        ({"mode": "dense"}, "RewardConfig.mode must be 'shaped' or 'binary', got 'dense'"),
        (
            {"response_weight": 0.1},
            "RewardConfig weights (tool_weight, arguments_weight, execution_weight, "
            "state_weight, response_weight) must sum to 1, got 0.9: the shaped reward is not "
            "renormalised, so the ground truth must earn exactly 1",
        ),
        (
            {"format_floor": 0.04},
            "RewardConfig.format_floor must be below tool_weight (0.04), got 0.04: an answer alone "
            "would earn as much as the expected tool",
        ),
    ],
)
def test_reward_config_validation(kwargs, message):
    with pytest.raises(ValueError) as caught:
        RewardConfig(**kwargs)
    assert str(caught.value) == message


def test_reward_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.tool_weight = 1.0  # type: ignore[misc]


unit = st.floats(0.0, 1.0)


# the evidence in its field order: tool, arguments, execution, state, response (scores);
# malformed actions, extra steps (counts); passed, side effect, answered (flags)
SCORES = st.tuples(unit, unit, unit, unit, st.none() | unit)
COUNTS = st.tuples(st.integers(0, 50), st.integers(0, 50))
FLAGS = st.tuples(st.booleans(), st.booleans(), st.booleans())


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(SCORES, COUNTS, FLAGS, st.sampled_from([0.0, 0.03]), st.sampled_from(["shaped", "binary"]))
def test_reward_always_within_bounds(scores, counts, flags, floor, mode):
    config = RewardConfig(mode=mode, format_floor=floor)
    evidence_ = TurnEvidence(*scores, *counts, *flags)
    reward, components = turn_reward(evidence_, config)
    low, high = config.bounds
    assert low <= reward <= high
    assert components["total"] == reward
    assert -config.max_penalty <= components["penalty"] <= 0.0


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(arguments=unit, execution=unit, state=unit, response=st.none() | unit)
def test_more_of_any_component_never_pays_less(arguments, execution, state, response):
    base = evidence(arguments=arguments, execution=execution, state=state, response=response)
    reward = turn_reward(base, CONFIG)[0]
    for name in ("arguments", "execution", "state"):
        better = dataclasses.replace(base, **{name: 1.0})
        assert turn_reward(better, CONFIG)[0] >= reward - 1e-12
    assert turn_reward(dataclasses.replace(base, tool=0.0), CONFIG)[0] <= reward


# ---- whole turns through CrmEnv ------------------------------------------------------------------
NEW_CLIENT_ARGS = {"name": "Globex", "email": "ops@globex.example", "status": "Prospect"}
NEW_CLIENT_REPLY = "Globex is now a Prospect client."
FIND_REPLY = "One: Q4 Sales Opportunity, 100000.0 at 50%."
FIND_ARGS = {"criteria": {"client_id": ACME, "stage": "Qualification"}}


def call(tool: str, **arguments) -> str:
    return format_tool_call(tool, arguments)


def play_turn(tasks, task_id: str, actions: list[str], **kwargs) -> tuple[float, dict, tuple]:
    """Play ``actions`` on one CrmEnv task; the last step's reward, components and flags."""
    env = CrmEnv(tasks, **kwargs)
    env.reset(seed=0, options={"task_id": task_id})
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    assert terminated or truncated, "the turn did not end"
    return reward, info["reward_components"], (terminated, truncated)


def test_the_reference_call_and_reply_score_one(tasks):
    reward, components, flags = play_turn(
        tasks, "HAND-new-client#1", [call("create_new_client", **NEW_CLIENT_ARGS), NEW_CLIENT_REPLY]
    )
    assert (reward, flags) == (1.0, (True, False))
    assert components["passed"] == 1.0


def test_wrong_tool_gets_nothing_even_when_the_answer_states_the_facts(tasks):
    actions = [call("client_search", name="Globex"), NEW_CLIENT_REPLY]
    reward, components, _ = play_turn(tasks, "HAND-new-client#1", actions)
    scores = dict(tool=0.0, arguments=0.0, execution=0.0, state=0.0, response=1.0)
    assert components == {**scores, "penalty": 0.0, "side_effect": 0.0, "passed": 0.0, "total": 0.0}
    assert reward == 0.0


def test_right_tool_wrong_argument_gets_a_partial_argument_score(tasks):
    # status Active instead of Prospect: a 2/3, x 1, s 0, r 1, and the write costs 0.1
    actions = [
        call("create_new_client", **{**NEW_CLIENT_ARGS, "status": "Active"}),
        NEW_CLIENT_REPLY,
    ]
    reward, components, _ = play_turn(tasks, "HAND-new-client#1", actions)
    assert (components["tool"], components["execution"], components["state"]) == (1.0, 1.0, 0.0)
    assert components["arguments"] == pytest.approx(2 / 3)
    assert components["side_effect"] == -0.1
    assert reward == pytest.approx(0.04 + 0.26 * 2 / 3 + 2 / 3 * (0.2 + 0.2) - 0.1)
    assert components["passed"] == 0.0


def test_search_criteria_count_one_by_one_in_the_env(tasks):
    # one of two criteria: a 0.5; the search changes nothing, so s 1
    actions = [call("opportunity_search", criteria={"stage": "Qualification"}), FIND_REPLY]
    reward, components, _ = play_turn(tasks, "HAND-deal#1", actions)
    assert components["arguments"] == 0.5 and components["state"] == 1.0
    assert reward == pytest.approx(0.04 + 0.13 + 0.5 * (0.2 + 0.3 + 0.2))


def test_reply_numbers_count_as_numbers(tasks):
    actions = [
        call("opportunity_search", **FIND_ARGS),
        "Just one: Q4 Sales Opportunity, worth $100,000 at 50%.",
    ]
    reward, components, _ = play_turn(tasks, "HAND-deal#1", actions)
    assert components["arguments"] == 1.0 and components["response"] == 1.0
    assert reward == 1.0


def test_a_reply_missing_a_fact_loses_part_of_the_response_and_the_pass(tasks):
    actions = [call("opportunity_search", **FIND_ARGS), "Just one: Q4 Sales Opportunity."]
    reward, components, _ = play_turn(tasks, "HAND-deal#1", actions)
    assert components["response"] == pytest.approx(0.5)  # recall 1/3, precision 1: F1 0.5
    assert reward == pytest.approx(0.9) and components["passed"] == 0.0


def test_numeric_strings_match_in_the_argument_score_but_the_crm_rejects_them(tasks):
    updates = {"stage": "Negotiation", "probability": "70"}
    actions = [
        call("modify_opportunity", opportunity_id=DEAL, updates=updates),
        "Done: Q4 Sales Opportunity is in Negotiation.",
    ]
    reward, components, _ = play_turn(tasks, "HAND-deal#2", actions)
    assert components["arguments"] == 1.0  # upstream's rule: "70" matches 70
    assert (components["execution"], components["state"]) == (0.0, 0.0)  # "must be numeric"
    assert reward == pytest.approx(0.04 + 0.26 + 0.2)


def test_expected_failure_turn_called_correctly_scores_one(tasks):
    dup = {"name": "Acme Two", "email": ACME_EMAIL.upper(), "status": "Active"}
    reward, components, _ = play_turn(
        tasks, "HAND-duplicate#1", [call("create_new_client", **dup), "No."]
    )
    scores = dict(tool=1.0, arguments=1.0, execution=1.0, state=1.0)
    assert components == {**scores, "penalty": 0.0, "side_effect": 0.0, "passed": 1.0, "total": 1.0}
    assert reward == 1.0


def test_expected_failure_turn_that_succeeds_loses_execution_and_state(tasks):
    fresh = {"name": "Acme Two", "email": "two@acme.example", "status": "Active"}
    reward, components, _ = play_turn(
        tasks, "HAND-duplicate#1", [call("create_new_client", **fresh), "Ok."]
    )
    assert (components["execution"], components["state"], components["passed"]) == (0.0, 0.0, 0.0)
    assert components["arguments"] == pytest.approx(2 / 3)
    assert reward == pytest.approx(0.04 + 0.26 * 2 / 3 - 0.1)  # no reply facts: r' = x = 0


def test_expected_failure_turn_failing_for_another_reason_loses_execution(tasks):
    wrong = {"name": "Acme Two", "email": "not-an-email", "status": "Active"}
    reward, components, _ = play_turn(
        tasks, "HAND-duplicate#1", [call("create_new_client", **wrong), "No."]
    )
    assert (components["execution"], components["state"]) == (0.0, 1.0)
    assert reward == pytest.approx(0.04 + 0.26 * 2 / 3 + 2 / 3 * 0.3)


def test_extra_steps_are_penalised(tasks):
    actions = [call("list_clients"), call("create_new_client", **NEW_CLIENT_ARGS), NEW_CLIENT_REPLY]
    reward, components, _ = play_turn(tasks, "HAND-new-client#1", actions)
    assert components["penalty"] == pytest.approx(-0.05) and components["passed"] == 1.0
    assert reward == pytest.approx(0.95)


def test_a_correct_call_retried_into_an_error_still_counts(tasks):
    create = call("create_new_client", **NEW_CLIENT_ARGS)  # the retry: duplicate email
    reward, components, _ = play_turn(
        tasks, "HAND-new-client#1", [create, create, NEW_CLIENT_REPLY]
    )
    assert (components["execution"], components["state"], components["passed"]) == (1.0, 1.0, 1.0)
    assert reward == pytest.approx(0.95)


def test_the_best_argument_match_is_scored_before_execution(tasks):
    # an executed call with 2/3 of the arguments, then the exact call, which fails (duplicate)
    actions = [
        call("create_new_client", **{**NEW_CLIENT_ARGS, "status": "Active"}),
        call("create_new_client", **NEW_CLIENT_ARGS),
        NEW_CLIENT_REPLY,
    ]
    reward, components, _ = play_turn(tasks, "HAND-new-client#1", actions)
    assert (components["arguments"], components["execution"]) == (1.0, 0.0)
    assert components["state"] == 0.0 and components["passed"] == 0.0
    assert reward == pytest.approx(0.04 + 0.26 + 0.2 - 0.05 - 0.1)


def test_malformed_actions_are_penalised(tasks):
    actions = ["{oops", call("create_new_client", **NEW_CLIENT_ARGS), NEW_CLIENT_REPLY]
    reward, components, _ = play_turn(tasks, "HAND-new-client#1", actions)
    assert components["penalty"] == pytest.approx(-0.15)  # 0.1 malformed + 0.05 extra step
    assert reward == pytest.approx(0.85)


def test_penalties_are_capped_in_the_env(tasks):
    actions = ["{oops"] * 8 + [call("create_new_client", **NEW_CLIENT_ARGS), NEW_CLIENT_REPLY]
    reward, components, _ = play_turn(tasks, "HAND-new-client#1", actions, max_steps=20)
    assert components["penalty"] == pytest.approx(-0.5)
    assert reward == pytest.approx(0.5)


def test_an_extra_destructive_call_costs_state_and_the_side_effect_penalty(tasks):
    actions = [
        call("opportunity_search", **FIND_ARGS),
        call("delete_opportunity", opportunity_id=DEAL),
        FIND_REPLY,
    ]
    reward, components, _ = play_turn(tasks, "HAND-deal#1", actions)
    assert (components["tool"], components["arguments"], components["execution"]) == (1.0, 1.0, 1.0)
    assert components["state"] == 0.0 and components["side_effect"] == -0.1
    assert reward == pytest.approx(0.04 + 0.26 + 0.2 + 0.0 + 0.2 - 0.05 - 0.1)
    assert components["passed"] == 1.0  # passing follows upstream: call and reply, not state


def test_budget_exhaustion_truncates_without_an_answer(tasks):
    actions = [call("list_clients"), call("create_new_client", **NEW_CLIENT_ARGS)]
    env = CrmEnv(tasks, max_steps=2)
    env.reset(seed=0, options={"task_id": "HAND-new-client#1"})
    _, reward, terminated, truncated, info = env.step(actions[0])
    assert (reward, terminated, truncated) == (0.0, False, False)
    obs, reward, terminated, truncated, info = env.step(actions[1])
    assert (terminated, truncated) == (False, True)
    assert obs.startswith("Tool result (create_new_client): ")
    components = info["reward_components"]
    assert components["response"] == 0.0 and components["passed"] == 0.0  # no answer
    assert reward == pytest.approx(0.8)


def test_budget_of_one_malformed_action(tasks):
    reward, components, flags = play_turn(tasks, "HAND-new-client#1", ["<tool>{"], max_steps=1)
    assert flags == (False, True)
    # every component 0 (the expected client was never made), minus one malformed action
    assert components["state"] == 0.0 and components["penalty"] == pytest.approx(-0.1)
    assert reward == pytest.approx(-0.1)


# ---- whole conversations through ConversationEnv -------------------------------------------------
def test_conversation_rewards_are_turn_rewards_over_the_number_of_turns(tasks):
    env = ConversationEnv(tasks)
    env.reset(seed=0, options={"task_id": "HAND-deal"})
    # turn 1 (a search): the CRM is as the reference left it, but nothing was done -> 0
    _, first, terminated, _, info = env.step("I cannot help.")
    assert not terminated and info["reward_components"]["state"] == 1.0
    assert first == 0.0 and info["reward_components"]["total"] == 0.0
    env.step(call("opportunity_search", **FIND_ARGS))
    _, second, terminated, truncated, info = env.step(
        "Done: Q4 Sales Opportunity is in Negotiation."
    )
    assert (terminated, truncated) == (True, False)
    assert info["reward_components"]["tool"] == 0.0  # the wrong tool for turn 2
    assert second == 0.0


def test_conversation_turn_budget_ends_the_turn_and_moves_on(tasks):
    env = ConversationEnv(tasks, max_steps=1)
    env.reset(seed=0, options={"task_id": "HAND-deal"})
    obs, reward, terminated, truncated, info = env.step(call("opportunity_search", **FIND_ARGS))
    assert (terminated, truncated) == (False, False)
    assert obs.startswith("Tool result (opportunity_search): ")
    assert obs.endswith(f"\nUser: Move {DEAL} to Negotiation at 70%.")  # filled from this run
    assert info["turn_id"] == 2
    assert reward == pytest.approx((0.04 + 0.26 + 0.2 + 0.3 + 0.0) / 2)  # no answer: response 0
