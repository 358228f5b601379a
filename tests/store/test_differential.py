"""Differential tests: the same random tool calls on every store give the same everything.

Hypothesis draws a sequence of tool calls (any of the 38 tools, with arguments that mix the
world's ids, ids the CRM is about to create, junk, enum values, numbers at the rules' edges and
awkward strings) and runs it through ``call_tool`` on the memory store, SQLite (memory and file)
and PostgreSQL, each starting from the same world. Every call must give the same payload or
error text, and the final canonical state (``canonical_state``) and records must be equal.
Values are compared by a typed form, so ``-0.0`` vs ``0.0`` or ``1`` vs ``1.0`` would differ.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_gym.crm.canonical import all_ids, canonical_state
from crm_gym.crm.entities import ENTITY_TYPES
from crm_gym.crm.ids import SeededIds
from crm_gym.crm.store import Store
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import call_tool, tool_names
from tests.crm.world import build_world
from tests.store.conftest import world_on

_, WORLD_IDS = build_world()
_REFERENCE, _ = build_world()
_STREAM = SeededIds(0)
_STREAM.rng.setstate(_REFERENCE.ids.state())  # type: ignore[attr-defined]
UPCOMING = [_STREAM.new_id() for _ in range(6)]
"""The ids the world's CRM will hand out next: later calls can refer to records made earlier."""

TEXTS = (
    ["Acme", "acme corporation", "  padded  ", "", " ", "a\x00b", "\x00", "\U0010ffff0"]
    + ["Robert'); DROP TABLE crm_clients;--", "' OR '1'='1", "%s", ":_key", "😀 Ünïcödé – 中文"]
    + ["Qualification", "Closed", "x" * 300, "\\x00"]
)
EMAILS = (
    ["new@x.example", "NEW@x.example", "team@acme.example"]
    + ["TEAM@Acme.Example", "bad", "ΑΣ@x.example"]
    + ["ας@x.example", "ασ@x.example", None]
)
ENUMS = (
    ["Active", "Prospect", "Inactive", "Qualification", "Closed-Won", "Negotiation", "Draft"]
    + ["Sent", "Canceled", "Pending", "Expired", "Client", "Opportunity", "Quote", "Contract"]
    + ["Contact", "Document", "Partner", " Active", "active", None, 3]
)
DATES = (
    ["2025-03-01", "2025-01-06", "2020-01-01", "2030-12-31"]
    + ["20300101", "bad", "2030-01-01T10:00:00"]
    + ["2025-01-06T09:00:00+02:00", date(2031, 5, 5), datetime(2031, 1, 1)]
)
FILES = ["a.pdf", "deck.PPTX", "b c.pdf", "README", "x.exe", "data.xls", "notes.txt"]

ids = st.sampled_from(sorted(set(WORLD_IDS.values())) + UPCOMING + ["not-a-uuid", "", None])
texts = st.one_of(st.sampled_from(TEXTS), st.text(max_size=8))
numbers = st.one_of(
    st.sampled_from([0, 1, 40, 50.5, 99, 100, 10_000_000, 10_000_001, -0.0, -5, True, "5"]),
    st.integers(-10, 2_000_000),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)


def value_for(name: str) -> st.SearchStrategy[Any]:
    """A strategy for one argument, chosen by the parameter's name."""
    if name.endswith("_id"):
        return ids
    if name in ("email",):
        return st.sampled_from(EMAILS)
    if name in ("status", "stage", "entity_type", "type"):
        return st.sampled_from(ENUMS)
    if name in ("amount", "value", "probability"):
        return numbers
    if name in (
        "close_date",
        "valid_until",
        "start_date",
        "end_date",
        "created_at",
        "created_date",
    ):
        return st.sampled_from(DATES)
    if name == "file_name":
        return st.sampled_from(FILES)
    if name in ("document_url", "file_url"):
        return st.sampled_from(["https://example.com/d.pdf", "not a url", None])
    if name == "quote_ids":
        return st.lists(ids, max_size=3)
    return st.one_of(texts, st.none(), numbers)


def fields_of(tool: str) -> list[str]:
    spec = TOOL_SPECS[tool]
    known = list(ENTITY_TYPES[spec.entity].model_fields) if spec.entity else []
    return sorted(set(spec.params) | set(known)) + ["colour"]


@st.composite
def tool_calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    tool = draw(st.sampled_from(tool_names()))
    spec = TOOL_SPECS[tool]
    args = {name: draw(value_for(name)) for name in spec.required if draw(st.integers(0, 9)) > 0}
    names = fields_of(tool) if spec.open_kwargs else list(spec.optional)
    for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)) if names else []:
        if name == "updates":
            updates = draw(st.lists(st.sampled_from(fields_of(tool)), max_size=2, unique=True))
            args[name] = {field: draw(value_for(field)) for field in updates}
        elif name == "criteria":
            args[name] = {draw(st.sampled_from(fields_of(tool))): draw(texts)}
        else:
            args[name] = draw(value_for(name))
    return tool, args


def typed(value: Any) -> Any:
    """A comparable form that keeps types: ``-0.0`` differs from ``0.0``, ``1`` from ``1.0``."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [typed(item) for item in value]
    if isinstance(value, (float, int, bool, datetime, date)):
        return (type(value).__name__, str(value), repr(value) if isinstance(value, float) else "")
    return value


def run_sequence(store: Store, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list, Any, Any]:
    api, _ = world_on(store)
    known = all_ids(store)
    outcomes = []
    for tool, args in calls:
        result = call_tool(api, tool, args)
        outcomes.append((result.ok, typed(result.payload), result.error))
    records = {kind: typed([r.model_dump() for r in store.records(kind)]) for kind in ENTITY_TYPES}
    return outcomes, canonical_state(store, known), records


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(calls=st.lists(tool_calls(), min_size=1, max_size=12))
def test_same_calls_same_results_on_every_store(all_stores: dict[str, Store], calls: list) -> None:
    expected = run_sequence(all_stores["memory"], calls)
    for backend, store in all_stores.items():
        if backend != "memory":
            outcomes, state, records = run_sequence(store, calls)
            for step, (ours, reference) in enumerate(zip(outcomes, expected[0], strict=True)):
                assert ours == reference, (backend, step, calls[step])
            assert state == expected[1], backend
            assert records == expected[2], backend


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(calls=st.lists(tool_calls(), min_size=1, max_size=8))
def test_restore_after_random_calls_gives_the_start_back(
    all_stores: dict[str, Store], calls: list
) -> None:
    for backend, store in all_stores.items():
        api, _ = world_on(store)
        start = store.snapshot()
        for tool, args in calls:
            call_tool(api, tool, args)
        store.restore(start)
        assert typed(_dump(store)) == typed(_dump_snapshot(start)), backend


def _dump(store: Store) -> dict:
    return {kind: [(key, r.model_dump()) for key, r in store.items(kind)] for kind in ENTITY_TYPES}


def _dump_snapshot(snapshot: Any) -> dict:
    tables, _ = snapshot
    return {
        kind: [(key, r.model_dump()) for key, r in tables[kind].items()] for kind in ENTITY_TYPES
    }
