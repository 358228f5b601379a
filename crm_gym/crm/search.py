"""Search semantics of every ``*_search`` tool (SPEC-arc.md section 2.2, "Search tools")."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from crm_gym.crm.entities import Entity


def search(
    records: Iterable[Entity], criteria: Mapping[str, Any], fields: frozenset[str]
) -> list[Entity]:
    """The records (of one kind, with these ``fields``) that match every criterion, in order.

    Two strings match by case-insensitive substring (so ``stage="Closed"`` finds both closed
    stages and ``""`` matches any non-null string); anything else by Python equality (``5`` equals
    ``5.0``, ``None`` matches null). A criterion naming something that is not a field of the
    entity matches no record.
    """
    if not criteria:
        return list(records)
    if any(name not in fields for name in criteria):
        return []
    tests = [
        (name, wanted.lower() if isinstance(wanted, str) else None, wanted)
        for name, wanted in criteria.items()
    ]
    return [record for record in records if _matches(record.__dict__, tests)]


def _matches(values: dict[str, Any], tests: list[tuple[str, str | None, Any]]) -> bool:
    for name, lowered, wanted in tests:
        value = values[name]
        if lowered is not None and isinstance(value, str):
            if lowered not in value.lower():
                return False
        elif value != wanted:
            return False
    return True
