"""Hostile strings in every string argument: each store stores or rejects them as memory does.

SQL injection attempts, NUL bytes (which PostgreSQL ``text`` cannot hold: the store escapes
them), the store's own escape mark, a 2 MB string, unicode and lone surrogates go into every
string argument of the tools that write or look up records. The outcome (payload or error text)
and the whole state must equal the memory store's, and no such string may appear in the text of
any SQL statement sent to the database (it travels only as a bound parameter).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from crm_gym.crm.store import Store
from crm_gym.crm.store.sql_schema import ESCAPE
from crm_gym.crm.tools import call_tool
from tests.crm.world import dump_state, resolve
from tests.store.conftest import world_on
from tests.store.test_differential import typed

HUGE = "x" * (2 * 1024 * 1024)
EVIL = [
    "Robert'); DROP TABLE crm_clients;--",
    "x' OR '1'='1",
    '"; DELETE FROM crm_opportunities; --',
    "%(_key)s %s ? :_key $1",
    "a\x00b",
    "\x00",
    "trailing NUL \x00",
    ESCAPE,
    ESCAPE + "0 looks escaped",
    "Zoë – 😀 中文 עברית e\u0301",
    "\ud800 lone surrogate",
    "   ",
    HUGE,
]


def slots(tool: str, base: dict[str, Any], fields: str) -> list[tuple[str, dict, str]]:
    """One case per field of ``fields`` (names separated by spaces)."""
    return [(tool, base, field) for field in fields.split()]


CLIENT = {"name": "N", "email": "n@x.example", "status": "Active"}
OPPORTUNITY = {"name": "D", "client_id": "$acme", "amount": 5, "stage": "Proposal"}
QUOTE = {"opportunity_id": "$opp", "amount": 5, "status": "Draft"}
CONTACT = {"first_name": "A", "last_name": "B", "client_id": "$acme"}
DOCUMENT = {"entity_type": "Client", "entity_id": "$acme", "file_name": "a.pdf"}
NOTE = {"entity_type": "Client", "entity_id": "$acme", "content": "c"}
SLOTS = [
    *slots("create_new_client", CLIENT, "name email status industry phone address owner"),
    *slots("create_new_opportunity", OPPORTUNITY, "name client_id stage owner notes close_date"),
    *slots("create_quote", QUOTE, "opportunity_id status name version quote_prefix"),
    *slots("create_contract", {"client_id": "$acme"}, "client_id status document_url"),
    *slots("create_new_contact", CONTACT, "first_name last_name title email phone notes"),
    *slots("upload_document", DOCUMENT, "entity_type entity_id file_name uploaded_by file_url"),
    *slots("add_note", NOTE, "entity_type entity_id content created_by"),
    *slots("modify_client", {"client_id": "$acme"}, "client_id name email owner"),
    *slots("modify_opportunity", {"opportunity_id": "$opp"}, "opportunity_id notes stage"),
    *slots("modify_quote", {"quote_id": "$quote"}, "quote_id version status"),
    *slots("modify_contact", {"contact_id": "$contact"}, "contact_id title notes"),
    ("client_search", {}, "name"),
    ("opportunity_search", {}, "notes"),
    ("view_opportunity_details", {}, "opportunity_id"),
    ("quote_details", {}, "quote_id"),
    ("delete_quote", {}, "quote_id"),
    ("cancel_quote", {}, "quote_id"),
    ("clone_opportunity", {}, "opportunity_id"),
    ("ensure_client", {"name": "E", "status": "Active"}, "email"),
]


def outcome(store: Store, tool: str, args: dict[str, Any], field: str, evil: str) -> tuple:
    api, ids = world_on(store)
    result = call_tool(api, tool, {**resolve(args, ids), field: evil})
    return result.ok, typed(result.payload), result.error, typed(dump_state(api))


def statements_of(store: Store, sink: list[str]) -> Any:
    engine = store._engine  # type: ignore[attr-defined]

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        sink.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    return lambda: sa.event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("tool, args, field", SLOTS, ids=[f"{t}-{f}" for t, _, f in SLOTS])
def test_hostile_strings_behave_as_on_the_memory_store(
    all_stores: dict[str, Store], tool: str, args: dict, field: str
) -> None:
    sent: list[str] = []
    stop = [statements_of(store, sent) for name, store in all_stores.items() if name != "memory"]
    try:
        for evil in EVIL:
            expected = outcome(all_stores["memory"], tool, args, field, evil)
            for backend, store in all_stores.items():
                assert outcome(store, tool, args, field, evil) == expected, (backend, evil[:40])
    finally:
        for remove in stop:
            remove()
    assert sent
    for evil in EVIL:
        if len(evil.strip()) >= 6:
            assert not any(evil in statement for statement in sent), evil[:40]


def test_nul_and_escape_mark_are_stored_escaped_on_postgresql(all_stores: dict[str, Store]) -> None:
    store = all_stores["postgresql"]
    api, ids = world_on(store)
    for text in ("a\x00b", ESCAPE + "x", "plain"):
        note = api.add_note("Client", ids["acme"], text)
        assert store.get("Note", note.note_id).content == text  # type: ignore[union-attr]
    raw = (
        store._conn.exec_driver_sql("SELECT content FROM pg_temp.crm_notes ORDER BY seq")
        .scalars()
        .all()
    )  # type: ignore[attr-defined]
    assert raw[-3:] == [ESCAPE + "a" + ESCAPE + "0b", ESCAPE + ESCAPE * 2 + "x", "plain"]


def test_tables_survive_injection_attempts(all_stores: dict[str, Store]) -> None:
    for backend, store in all_stores.items():
        api, ids = world_on(store)
        for evil in EVIL[:4]:
            api.create_new_client(evil, None, "Active")
            api.client_search(name=evil)
        assert api.summarize_counts()["opportunities"] == 3, backend
        assert [c.name for c in api.client_search()][-4:] == EVIL[:4], backend
