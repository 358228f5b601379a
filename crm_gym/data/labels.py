"""Labels of a conversation that curricula and reports group by, defined in one place.

Skills and difficulties are the default curriculum arms (REFERENCE.md section 2): four skills of
CRMArena mapped to our tools, times three difficulties. Curricula import only these strings.
Workflow categories are upstream's (its ``agent_tasks.csv``, intent column read with the
sub-actions it lists), so a category says which entity a conversation is mostly about.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from crm_gym.crm.tool_catalogue import LISTING_TOOLS

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

_CREATES = (
    "create_new_client",
    "create_new_opportunity",
    "create_quote",
    "create_contract",
    "create_new_contact",
    "upload_document",
    "add_note",
    "ensure_client",
)
CREATING_TOOLS = frozenset((*_CREATES, "clone_opportunity"))
"""Tools that make a record in this run (ids in their replies are new, not looked up)."""
_CRUD = (
    *_CREATES,
    "modify_opportunity",
    "modify_client",
    "modify_quote",
    "modify_contact",
    "delete_opportunity",
    "delete_quote",
    "cancel_quote",
    "clone_opportunity",
)
_KNOWLEDGE = (
    "client_search",
    "opportunity_search",
    "contact_search",
    "quote_search",
    "contract_search",
    "company_search",
    "view_opportunity_details",
    "opportunity_details",
    "quote_details",
    *LISTING_TOOLS,
)
_ANALYTICS = (
    "compare_quotes",
    "compare_quote_details",
    "summarize_opportunities",
    "quote_prefixes",
    "summarize_counts",
)

TOOL_SKILL: dict[str, str] = {
    **dict.fromkeys(_CRUD, "crud"),
    **dict.fromkeys(_KNOWLEDGE, "knowledge"),
    **dict.fromkeys(_ANALYTICS, "analytics"),
}
"""Tool -> the skill family it exercises (``policy`` is decided by rules, not by tools)."""

_CATEGORY_TOOLS = {
    "Opportunity Management": (
        "create_new_opportunity",
        "modify_opportunity",
        "delete_opportunity",
        "opportunity_search",
        "clone_opportunity",
        "view_opportunity_details",
        "opportunity_details",
        "summarize_opportunities",
        "list_opportunities",
    ),
    "Client Management": (
        "create_new_client",
        "ensure_client",
        "client_search",
        "modify_client",
        "list_clients",
    ),
    "Contact Management": (
        "create_new_contact",
        "contact_search",
        "modify_contact",
        "list_contacts",
    ),
    "Quote Management": (
        "create_quote",
        "modify_quote",
        "delete_quote",
        "cancel_quote",
        "quote_details",
        "compare_quotes",
        "compare_quote_details",
        "quote_search",
        "quote_prefixes",
        "list_quotes",
    ),
    "Contract Management": ("create_contract", "contract_search", "list_contracts"),
    "Company / Account Management": ("company_search", "list_companies"),
    "Document Management": ("upload_document", "list_documents"),
    "Notes & Collaboration": ("add_note", "list_notes"),
    "General": ("summarize_counts",),
}

TOOL_CATEGORY: dict[str, str] = {
    tool: category for category, tools in _CATEGORY_TOOLS.items() for tool in tools
}
"""Tool -> upstream workflow category (its task table's intent and sub-actions)."""

TASK_NAMES: dict[str, str] = {tool: tool.upper().replace("_", " ") for tool in TOOL_CATEGORY} | {
    "create_contract": "CREATE NEW CONTRACT"
}
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
