"""One "passed": ``replay`` and the envs agree on every turn, and the ground truth earns 1.0.

The same calls and replies go through ``ArcCrmConversation-v1`` and through
``crm_gym.data.replay.score_turn`` (given the reference run's reply facts), under the replay
policy and under a policy that perturbs turns in four ways, with ``strict_upstream`` off and on:
``info["reward_components"]["passed"]`` and ``TurnResult.passed`` must be equal on every turn.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

from crm_gym.actions import format_tool_call
from crm_gym.data.conversation import Conversation
from crm_gym.data.replay import EpisodeState, new_episode, score_turn
from crm_gym.generator import generate
from tests.envs.support import replay_episode

Call = tuple[str, dict[str, Any], str]
"""A turn's action: tool, arguments, reply."""


def replay_policy(reference: dict[str, Any], position: int) -> Call:
    """The ground truth of the turn (arguments resolved against this run's results)."""
    reply = reference["expected_response"] or "Done."
    return reference["expected_tool"], dict(reference["expected_arguments"]), reply


def perturbing_policy(reference: dict[str, Any], position: int) -> Call:
    """The ground truth, spoilt in one of four ways by the turn's position (one in five is kept)."""
    tool, arguments, reply = replay_policy(reference, position)
    kind = position % 5
    if kind == 1:
        return tool, arguments, "Done."  # a reply that states no fact
    if kind == 2 and arguments:
        return tool, dict(list(arguments.items())[1:]), reply  # the first argument dropped
    if kind == 3:
        return "list_clients", {}, reply  # the wrong tool with the right reply
    if kind == 4:
        return tool, arguments, f"{reply} The record: {arguments}"  # the arguments dumped too
    return tool, arguments, reply


def compare(conversations: list[Conversation], policy, strict: bool) -> tuple[int, int]:
    """Play ``policy`` through the env and through replay; the turns checked and passed."""
    env = gym.make(
        "ArcCrmConversation-v1", tasks=conversations, expose_reference=True, strict_upstream=strict
    ).unwrapped
    checked = passed = 0
    for index, conversation in enumerate(conversations):
        reference = env.tasks.reference(index)
        _, info = env.reset(options={"task_id": conversation.conversation_id})
        api, state = new_episode(conversation, strict_upstream=strict), EpisodeState()
        for position, turn in enumerate(conversation.turns):
            tool, arguments, reply = policy(info["reference"], index + position)
            env.step(format_tool_call(tool, arguments))
            _, _, _, _, info = env.step(reply)
            ours = info["reward_components"]["passed"]
            result, _ = score_turn(
                api, turn, tool, arguments, reply, state, reference.turns[position].reply
            )
            assert ours == float(result.passed), (conversation.conversation_id, turn.turn_id, tool)
            checked, passed = checked + 1, passed + result.passed
    return checked, passed


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict_upstream"])
def test_replay_and_env_agree_on_the_public_400(public, strict):
    checked, passed = compare(public, replay_policy, strict)
    assert checked == 1487 and passed == (1487 if not strict else 1463)  # 24 upload_document
    checked, passed = compare(public, perturbing_policy, strict)
    assert checked == 1487 and 0 < passed < checked


def test_replay_and_env_agree_on_generated_conversations_with_failure_turns():
    conversations = list(generate(150, seed=11))
    failures = sum(not t.expect_success for c in conversations for t in c.turns)
    assert failures > 10
    perturbed = {}
    for strict in (False, True):
        checked, passed = compare(conversations, replay_policy, strict)
        assert passed == checked, strict
        checked, perturbed[strict] = compare(conversations, perturbing_policy, strict)
        assert 0 < perturbed[strict] < checked
    # upstream's looser rule passes a failure of the expected tool with any arguments and error
    assert perturbed[True] > perturbed[False]


# ---- the ground truth earns exactly 1.0 ----------------------------------------------------------
def assert_every_turn_perfect(env_id: str, conversations: list[Conversation]) -> None:
    env = gym.make(env_id, tasks=conversations, expose_reference=True).unwrapped
    for conversation in conversations:
        starts = (
            [f"{conversation.conversation_id}#{t.turn_id}" for t in conversation.turns]
            if env_id == "ArcCrm-v1"
            else [conversation.conversation_id]
        )
        for task_id in starts:
            total, turns = replay_episode(env, {"task_id": task_id})
            assert total == pytest.approx(1.0, abs=1e-12), task_id
            for components in turns:
                assert components["total"] == 1.0 and components["passed"] == 1.0, task_id


@pytest.mark.parametrize("env_id", ["ArcCrm-v1", "ArcCrmConversation-v1"])
def test_the_ground_truth_earns_one_on_every_public_turn(public, env_id):
    assert_every_turn_perfect(env_id, public)


@pytest.mark.parametrize("env_id", ["ArcCrm-v1", "ArcCrmConversation-v1"])
def test_the_ground_truth_earns_one_on_every_turn_of_300_generated_conversations(env_id):
    assert_every_turn_perfect(env_id, list(generate(300, seed=3)))
