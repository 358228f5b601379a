"""Search semantics of every ``*_search`` tool (SPEC-arc.md section 2.2, "Search tools")."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from crm_gym.crm.entities import Entity


def matches(record: Entity, criteria: Mapping[str, Any]) -> bool:
    """True when every criterion holds for ``record``.

    Two strings match by case-insensitive substring (so ``stage="Closed"`` finds both closed
    stages and ``""`` matches any non-null string); anything else by Python equality (``5`` equals
    ``5.0``, ``None`` matches null). A field the record lacks never matches.
    """
    fields = type(record).model_fields
    for name, wanted in criteria.items():
        if name not in fields:  # only schema fields, not attributes such as ``model_extra``
            return False
        value = getattr(record, name)
        if isinstance(value, str) and isinstance(wanted, str):
            if wanted.lower() not in value.lower():
                return False
        elif value != wanted:
            return False
    return True


def search(records: Iterable[Entity], criteria: Mapping[str, Any]) -> list[Entity]:
    """The records that match, in the order given (insertion order for a store)."""
    if not criteria:
        return list(records)
    return [record for record in records if matches(record, criteria)]
