"""What to train on next: the Self-Evolving Curriculum bandit and simple samplers.

Curricula know arms and rewards, not models: this package imports only numpy.
"""

from curricula.arms import DEFAULT_ARMS, DEFAULT_DIFFICULTIES, DEFAULT_SKILLS, make_arms
from curricula.bandit import SoftmaxBandit, reward_from_advantages
from curricula.base import Curriculum
from curricula.samplers import FixedOrderSampler, UniformSampler

__all__ = [
    "DEFAULT_ARMS",
    "DEFAULT_DIFFICULTIES",
    "DEFAULT_SKILLS",
    "Curriculum",
    "FixedOrderSampler",
    "SoftmaxBandit",
    "UniformSampler",
    "make_arms",
    "reward_from_advantages",
]
