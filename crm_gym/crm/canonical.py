"""Canonical CRM state, for comparing two runs whose new records got different ids.

tau-bench compares database hashes after an episode; we do the same, except that records created
during the compared window get ids that depend on what else the agent did. Those ids are
replaced by labels in creation order per entity kind (``new:Client:0``...), everywhere they occur,
and timestamps are dropped; ids that existed before the window are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_gym.crm.entities import ENTITY_TYPES
from crm_gym.crm.store import Store
from crm_gym.crm.store.memory import MemoryStore

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


CanonicalRecord = tuple[tuple[str, Any], ...]
Form = tuple[Any, CanonicalRecord, "frozenset[Any] | None"]
"""A record, its canonical form, and the values a relabelling looks up (None: one is unhashable)."""
Forms = dict[int, Form]
"""Record identity -> its ``Form``."""


@dataclass
class StateCache:
    """What ``canonical_state`` may reuse from earlier calls (e.g. the turns of one episode).

    The CRM never mutates a stored record, so an unchanged record is the same object turn after
    turn: ``records`` maps record identity to its canonical form. On a ``MemoryStore``, whose
    ``versions`` say which tables changed, ``kinds`` keeps each kind's canonical records while
    neither its table nor the new-id labels changed, and ``last`` the whole state while nothing
    changed (most turns read, and a write touches one table).
    """

    records: Forms = field(default_factory=dict)
    kinds: dict[str, tuple[int, list[CanonicalRecord]]] = field(default_factory=dict)
    labels: dict[str, str] | None = None
    owner: tuple[Any, frozenset[str]] | None = None
    """The store and known ids that ``kinds``, ``labels`` and ``last`` were derived for."""
    last: tuple[int, CanonicalState] | None = None


def canonical_state(
    store: Store, known_ids: frozenset[str], cache: StateCache | None = None
) -> CanonicalState:
    """Every record as a tuple of (field, value), new ids relabelled, timestamps dropped.

    ``cache`` skips work done by earlier calls (see ``StateCache``); the result is the same.
    """
    if cache is not None and isinstance(store, MemoryStore):
        return _versioned_state(store, known_ids, cache)
    labels = new_id_labels(store, known_ids)
    records = cache.records if cache is not None else None
    return {kind: _canonical_records(store, kind, labels, records) for kind in ENTITY_TYPES}


def _canonical_records(
    store: Store, kind: str, labels: dict[str, str], cache: Forms | None
) -> list[CanonicalRecord]:
    records = []
    for record in store.records(kind):
        if cache is None:
            base = _base(record)
            records.append(_relabel(base, labels) if labels else base)
            continue
        _, base, lookups = _cached_form(record, cache)
        # a record holding no labelled id is its own relabelling: skip building it
        if labels and (lookups is None or not labels.keys().isdisjoint(lookups)):
            base = _relabel(base, labels)
        records.append(base)
    return records


def restored_cache(
    store: Store,
    known_ids: frozenset[str],
    forms: Forms,
    state: CanonicalState,
    state_ids: frozenset[str],
) -> StateCache:
    """A cache for ``store`` just restored to a point of known ``forms`` and canonical ``state``.

    ``state_ids`` were all the ids at that point. While they are all known, nothing is
    relabelled, so ``state`` is also the state relative to ``known_ids``: the first call costs
    nothing, and kinds left unchanged keep ``state``'s very lists, which a reference run primed
    the same way shares (``==`` on dicts checks identity before contents).
    """
    cache = StateCache(dict(forms))
    if isinstance(store, MemoryStore) and state_ids <= known_ids:
        cache.owner, cache.labels = (store, known_ids), {}
        cache.kinds = {kind: (store.versions[kind], state[kind]) for kind in ENTITY_TYPES}
        cache.last = (store.version, state)
    return cache


def _versioned_state(
    store: MemoryStore, known_ids: frozenset[str], cache: StateCache
) -> CanonicalState:
    """``canonical_state`` recomputing only the kinds whose table or labels changed."""
    if cache.owner is None or cache.owner[0] is not store or cache.owner[1] is not known_ids:
        cache.owner, cache.kinds, cache.labels, cache.last = (store, known_ids), {}, None, None
    if cache.last is not None and cache.last[0] == store.version:
        return cache.last[1]
    labels = new_id_labels(store, known_ids)
    if labels != cache.labels:
        cache.kinds, cache.labels = {}, labels
    state: CanonicalState = {}
    for kind in ENTITY_TYPES:
        version = store.versions[kind]
        hit = cache.kinds.get(kind)
        if hit is None or hit[0] != version:
            hit = (version, _canonical_records(store, kind, labels, cache.records))
            cache.kinds[kind] = hit
        state[kind] = hit[1]
    cache.last = (store.version, state)
    return state


def _base(record: Any) -> CanonicalRecord:
    """The record's fields in model order, timestamps dropped, lists made hashable."""
    return tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in record.__dict__.items()
        if name not in TIMESTAMP_FIELDS
    )


def _cached_form(record: Any, cache: Forms) -> Form:
    hit = cache.get(id(record))
    if hit is not None and hit[0] is record:
        return hit
    base = _base(record)
    form = (record, base, _lookups(base))
    cache[id(record)] = form
    return form


def _lookups(base: CanonicalRecord) -> frozenset[Any] | None:
    """The values of ``base`` that ``_relabel`` looks up in the labels."""
    values: list[Any] = []
    for _, value in base:
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, tuple):
            values.extend(value)
    try:
        return frozenset(values)
    except TypeError:  # unhashable: _relabel decides (and fails as it always did)
        return None


def _relabel(base: CanonicalRecord, labels: dict[str, str]) -> CanonicalRecord:
    """``base`` with new ids labelled; ``base`` itself when it holds none of them.

    Returning the shared form keeps two runs' untouched records identical objects, which makes
    comparing their states an identity check per record.
    """
    relabeled = tuple(
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
    return base if relabeled == base else relabeled


def id_correspondence(ours: Store, reference: Store, known_ids: frozenset[str]) -> dict[str, str]:
    """Reference run's new ids -> our run's new ids with the same label (for response facts)."""
    by_label = {label: key for key, label in new_id_labels(ours, known_ids).items()}
    return {
        key: by_label[label]
        for key, label in new_id_labels(reference, known_ids).items()
        if label in by_label
    }


__all__ = [
    "StateCache",
    "all_ids",
    "canonical_state",
    "restored_cache",
    "id_correspondence",
    "new_id_labels",
]
