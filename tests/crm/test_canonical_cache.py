"""The caches behind the env's state component give the same answers as computing afresh."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_gym.crm.canonical import (
    StateCache,
    all_ids,
    canonical_state,
    restored_cache,
)
from crm_gym.crm.entities import Client
from crm_gym.crm.ids import UNTOUCHED, SeededIds
from crm_gym.crm.store import MemoryStore
from crm_gym.crm.tools import call_tool
from tests.crm.test_invariants import SETTINGS, Ref, materialize, tool_call
from tests.crm.world import build_world

WRITES = st.sampled_from(
    [
        ("create_new_client", {"name": "New", "email": "new@new.example", "status": "Active"}),
        (
            "create_new_opportunity",
            {"name": "Deal", "client_id": Ref("Client", 0), "amount": 5, "stage": "Qualification"},
        ),
        (
            "create_quote",
            {"opportunity_id": Ref("Opportunity", -1), "amount": 5, "status": "Draft"},
        ),
        ("delete_opportunity", {"opportunity_id": Ref("Opportunity", 0)}),
        ("delete_opportunity", {"opportunity_id": Ref("Opportunity", -2)}),
        ("modify_client", {"client_id": Ref("Client", 1), "updates": {"status": "Inactive"}}),
        ("clone_opportunity", {"opportunity_id": Ref("Opportunity", -1)}),
    ]
)


@settings(SETTINGS, max_examples=60)
@given(
    strict=st.booleans(),
    calls=st.lists(WRITES | tool_call(), max_size=20),
    restore_at=st.integers(0, 20),
)
def test_cached_canonical_states_equal_fresh_ones(strict: bool, calls: list, restore_at: int):
    api, _ = build_world(strict_upstream=strict)
    known, snapshot = all_ids(api.store), api.store.snapshot()
    seeding = StateCache()  # as a checkpoint does: its state and the forms it made
    state = canonical_state(api.store, known, seeding)
    forms = seeding.records
    caches = [StateCache(), restored_cache(api.store, known, forms, state, known)]
    for index, (name, arguments) in enumerate(calls):
        if index == restore_at:
            api.store.restore(snapshot)
        call_tool(api, name, materialize(arguments, api))
        fresh = canonical_state(api.store, known)
        for cache in caches:
            assert canonical_state(api.store, known, cache) == fresh
            assert canonical_state(api.store, known, cache) == fresh  # the memoised answer too


def test_a_deleted_new_record_relabels_references_in_unchanged_tables():
    api, ids = build_world()
    known, cache = all_ids(api.store), StateCache()
    first = api.create_new_opportunity("A", ids["acme"], 5, "Qualification").opportunity_id
    second = api.create_new_opportunity("B", ids["acme"], 5, "Qualification").opportunity_id
    api.create_quote(second, 5, "Draft")
    canonical_state(api.store, known, cache)
    api.delete_opportunity(first)  # "B" becomes new:Opportunity:0, also in the Quote table
    assert canonical_state(api.store, known, cache) == canonical_state(api.store, known)


def test_a_cache_follows_a_change_of_store_or_known_ids():
    api, ids = build_world()
    other, _ = build_world(seed=8)
    cache = StateCache()
    known = all_ids(api.store)
    assert canonical_state(api.store, known, cache) == canonical_state(api.store, known)
    assert canonical_state(other.store, known, cache) == canonical_state(other.store, known)
    fewer = frozenset(known - {ids["acme"]})
    assert canonical_state(api.store, fewer, cache) == canonical_state(api.store, fewer)


def test_memory_store_versions_count_writes_per_table():
    store = MemoryStore()
    record = Client(client_id="c" * 32, name="Acme", email="a@acme.example")
    versions: list[dict[str, Any]] = [dict(store.versions)]

    def changed() -> set[str]:
        versions.append(dict(store.versions))
        return {kind for kind in versions[-1] if versions[-1][kind] != versions[-2][kind]}

    store.insert("Client", record)
    assert changed() == {"Client"}
    snapshot = store.snapshot()
    store.replace("Client", record.client_id, record)
    assert changed() == {"Client"}
    try:
        with store.transaction():
            store.delete("Client", record.client_id)
            raise RuntimeError
    except RuntimeError:
        pass
    assert changed() == {"Client"} and store.count("Client") == 1  # the undo counts as a write
    store.restore(snapshot)
    assert changed() == set(store.versions)
    assert store.version == max(store.versions.values())


def test_seeded_ids_restored_lazily_continue_the_same_stream():
    source = SeededIds(3)
    source.new_id()
    position = source.state()
    expected = [source.new_id() for _ in range(3)]
    restored = SeededIds(3)
    restored.set_state(position)
    assert restored.state() == position
    assert [restored.new_id() for _ in range(3)] == expected


def test_seeded_ids_state_is_cheap_before_a_draw_and_reused_until_the_next():
    fresh = SeededIds(4)
    assert fresh.state() == (UNTOUCHED, 4) and fresh._rng is None  # no generator seeded for it
    first = [fresh.new_id() for _ in range(2)]
    position = fresh.state()
    assert fresh.state() is position  # the same tuple until an id is drawn
    later = fresh.new_id()
    assert fresh.state() != position
    other_seed = SeededIds(0)  # as an env's CRM: its stream comes from the restored state
    other_seed.new_id()
    other_seed.set_state(SeededIds(4).state())
    assert [other_seed.new_id() for _ in range(3)] == [*first, later]
