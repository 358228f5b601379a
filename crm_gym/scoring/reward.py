"""Rewards: one turn's evidence as a number, its named components, and whether the turn passed.

Credit flows only from the agent's actions. Components (each in [0, 1]): ``tool`` (t: the
expected tool was called), ``arguments`` (a: the share of expected argument values its best call
matched), ``execution`` (x: that call succeeded, or on an expected-failure turn failed with the
expected error), ``state`` (s: the CRM after the turn equals the reference run's), ``response``
(r: F1 of the answer against the reference reply's facts; absent when the reply states none).

    shaped = w_tool*t + w_args*a + a*(w_exec*x + w_state*s + w_resp*r'),  r' = r, else x

so nothing but the expected call earns anything, and state and reply count only as far as the
arguments were right. Penalties, capped together at ``max_penalty``: ``format`` per malformed
action, ``steps`` per action beyond the reference's one call and one answer, ``side_effect`` once
when the agent wrote to the CRM and the CRM then differs from the reference's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from crm_gym.scoring.facts import ResponseScore

WEIGHTS = ("tool_weight", "arguments_weight", "execution_weight", "state_weight", "response_weight")
WEIGHT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class RewardConfig:
    """Weights and penalties of the shaped reward; ``mode="binary"`` pays 1.0 for a passed turn.

    The five weights sum to 1 (the reward is not renormalised), so the shaped reward lies in
    ``[-max_penalty, 1]`` and the ground truth earns exactly 1. ``format_floor`` (default 0, off)
    is the least a turn earns when it ended with an answer and had no malformed action; it must
    stay below ``tool_weight`` so that calling the expected tool still beats answering alone.

    Example:
        >>> config = RewardConfig()
        >>> evidence = TurnEvidence(tool=1, arguments=1, execution=1, state=1, response=None,
        ...                         malformed_actions=0, extra_steps=0, passed=True)
        >>> turn_reward(evidence, config)[0]
        1.0
    """

    mode: Literal["shaped", "binary"] = "shaped"
    tool_weight: float = 0.04
    arguments_weight: float = 0.26
    execution_weight: float = 0.2
    state_weight: float = 0.3
    response_weight: float = 0.2
    format_penalty: float = 0.1
    step_penalty: float = 0.05
    side_effect_penalty: float = 0.1
    max_penalty: float = 0.5
    format_floor: float = 0.0

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name != "mode" and (
                not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0
            ):
                raise ValueError(f"RewardConfig.{spec.name} must be a number >= 0, got {value!r}")
        if self.mode not in ("shaped", "binary"):
            raise ValueError(f"RewardConfig.mode must be 'shaped' or 'binary', got {self.mode!r}")
        total = math.fsum(self.weights)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise ValueError(
                f"RewardConfig weights ({', '.join(WEIGHTS)}) must sum to 1, got {total!r}: the "
                "shaped reward is not renormalised, so the ground truth must earn exactly 1"
            )
        if self.format_floor and self.format_floor >= self.tool_weight:
            raise ValueError(
                f"RewardConfig.format_floor must be below tool_weight ({self.tool_weight!r}), got "
                f"{self.format_floor!r}: an answer alone would earn as much as the expected tool"
            )

    @property
    def weights(self) -> tuple[float, ...]:
        """The five weights in ``WEIGHTS`` order (tool, arguments, execution, state, response)."""
        return tuple(getattr(self, name) for name in WEIGHTS)

    @property
    def bounds(self) -> tuple[float, float]:
        """The lowest and highest reward one turn can get."""
        return (0.0, 1.0) if self.mode == "binary" else (-self.max_penalty, 1.0)


@dataclass(frozen=True)
class TurnEvidence:
    """What the agent did in one turn, reduced to the numbers the reward needs."""

    tool: float
    arguments: float
    execution: float
    state: float
    response: float | None
    """F1 of the answer (``ResponseScore.f1``), None when the reference reply states no fact."""
    malformed_actions: int
    extra_steps: int
    passed: bool
    side_effect: bool = False
    """The agent made a successful write and the CRM differs from the reference's after the turn."""
    answered: bool = True
    """The turn ended with an answer (not the step budget): needed for ``format_floor``."""


def shaped_score(evidence: TurnEvidence, config: RewardConfig) -> float:
    """The shaped reward before penalties, in [0, 1]: every term but ``tool`` scaled by ``a``."""
    a = evidence.arguments
    reply = evidence.execution if evidence.response is None else evidence.response
    terms = (
        config.tool_weight * evidence.tool,
        config.arguments_weight * a,
        a * config.execution_weight * evidence.execution,
        a * config.state_weight * evidence.state,
        a * config.response_weight * reply,
    )
    return min(1.0, math.fsum(terms))  # the weights sum to 1 within 1e-9: never above 1


def turn_penalty(evidence: TurnEvidence, config: RewardConfig) -> tuple[float, float]:
    """The capped total penalty and its side-effect part (both >= 0)."""
    side_effect = config.side_effect_penalty if evidence.side_effect else 0.0
    total = math.fsum(
        (
            config.format_penalty * evidence.malformed_actions,
            config.step_penalty * evidence.extra_steps,
            side_effect,
        )
    )
    return min(config.max_penalty, total), side_effect


def turn_reward(evidence: TurnEvidence, config: RewardConfig) -> tuple[float, dict[str, float]]:
    """The turn's reward and every component (``info["reward_components"]``).

    Components: the raw ``tool``, ``arguments``, ``execution``, ``state`` and (when it applies)
    ``response`` scores, ``penalty`` (minus the capped total), ``side_effect`` (minus the
    side-effect part of it, before the cap), ``passed`` (1.0 or 0.0) and ``total`` (the reward).
    """
    penalty, side_effect = turn_penalty(evidence, config)
    components: dict[str, float] = {
        "tool": float(evidence.tool),
        "arguments": float(evidence.arguments),
        "execution": float(evidence.execution),
        "state": float(evidence.state),
    }
    if evidence.response is not None:
        components["response"] = float(evidence.response)
    shaped = shaped_score(evidence, config)
    if evidence.answered and not evidence.malformed_actions:
        shaped = max(shaped, config.format_floor)
    reward = float(evidence.passed) if config.mode == "binary" else shaped - penalty
    components.update(penalty=0.0 - penalty, side_effect=0.0 - side_effect)  # never -0.0
    components["passed"] = float(evidence.passed)
    components["total"] = reward
    return reward, components


def turn_passed(
    expect_success: bool,
    tool_called: bool,
    arguments: float,
    executed: bool,
    response: ResponseScore | None = None,
    *,
    strict_upstream: bool = False,
    expected_tool_failed: bool = False,
) -> bool:
    """The one definition of a passed turn (binary reward, ``replay``, eval records, metrics).

    Args:
        expect_success: the turn's ground truth succeeds (else it is an expected-failure turn).
        tool_called: the expected tool was called.
        arguments: the argument score of its best call (1.0: every expected value matched).
        executed: that call executed as the turn expects (succeeded / failed with the expected
            error).
        response: the answer's recall and precision, None when the reply states no fact.
        strict_upstream: an expected-failure turn passes on upstream's looser rule instead.
        expected_tool_failed: some call of the expected tool failed (any arguments, any error):
            upstream's rule for an expected-failure turn.
    """
    if not expect_success:
        if strict_upstream:
            return expected_tool_failed
        return tool_called and arguments == 1.0 and executed
    if not (tool_called and arguments == 1.0 and executed):
        return False
    return response is None or response.passes
