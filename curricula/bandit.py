"""The Self-Evolving Curriculum bandit (Chen et al. 2025, arXiv 2505.14970; REFERENCE.md section 2).

Each arm is a problem category. Its value ``Q`` tracks the mean absolute advantage its rollouts
produced (the size of the policy-gradient signal they gave), updated by TD(0), and arms are drawn
by a Boltzmann policy over ``Q``: the curriculum seeks tasks at the edge of the policy's ability,
where a group neither all succeeds nor all fails.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

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


def softmax(values: np.ndarray, tau: float) -> np.ndarray:
    """``exp(v / tau) / sum exp(v / tau)``, stable: finite and summing to 1 for finite ``v``.

    Subtracting the maximum before dividing keeps every exponent <= 0 with one exactly 0, so the
    sum lies in [1, n] whatever the scale of ``v`` and ``tau`` (an overflow becomes ``-inf``,
    probability 0).
    """
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        logits = (values - values.max()) / tau
    weights = np.exp(logits)
    return weights / weights.sum()


def reward_from_advantages(
    arms_of_samples: Sequence[str], advantages: Iterable[float]
) -> dict[str, float]:
    """The SEC bandit reward: mean ``|A|`` of each arm's rollouts in this batch.

    SEC (Chen et al. 2025, section 3) averages ``|A_i|`` over the tokens of each rollout, then over
    the arm's rollouts; GRPO's advantage is one scalar per completion, so the token mean is ``A_i``.

    Args:
        arms_of_samples: the arm of each rollout (G entries per prompt).
        advantages: one advantage per rollout, in the same order (a list, a numpy array or a
            CPU tensor; call ``.tolist()`` on a GPU tensor first).

    Returns:
        ``{arm: mean |A|}`` for the arms present, the input to ``SoftmaxBandit.update``.

    Example:
        >>> reward_from_advantages(["a", "a", "b", "b"], [1.5, -0.5, 0.0, 0.0])
        {'a': 1.0, 'b': 0.0}
    """
    values = np.abs(np.asarray(advantages, dtype=np.float64).reshape(-1))
    if len(values) != len(arms_of_samples):
        raise ValueError(f"{len(arms_of_samples)} arms but {len(values)} advantages")
    per_arm: dict[str, list[float]] = defaultdict(list)
    for arm, value in zip(arms_of_samples, values.tolist(), strict=True):
        per_arm[arm].append(value)
    return {arm: float(np.mean(found)) for arm, found in per_arm.items()}


class SoftmaxBandit:
    """Non-stationary bandit over arms: TD(0) values, Boltzmann sampling (SEC).

    ``Q(c) <- (1 - alpha) Q(c) + alpha r(c)`` for the arms sampled this step only; arms are drawn
    with ``pi(c) = softmax(Q / tau)``. SEC's public code also decays the unsampled arms toward 0
    every step; its paper's text updates the sampled ones, and so do we: an arm not drawn keeps its
    value. Q starts at 0, so the first batch is uniform. Defaults alpha = 0.3, tau = 0.5 are this
    product's (the paper ran alpha = 0.5, tau in {1.0, 0.4, 0.2}).

    Args:
        arms: the arm names (default: the 12 ``skill-difficulty`` arms).
        alpha: TD(0) step size in (0, 1].
        tau: Boltzmann temperature, > 0 (smaller is greedier).
        rng: the generator that draws arms, or a seed for one.

    Example:
        >>> bandit = SoftmaxBandit(["easy", "hard"], rng=0)
        >>> bandit.probabilities()
        {'easy': 0.5, 'hard': 0.5}
        >>> bandit.update({"hard": 1.0})
        >>> round(bandit.probabilities()["hard"], 3)
        0.646
        >>> bandit.sample(4, available=["easy"])
        ['easy', 'easy', 'easy', 'easy']
    """

    def __init__(
        self,
        arms: Iterable[str] = DEFAULT_ARMS,
        alpha: float = 0.3,
        tau: float = 0.5,
        rng: RngLike = None,
    ) -> None:
        self._arms = check_arms(arms)
        self._index = {arm: i for i, arm in enumerate(self._arms)}
        self.alpha, self.tau = _check_alpha(alpha), _check_tau(tau)
        self.q = np.zeros(len(self._arms))  # (num_arms,)
        self.rng = make_rng(rng)

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms, in a fixed order."""
        return self._arms

    def probabilities(self) -> dict[str, float]:
        """``softmax(Q / tau)`` per arm."""
        return dict(zip(self._arms, softmax(self.q, self.tau).tolist(), strict=True))

    def sample(self, k: int, available: Collection[str] | None = None) -> list[str]:
        """Draw the arms of ``k`` prompt slots, independently and with replacement.

        An arm not in ``available`` (no data left) falls back to a uniformly random arm that has
        some (SEC).
        """
        k = check_k(k)
        left = available_arms(self._arms, available)
        probs = softmax(self.q, self.tau)
        drawn = [self._arms[i] for i in self.rng.choice(len(self._arms), size=k, p=probs)]
        return replace_exhausted(drawn, left, self.rng)

    def update(self, rewards: Mapping[str, float]) -> None:
        """TD(0) on the arms in ``rewards`` (this step's sampled arms); the others keep their Q."""
        for arm, reward in check_rewards(self._arms, rewards).items():
            i = self._index[arm]
            self.q[i] = (1 - self.alpha) * self.q[i] + self.alpha * reward

    def state_dict(self) -> dict[str, Any]:
        """Arms, Q values, hyperparameters and the generator's state, as plain Python values."""
        return {
            "arms": list(self._arms),
            "q": self.q.tolist(),
            "alpha": self.alpha,
            "tau": self.tau,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict``: the bandit then draws exactly what the saved one would."""
        check_same_arms(self._arms, state)
        q = np.asarray(state["q"], dtype=np.float64)
        if q.shape != self.q.shape or not np.isfinite(q).all():
            raise ValueError(f"state q must be {len(self._arms)} finite values, got {state['q']!r}")
        alpha, tau = _check_alpha(state["alpha"]), _check_tau(state["tau"])
        self.rng.bit_generator.state = state["rng"]  # raises on another kind of generator
        self.q, self.alpha, self.tau = q.copy(), alpha, tau

    def metrics(self) -> dict[str, float]:
        """``curriculum/q/<arm>`` and ``curriculum/p/<arm>`` for every arm."""
        values = {
            f"curriculum/q/{arm}": float(q) for arm, q in zip(self._arms, self.q, strict=True)
        }
        probs = {f"curriculum/p/{arm}": p for arm, p in self.probabilities().items()}
        return values | probs


def _check_alpha(alpha: float) -> float:
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    return float(alpha)


def _check_tau(tau: float) -> float:
    if not (tau > 0 and np.isfinite(tau)):
        raise ValueError(f"tau must be a finite number > 0, got {tau!r}")
    return float(tau)
