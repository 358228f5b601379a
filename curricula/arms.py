"""The default curriculum arms: four skills times three difficulties (REFERENCE.md section 2).

The same strings as ``crm_gym.data.labels`` (skill, difficulty and ``arm_name``), repeated here
because curricula import only numpy; a test keeps the two lists equal.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_SKILLS: tuple[str, ...] = ("crud", "knowledge", "analytics", "policy")
DEFAULT_DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")


def make_arms(skills: Iterable[str], difficulties: Iterable[str]) -> tuple[str, ...]:
    """Joint ``skill-difficulty`` arms, skill-major.

    Example:
        >>> make_arms(["crud", "policy"], ["easy", "hard"])
        ('crud-easy', 'crud-hard', 'policy-easy', 'policy-hard')
    """
    difficulties = tuple(difficulties)
    arms = tuple(f"{skill}-{difficulty}" for skill in skills for difficulty in difficulties)
    return check_arms(arms)


def check_arms(arms: Iterable[str]) -> tuple[str, ...]:
    """The arms as a tuple; raises ``ValueError`` on none, an empty name or a duplicate."""
    arms = tuple(arms)
    if not arms:
        raise ValueError("a curriculum needs at least one arm, got none")
    if any(not isinstance(arm, str) or not arm for arm in arms):
        raise ValueError(f"arms must be non-empty strings, got {arms!r}")
    duplicates = sorted({arm for arm in arms if arms.count(arm) > 1})
    if duplicates:
        raise ValueError(f"duplicate arms {duplicates} in {arms!r}")
    return arms


DEFAULT_ARMS: tuple[str, ...] = make_arms(DEFAULT_SKILLS, DEFAULT_DIFFICULTIES)
"""The 12 arms ``crud-easy`` ... ``policy-hard`` (the order of ``crm_gym.data.labels.ARMS``)."""
