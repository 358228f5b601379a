"""Scoring one turn of an episode: the agent's calls and answer against the reference turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_gym.actions import ToolCall
from crm_gym.crm.canonical import CanonicalState, StateCache, canonical_state
from crm_gym.crm.store import Store
from crm_gym.crm.tools import ToolResult, comparison_arguments
from crm_gym.data.scoring import arguments_match, error_matches
from crm_gym.data.templates import reference_payload
from crm_gym.envs.facts import response_score
from crm_gym.envs.readonly import Record
from crm_gym.envs.reference import TurnReference, reference_record
from crm_gym.rewards import TurnEvidence

REFERENCE_STEPS = 2
"""The ground truth takes one tool call and one answer per turn."""


@dataclass
class TurnScorer:
    """Collects a turn's actions; ``evidence`` scores them once the turn ends."""

    reference: TurnReference
    expected_arguments: dict[str, Any]
    """Expected arguments resolved against this agent's own earlier results."""
    strict_upstream: bool = False
    calls: list[tuple[ToolCall, ToolResult]] = field(default_factory=list)
    malformed_actions: int = 0
    steps: int = 0
    state_cache: StateCache = field(default_factory=StateCache)
    """What earlier turns of this episode derived from the CRM (see ``canonical_state``)."""
    _best: tuple[ToolResult | None, float] | None = None
    _reference_info: Record | None = None

    def reference_info(self) -> Record:
        """What ``info["reference"]`` shows of this turn's ground truth (read-only, so shared)."""
        if self._reference_info is None:
            reference = self.reference
            self._reference_info = (
                reference_record(reference.turn, self.expected_arguments)
                if reference.templated
                else reference.shared_info
            )
        return self._reference_info

    def record_call(self, call: ToolCall, outcome: ToolResult) -> None:
        """Note one executed tool call."""
        self.calls.append((call, outcome))
        self._best = None

    def chosen_call(self) -> tuple[ToolResult | None, float]:
        """The call of the expected tool that best matches the expected arguments, and its score."""
        if self._best is None:
            self._best = self._choose()
        return self._best

    def _choose(self) -> tuple[ToolResult | None, float]:
        expected_tool = self.reference.turn.expected_tool
        expected = comparison_arguments(
            expected_tool, self.expected_arguments, self.strict_upstream
        )
        best: tuple[ToolResult | None, float] = (None, 0.0)
        best_rank: tuple[float, bool] = (-1.0, False)
        for call, outcome in self.calls:
            if call.name == expected_tool:
                actual = comparison_arguments(call.name, call.arguments, self.strict_upstream)
                score = argument_score(expected, actual)
                # equal scores: a call that executed as the turn expects wins, then the latest
                # (a correct create retried into a duplicate-email error still did the job)
                rank = (score, self.executed_as_expected(outcome))
                if rank >= best_rank:
                    best, best_rank = (outcome, score), rank
        return best

    def executed_as_expected(self, outcome: ToolResult | None) -> bool:
        """The call succeeded, or, on an expected-failure turn, failed with the expected error."""
        turn = self.reference.turn
        if outcome is None:
            return False
        if turn.expect_success:
            return outcome.ok
        return not outcome.ok and error_matches(outcome.error, turn.expected_error_substring)

    def payload_for_templates(self) -> dict[str, Any] | None:
        """What later turns' templates read: the chosen call's payload, else the last success."""
        chosen, _ = self.chosen_call()
        if chosen is not None and chosen.ok:
            return reference_payload(chosen.payload)
        for _, outcome in reversed(self.calls):
            if outcome.ok:
                return reference_payload(outcome.payload)
        return None

    def evidence(
        self, store: Store, known_ids: frozenset[str], target: CanonicalState, answer: str | None
    ) -> TurnEvidence:
        """Score the turn: tool, arguments, execution, state and response."""
        chosen, args_score = self.chosen_call()
        executed = self.executed_as_expected(chosen)
        state = float(canonical_state(store, known_ids, self.state_cache) == target)
        id_map = _id_map(self.reference.id_fields, chosen.payload if chosen is not None else None)
        response = response_score(answer or "", self.reference.facts, id_map)
        passed = executed and args_score == 1.0 and response in (None, 1.0)
        return TurnEvidence(
            tool=float(chosen is not None),
            arguments=args_score,
            execution=float(executed),
            state=state,
            response=response,
            malformed_actions=self.malformed_actions,
            extra_steps=max(0, self.steps - REFERENCE_STEPS),
            passed=passed,
        )


def argument_score(expected: dict[str, Any], actual: dict[str, Any]) -> float:
    """Share of expected argument values matched; ``criteria`` entries count one by one."""
    leaves = []
    for key, value in expected.items():
        if key == "criteria" and isinstance(value, dict):
            given = actual.get("criteria") if isinstance(actual.get("criteria"), dict) else {}
            leaves += [(value[k], given.get(k, _MISSING), k in given) for k in value]
        else:
            leaves.append((value, actual.get(key, _MISSING), key in actual))
    if not leaves:
        return 1.0
    matched = 0
    for want, got, present in leaves:
        # equal plain strings match (arguments_match compares them stripped), without the call
        if present and (
            (type(want) is str and type(got) is str and want == got)
            or arguments_match(want, got)[0]
        ):
            matched += 1
    return matched / len(leaves)


def _id_map(reference_ids: tuple[tuple[str, str], ...], ours: Any) -> dict[str, str]:
    """Reference ids -> this run's ids, read from the two payloads' ``*_id`` fields."""
    if not reference_ids or ours is None:
        return {}
    ours = reference_payload(ours)
    return {value: ours[key] for key, value in reference_ids if isinstance(ours.get(key), str)}


_MISSING = object()
