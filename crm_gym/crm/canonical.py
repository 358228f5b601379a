"""Canonical CRM state, for comparing two runs whose new records got different ids.

tau-bench compares database hashes after an episode; we do the same, except that records created
during the compared window get ids that depend on what else the agent did. Those ids are
replaced by labels in creation order per entity kind (``new:Client:0``...), everywhere they occur,
and timestamps are dropped; ids that existed before the window are kept as they are.
"""

from __future__ import annotations

from typing import Any

from crm_gym.crm.entities import ENTITY_TYPES
from crm_gym.crm.store import Store

TIMESTAMP_FIELDS = frozenset({"created_date", "created_at", "uploaded_at"})

CanonicalState = dict[str, list[tuple[tuple[str, Any], ...]]]
"""Entity kind -> its records in insertion order, each a tuple of (field, value)."""


def all_ids(store: Store) -> frozenset[str]:
    """Every primary key currently in the store."""
    return frozenset(key for kind in ENTITY_TYPES for key, _ in store.items(kind))


def new_id_labels(store: Store, known_ids: frozenset[str]) -> dict[str, str]:
    """Ids not in ``known_ids`` -> ``new:<Kind>:<k>`` in insertion order per kind."""
    labels: dict[str, str] = {}
    for kind in ENTITY_TYPES:
        count = 0
        for key, _ in store.items(kind):
            if key not in known_ids:
                labels[key] = f"new:{kind}:{count}"
                count += 1
    return labels


def canonical_state(
    store: Store,
    known_ids: frozenset[str],
    cache: dict[int, tuple[Any, CanonicalRecord]] | None = None,
) -> CanonicalState:
    """Every record as a tuple of (field, value), new ids relabelled, timestamps dropped.

    ``cache`` (record identity -> canonical form) skips records seen before: the CRM never
    mutates a stored record, so an unchanged record is the same object turn after turn.
    """
    labels = new_id_labels(store, known_ids)
    state: CanonicalState = {}
    for kind in ENTITY_TYPES:
        records = []
        for record in store.records(kind):
            base = _cached_base(record, cache) if cache is not None else _base(record)
            records.append(_relabel(base, labels) if labels else base)
        state[kind] = records
    return state


CanonicalRecord = tuple[tuple[str, Any], ...]


def _base(record: Any) -> CanonicalRecord:
    """The record's fields in model order, timestamps dropped, lists made hashable."""
    return tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in record.__dict__.items()
        if name not in TIMESTAMP_FIELDS
    )


def _cached_base(record: Any, cache: dict[int, tuple[Any, CanonicalRecord]]) -> CanonicalRecord:
    hit = cache.get(id(record))
    if hit is not None and hit[0] is record:
        return hit[1]
    base = _base(record)
    cache[id(record)] = (record, base)
    return base


def _relabel(base: CanonicalRecord, labels: dict[str, str]) -> CanonicalRecord:
    return tuple(
        (
            name,
            labels.get(value, value)
            if isinstance(value, str)
            else tuple(labels.get(v, v) for v in value)
            if isinstance(value, tuple)
            else value,
        )
        for name, value in base
    )


def id_correspondence(ours: Store, reference: Store, known_ids: frozenset[str]) -> dict[str, str]:
    """Reference run's new ids -> our run's new ids with the same label (for response facts)."""
    by_label = {label: key for key, label in new_id_labels(ours, known_ids).items()}
    return {
        key: by_label[label]
        for key, label in new_id_labels(reference, known_ids).items()
        if label in by_label
    }


__all__ = ["all_ids", "canonical_state", "id_correspondence", "new_id_labels"]
