"""Credit only from the agent's actions: the order of the design, and the gaming it closes.

nothing (<= 0) <= wrong tool (0) < right tool (w_tool) < partial arguments < right call with the
wrong outcome < right call and outcome < the same with the correct reply (1.0), on hand-built
evidence and on a real episode; then the scripted non-policies of issue #18 (an immediate answer,
``{}`` for the expected tool, a dump of every result value, a write on a read-only turn).
"""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from crm_gym.actions import format_tool_call
from crm_gym.envs import CrmEnv
from crm_gym.scoring import RewardConfig, TurnEvidence, turn_reward
from tests.envs.support import ACME, ACME_EMAIL, DEAL

CONFIG = RewardConfig()
MOVE_REPLY = "Done: Q4 Sales Opportunity is in Negotiation."
MOVE = {"opportunity_id": DEAL, "updates": {"stage": "Negotiation", "probability": 70}}


def strictly_increasing(values: list[float]) -> bool:
    return all(low < high for low, high in zip(values, values[1:], strict=False))


# ---- hand-built evidence -------------------------------------------------------------------------
def turn(tool=0.0, arguments=0.0, execution=0.0, state=0.0, response=0.0, **extra) -> float:
    malformed, side_effect = extra.get("malformed", 0), extra.get("side_effect", False)
    evidence = TurnEvidence(
        tool, arguments, execution, state, response, malformed, 0, False, side_effect
    )
    return turn_reward(evidence, CONFIG)[0]


def test_the_order_on_hand_built_evidence():
    chain = [
        turn(malformed=1),  # nothing but an unreadable action
        turn(),  # a wrong tool (read-only): the CRM still differs from the reference's
        turn(tool=1.0),  # the expected tool, no matching argument
        turn(tool=1.0, arguments=1 / 3, execution=1.0, side_effect=True),  # partial arguments
        turn(tool=1.0, arguments=1.0),  # the right call, but it failed: no state, no reply
        turn(tool=1.0, arguments=1.0, execution=1.0, state=1.0),  # right call and outcome
        turn(tool=1.0, arguments=1.0, execution=1.0, state=1.0, response=1.0),  # + the reply
    ]
    assert chain[0] < 0 and chain[1] == 0 and chain[2] == pytest.approx(CONFIG.tool_weight)
    assert strictly_increasing(chain) and chain[-1] == 1.0


# ---- a real episode ------------------------------------------------------------------------------
def play(tasks, task_id: str, actions: list[str], **kwargs) -> tuple[float, dict]:
    env = CrmEnv(tasks, **kwargs)
    env.reset(seed=0, options={"task_id": task_id})
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return reward, info["reward_components"]
    raise AssertionError("the turn did not end")


def test_the_order_on_a_real_episode(tasks):
    """HAND-deal#2: move the deal to Negotiation at 70% (a write)."""
    modify = "modify_opportunity"
    steps = [
        ["Done."],
        [format_tool_call("view_opportunity_details", {"opportunity_id": DEAL}), "Done."],
        [format_tool_call(modify, {}), "Done."],
        [
            format_tool_call(modify, {"opportunity_id": DEAL, "updates": {"stage": "Negotiation"}}),
            "Done.",
        ],
        # every argument matches upstream's rule; the CRM refuses the text "70"
        [
            format_tool_call(modify, {**MOVE, "updates": {**MOVE["updates"], "probability": "70"}}),
            "Done.",
        ],
        [format_tool_call(modify, MOVE), "Done."],
        [format_tool_call(modify, MOVE), MOVE_REPLY],
    ]
    rewards = [play(tasks, "HAND-deal#2", actions)[0] for actions in steps]
    assert rewards[0] == rewards[1] == 0.0
    assert rewards[2] == pytest.approx(CONFIG.tool_weight)
    assert strictly_increasing(rewards[1:]) and rewards[-1] == 1.0
    assert rewards[3:6] == pytest.approx([0.04 + 0.26 * 2 / 3 + 2 / 3 * 0.2 - 0.1, 0.3, 0.8])


# ---- what doing nothing earns --------------------------------------------------------------------
def test_an_immediate_answer_earns_nothing_on_any_hand_made_turn(tasks):
    for conversation in tasks:
        for number, _ in enumerate(conversation.turns, start=1):
            task = f"{conversation.conversation_id}#{number}"
            reward, components = play(tasks, task, ["I have done it."])
            assert reward == 0.0 and components["passed"] == 0.0, task


def test_an_empty_call_of_the_expected_tool_earns_the_tool_weight(tasks):
    cases = {
        "HAND-deal#1": "opportunity_search",
        "HAND-deal#2": "modify_opportunity",
        "HAND-new-client#1": "create_new_client",
        "HAND-duplicate#1": "create_new_client",
    }
    for task, tool in cases.items():
        reward, components = play(tasks, task, [format_tool_call(tool, {}), "Done."])
        assert components["arguments"] == 0.0, task
        assert reward == pytest.approx(CONFIG.tool_weight), task
    # the search ran without error and changed nothing: upstream's execution and state held
    _, components = play(tasks, "HAND-deal#1", [format_tool_call("opportunity_search", {}), "x"])
    assert (components["execution"], components["state"]) == (1.0, 1.0)


def test_an_empty_call_where_nothing_is_expected_is_the_right_call(tasks):
    reward, components = play(
        tasks, "HAND-mixed#1", [format_tool_call("summarize_counts", {}), "ok"]
    )
    assert components["arguments"] == 1.0 and reward == 1.0


def test_a_dump_of_every_result_value_does_not_get_the_full_response(tasks):
    env = CrmEnv(tasks)
    env.reset(seed=0, options={"task_id": "HAND-deal#1"})
    search = {"criteria": {"client_id": ACME, "stage": "Qualification"}}
    _, _, _, _, info = env.step(format_tool_call("opportunity_search", search))
    dump = info["tool_result"]["payload"]  # every value of the result, as JSON
    assert json.loads(dump)[0]["name"] == "Q4 Sales Opportunity"
    _, reward, _, _, info = env.step(dump)
    components = info["reward_components"]
    # three facts (name, amount, probability) among four claims (and the stage; the ids are
    # neutral, the reference reply stating none of them): precision 3/4, F1 6/7
    assert components["response"] == pytest.approx(6 / 7)
    assert reward == pytest.approx(1.0 - 0.2 / 7)


def test_a_write_on_a_read_only_turn_costs_the_side_effect_penalty(tasks):
    new_client = {"name": "Globex", "email": "ops@globex.example", "status": "Prospect"}
    write = format_tool_call("create_new_client", new_client)
    reward, components = play(tasks, "HAND-deal#1", [write, "Done."])
    assert components["side_effect"] == -0.1 and reward == pytest.approx(-0.1)
    criteria = {"client_id": ACME, "stage": "Qualification"}
    search = format_tool_call("opportunity_search", {"criteria": criteria})
    reply = "One: Q4 Sales Opportunity, 100000.0 at 50%."
    reward, components = play(tasks, "HAND-deal#1", [search, write, reply])
    assert components["side_effect"] == -0.1 and components["state"] == 0.0
    assert reward == pytest.approx(0.04 + 0.26 + 0.2 + 0.2 - 0.05 - 0.1)


def test_a_failed_write_or_a_read_costs_no_side_effect(tasks):
    bad = format_tool_call("create_new_client", {"name": "X", "email": "nope", "status": "Active"})
    _, components = play(tasks, "HAND-deal#1", [bad, "Done."])
    assert components["side_effect"] == 0.0
    _, components = play(tasks, "HAND-deal#1", [format_tool_call("list_clients", {}), "Done."])
    assert components["side_effect"] == 0.0


# ---- the expected-failure rule in both modes -----------------------------------------------------
@pytest.mark.parametrize(
    ("arguments", "default", "strict"),
    [
        ({"name": "Acme Two", "email": ACME_EMAIL.upper(), "status": "Active"}, 1.0, 1.0),
        ({"name": "Acme Two", "email": "not-an-email", "status": "Active"}, 0.0, 1.0),
        ({"name": "Other", "email": ACME_EMAIL.upper(), "status": "Active"}, 0.0, 1.0),
        ({"name": "Acme Two", "email": "two@acme.example", "status": "Active"}, 0.0, 0.0),
    ],
)
def test_strict_upstream_passes_any_failure_of_the_expected_tool(tasks, arguments, default, strict):
    action = format_tool_call("create_new_client", arguments)
    for strict_upstream, passed in ((False, default), (True, strict)):
        env = gym.make("ArcCrm-v1", tasks=tasks, strict_upstream=strict_upstream).unwrapped
        env.reset(options={"task_id": "HAND-duplicate#1"})
        env.step(action)
        _, _, _, _, info = env.step("No.")
        assert info["reward_components"]["passed"] == passed, strict_upstream
