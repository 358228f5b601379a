"""Baseline curricula with the bandit's interface: uniform sampling and a fixed order.

Both ignore rewards (``update`` only checks them), so a run with either is the control for the
Self-Evolving Curriculum: uniform is SEC's "random" baseline, a fixed easy-to-hard order its
difficulty-ordered one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from curricula.arms import DEFAULT_ARMS, check_arms
from curricula.base import (
    RngLike,
    available_arms,
    check_k,
    check_rewards,
    check_same_arms,
    make_rng,
    replace_exhausted,
)


class UniformSampler:
    """Each prompt slot draws an arm uniformly at random, with replacement.

    Args:
        arms: the arm names (default: the 12 ``skill-difficulty`` arms).
        rng: the generator that draws arms, or a seed for one.

    Example:
        >>> sampler = UniformSampler(["easy", "hard"], rng=0)
        >>> sampler.probabilities()
        {'easy': 0.5, 'hard': 0.5}
        >>> sampler.sample(3, available=["hard"])
        ['hard', 'hard', 'hard']
    """

    def __init__(self, arms: Iterable[str] = DEFAULT_ARMS, rng: RngLike = None) -> None:
        self._arms = check_arms(arms)
        self.rng = make_rng(rng)

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms, in a fixed order."""
        return self._arms

    def probabilities(self) -> dict[str, float]:
        """``1 / num_arms`` for every arm."""
        return dict.fromkeys(self._arms, 1 / len(self._arms))

    def sample(self, k: int, available: Collection[str] | None = None) -> list[str]:
        """``k`` uniform draws; an arm without data falls back to a random arm that has some."""
        k = check_k(k)
        left = available_arms(self._arms, available)
        drawn = [self._arms[i] for i in self.rng.integers(len(self._arms), size=k)]
        return replace_exhausted(drawn, left, self.rng)

    def update(self, rewards: Mapping[str, float]) -> None:
        """Nothing to learn; the rewards are checked like the bandit's."""
        check_rewards(self._arms, rewards)

    def state_dict(self) -> dict[str, Any]:
        """Arms and the generator's state."""
        return {"arms": list(self._arms), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict``: the sampler then draws exactly what the saved one would."""
        check_same_arms(self._arms, state)
        self.rng.bit_generator.state = state["rng"]

    def metrics(self) -> dict[str, float]:
        """``curriculum/p/<arm>`` for every arm."""
        return {f"curriculum/p/{arm}": p for arm, p in self.probabilities().items()}


class FixedOrderSampler:
    """The arms in the given order: ``steps_per_arm`` batches of each, then the next.

    Each call to ``sample`` is one training step and fills all its slots with the current arm;
    after the last arm it stays there. An arm without data falls back to the next arm in order
    that has some (wrapping around), so an exhausted arm is skipped for good.

    Args:
        arms: the arm names in training order (for easy to hard, list the easy arms first).
        steps_per_arm: how many steps each arm lasts, >= 1.

    Example:
        >>> sampler = FixedOrderSampler(["easy", "medium", "hard"], steps_per_arm=2)
        >>> [sampler.sample(2) for _ in range(4)]
        [['easy', 'easy'], ['easy', 'easy'], ['medium', 'medium'], ['medium', 'medium']]
        >>> sampler.sample(1, available=["easy"])
        ['easy']
    """

    def __init__(self, arms: Iterable[str] = DEFAULT_ARMS, steps_per_arm: int = 1) -> None:
        self._arms = check_arms(arms)
        if isinstance(steps_per_arm, bool) or not isinstance(steps_per_arm, int):
            raise ValueError(f"steps_per_arm must be an int >= 1, got {steps_per_arm!r}")
        if steps_per_arm < 1:
            raise ValueError(f"steps_per_arm must be an int >= 1, got {steps_per_arm!r}")
        self.steps_per_arm = steps_per_arm
        self.step = 0

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms, in training order."""
        return self._arms

    def current(self) -> str:
        """The arm of the next step, before any fallback."""
        return self._arms[min(self.step // self.steps_per_arm, len(self._arms) - 1)]

    def probabilities(self) -> dict[str, float]:
        """1 for the current arm, 0 for the others."""
        current = self.current()
        return {arm: float(arm == current) for arm in self._arms}

    def sample(self, k: int, available: Collection[str] | None = None) -> list[str]:
        """``k`` slots of the current arm (or of the next arm in order with data); one step."""
        k = check_k(k)
        have = set(available_arms(self._arms, available))
        start = self._arms.index(self.current())
        order = self._arms[start:] + self._arms[:start]
        arm = next(arm for arm in order if arm in have)
        self.step += 1
        return [arm] * k

    def update(self, rewards: Mapping[str, float]) -> None:
        """Nothing to learn; the rewards are checked like the bandit's."""
        check_rewards(self._arms, rewards)

    def state_dict(self) -> dict[str, Any]:
        """Arms, steps per arm and the step count."""
        return {"arms": list(self._arms), "steps_per_arm": self.steps_per_arm, "step": self.step}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict``."""
        check_same_arms(self._arms, state)
        self.steps_per_arm, self.step = int(state["steps_per_arm"]), int(state["step"])

    def metrics(self) -> dict[str, float]:
        """``curriculum/p/<arm>`` for every arm (1 for the current one)."""
        return {f"curriculum/p/{arm}": p for arm, p in self.probabilities().items()}
