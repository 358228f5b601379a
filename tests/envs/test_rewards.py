"""Rewards: every component by hand, then whole turns played through the envs.

Default weights (``RewardConfig``): tool 0.2, arguments 0.2, execution 0.2, state 0.3,
response 0.1; penalties 0.1 per malformed action and 0.05 per step beyond one call and one
answer, capped at 0.5. The shaped reward is the weighted mean of the components that apply.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_gym.actions import format_tool_call
from crm_gym.data.conversation import Turn
from crm_gym.envs import ConversationEnv, CrmEnv
from crm_gym.envs.facts import reply_facts, response_score
from crm_gym.envs.turn import argument_score
from crm_gym.rewards import RewardConfig, TurnEvidence, turn_reward
from tests.envs.support import ACME, ACME_EMAIL, DEAL

CONFIG = RewardConfig()


def evidence(**overrides) -> TurnEvidence:
    """Perfect evidence, with ``overrides``."""
    base = dict(tool=1.0, arguments=1.0, execution=1.0, state=1.0, response=1.0,
                malformed_actions=0, extra_steps=0, passed=True)  # fmt: skip
    return TurnEvidence(**{**base, **overrides})


# ---- turn_reward ---------------------------------------------------------------------------------
def test_perfect_turn_scores_one_with_every_component():
    reward, components = turn_reward(evidence(), CONFIG)
    assert reward == 1.0
    assert components == {"tool": 1.0, "arguments": 1.0, "execution": 1.0, "state": 1.0,
                          "response": 1.0, "penalty": 0.0, "passed": 1.0, "total": 1.0}  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"tool": 0.0}, 0.8),
        ({"arguments": 0.5}, 0.9),
        ({"execution": 0.0}, 0.8),
        ({"state": 0.0}, 0.7),
        ({"response": 0.0}, 0.9),
        ({"arguments": 0.5, "execution": 0.0, "response": 0.5}, 0.2 + 0.1 + 0.0 + 0.3 + 0.05),
        ({"tool": 0.0, "arguments": 0.0, "execution": 0.0, "state": 0.0, "response": 0.0}, 0.0),
    ],
)
def test_each_component_weighs_its_weight(overrides, expected):
    reward, components = turn_reward(evidence(**overrides), CONFIG)
    assert reward == pytest.approx(expected)
    for name, value in overrides.items():
        assert components[name] == value


def test_weights_renormalise_over_the_components_that_apply():
    # response None: (0.2*1 + 0.2*0.5 + 0.2*0 + 0.3*1) / 0.9
    reward, components = turn_reward(evidence(arguments=0.5, execution=0.0, response=None), CONFIG)
    assert reward == pytest.approx(0.6 / 0.9)
    assert "response" not in components
    # state None as well: (0.2 + 0.1 + 0) / 0.6
    reward, components = turn_reward(
        evidence(arguments=0.5, execution=0.0, state=None, response=None), CONFIG
    )
    assert reward == pytest.approx(0.5)
    assert "state" not in components
    assert turn_reward(evidence(response=None), CONFIG)[0] == pytest.approx(1.0)


def test_custom_weights_and_all_zero_weights():
    only_tool = RewardConfig(
        arguments_weight=0, execution_weight=0, state_weight=0, response_weight=0
    )
    assert turn_reward(evidence(tool=0.0, arguments=1.0), only_tool)[0] == 0.0
    assert turn_reward(evidence(tool=1.0, state=0.0), only_tool)[0] == 1.0
    nothing = RewardConfig(tool_weight=0, arguments_weight=0, execution_weight=0, state_weight=0,
                           response_weight=0)  # fmt: skip
    assert turn_reward(evidence(), nothing)[0] == 0.0


@pytest.mark.parametrize(
    ("malformed", "extra", "penalty"),
    [(1, 0, 0.1), (0, 1, 0.05), (2, 1, 0.25), (0, 10, 0.5), (4, 3, 0.5), (100, 100, 0.5)],
)
def test_penalties_add_up_and_are_capped(malformed, extra, penalty):
    reward, components = turn_reward(
        evidence(malformed_actions=malformed, extra_steps=extra), CONFIG
    )
    assert reward == pytest.approx(1.0 - penalty)
    assert components["penalty"] == pytest.approx(-penalty)
    assert components["total"] == reward


def test_the_lowest_shaped_reward_is_minus_the_cap():
    zero = dict(tool=0.0, arguments=0.0, execution=0.0, state=0.0, response=0.0, passed=False)
    reward, _ = turn_reward(evidence(**zero, malformed_actions=9, extra_steps=9), CONFIG)
    assert reward == pytest.approx(-0.5) == CONFIG.bounds[0]
    capped = RewardConfig(max_penalty=0.2)
    assert turn_reward(evidence(**zero, malformed_actions=9), capped)[0] == pytest.approx(-0.2)
    assert capped.bounds == (-0.2, 1.0)


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
        ({"mode": "dense"}, "RewardConfig.mode must be 'shaped' or 'binary', got 'dense'"),
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


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    tool=unit, arguments=unit, execution=unit, state=st.none() | unit, response=st.none() | unit,
    malformed=st.integers(0, 50), extra=st.integers(0, 50), passed=st.booleans(),
    mode=st.sampled_from(["shaped", "binary"]),
)  # fmt: skip
def test_reward_always_within_bounds(tool, arguments, execution, state, response, malformed, extra,
                                     passed, mode):  # fmt: skip
    config = RewardConfig(mode=mode)
    evidence_ = TurnEvidence(tool, arguments, execution, state, response, malformed, extra, passed)
    reward, components = turn_reward(evidence_, config)
    low, high = config.bounds
    assert low - 1e-12 <= reward <= high + 1e-12
    assert components["total"] == reward


# ---- argument_score ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expected", "actual", "score"),
    [
        ({}, {"anything": 1}, 1.0),
        ({"a": 1, "b": "x"}, {"a": 1, "b": "x", "extra": 3}, 1.0),
        ({"a": 1, "b": "x"}, {}, 0.0),
        ({"a": 1, "b": "x"}, {"a": "1.0"}, 0.5),  # a numeric string matches; b is missing
        ({"amount": 120000}, {"amount": "120000"}, 1.0),
        ({"amount": 120000}, {"amount": "120,000"}, 0.0),
        ({"name": "Acme"}, {"name": "  Acme "}, 1.0),  # trimmed
        ({"name": "Acme"}, {"name": "acme"}, 0.0),  # case-sensitive
        ({"note": None}, {"note": None}, 1.0),
        ({"note": None}, {}, 0.0),
        # criteria entries count one by one; other keys one each
        ({"criteria": {"stage": "Qualification", "client_id": "c1"}, "limit": 5},
         {"criteria": {"stage": "Qualification"}, "limit": "5"}, 2 / 3),
        ({"criteria": {"stage": "Qualification", "client_id": "c1"}},
         {"criteria": {"client_id": "c1", "stage": "Qualification", "owner": "x"}}, 1.0),
        ({"criteria": {"stage": "Qualification", "client_id": "c1"}}, {"criteria": "stage"}, 0.0),
        ({"criteria": {"stage": "Qualification", "client_id": "c1"}}, {"stage": "Proposal"}, 0.0),
        # a nested dict other than criteria is one value, matched as a whole
        ({"opportunity_id": "o1", "updates": {"stage": "Negotiation", "probability": 70}},
         {"opportunity_id": "o1", "updates": {"stage": "Negotiation"}}, 0.5),
        ({"updates": {"stage": "Negotiation", "probability": 70}},
         {"updates": {"stage": "Negotiation", "probability": "70"}}, 1.0),
        ({"quote_ids": ["q1", "q2"]}, {"quote_ids": ["q2", "q1"]}, 0.0),
        ({"criteria": "raw text"}, {"criteria": "raw text"}, 1.0),
    ],
)  # fmt: skip
def test_argument_score(expected, actual, score):
    assert argument_score(expected, actual) == pytest.approx(score)


# ---- response_score and reply facts --------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "facts", "id_map", "score"),
    [
        ("anything", (), {}, None),
        ("Created our-9 for ACME.", ("ref-1", "Acme"), {"ref-1": "our-9"}, 1.0),
        ("Created ref-1 for Acme.", ("ref-1", "Acme"), {"ref-1": "our-9"}, 0.5),  # ids are mapped
        ("The deal is worth $120,000.", ("120000.0",), {}, 1.0),
        ("The deal is worth 120,000.00 dollars.", ("120000.0",), {}, 1.0),
        ("The deal is worth $12,000.", ("120000.0",), {}, 0.0),
        ("Probability is now 70%.", ("70.0",), {}, 1.0),
        ("Balance -5 left.", ("-5.0",), {}, 1.0),
        ("It is 1.2e5.", ("120000.0",), {}, 0.0),
        ("Acme, Negotiation, 70", ("Acme", "Negotiation", "70.0", "Q4 Deal"), {}, 0.75),
        ("", ("Acme",), {}, 0.0),
    ],
)
def test_response_score(answer, facts, id_map, score):
    assert response_score(answer, facts, id_map) == score


def test_reply_facts_are_payload_values_that_the_expected_reply_states():
    turn = Turn.model_validate({
        "turn_id": 1, "expected_tool": "create_new_client",
        "expected_response": {"text": "Globex (a Prospect, 1 of 1) is in; id c-1 noted. True."},
    })  # fmt: skip
    payload = {"client_id": "c-1", "name": "Globex", "status": "Prospect", "email": "x@y.example",
               "count": 1, "industry": None, "flag": True}  # fmt: skip
    assert reply_facts(turn, payload, None) == ("c-1", "Globex", "Prospect")  # "1" is too short
    assert reply_facts(turn, [payload, {"name": "Globex"}], None) == ("c-1", "Globex", "Prospect")
    no_reply = Turn.model_validate({"turn_id": 1, "expected_tool": "list_clients"})
    assert reply_facts(no_reply, payload, None) == ()


def test_reply_facts_of_a_failure_turn_include_the_expected_error_text():
    turn = Turn.model_validate({
        "turn_id": 1, "expected_tool": "create_new_client", "expect_success": False,
        "expected_error_substring": "already exists",
        "expected_response": {"text": "A client already exists with that email."},
    })  # fmt: skip
    assert reply_facts(turn, None, "Client already exists with email 'x'.") == ("already exists",)
    assert reply_facts(turn, None, None) == ()


# ---- whole turns through CrmEnv ------------------------------------------------------------------
NEW_CLIENT_ARGS = {"name": "Globex", "email": "ops@globex.example", "status": "Prospect"}
NEW_CLIENT_REPLY = "Globex is now a Prospect client."
FIND_REPLY = "One: Q4 Sales Opportunity, 100000.0 at 50%."


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


def test_wrong_tool_gets_only_what_the_answer_states(tasks):
    # tool 0, arguments 0, execution 0, state 0 (no client made), response 1 -> 0.1 / 1.0
    actions = [call("client_search", name="Globex"), NEW_CLIENT_REPLY]
    reward, components, _ = play_turn(tasks, "HAND-new-client#1", actions)
    assert components == {"tool": 0.0, "arguments": 0.0, "execution": 0.0, "state": 0.0,
                          "response": 1.0, "penalty": 0.0, "passed": 0.0,
                          "total": reward}  # fmt: skip
    assert reward == pytest.approx(0.1)


def test_right_tool_wrong_argument_gets_a_partial_argument_score(tasks):
    # status Active instead of Prospect: arguments 2/3, execution 1, state 0, response 1
    actions = [
        call("create_new_client", **{**NEW_CLIENT_ARGS, "status": "Active"}),
        NEW_CLIENT_REPLY,
    ]
    reward, components, _ = play_turn(tasks, "HAND-new-client#1", actions)
    assert (components["tool"], components["execution"], components["state"]) == (1.0, 1.0, 0.0)
    assert components["arguments"] == pytest.approx(2 / 3)
    assert reward == pytest.approx(0.2 + 0.2 * 2 / 3 + 0.2 + 0.0 + 0.1)
    assert components["passed"] == 0.0


def test_search_criteria_count_one_by_one_in_the_env(tasks):
    # one of two criteria: arguments 0.5; the search changes nothing, so state 1
    actions = [call("opportunity_search", criteria={"stage": "Qualification"}), FIND_REPLY]
    reward, components, _ = play_turn(tasks, "HAND-deal#1", actions)
    assert components["arguments"] == 0.5 and components["state"] == 1.0
    assert reward == pytest.approx(0.2 + 0.1 + 0.2 + 0.3 + 0.1)


def test_reply_numbers_count_as_numbers(tasks):
    actions = [call("opportunity_search", criteria={"client_id": ACME, "stage": "Qualification"}),
               "Just one: Q4 Sales Opportunity, worth $100,000."]  # fmt: skip
    reward, components, _ = play_turn(tasks, "HAND-deal#1", actions)
    assert components["arguments"] == 1.0 and components["response"] == 1.0
    assert reward == 1.0


def test_numeric_strings_match_in_the_argument_score_but_the_crm_rejects_them(tasks):
    updates = {"stage": "Negotiation", "probability": "70"}
    actions = [call("modify_opportunity", opportunity_id=DEAL, updates=updates),
               "Done: Q4 Sales Opportunity is in Negotiation."]  # fmt: skip
    reward, components, _ = play_turn(tasks, "HAND-deal#2", actions)
    assert components["arguments"] == 1.0  # upstream's rule: "70" matches 70
    assert (components["execution"], components["state"]) == (0.0, 0.0)  # "must be numeric"
    assert reward == pytest.approx(0.2 + 0.2 + 0.0 + 0.0 + 0.1)


def test_expected_failure_turn_called_correctly_scores_execution(tasks):
    dup = {"name": "Acme Two", "email": ACME_EMAIL.upper(), "status": "Active"}
    reward, components, _ = play_turn(
        tasks, "HAND-duplicate#1", [call("create_new_client", **dup), "No."]
    )
    assert components == {"tool": 1.0, "arguments": 1.0, "execution": 1.0, "state": 1.0,
                          "penalty": 0.0, "passed": 1.0, "total": 1.0}  # fmt: skip
    assert reward == 1.0


def test_expected_failure_turn_that_succeeds_loses_execution_and_state(tasks):
    fresh = {"name": "Acme Two", "email": "two@acme.example", "status": "Active"}
    reward, components, _ = play_turn(
        tasks, "HAND-duplicate#1", [call("create_new_client", **fresh), "Ok."]
    )
    assert (components["execution"], components["state"], components["passed"]) == (0.0, 0.0, 0.0)
    assert components["arguments"] == pytest.approx(2 / 3)
    assert reward == pytest.approx((0.2 + 0.2 * 2 / 3) / 0.9)  # no response component


def test_expected_failure_turn_failing_for_another_reason_loses_execution(tasks):
    wrong = {"name": "Acme Two", "email": "not-an-email", "status": "Active"}
    reward, components, _ = play_turn(
        tasks, "HAND-duplicate#1", [call("create_new_client", **wrong), "No."]
    )
    assert (components["execution"], components["state"]) == (0.0, 1.0)
    assert reward == pytest.approx((0.2 + 0.2 * 2 / 3 + 0.3) / 0.9)


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
    actions = [call("create_new_client", **{**NEW_CLIENT_ARGS, "status": "Active"}),
               call("create_new_client", **NEW_CLIENT_ARGS), NEW_CLIENT_REPLY]  # fmt: skip
    reward, components, _ = play_turn(tasks, "HAND-new-client#1", actions)
    assert (components["arguments"], components["execution"]) == (1.0, 0.0)
    assert components["state"] == 0.0 and components["passed"] == 0.0
    assert reward == pytest.approx(0.2 + 0.2 + 0.0 + 0.0 + 0.1 - 0.05)


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


def test_an_extra_destructive_call_zeroes_the_state_component(tasks):
    actions = [call("opportunity_search", criteria={"client_id": ACME, "stage": "Qualification"}),
               call("delete_opportunity", opportunity_id=DEAL), FIND_REPLY]  # fmt: skip
    reward, components, _ = play_turn(tasks, "HAND-deal#1", actions)
    assert (components["tool"], components["arguments"], components["execution"]) == (1.0, 1.0, 1.0)
    assert components["state"] == 0.0
    assert reward == pytest.approx(0.2 + 0.2 + 0.2 + 0.0 + 0.1 - 0.05)
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
    assert reward == pytest.approx(0.9)


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
    # turn 1 (a search): only state holds -> 0.3; turn 2 (a modify): nothing -> 0.0
    _, first, terminated, _, info = env.step("I cannot help.")
    assert not terminated and info["reward_components"]["total"] == pytest.approx(0.3)
    assert first == pytest.approx(0.3 / 2)
    _, second, terminated, truncated, info = env.step("I cannot help.")
    assert (terminated, truncated) == (True, False)
    assert second == 0.0 and info["reward_components"]["state"] == 0.0


def test_conversation_turn_budget_ends_the_turn_and_moves_on(tasks):
    env = ConversationEnv(tasks, max_steps=1)
    env.reset(seed=0, options={"task_id": "HAND-deal"})
    found = call("opportunity_search", criteria={"client_id": ACME, "stage": "Qualification"})
    obs, reward, terminated, truncated, info = env.step(found)
    assert (terminated, truncated) == (False, False)
    assert obs.startswith("Tool result (opportunity_search): ")
    assert obs.endswith(f"\nUser: Move {DEAL} to Negotiation at 70%.")  # filled from this run
    assert info["turn_id"] == 2
    assert reward == pytest.approx((0.2 + 0.2 + 0.2 + 0.3 + 0.0) / 2)  # no answer: response 0
