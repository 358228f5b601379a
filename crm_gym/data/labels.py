"""Labels of a conversation that curricula and reports group by, defined in one place.

Skills and difficulties are the default curriculum arms (REFERENCE.md section 2): four skills of
CRMArena mapped to our tools, times three difficulties. Curricula import only these strings.
Workflow categories are upstream's (its ``agent_tasks.csv``, intent column read with the
sub-actions it lists), so a category says which entity a conversation is mostly about.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from crm_gym.crm.tool_catalogue import TOOL_SPECS

SKILLS = ("crud", "knowledge", "analytics", "policy")
DIFFICULTIES = ("easy", "medium", "hard")
ARMS = tuple(f"{skill}-{difficulty}" for skill in SKILLS for difficulty in DIFFICULTIES)

COMPLEXITY_TURNS = {"simple": (1, 3), "medium": (4, 6), "complex": (7, 10)}
"""Turn counts each complexity level allows (upstream's loader bounds, inclusive)."""

POLICY_FAILURES = (
    "closed_deal",
    "probability_range",
    "amount_bounds",
    "duplicate_email",
    "bad_extension",
    "bad_file_name",
    "past_close_date",
)
"""Failure categories decided by a business rule: the ``policy`` skill."""

GENERIC_FAILURES = ("invalid_enum", "unknown_id", "missing_field")
"""Failure categories of a malformed request (wrong value, missing record or argument)."""

CREATING_TOOLS = frozenset(name for name, spec in TOOL_SPECS.items() if spec.creates)
"""Tools that make a record in this run (ids in their replies are new, not looked up)."""

TOOL_SKILL: dict[str, str] = {name: spec.skill for name, spec in TOOL_SPECS.items()}
"""Tool -> the skill family it exercises (``policy`` is decided by rules, not by tools)."""

TOOL_CATEGORY: dict[str, str] = {name: spec.category for name, spec in TOOL_SPECS.items()}
"""Tool -> upstream workflow category (its task table's intent and sub-actions)."""

TASK_NAMES: dict[str, str] = {name: spec.task_name for name, spec in TOOL_SPECS.items()}
"""Tool -> upstream task name (as in conversation ids such as ``SKEL-CREATE QUOTE_simple_...``)."""

DIFFICULTY_LOAD = (5, 11)
"""Load limits of ``easy`` and ``medium``; load = turns + turns with references + failures."""


def arm_name(skill: str, difficulty: str) -> str:
    """The curriculum arm of a skill and a difficulty, e.g. ``crud-easy``."""
    if skill not in SKILLS or difficulty not in DIFFICULTIES:
        raise ValueError(
            f"unknown arm ({skill!r}, {difficulty!r}); skills {SKILLS}, difficulties {DIFFICULTIES}"
        )
    return f"{skill}-{difficulty}"


def _get(item: Any, key: str, default: Any = None) -> Any:
    return item.get(key, default) if isinstance(item, dict) else getattr(item, key, default)


def _turns(conversation: Any) -> list[Any]:
    return list(_get(conversation, "turns", []) or [])


def difficulty_load(turns: Iterable[Any]) -> int:
    """Turns, plus turns that reference earlier results, plus turns expected to fail."""
    load = 0
    for turn in turns:
        load += (
            1
            + bool(_get(turn, "references_previous_turns"))
            + (not _get(turn, "expect_success", True))
        )
    return load


def difficulty_of(conversation: Any) -> str:
    """``easy``/``medium``/``hard`` from the number of turns, cross-turn references and failures."""
    load = difficulty_load(_turns(conversation))
    easy, medium = DIFFICULTY_LOAD
    return "easy" if load <= easy else "medium" if load <= medium else "hard"


def skill_of(conversation: Any) -> str:
    """The conversation's skill: its ``skill`` label when valid, else derived from its turns.

    Derived: ``policy`` if a turn fails on a business rule, else ``analytics`` if it computes over
    records, else the more frequent of ``knowledge`` and ``crud`` (``crud`` on a tie).
    """
    label = _get(conversation, "skill")
    if label in SKILLS:
        return label
    turns = _turns(conversation)
    if any(_get(turn, "failure_category") in POLICY_FAILURES for turn in turns):
        return "policy"
    families = Counter(TOOL_SKILL.get(_get(turn, "expected_tool"), "crud") for turn in turns)
    if families["analytics"]:
        return "analytics"
    return "knowledge" if families["knowledge"] > families["crud"] else "crud"


def category_of(tools: Iterable[str]) -> str:
    """The workflow category most of these tools belong to (the earliest one on a tie)."""
    categories = [TOOL_CATEGORY.get(tool, "General") for tool in tools]
    return max(categories, key=categories.count) if categories else "General"  # first on a tie
