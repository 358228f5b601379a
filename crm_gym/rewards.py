"""Rewards: turn one turn's evidence into a number and its named components.

Components (each in [0, 1]): ``tool`` (the expected tool was called), ``arguments`` (the share of
expected argument values matched, after template resolution and canonicalisation), ``execution``
(the call succeeded, or failed with the expected error for a failure turn), ``state`` (the CRM
after the turn equals the reference replay's, new ids mapped), ``response`` (the share of the
reference reply's reproducible facts present in the answer, or a judge's score). Penalties:
``format`` per malformed action and ``steps`` per action beyond the reference's one call and one
answer, capped together at ``max_penalty``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal


@dataclass(frozen=True)
class RewardConfig:
    """Weights of the shaped reward; ``mode="binary"`` gives 1.0 for a passed turn, else 0.0.

    The shaped reward is the weighted mean of the components that apply to the turn (``response``
    does not apply when the reference reply states no reproducible fact), minus the penalties:
    it lies in ``[-max_penalty, 1]``, and 1 is reached exactly by the ground truth.

    Example:
        >>> config = RewardConfig()
        >>> evidence = TurnEvidence(tool=1, arguments=1, execution=1, state=1, response=None,
        ...                         malformed_actions=0, extra_steps=0, passed=True)
        >>> turn_reward(evidence, config)[0]
        1.0
    """

    mode: Literal["shaped", "binary"] = "shaped"
    tool_weight: float = 0.2
    arguments_weight: float = 0.2
    execution_weight: float = 0.2
    state_weight: float = 0.3
    response_weight: float = 0.1
    format_penalty: float = 0.1
    step_penalty: float = 0.05
    max_penalty: float = 0.5

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name != "mode" and (not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"RewardConfig.{spec.name} must be a number >= 0, got {value!r}")
        if self.mode not in ("shaped", "binary"):
            raise ValueError(f"RewardConfig.mode must be 'shaped' or 'binary', got {self.mode!r}")

    @property
    def bounds(self) -> tuple[float, float]:
        """The lowest and highest reward one turn can get."""
        return (0.0, 1.0) if self.mode == "binary" else (-self.max_penalty, 1.0)


@dataclass(frozen=True)
class TurnEvidence:
    """What happened in one turn, reduced to the numbers the reward needs."""

    tool: float
    arguments: float
    execution: float
    state: float | None
    response: float | None
    malformed_actions: int
    extra_steps: int
    passed: bool


def turn_reward(evidence: TurnEvidence, config: RewardConfig) -> tuple[float, dict[str, float]]:
    """The turn's reward and every component (``info["reward_components"]``)."""
    penalty = min(
        config.max_penalty,
        config.format_penalty * evidence.malformed_actions
        + config.step_penalty * evidence.extra_steps,
    )
    parts = (
        ("tool", evidence.tool, config.tool_weight),
        ("arguments", evidence.arguments, config.arguments_weight),
        ("execution", evidence.execution, config.execution_weight),
        ("state", evidence.state, config.state_weight),
        ("response", evidence.response, config.response_weight),
    )
    components: dict[str, float] = {}
    weighted = total_weight = 0  # summed in this order, as sum() would: the floats stay the same
    for name, value, weight in parts:
        if value is not None:
            components[name] = float(value)
            weighted += value * weight
            total_weight += weight
    shaped = weighted / total_weight if total_weight else 0.0
    components["penalty"] = -penalty
    components["passed"] = float(evidence.passed)
    reward = float(evidence.passed) if config.mode == "binary" else shaped - penalty
    components["total"] = reward
    return reward, components
