"""Expected replies computed from the replayed result: short, structured and reproducible.

Replies name the record and list ``key=value`` pairs of its reference payload (the first hit
of a search), so a linter can check them against a replay. They hold only reproducible values:
ids from the episode's seeded id source, stored values, never timestamps or nulls.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any, Callable

from crm_gym.crm.entities import PLURALS
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import ToolResult
from crm_gym.generator.intents import Intent

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
}
_LISTED = {f"list_{plural}": kind for kind, plural in PLURAL.items()}


def describe(intent: Intent, outcome: ToolResult) -> str:
    """The reply a perfect agent gives after this turn."""
    if not outcome.ok:
        return f"That did not work: {outcome.error}"
    return _describer(intent.tool)(outcome)


@cache
def _describer(tool: str) -> Callable[[ToolResult], str]:
    """How a tool's successful outcome is described (decided once per tool)."""
    if tool in _LISTED:
        return partial(_listing, _LISTED[tool])
    if tool.endswith("_search") or tool == "compare_quotes":
        verb = "Compared" if tool == "compare_quotes" else "Found"
        return partial(_hits, RESULT_KIND[tool], verb)
    if tool.startswith("delete_"):
        return partial(_deleted, tool.removeprefix("delete_"))
    special = _SPECIAL.get(tool)
    if special is not None:
        return special
    action = _VERB.get(tool.split("_")[0])
    return partial(_record, f"{action} " if action else "", RESULT_KIND[tool])


def _record(verb: str, kind: str, outcome: ToolResult) -> str:
    return f"{verb}{record_text(kind, outcome.payload)}."


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


def _summary(outcome: ToolResult) -> str:
    payload = outcome.payload
    parts = []
    for key in ("by_stage", "by_owner"):
        if payload[key]:
            counts = ", ".join(f"{name} {count}" for name, count in payload[key].items())
            parts.append(f"{key.replace('_', ' ')}: {counts}; ")
    totals = f"total_count={payload['total_count']}, total_amount={payload['total_amount']}"
    return f"Pipeline summary, {''.join(parts)}{totals}."


def _details(outcome: ToolResult) -> str:
    payload = outcome.payload
    amounts = " and ".join(str(amount) for amount in payload["amounts"])
    statuses = " and ".join(str(status) for status in payload["statuses"])
    return (
        f"Compared {len(payload['quotes'])} quotes (amounts {amounts}; statuses {statuses}): "
        f"total_amount={payload['total_amount']}."
    )


def _prefixes(outcome: ToolResult) -> str:
    payload = outcome.payload
    return (
        f"Quote prefixes in use: {', '.join(payload)}."
        if payload
        else "No results: no quote prefixes are in use."
    )


def _counts(outcome: ToolResult) -> str:
    counts = ", ".join(f"{key}={value}" for key, value in outcome.payload.items())
    return f"Record counts: {counts}."


_SPECIAL = {
    "summarize_opportunities": _summary,
    "compare_quote_details": _details,
    "quote_prefixes": _prefixes,
    "summarize_counts": _counts,
}
