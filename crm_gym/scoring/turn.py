"""Scoring one turn of an episode: the agent's calls, the CRM and its answer against the reference.

``TurnScorer`` collects what the agent did and reduces it to ``TurnEvidence`` (``passed`` from
``turn_passed``), which ``turn_reward`` turns into the reward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_gym.actions import ToolCall
from crm_gym.crm.canonical import CanonicalState, StateCache, canonical_state
from crm_gym.crm.store import Store
from crm_gym.crm.tools import READ_ONLY_TOOLS, ToolResult, comparison_arguments
from crm_gym.data.templates import reference_payload
from crm_gym.envs.readonly import ReadOnlyDict
from crm_gym.envs.reference import TurnReference, reference_record
from crm_gym.scoring.facts import ResponseScore, id_map, response_score, unstated_ids
from crm_gym.scoring.matching import argument_score, error_matches
from crm_gym.scoring.reward import TurnEvidence, turn_passed

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
    _reference_info: ReadOnlyDict | None = None

    def reference_info(self) -> ReadOnlyDict:
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
        """Score the turn from what the agent did: its calls, the CRM after them, its answer."""
        chosen, args_score = self.chosen_call()
        executed = self.executed_as_expected(chosen)
        state = canonical_state(store, known_ids, self.state_cache) == target
        response = self._response(answer, chosen.payload if chosen is not None else None)
        passed = turn_passed(
            self.reference.turn.expect_success,
            chosen is not None,
            args_score,
            executed,
            response,
            strict_upstream=self.strict_upstream,
            expected_tool_failed=self._expected_tool_failed(),
        )
        return TurnEvidence(
            tool=float(chosen is not None),
            arguments=args_score,
            execution=float(executed),
            state=float(state),
            response=None if response is None else response.f1,
            malformed_actions=self.malformed_actions,
            extra_steps=max(0, self.steps - REFERENCE_STEPS),
            passed=passed,
            side_effect=not state and self._wrote(),
            answered=answer is not None,
        )

    def _response(self, answer: str | None, chosen_payload: Any) -> ResponseScore | None:
        """The answer's recall and precision; claims come from every successful call's payload."""
        reference = self.reference
        ids = id_map(reference.id_fields, chosen_payload)
        neutral = unstated_ids(reference.id_fields, reference.facts, chosen_payload)
        payloads = [outcome.payload for _, outcome in self.calls if outcome.ok]
        return response_score(answer or "", reference.facts, ids, payloads, neutral)

    def _wrote(self) -> bool:
        """Some call of a tool that writes succeeded in this turn."""
        return any(outcome.ok and outcome.name not in READ_ONLY_TOOLS for _, outcome in self.calls)

    def _expected_tool_failed(self) -> bool:
        """Some call of the expected tool failed (upstream's expected-failure rule)."""
        expected = self.reference.turn.expected_tool
        return any(call.name == expected and not outcome.ok for call, outcome in self.calls)
