"""The tool tables of ``tests/crm`` on every store: same payloads, same error texts, same state.

The cases are imported, not copied: every happy path (all 38 tools), every rule's error text
(R1-R29), the order of checks and the signature errors run unchanged on the memory store, SQLite
in memory, SQLite in a file and PostgreSQL. The world of ``tests.crm.world`` is moved onto each
store by restoring its snapshot, with the same id stream and clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from crm_gym.crm import CrmApi
from crm_gym.crm.entities import Client, Contact, Note, Opportunity
from crm_gym.crm.store import MemoryStore, Store, make_store
from crm_gym.crm.tools import call_tool
from crm_gym.errors import CrmError, DuplicateEmailError, StoreError
from tests.crm.error_cases import NEEDS_DATETIME, ORDER, RULES, SIGNATURE, Has
from tests.crm.test_tools_happy import HAPPY, check, run
from tests.crm.world import MISSING, dump_state, resolve
from tests.store.conftest import world_on

pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")


def _case_id(case: tuple) -> str:
    tool, args, _ = case
    return f"{tool}({','.join(map(str, args))})"


def _prepare(args: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    args = resolve(args, ids)
    return {k: datetime(2030, 1, 1, 10, 30) if v is NEEDS_DATETIME else v for k, v in args.items()}


def _failure(api: CrmApi, tool: str, args: dict[str, Any], via: str) -> str:
    """The error text of a call that must fail (``CrmError`` on the API, ``ok=False`` via tools)."""
    if via == "api":
        with pytest.raises(CrmError) as info:
            getattr(api, tool)(**args)
        return str(info.value)
    result = call_tool(api, tool, args)
    assert (result.ok, result.payload, result.arguments) == (False, None, args)
    return result.error  # type: ignore[return-value]


def _assert_text(text: str, expected: Any, ids: dict[str, str]) -> None:
    if isinstance(expected, Has):
        assert all(part in text for part in expected), (expected, text)
    else:
        assert text == expected.format_map(ids)


@pytest.mark.parametrize("via", ["api", "call_tool"])
@pytest.mark.parametrize("tool, args, expected", HAPPY, ids=[_case_id(case) for case in HAPPY])
def test_happy_path(store: Store, tool: str, args: dict, expected: Any, via: str) -> None:
    api, ids = world_on(store)
    check(run(api, tool, resolve(args, ids), via), expected, ids)


@pytest.mark.parametrize("via", ["api", "call_tool"])
@pytest.mark.parametrize(
    "tool, args, expected", [c[1:] for c in RULES], ids=[f"{c[0]}-{c[1]}" for c in RULES]
)
def test_rule_error_text(store: Store, tool: str, args: dict, expected: Any, via: str) -> None:
    api, ids = world_on(store)
    before = dump_state(api)
    _assert_text(_failure(api, tool, _prepare(args, ids), via), expected, ids)
    assert dump_state(api) == before


@pytest.mark.parametrize("via", ["api", "call_tool"])
@pytest.mark.parametrize("tool, args, expected", ORDER, ids=[c[0] for c in ORDER])
def test_order_of_checks(store: Store, tool: str, args: dict, expected: Any, via: str) -> None:
    api, ids = world_on(store)
    before = dump_state(api)
    _assert_text(_failure(api, tool, _prepare(args, ids), via), expected, ids)
    assert dump_state(api) == before


@pytest.mark.parametrize("tool, args, expected", SIGNATURE, ids=[c[0] for c in SIGNATURE])
def test_signature_errors(store: Store, tool: str, args: dict, expected: str) -> None:
    api, ids = world_on(store)
    before = dump_state(api)
    assert (call_tool(api, tool, resolve(args, ids)).error) == expected
    assert dump_state(api) == before


# ---- what the CRM relies on from every store ---------------------------------------------------
def test_world_moves_onto_the_store_exactly(store: Store) -> None:
    api, _ = world_on(store)
    reference, _ = world_on(MemoryStore())
    assert dump_state(api) == dump_state(reference)
    assert store.snapshot()[1] == reference.store.snapshot()[1]  # the email index


def test_replace_keeps_position_and_reinsert_goes_last(store: Store) -> None:
    api, ids = world_on(store)
    api.modify_client(ids["acme"], name="Acme 2")
    assert [c.name for c in api.client_search()] == ["Acme 2", "Globex"]
    clone = api.clone_opportunity(ids["opp"])
    api.delete_opportunity(ids["opp"])
    assert list(api.list_opportunities()) == [ids["won"], ids["lost"], clone.opportunity_id]


def test_delete_opportunity_cascades(store: Store) -> None:
    api, ids = world_on(store)
    api.add_note("Quote", ids["quote2"], "q2")
    kept = api.add_note("Opportunity", ids["won"], "other deal")
    assert api.delete_opportunity(ids["opp"]) is True
    assert api.list_quotes() == {} and api.list_documents() == {}
    assert list(api.list_notes()) == [ids["note"], kept.note_id]
    assert api.list_contracts()[ids["contract"]].opportunity_id is None


def test_transaction_rolls_back_every_write_of_the_block(store: Store) -> None:
    api, ids = world_on(store)
    before = dump_state(api)
    with pytest.raises(RuntimeError), store.transaction():
        api.create_new_client("Inside", "inside@x.example", "Active")
        with store.transaction():  # nested blocks join the outer one
            api.modify_client(ids["acme"], name="Renamed")
        raise RuntimeError("undo")
    assert dump_state(api) == before
    with store.transaction():
        api.create_new_client("Kept", "kept@x.example", "Active")
    assert store.count("Client") == 3


def test_snapshots_are_portable(store: Store) -> None:
    api, _ = world_on(store)
    api.create_new_contact("Ann", "Lee", api.client_search()[0].client_id)
    memory = MemoryStore()
    memory.restore(store.snapshot())
    assert dump_state(CrmApi(memory)) == dump_state(api)
    snapshot = store.snapshot()
    api.create_new_client("Later", "later@x.example", "Active")
    store.restore(snapshot)
    store.restore(snapshot)  # a snapshot stays reusable
    assert dump_state(CrmApi(memory)) == dump_state(api)


def test_keys_that_cannot_exist_are_not_found(store: Store) -> None:
    world_on(store)
    for key in (None, 5, "\ud800", "a\x00b", "x" * 100_000, MISSING.upper()):
        assert store.get("Client", key) is None  # type: ignore[arg-type]
        assert store.delete("Client", key) is False  # type: ignore[arg-type]
    assert store.clients_with_email("\ud800@x.example") == []


def test_timestamps_and_floats_round_trip(store: Store) -> None:
    api, ids = world_on(store)
    offsets = ["2024-02-29T23:59:59.123456+05:45", "2024-01-01T00:00:00", "2024-01-01T00:00:00Z"]
    for stamp in offsets:
        note = api.add_note("Client", ids["acme"], "t", created_at=stamp)
        stored = store.get("Note", note.note_id)
        assert stored == note and str(stored.created_at) == str(note.created_at)  # type: ignore[union-attr]
    for value in (-0.0, 1e-300, 123456789.123456789, -1e308, 0.1 + 0.2):
        contract = api.create_contract(ids["acme"], value=value)
        assert repr(store.get("Contract", contract.contract_id).value) == repr(value)  # type: ignore[union-attr]


# ---- the database as the second guard (SQL stores) -----------------------------------------------
def sql_store(store: Store) -> Store:
    if isinstance(store, MemoryStore):
        pytest.skip("the memory store trusts the CRM's checks; only SQL stores have constraints")
    return store


OTHER = "11111111-1111-4111-8111-111111111111"


def test_database_refuses_dangling_references_with_crm_texts(store: Store) -> None:
    sql_store(store)
    api, ids = world_on(store)
    before = dump_state(api)
    cases = [
        (
            "Contact",
            Contact(contact_id=MISSING, first_name="A", last_name="B", client_id=OTHER),
            f"Client not found with ID '{OTHER}'.",
        ),
        (
            "Opportunity",
            Opportunity(opportunity_id=MISSING, name="D", client_id=ids["opp"]),
            f"Client not found with ID '{ids['opp']}'.",
        ),
        (
            "Note",
            Note(note_id=MISSING, entity_type="Contact", entity_id=ids["acme"], content="x"),
            f"Contact not found with ID '{ids['acme']}'.",
        ),
        (
            "Client",
            Client(client_id=ids["acme"], name="Dup"),
            f"Client already exists with ID '{ids['acme']}'.",
        ),
        (
            "Client",
            Client(client_id=MISSING, name="Dup", email="TEAM@acme.example"),
            "Client already exists with email 'TEAM@acme.example'.",
        ),
    ]
    for kind, record, text in cases:
        with pytest.raises(CrmError) as info:
            store.insert(kind, record)
        assert str(info.value) == text
    assert isinstance(_raised(lambda: store.insert(*cases[-1][:2])), DuplicateEmailError)
    moved = store.get("Contact", ids["contact"]).model_copy(update={"client_id": OTHER})  # type: ignore[union-attr]
    with pytest.raises(CrmError, match=f"^Client not found with ID '{OTHER}'.$"):
        store.replace("Contact", ids["contact"], moved)
    with pytest.raises(CrmError, match="other records refer to it"):
        store.delete("Client", ids["acme"])
    with pytest.raises(CrmError, match="^Client client_id cannot be changed.$"):
        store.replace("Client", ids["acme"], store.get("Client", ids["globex"]))  # type: ignore[arg-type]
    assert dump_state(api) == before


def _raised(action: Any) -> BaseException:
    try:
        action()
    except CrmError as exc:
        return exc
    raise AssertionError("nothing raised")


def test_failed_write_in_a_block_leaves_the_episode_usable(store: Store) -> None:
    sql_store(store)
    api, ids = world_on(store)
    with pytest.raises(CrmError), store.transaction():
        api.create_new_client("Fine", "fine@x.example", "Active")
        store.insert(
            "Contact",
            Contact(contact_id=MISSING, first_name="A", last_name="B", client_id=ids["opp"]),
        )
    assert call_tool(
        api, "create_new_client", {"name": "After", "email": "a@x.example", "status": "Active"}
    ).ok
    assert [c.name for c in api.client_search()] == ["Acme Corporation", "Globex", "After"]


def test_strict_upstream_needs_the_memory_store(store: Store) -> None:
    sql_store(store)
    with pytest.raises(StoreError, match="strict_upstream=True needs the memory store"):
        make_store("sqlite", strict_upstream=True)
    with pytest.raises(StoreError, match="strict_upstream=True needs the memory store"):
        make_store(store, strict_upstream=True)
    assert isinstance(make_store(MemoryStore(), strict_upstream=True), MemoryStore)
