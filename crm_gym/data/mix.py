"""What the generator is asked for: shares of failures, complexities and skills.

A module of its own so that the generator can be compiled (``crm_gym/compiled.py``): ``Mix``
normalises its fields on creation, which a compiled frozen class does not allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from crm_gym.data.labels import COMPLEXITY_TURNS, SKILLS

DEFAULT_COMPLEXITY = {"simple": 0.35, "medium": 0.40, "complex": 0.25}
DEFAULT_SKILLS = dict.fromkeys(SKILLS, 0.25)
DEFAULT_EMPTY_SEARCHES = 0.15


@dataclass(frozen=True)
class Mix:
    """What to generate: shares of failures, complexities and skills (normalised on creation).

    Args:
        failure_share: expected share of all turns that are planned failures (0..1).
        complexity: weight of ``simple`` (1-3 turns), ``medium`` (4-6) and ``complex`` (7-10).
        skills: weight of each curriculum skill.
        underspecified: share of success turns whose utterance leaves one value unsaid (0 = none,
            the linter then reports exactly those turns).
        empty_searches: share of searches that look for something absent, so the reply is "No
            results" (every search turn declares its ``expected_hits``; 0 marks the empty search
            as intended, which the linter then does not report).
    """

    failure_share: float = 0.4
    complexity: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_COMPLEXITY))
    skills: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SKILLS))
    underspecified: float = 0.0
    empty_searches: float = DEFAULT_EMPTY_SEARCHES

    def __post_init__(self) -> None:
        for name in ("failure_share", "underspecified", "empty_searches"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        object.__setattr__(self, "complexity", _weights(self.complexity, tuple(COMPLEXITY_TURNS)))
        object.__setattr__(self, "skills", _weights(self.skills, SKILLS))


def _weights(weights: Mapping[str, float], names: tuple[str, ...]) -> dict[str, float]:
    unknown = set(weights) - set(names)
    total = sum(weights.values())
    if unknown or total <= 0 or min(weights.values()) < 0:
        raise ValueError(
            f"weights {dict(weights)} must be non-negative, not all zero, over {names}"
        )
    return {name: weights.get(name, 0.0) / total for name in names}
