"""The ``Curriculum`` protocol and the helpers its implementations share.

A curriculum chooses the arm (a problem category) of each prompt slot of a training batch and
learns from a scalar reward per arm. It knows arms and rewards, not models: numpy only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

RngLike = np.random.Generator | int | None
"""A generator, a seed for ``np.random.default_rng``, or ``None`` for fresh entropy."""


@runtime_checkable
class Curriculum(Protocol):
    """What the trainer asks of a curriculum (SoftmaxBandit, UniformSampler, FixedOrderSampler)."""

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms, in a fixed order."""
        ...

    def probabilities(self) -> dict[str, float]:
        """The chance that one prompt slot draws each arm (before any fallback)."""
        ...

    def sample(self, k: int, available: Collection[str] | None = None) -> list[str]:
        """The arms of ``k`` prompt slots; ``available`` are the arms that still have data."""
        ...

    def update(self, rewards: Mapping[str, float]) -> None:
        """Learn from one step's reward of each arm sampled in it."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, RNG state included (plain Python values)."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        ...

    def metrics(self) -> dict[str, float]:
        """Namespaced values to log, such as ``curriculum/p/<arm>``."""
        ...


def make_rng(rng: RngLike) -> np.random.Generator:
    """The generator itself, or a new one seeded with ``rng``."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def check_k(k: int) -> int:
    """``k`` when it is a non-negative int; raises ``ValueError`` otherwise."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative int, got {k!r}")
    return int(k)


def available_arms(arms: Sequence[str], available: Collection[str] | None) -> list[str]:
    """The arms that have data, in ``arms`` order (all of them when ``available`` is None)."""
    if available is None:
        return list(arms)
    have = set(available)
    unknown = sorted(have - set(arms))
    if unknown:
        raise ValueError(f"unknown arms {unknown} in available; arms are {tuple(arms)}")
    left = [arm for arm in arms if arm in have]
    if not left:
        raise ValueError("no arm has data left (available is empty)")
    return left


def replace_exhausted(drawn: list[str], left: Sequence[str], rng: np.random.Generator) -> list[str]:
    """Each drawn arm without data replaced by a uniformly random arm that has some (SEC)."""
    have = set(left)
    return [arm if arm in have else left[rng.integers(len(left))] for arm in drawn]


def check_rewards(arms: Sequence[str], rewards: Mapping[str, float]) -> dict[str, float]:
    """The rewards as floats; raises ``ValueError`` on an unknown arm or a non-finite reward."""
    unknown = sorted(set(rewards) - set(arms))
    if unknown:
        raise ValueError(f"rewards for unknown arms {unknown}; arms are {tuple(arms)}")
    values = {arm: float(reward) for arm, reward in rewards.items()}
    bad = {arm: value for arm, value in values.items() if not np.isfinite(value)}
    if bad:
        raise ValueError(f"non-finite rewards {bad}")
    return values


def check_same_arms(arms: Sequence[str], state: Mapping[str, Any]) -> None:
    """Raises ``ValueError`` when a state dict was saved with other arms."""
    if tuple(state["arms"]) != tuple(arms):
        raise ValueError(f"state has arms {tuple(state['arms'])}, this curriculum {tuple(arms)}")
