"""Expected replies computed from the replayed result: short, structured and reproducible.

Replies name the record and list ``key=value`` pairs of its reference payload (the first hit
of a search), so a linter can check them against a replay. They hold only reproducible values:
ids from the episode's seeded id source, stored values, never timestamps or nulls.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any, Callable

from crm_gym.crm.entities import PLURALS
from crm_gym.crm.tool_catalogue import LISTING_TOOLS, TOOL_SPECS
from crm_gym.crm.tools import ToolResult
from crm_gym.generator.intents import Intent
from crm_gym.generator.phrasebook import REPLIES

RESULT_KIND = {
    name: spec.result_kind for name, spec in TOOL_SPECS.items() if spec.result_kind is not None
}
"""Tool -> the kind of record it returns (one record, or a list of them)."""

SHOWN = {
    "Client": ("client_id", "status", "email", "industry"),
    "Contact": ("contact_id", "client_id", "title", "email"),
    "Opportunity": ("opportunity_id", "client_id", "stage", "amount", "probability", "close_date"),
    "Quote": ("quote_id", "opportunity_id", "status", "amount", "valid_until"),
    "Contract": (
        "contract_id",
        "client_id",
        "opportunity_id",
        "status",
        "value",
        "start_date",
        "end_date",
    ),
    "Document": ("document_id", "entity_type", "entity_id", "file_name"),
    "Note": ("note_id", "entity_type", "entity_id"),
    "Company": ("company_id", "type", "industry"),
}
"""Fields a reply states for each kind of record, in this order (nulls skipped)."""

PLURAL = PLURALS
_VERB = {
    "create": "Created",
    "upload": "Uploaded",
    "add": "Added",
    "modify": "Updated",
    "ensure": "Confirmed",
    "cancel": "Canceled",
    "clone": "Cloned",
    "compare": "Compared",
}
"""Verb of a reply, by the tool name's first word (a list of records is otherwise "Found")."""
_SINGULAR = {plural: kind for kind, plural in PLURAL.items()}
LISTED = {tool: _SINGULAR[tool.removeprefix("list_")] for tool in LISTING_TOOLS}
"""Listing tool (``list_<plural>``) -> the kind of record it lists, keyed by id."""


def describe(intent: Intent, outcome: ToolResult) -> str:
    """The reply a perfect agent gives after this turn."""
    if not outcome.ok:
        return f"That did not work: {outcome.error}"
    return _describer(intent.tool)(outcome)


@cache
def _describer(tool: str) -> Callable[[ToolResult], str]:
    """How a tool's successful outcome is described (decided once per tool)."""
    if tool in LISTED:
        return partial(_listing, LISTED[tool])
    if tool.startswith("delete_"):
        return partial(_deleted, tool.removeprefix("delete_"))
    reply = REPLIES.get(tool)
    if reply is not None:
        return partial(_worded, reply)
    return partial(_records, _VERB.get(tool.split("_")[0]), RESULT_KIND[tool])


def _worded(reply: Callable[[Any], str], outcome: ToolResult) -> str:
    return reply(outcome.payload)


def _records(verb: str | None, kind: str, outcome: ToolResult) -> str:
    """One record (``Created quote ...``) or a list of them (``Found 2 quotes ...``)."""
    if isinstance(outcome.payload, list):
        return _hits(kind, verb or "Found", outcome)
    return f"{verb + ' ' if verb else ''}{record_text(kind, outcome.payload)}."


def _deleted(entity: str, outcome: ToolResult) -> str:
    return f"Deleted {entity} {outcome.arguments[f'{entity}_id']}."


def record_text(kind: str, record: dict[str, Any]) -> str:
    """``opportunity 'Atlas Pilot': opportunity_id=..., stage=Proposal, amount=120000.0``."""
    pairs = [f"{key}={value}" for key in SHOWN[kind] if (value := record.get(key)) is not None]
    name = _name(kind, record)
    label = f"{kind.lower()} {name}" if name else kind.lower()
    return f"{label}: {', '.join(pairs)}"


def _name(kind: str, record: dict[str, Any]) -> str | None:
    if kind == "Contact":
        return f"{record['first_name']} {record['last_name']}"
    return record.get("file_name") if kind == "Document" else record.get("name")


def _hits(kind: str, verb: str, outcome: ToolResult) -> str:
    records = outcome.payload
    if not records:
        return f"No results: no {PLURAL[kind]} matched."
    count = f"{len(records)} {PLURAL[kind] if len(records) > 1 else kind.lower()}"
    others = [_name(kind, r) or r[f"{kind.lower()}_id"] for r in records[1:]]
    also = f" (the others: {_names(others)})" if others else ""
    return f"{verb} {count}{also}. First: {record_text(kind, records[0])}."


def _names(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _listing(kind: str, outcome: ToolResult) -> str:
    records = outcome.payload
    if not records:
        return f"No {PLURAL[kind]} on file."
    names = [_name(kind, record) or key for key, record in records.items()]
    label = PLURAL[kind] if len(records) > 1 else kind.lower()
    return f"{len(records)} {label} on file: {_names(names)}."
