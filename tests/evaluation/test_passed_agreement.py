"""The records, the metrics and ``replay`` agree with the env on every turn's "passed" (issue #18).

The public 400 and 1,000 generated conversations run through ``benchmarks.evaluate.evaluate``
under scripted policies: the ground truth, the ground truth with spoiled arguments on some turns,
the expected tool with ``{}`` every turn, one tool with ``{}`` every turn, and random actions.
A spy on ``conversation_record`` keeps each episode's trajectory, so every record is compared
with the env's own ``info["reward_components"]`` of the same episode.
"""

from __future__ import annotations

import zlib
from math import comb
from typing import Any

import pytest

import benchmarks.evaluate as evaluate_module
from agents.baselines import RandomPolicy, ReplayPolicy
from agents.policy import Observation, ScriptedPolicy
from benchmarks.evaluate import EnvSettings, evaluate
from benchmarks.metrics import summarize
from benchmarks.records import ConversationRecord
from crm_gym.actions import format_tool_call
from crm_gym.data.conversation import Conversation
from crm_gym.data.loading import load_conversations
from crm_gym.data.replay import replay
from crm_gym.generator import default_tasks
from tests.envs.support import require_public_data

pytestmark = pytest.mark.slow


# ---- scripted policies -------------------------------------------------------------------------
def _turn_started(observation: Observation) -> bool:
    messages = observation.info.get("messages") or [{"role": "user"}]
    return messages[-1]["role"] == "user"


class SpoiledReplay(ScriptedPolicy):
    """The ground truth, but on one turn in three one argument value is spoiled."""

    def action(self, observation: Observation) -> str:
        reference = observation.info["reference"]
        text = ReplayPolicy().action(observation)
        key = f"{observation.info['task_id']}#{observation.info['turn_id']}".encode()
        if not _turn_started(observation) or zlib.crc32(key) % 3:
            return text
        arguments = _spoil(dict(reference["expected_arguments"]))
        return format_tool_call(reference["expected_tool"], arguments)


def _spoil(arguments: dict[str, Any]) -> dict[str, Any]:
    """Change the first argument's value (``criteria``: its first entry); drop nothing."""
    for key, value in arguments.items():
        if isinstance(value, dict) and value:
            return {**arguments, key: _spoil(dict(value))}
        return {**arguments, key: f"{value}-spoiled" if isinstance(value, str) else "spoiled"}
    return arguments


class EmptyArguments(ScriptedPolicy):
    """The expected tool with ``{}`` at the start of every turn, then ``Done.``."""

    def action(self, observation: Observation) -> str:
        if _turn_started(observation):
            return format_tool_call(observation.info["reference"]["expected_tool"], {})
        return "Done."


class OneTool(ScriptedPolicy):
    """``create_new_opportunity({})`` at the start of every turn, then ``Done.``."""

    def action(self, observation: Observation) -> str:
        if _turn_started(observation):
            return format_tool_call("create_new_opportunity", {})
        return "Done."


# ---- runs --------------------------------------------------------------------------------------
Episode = tuple[Conversation, ConversationRecord, list[dict[str, float]]]


@pytest.fixture(scope="module")
def public() -> list[Conversation]:
    return list(load_conversations(require_public_data()))


@pytest.fixture(scope="module")
def generated() -> list[Conversation]:
    return list(default_tasks(1000))


def run(
    monkeypatch: pytest.MonkeyPatch,
    conversations: list[Conversation],
    policy: Any,
    attempts: int = 1,
    strict_upstream: bool = False,
) -> list[Episode]:
    """Evaluate, keeping each record with its episode's per-turn ``reward_components``."""
    seen: list[Episode] = []
    record_of = evaluate_module.conversation_record

    def spy(conversation, trajectory, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        record = record_of(conversation, trajectory, *args, **kwargs)
        turns = [
            s.info["reward_components"] for s in trajectory.steps if "reward_components" in s.info
        ]
        seen.append((conversation, record, turns))
        return record

    monkeypatch.setattr(evaluate_module, "conversation_record", spy)
    records = evaluate(
        conversations,
        policy,
        policy_name=type(policy).__name__,
        attempts=attempts,
        expose_reference=True,
        progress=False,
        env=EnvSettings(strict_upstream=strict_upstream),
    )
    assert len(records) == len(seen) == attempts * len(conversations)
    return seen


# ---- the metrics, straight from the env's per-turn outcome -------------------------------------
def env_tool_success(expect_success: bool, components: dict[str, float]) -> bool:
    """Upstream's ``tool_success`` from the env: failure turn ``passed``; else its call part."""
    if not expect_success:
        return components["passed"] == 1.0
    return all(components[key] == 1.0 for key in ("tool", "arguments", "execution"))


def env_metrics(episodes: list[Episode]) -> dict[str, float]:
    """Strict success, turn-level success, capability and pass^k from the env alone."""
    strict, tool, outcomes = [], [], {}
    for conversation, _, turns in episodes:
        kinds = [t.expect_success for t in conversation.turns]
        strict.append(all(kinds) and all(c["passed"] == 1.0 for c in turns))
        tool.append([env_tool_success(k, c) for k, c in zip(kinds, turns, strict=True)])
        n, c = outcomes.get(conversation.conversation_id, (0, 0))
        outcomes[conversation.conversation_id] = (n + 1, c + strict[-1])
    flat = [ok for row in tool for ok in row]
    metrics = {
        "metrics/strict_success": sum(strict) / len(strict),
        "metrics/turn_level_success": sum(flat) / len(flat),
        "metrics/capability": sum(any(row) for row in tool) / len(tool),
    }
    for k in range(1, min(n for n, _ in outcomes.values()) + 1):
        hat = [comb(c, k) / comb(n, k) for n, c in outcomes.values()]
        metrics[f"metrics/pass_hat_{k}"] = sum(hat) / len(hat)
    return metrics


def check_agreement(episodes: list[Episode]) -> dict[str, float]:
    """Every turn's record equals the env's verdict, and so do the metrics; returns them."""
    for conversation, record, turns in episodes:
        assert len(record.per_turn_results) == len(turns) == len(conversation.turns)
        for turn, components in zip(record.per_turn_results, turns, strict=True):
            where = f"{record.conversation_id} attempt {record.attempt} turn {turn.turn_id}"
            verdict = turn.success if turn.expect_success else turn.tool_success
            assert verdict == (components["passed"] == 1.0), where
            assert turn.tool_success == env_tool_success(turn.expect_success, components), where
    summary = summarize([record for _, record, _ in episodes])
    expected = env_metrics(episodes)
    assert {key: summary[key] for key in expected} == pytest.approx(expected)
    return summary


# ---- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["public", "generated"])
@pytest.mark.parametrize("policy", [ReplayPolicy, SpoiledReplay, EmptyArguments, OneTool])
def test_records_and_metrics_agree_with_env(request, monkeypatch, source, policy):
    conversations = request.getfixturevalue(source)
    summary = check_agreement(run(monkeypatch, conversations, policy()))
    if policy is ReplayPolicy:
        assert summary["metrics/turn_level_success"] == 1.0
        assert summary["metrics/reward_signal"] == 1.0


@pytest.mark.parametrize("source", ["public", "generated"])
def test_random_policy_two_attempts_agrees_with_env(request, monkeypatch, source):
    conversations = request.getfixturevalue(source)
    summary = check_agreement(run(monkeypatch, conversations, RandomPolicy(0), attempts=2))
    assert "metrics/pass_hat_2" in summary


def test_strict_upstream_records_follow_env(monkeypatch, generated):
    """Under upstream's looser failure-turn rule the records still copy the env's verdict."""
    check_agreement(run(monkeypatch, generated[:300], EmptyArguments(), strict_upstream=True))


def test_empty_arguments_no_longer_pass_failure_turns(monkeypatch, generated):
    """The expected tool with ``{}`` fails every turn whose expected arguments are not empty."""
    for conversation, record, _ in run(monkeypatch, generated, EmptyArguments()):
        for turn, spec in zip(record.per_turn_results, conversation.turns, strict=True):
            if spec.expected_args:
                assert not turn.tool_success, (conversation.conversation_id, turn.turn_id)


def test_replay_agrees_with_env_on_public_400(monkeypatch, public):
    """``crm_gym.data.replay``'s per-turn ``passed`` equals the env's under the ground truth."""
    for conversation, _, turns in run(monkeypatch, public, ReplayPolicy()):
        result = replay(conversation)
        assert result.error is None, conversation.conversation_id
        mine = [turn.passed for turn in result.turns]
        assert mine == [c["passed"] == 1.0 for c in turns], conversation.conversation_id
