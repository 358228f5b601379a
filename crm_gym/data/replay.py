"""Replaying conversations with their ground truth, with upstream's per-turn fields (section 4.1).

``TurnResult.passed`` is ``crm_gym.scoring.turn_passed``: the rule the env's binary reward and the
eval records use, so a replayed turn passes exactly when the same call and reply pass in an env.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from crm_gym.crm import CrmApi
from crm_gym.crm.store import Store
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import ToolResult, call_tool, comparison_arguments
from crm_gym.data.conversation import Conversation, Turn
from crm_gym.data.seeding import seed_conversation
from crm_gym.data.templates import reference_payload, resolve
from crm_gym.errors import SeedingError
from crm_gym.scoring.facts import (
    ReplyFacts,
    id_fields,
    id_map,
    reply_facts,
    response_score,
    unstated_ids,
)
from crm_gym.scoring.matching import arguments_match, error_matches, response_matches
from crm_gym.scoring.reward import turn_passed


@dataclass(frozen=True)
class TurnResult:
    """How one turn went, with upstream's per-turn fields (section 4.3b)."""

    turn_id: int
    tool_name: str
    arguments: dict[str, Any]
    expected_tool: str
    expected_arguments: dict[str, Any]
    expect_success: bool
    matches_expected_tool: bool
    matches_expected_arguments: bool
    verification: str
    tool_success: bool
    response_success: bool
    success: bool
    passed: bool
    """``crm_gym.scoring.turn_passed``: the expected tool with matching arguments executed as the
    turn expects (an expected failure: failed with its substring; under ``strict_upstream``, any
    failure of the expected tool) and, on a success turn, the reply states the reference's facts."""
    result: Any = None
    error: str | None = None
    argument_mismatch_reason: str | None = None
    expected_error_mismatch: bool = False


@dataclass(frozen=True)
class ConversationResult:
    """A whole conversation: ``passed`` when every turn behaved as expected."""

    conversation_id: str
    turns: list[TurnResult]
    error: str | None = None

    @property
    def passed(self) -> bool:
        """Every turn behaved as the data expects (and seeding worked)."""
        return self.error is None and all(turn.passed for turn in self.turns)

    @property
    def overall_success(self) -> bool:
        """Upstream's strict success: all success-path turns succeed and none expects failure."""
        if self.error is not None or any(not t.expect_success for t in self.turns):
            return False
        return all(turn.success for turn in self.turns)

    @property
    def reward_signal(self) -> float:
        """Fraction of success-path turns that succeeded (1.0 when there are none)."""
        path = [turn for turn in self.turns if turn.expect_success]
        if self.error is not None:
            return 0.0
        return sum(turn.success for turn in path) / len(path) if path else 1.0


@dataclass
class EpisodeState:
    """What template resolution needs: the payload of every turn executed so far."""

    payloads: dict[int, dict[str, Any]] = field(default_factory=dict)


def score_turn(
    api: CrmApi,
    turn: Turn,
    tool_name: str,
    arguments: dict[str, Any],
    reply: str | None,
    state: EpisodeState,
    reference: ReplyFacts | None = None,
) -> tuple[TurnResult, ToolResult | None]:
    """Execute an agent's call for ``turn`` and score it; records its payload in ``state``.

    ``reference``: the reference run's reply facts (``TurnReference.reply``), for a call that is
    not the ground truth; None scores the call as its own reference (a ground-truth replay).
    """
    strict = api.strict_upstream
    expected = resolve(turn.expected_args, state.payloads, turn.turn_id)
    tool_name = tool_name or turn.expected_tool
    base = {
        "turn_id": turn.turn_id,
        "tool_name": tool_name,
        "expected_tool": turn.expected_tool,
        "expected_arguments": comparison_arguments(turn.expected_tool, expected, strict),
        "expect_success": turn.expect_success,
    }
    if tool_name not in TOOL_SPECS:
        return _not_found(base, arguments), None
    actual = comparison_arguments(tool_name, arguments, strict)
    args_ok, reason = arguments_match(base["expected_arguments"], actual)
    outcome = call_tool(api, tool_name, arguments)
    if outcome.ok:
        state.payloads[turn.turn_id] = reference_payload(outcome.payload)
    base.update(
        arguments=actual,
        matches_expected_tool=tool_name == turn.expected_tool,
        matches_expected_arguments=args_ok,
        argument_mismatch_reason=reason,
        result=outcome.payload,
        error=outcome.error,
    )
    if not turn.expect_success:
        return _expected_failure(base, turn, outcome, strict), outcome
    tool_success = base["matches_expected_tool"] and args_ok and outcome.ok
    raw_reply = reply  # the env scores an answer as written; upstream resolved its templates
    if reply is not None and "{{" in reply:
        reply = resolve(reply, state.payloads, turn.turn_id + 1)
    checked = response_matches(reply, turn.expected_response)
    response_success = tool_success if checked is None else checked
    success = tool_success and response_success
    passed = _passed(turn, tool_success, outcome, raw_reply, reference)
    verification = "exact_match" if tool_success else "failed"
    result = TurnResult(
        **base,
        verification=verification,
        tool_success=tool_success,
        response_success=response_success,
        success=success,
        passed=passed,
    )
    return result, outcome


def _passed(
    turn: Turn, tool_success: bool, outcome: ToolResult, reply: str | None, ref: ReplyFacts | None
) -> bool:
    """``turn_passed`` of a success turn (``tool_success``: expected tool, all arguments, ok)."""
    if not tool_success:
        return False
    if ref is None:  # the call is the ground truth: its run is the reference run
        facts = reply_facts(turn, outcome.payload, outcome.error)
        ref = ReplyFacts(facts, id_fields(outcome.payload))
    ids = id_map(ref.id_fields, outcome.payload)
    neutral = unstated_ids(ref.id_fields, ref.facts, outcome.payload)
    response = response_score(reply or "", ref.facts, ids, [outcome.payload], neutral)
    return turn_passed(True, True, 1.0, True, response)


def _not_found(base: dict[str, Any], arguments: dict[str, Any]) -> TurnResult:
    return TurnResult(
        **base,
        arguments=arguments,
        matches_expected_tool=False,
        matches_expected_arguments=False,
        verification="tool_not_found",
        tool_success=False,
        response_success=False,
        success=False,
        passed=False,
        error=f"Unknown tool '{base['tool_name']}'.",
    )


def _expected_failure(
    base: dict[str, Any], turn: Turn, outcome: ToolResult, strict: bool
) -> TurnResult:
    called = base["matches_expected_tool"]
    failed_as_expected = not outcome.ok and error_matches(
        outcome.error, turn.expected_error_substring
    )
    passed = turn_passed(
        False,
        called,
        float(base["matches_expected_arguments"]),
        called and failed_as_expected,
        strict_upstream=strict,
        expected_tool_failed=called and not outcome.ok,
    )
    if outcome.ok:
        return TurnResult(
            **base,
            verification="unexpected_success",
            tool_success=False,
            response_success=False,
            success=False,
            passed=passed,
        )
    mismatch = not error_matches(outcome.error, turn.expected_error_substring)
    return TurnResult(
        **base,
        verification="expected_failure_diagnostic",
        tool_success=True,
        response_success=False,
        success=False,
        passed=passed,
        expected_error_mismatch=mismatch,
    )


def new_episode(
    conversation: Conversation,
    *,
    strict_upstream: bool = False,
    seed: int = 0,
    store: Store | None = None,
) -> CrmApi:
    """A CRM seeded with the conversation's initial entities (raises ``SeedingError``).

    A conversation that carries an ``episode_seed`` (generated data does) uses it for the CRM's
    ids and clock, so the ids in its expected responses are the ones this episode creates.
    """
    episode_seed = (conversation.model_extra or {}).get("episode_seed")
    if isinstance(episode_seed, int):
        seed = episode_seed
    api = CrmApi(store, seed=seed, strict_upstream=strict_upstream)
    seed_conversation(api, conversation)
    return api


def replay(
    conversation: Conversation,
    *,
    strict_upstream: bool = False,
    seed: int = 0,
    store: Store | None = None,
) -> ConversationResult:
    """Run the ground truth of every turn (resolving templates from this run) and score it."""
    try:
        api = new_episode(conversation, strict_upstream=strict_upstream, seed=seed, store=store)
    except SeedingError as exc:
        return ConversationResult(conversation.conversation_id, [], error=str(exc))
    state = EpisodeState()
    results = []
    for turn in conversation.turns:
        arguments = resolve(turn.expected_args, state.payloads, turn.turn_id)
        reply = turn.expected_response.text if turn.expected_response else None
        result, _ = score_turn(api, turn, turn.expected_tool, arguments, reply, state)
        results.append(result)
    return ConversationResult(conversation.conversation_id, results)


def summarize(results: Iterable[ConversationResult]) -> dict[str, Any]:
    """Counts and failures in the shape ``crm-gym replay --json`` prints."""
    summary: dict[str, Any] = {
        "conversations": 0,
        "conversations_passed": 0,
        "turns": 0,
        "turns_passed": 0,
        "failures": [],
    }
    for result in results:
        summary["conversations"] += 1
        summary["conversations_passed"] += result.passed
        summary["turns"] += len(result.turns)
        summary["turns_passed"] += sum(turn.passed for turn in result.turns)
        if result.error is not None:
            summary["failures"].append(
                {
                    "conversation_id": result.conversation_id,
                    "turn_id": 1,
                    "tool": None,
                    "error": result.error,
                }
            )
        for turn in result.turns:
            if not turn.passed:
                summary["failures"].append(
                    {
                        "conversation_id": result.conversation_id,
                        "turn_id": turn.turn_id,
                        "tool": turn.tool_name,
                        "error": turn.error or turn.verification,
                    }
                )
    return summary
