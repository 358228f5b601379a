"""Upstream's result records (SPEC-arc.md 4.3b) from one episode of ``ArcCrmConversation-v1``.

How the env's turn outcome (``info["reward_components"]``) maps onto upstream's per-turn fields
(SPEC-arc.md 4.1, 4.3b).

Every turn's verdict is the env's ``passed`` (``info["reward_components"]["passed"]``, the one
definition of "passed" that the binary reward, ``replay`` and these records share); the records
add nothing to it:

- success-path turn: ``success`` = ``passed``; ``tool_success`` = its call part (the expected
  tool, fully matching arguments, executed without error: components ``tool``, ``arguments`` and
  ``execution`` all 1), replies ignored as upstream's ``tool_success`` does; verification
  ``exact_match``, else ``failed`` (``tool_not_found`` when the agent called a tool the CRM lacks
  and never the expected one).
- ``response_success``: the reply part of ``passed`` (the reference reply's reproducible facts,
  component ``response``); when the reference reply states no such fact, ``response_success =
  tool_success`` (upstream's rule for a turn without an expected reply). Upstream's structured
  check (the reply equals the stored text) is unreachable for any agent, since the text embeds
  run-specific ids; the facts are its deterministic stand-in.
- expected-failure turn: ``tool_success`` = ``passed`` (the expected tool with matching arguments
  failed with the expected error; under ``strict_upstream`` the env applies upstream's looser
  rule, any failed call of the expected tool); verification ``expected_failure_diagnostic`` when
  the expected tool failed at all (``expected_error_mismatch`` when not with the expected error),
  ``unexpected_success`` when a call succeeded; ``success`` is always false, as upstream.
- conversation: ``overall_success`` = every success-path turn succeeded and no turn expects a
  failure; ``reward_signal`` = the share of success-path turns that succeeded (1.0 with none);
  ``shaped_return`` = the env's return (the mean shaped turn reward).

With a judge (``benchmarks.judge``), as upstream: a success-path turn whose call executed but did
not match exactly is judged (``llm_judge``), and so is a non-empty reply that misses facts; the
record's ``metadata.verification_mode`` is then ``hybrid_semantic_llm_judge``.

Differences from upstream's records: ``expected_arguments`` are the conversation's own (templates
such as ``{{turn_1.client_id}}`` unresolved); ``result`` (the payload) is not kept; turns are
matched to the conversation's turns by order (the env's ``info["turn_id"]`` at the end of a turn
already names the next turn).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from agents.rollout import Trajectory
from benchmarks.judge import Judge
from benchmarks.records import ConversationRecord, TokenUsage, TurnRecord
from crm_gym.actions import FinalAnswer, ToolCall, parse_action
from crm_gym.crm.tools import tool_schemas
from crm_gym.data.conversation import Conversation, Turn
from crm_gym.envs.tasks import UNLABELLED, arm_of

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def zero_usage() -> dict[str, float]:
    """No tokens, no cost, no time."""
    return {**dict.fromkeys(USAGE_KEYS, 0), "cost_usd": 0.0, "latency_s": 0.0}


# ---- what the agent did in each turn, read from the transcript ----------------------------------
@dataclass
class Call:
    """One tool call of the agent and how it went."""

    name: str
    arguments: Any
    ok: bool = False
    error: str | None = None


@dataclass
class TurnActions:
    """The agent's tool calls and final answer in one user turn."""

    calls: list[Call] = field(default_factory=list)
    answer: str | None = None


def turn_actions(messages: Sequence[dict[str, Any]]) -> list[TurnActions]:
    """Split a whole transcript into its user turns (a user message with a ``turn_id``)."""
    turns: list[TurnActions] = []
    for message in messages:
        role, content = message.get("role"), str(message.get("content", ""))
        if role == "user" and "turn_id" in message:
            turns.append(TurnActions())
        elif role == "assistant" and turns:
            action = parse_action(content)
            if isinstance(action, ToolCall):
                turns[-1].calls.append(Call(action.name, action.arguments))
            elif isinstance(action, FinalAnswer):
                turns[-1].answer = action.text
        elif role == "tool" and turns and turns[-1].calls:
            call = turns[-1].calls[-1]
            call.ok = content.startswith("Tool result")
            call.error = None if call.ok else content.split(": ", 1)[-1]
    return turns


def _shown_call(turn: Turn, actions: TurnActions) -> Call | None:
    """The call a record shows: the last call of the expected tool, else the last call."""
    expected = [call for call in actions.calls if call.name == turn.expected_tool]
    return (expected or actions.calls or [None])[-1]


# ---- per-turn and per-conversation records ------------------------------------------------------
def turn_record(
    turn: Turn,
    components: dict[str, float],
    actions: TurnActions,
    judge: Judge | None = None,
) -> TurnRecord:
    """Upstream's per-turn result of one turn (see the module docstring for the mapping)."""
    call = _shown_call(turn, actions)
    passed = _passed(turn, components)
    fields: dict[str, Any] = {}
    if turn.expect_success:
        tool_success = call_passed(components)
        verification = "exact_match" if tool_success else _failure_kind(actions)
        response_success = _response_passed(components, tool_success, passed)
        if judge is not None:
            tool_success, response_success, verification = _judged(
                judge, turn, call, actions, (tool_success, response_success, verification), fields
            )
        success = passed if judge is None else tool_success and response_success
    else:
        failed = any(c.name == turn.expected_tool and not c.ok for c in actions.calls)
        tool_success = passed
        verification = "expected_failure_diagnostic" if failed else _unexpected(actions)
        fields["expected_error_mismatch"] = failed and components.get("execution") != 1.0
        response_success = success = False
    return TurnRecord(
        turn_id=turn.turn_id,
        expect_success=turn.expect_success,
        tool_success=tool_success,
        response_success=response_success,
        success=success,
        verification=verification,
        reward=components.get("total"),
        reward_components=components,
        user_utterance=turn.user_utterance,
        tool_name=call.name if call else None,
        arguments=call.arguments if call else None,
        expected_tool=turn.expected_tool,
        expected_arguments=turn.expected_args,
        matches_expected_tool=components.get("tool") == 1.0,
        matches_expected_arguments=components.get("arguments") == 1.0,
        error=call.error if call else None,
        expected_response=turn.expected_response.model_dump() if turn.expected_response else None,
        agent_response_text=actions.answer,
        **fields,
    )


def call_passed(components: dict[str, float]) -> bool:
    """The call part of ``passed``: the expected tool, every argument, executed as expected."""
    return all(components.get(key) == 1.0 for key in ("tool", "arguments", "execution"))


def _passed(turn: Turn, components: dict[str, float]) -> bool:
    """The env's verdict on the turn: the one definition of "passed" (``crm_gym`` scoring)."""
    if "passed" not in components:
        raise ValueError(
            f"turn {turn.turn_id}: reward_components lack 'passed' (keys: {sorted(components)})"
        )
    return components["passed"] == 1.0


def _response_passed(components: dict[str, float], call_ok: bool, passed: bool) -> bool:
    """The reply part of ``passed``.

    ``passed`` = call and reply, so after a passing call the reply's verdict is ``passed``
    itself. After a failing call: false on a turn without facts (upstream's ``response_success =
    tool_success``), else whether every fact was stated (``response == 1``).
    """
    if call_ok:
        return passed
    return components.get("response") == 1.0


def _failure_kind(actions: TurnActions) -> str:
    known = {schema["function"]["name"] for schema in _schemas()}
    unknown = [call for call in actions.calls if call.name not in known]
    return "tool_not_found" if unknown and len(unknown) == len(actions.calls) else "failed"


def _unexpected(actions: TurnActions) -> str:
    return "unexpected_success" if any(call.ok for call in actions.calls) else "failed"


_SCHEMAS: list[dict[str, Any]] = []


def _schemas() -> list[dict[str, Any]]:
    if not _SCHEMAS:
        _SCHEMAS.extend(tool_schemas())
    return _SCHEMAS


def _judged(
    judge: Judge,
    turn: Turn,
    call: Call | None,
    actions: TurnActions,
    outcome: tuple[bool, bool, str],
    fields: dict[str, Any],
) -> tuple[bool, bool, str]:
    """Upstream's judge steps (SPEC-arc.md 4.1 steps 6-7): only where the exact check failed."""
    tool_success, response_success, verification = outcome
    context = {
        "user_utterance": turn.user_utterance,
        "expected_tool": turn.expected_tool,
        "expected_arguments": turn.expected_args,
        "agent_tool": call.name if call else None,
        "agent_arguments": call.arguments if call else None,
        "expected_response": turn.expected_response.text if turn.expected_response else None,
        "agent_response": actions.answer,
    }
    fields["judge_used"] = fields["response_judge_used"] = False
    if not tool_success and call is not None and call.ok:
        verdict = judge("tool", context)
        fields.update(
            judge_used=True,
            judge_score=verdict.score,
            judge_pass=verdict.passed,
            judge_rationale=verdict.rationale,
        )
        tool_success, verification = verdict.passed, "llm_judge"
    if turn.expected_response is None or not turn.expected_response.text:
        return tool_success, tool_success, verification
    if not response_success and actions.answer:
        verdict = judge("response", {**context, "tool_success": tool_success})
        fields.update(
            response_judge_used=True,
            response_judge_score=verdict.score,
            response_judge_pass=verdict.passed,
            response_judge_rationale=verdict.rationale,
        )
        response_success = verdict.passed
    return tool_success, response_success, verification


def conversation_record(
    conversation: Conversation,
    trajectory: Trajectory,
    run: dict[str, Any],
    usage: dict[str, float] | None = None,
    judge: Judge | None = None,
) -> ConversationRecord:
    """The result record of one attempt.

    ``run``: the record's ``policy``, ``attempt``, ``seed``, ``episode_seed`` and ``step``, and
    optionally ``provider`` for ``metadata.agent`` (else guessed from the policy's name).
    """
    run = dict(run)
    provider = run.pop("provider", None) or _provider(run["policy"])
    ends = [
        step.info["reward_components"]
        for step in trajectory.steps
        if "reward_components" in step.info
    ]
    actions = turn_actions(trajectory.steps[-1].info.get("messages", []))
    if len(ends) != len(conversation.turns) or len(actions) != len(conversation.turns):
        raise ValueError(
            f"{conversation.conversation_id}: {len(conversation.turns)} turns, but the episode "
            f"ended {len(ends)} turns and its transcript holds {len(actions)}"
        )
    arm = arm_of(conversation)  # None for unlabelled data: the report then uses categories
    parts = zip(conversation.turns, ends, actions, strict=True)
    turns = [turn_record(turn, dict(c), a, judge) for turn, c, a in parts]
    usage = usage or zero_usage()
    tokens = TokenUsage(**{key: int(usage[key]) for key in USAGE_KEYS})
    return ConversationRecord(
        conversation_id=conversation.conversation_id,
        overall_success=_strict(turns),
        turns_executed=len(turns),
        failed_at_turn=_failed_at(turns),
        per_turn_results=turns,
        reward_signal=_rate(turns, "success"),
        metadata=_metadata(conversation, turns, run, tokens, judge is not None, provider),
        arm=None if arm == UNLABELLED else arm,
        workflow_category=conversation.workflow_category,
        shaped_return=trajectory.total_return,
        tokens=tokens,
        cost_usd=usage["cost_usd"],
        latency_s=usage["latency_s"],
        **run,
    )


def _strict(turns: Sequence[TurnRecord]) -> bool:
    return all(t.success for t in turns if t.expect_success) and all(
        t.expect_success for t in turns
    )


def _failed_at(turns: Sequence[TurnRecord]) -> int | None:
    failing = [t.turn_id for t in turns if t.expect_success and not t.success]
    failing = failing or [t.turn_id for t in turns if not t.expect_success]
    return failing[0] if failing else None


def _rate(turns: Sequence[TurnRecord], field_name: str) -> float:
    path = [t for t in turns if t.expect_success]
    return sum(getattr(t, field_name) for t in path) / len(path) if path else 1.0


def _metadata(
    conversation: Conversation,
    turns: Sequence[TurnRecord],
    run: dict[str, Any],
    tokens: TokenUsage,
    judged: bool,
    provider: str,
) -> dict[str, Any]:
    """Upstream's ``metadata`` block (SPEC-arc.md 4.3b)."""
    path = [t for t in turns if t.expect_success]
    mode = "hybrid_semantic_llm_judge" if judged else conversation.verification_mode
    return {
        "verification_mode": mode,
        "success_path_turns": len(path),
        "success_path_succeeded": sum(t.success for t in path),
        "task_success_rate": _rate(turns, "success"),
        "tool_success_rate": _rate(turns, "tool_success"),
        "response_success_rate": _rate(turns, "response_success"),
        "combined_success_rate": _rate(turns, "success"),
        "expected_failure_turns": len(turns) - len(path),
        "total_turns": len(turns),
        "exact_match_count": sum(t.verification == "exact_match" for t in turns),
        "judge_evaluated_count": sum(bool(getattr(t, "judge_used", False)) for t in turns),
        "judge_approved_count": sum(bool(getattr(t, "judge_pass", False)) for t in turns),
        "response_judge_evaluated_count": sum(
            bool(getattr(t, "response_judge_used", False)) for t in turns
        ),
        "response_judge_approved_count": sum(
            bool(getattr(t, "response_judge_pass", False)) for t in turns
        ),
        "agent": {
            "provider": provider,
            "model": run["policy"],
            "token_usage": tokens.model_dump(),
        },
        "expected_failure": bool(conversation.contains_failure),
    }


@lru_cache(maxsize=64)
def _provider(policy: str) -> str:
    """``baseline``, ``local`` (model directory, vLLM) or the litellm provider of a model."""
    if policy in ("replay", "random", "hint-following", "hint-ignoring"):
        return "baseline"
    if policy.startswith("vllm:") or Path(policy).exists():
        return "local"
    fallback = policy.split("/", 1)[0] if "/" in policy else "unknown"
    try:
        from agents.api import import_litellm

        litellm = import_litellm()
    except ImportError:
        return fallback
    try:
        return litellm.get_llm_provider(policy)[1]
    except litellm.exceptions.BadRequestError:  # litellm's answer for a name it cannot place
        return fallback
