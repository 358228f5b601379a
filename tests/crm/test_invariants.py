"""Property tests: random, mostly wrong tool calls never break the CRM.

Calls are drawn as recipes: a tool name and arguments in which ``Ref(kind, index)`` stands for
"the index-th existing record of that kind" (resolved against the state at call time), mixed with
garbage ids, wrong types, unicode (lone surrogates included, as JSON can carry them), huge
strings, NaN and infinities, nested containers, unknown keys and near-miss enum strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from crm_gym.crm import CrmApi, entities
from crm_gym.crm.entities import ENTITY_TYPES, FOREIGN_KEYS, PRIMARY_KEYS
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import ToolResult, call_tool
from tests.crm.world import MISSING, build_world, dump_state

SETTINGS = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    report_multiple_bugs=False,  # shrink one failure (minutes per extra failure otherwise)
)

ENUMS: dict[str, dict[str, Any]] = {
    "Client": {"status": entities.ClientStatus},
    "Opportunity": {"stage": entities.OpportunityStage},
    "Quote": {"status": entities.QuoteStatus},
    "Contract": {"status": entities.ContractStatus},
    "Document": {"entity_type": entities.DocumentEntityType},
    "Note": {"entity_type": entities.NoteEntityType},
    "Company": {"type": entities.CompanyType},
}
"""Entity -> enum field -> its Literal type."""

MUTATING = {
    "create_new_client",
    "create_new_opportunity",
    "create_quote",
    "create_contract",
    "create_new_contact",
    "upload_document",
    "add_note",
    "ensure_client",
    "modify_opportunity",
    "modify_client",
    "modify_quote",
    "modify_contact",
    "delete_opportunity",
    "delete_quote",
    "cancel_quote",
    "clone_opportunity",
}
READ_ONLY = set(TOOL_SPECS) - MUTATING

# ---- recipes ------------------------------------------------------------------------------------
KINDS = list(ENTITY_TYPES)
ID_KINDS = {f"{kind.lower()}_id": kind for kind in KINDS}
DATES = ("close_date", "valid_until", "start_date", "end_date")
STAMPS = ("created_date", "created_at", "uploaded_at")


@dataclass(frozen=True)
class Ref:
    """The ``index``-th existing record of ``kind`` (modulo the count), optionally mangled."""

    kind: str
    index: int
    mangle: str = ""


def materialize(value: Any, api: CrmApi) -> Any:
    """Replace every ``Ref`` in ``value`` by an id of the current state."""
    if isinstance(value, Ref):
        keys = [key for key, _ in api.store.items(value.kind)]
        key = keys[value.index % len(keys)] if keys else MISSING
        return {"": key, "upper": key.upper(), "pad": f" {key} ", "prefix": key[:8]}[value.mangle]
    if isinstance(value, dict):
        return {key: materialize(item, api) for key, item in value.items()}
    if isinstance(value, list):
        return [materialize(item, api) for item in value]
    return value


HUGE = ["x" * 100_000, " " * 5_000, "é" * 70_000, "a@" + "b" * 3_000 + ".com", "a." * 2_000]
ENUM_WORDS = sorted(
    {word for kind in ENUMS.values() for enum in kind.values() for word in get_args(enum)}
) + ["Cancelled", " Active", "active", "Closed", "Won", "", "Document", "Company", "opportunity"]
GOOD_EMAILS = [
    "a@acme.example",
    "A@ACME.EXAMPLE",
    "sales@x.example",
    "Sales@X.Example",
    " c@c.example ",
    "team@acme.example",
    "ü@ü.example",
    "info@globex.example",
]
BAD_EMAILS = ["bad", "a@b.test", "a@", "@x.example", "a b@x.example", 5]
GOOD_FILES = ["doc.pdf", "deck.PPTX", "n.txt", " s.csv ", "a.b.key", "Q4_plan-v2.docx"]
BAD_FILES = ["a b.pdf", "README", "x.xls", "trailing.", "", "dir/x.pdf"]
GOOD_URLS = ["https://example.com/d.pdf", "ftp://x.example/y", "http://localhost:8080/a?b=c"]
BAD_URLS = ["not a url", "", "example.com/x", 3]
NAMES = ["Acme", "  Acme Corp  ", "Q4 Deal", "John", "☃ Ünï", "Globex"]

text = st.text(st.characters(categories=["L", "N", "P", "S", "Z", "Cc", "Cs"]), max_size=12)
printable = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities included
    text,
    st.sampled_from(HUGE + ENUM_WORDS + [MISSING]),
    st.dates(),
    st.datetimes(),
)
wild = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
refs = st.builds(
    Ref, st.sampled_from(KINDS), st.integers(0, 20), st.sampled_from(["", "upper", "pad", "prefix"])
)


@cache
def ref_to(kind: str) -> st.SearchStrategy:
    return st.builds(Ref, st.just(kind), st.integers(0, 20))


def enum_of(entity: str | None, field: str) -> tuple[str, ...]:
    return get_args(ENUMS.get(entity or "", {}).get(field, entities.ClientStatus))


@cache
def valid_value(field: str, entity: str | None) -> st.SearchStrategy:
    """Values that pass every rule for this parameter (given the right state)."""
    if field in ID_KINDS:
        return ref_to(ID_KINDS[field])
    if field == "entity_id":
        return st.builds(Ref, st.sampled_from(KINDS[:5]), st.integers(0, 20))
    if field == "amount":
        return st.one_of(st.integers(1, 10_000_000), st.floats(0.01, 10_000_000))
    if field == "value":
        return st.floats(-1e9, 1e9)
    if field == "probability":
        return st.integers(1, 99)
    if field in DATES:
        days = st.dates(date(2025, 1, 6), date(2026, 12, 31))
        return st.one_of(days.map(date.isoformat), days)
    if field in STAMPS:
        return st.sampled_from(["2025-01-01T00:00:00Z", "2024-06-30T12:30:00", None])
    if field in ("status", "stage", "type", "entity_type"):
        return st.sampled_from(enum_of(entity, field))
    simple = {
        "email": st.one_of(
            st.sampled_from([*GOOD_EMAILS, None]), st.integers(0, 999).map("u{}@y.example".format)
        ),
        "file_name": st.sampled_from(GOOD_FILES),
        "file_url": st.sampled_from(GOOD_URLS),
        "document_url": st.sampled_from(GOOD_URLS),
        "quote_ids": st.lists(ref_to("Quote"), max_size=3),
    }
    return simple.get(field, st.one_of(st.sampled_from(NAMES), printable.filter(str.strip)))


@cache
def near_miss(field: str, entity: str | None) -> st.SearchStrategy:
    """Values of the right shape that break a rule: wrong ids, enums, numbers, dates, names."""
    if field in ID_KINDS or field == "entity_id":
        return st.one_of(refs, st.uuids().map(str), st.sampled_from([MISSING, "", "nope", None]))
    if field in ("amount", "value", "probability"):
        return st.sampled_from([0, -1, 10_000_000.01, 50.5, 0.5, 100, "50", None, True, math.nan])
    if field in DATES:
        return st.sampled_from(["2024-12-31", "2030-01-01T10:00:00", "bad", "", 20300101, None])
    if field in STAMPS:
        return st.sampled_from(["yesterday", 10**20, "2025-13-01T00:00:00"])
    simple = {
        "email": st.sampled_from(BAD_EMAILS),
        "file_name": st.sampled_from(BAD_FILES),
        "file_url": st.sampled_from(BAD_URLS),
        "document_url": st.sampled_from(BAD_URLS),
        "quote_ids": st.one_of(st.lists(st.one_of(refs, wild), max_size=3), wild),
    }
    return simple.get(field, st.sampled_from(ENUM_WORDS + [" ", "\t", None, 7, ["x"]]))


@cache
def field_value(field: str, entity: str | None, mode: int) -> st.SearchStrategy:
    """Mode 0: valid; 1: mostly valid; 2: anything at all."""
    valid = valid_value(field, entity)
    if mode == 0:
        return valid
    if mode == 1:
        return st.one_of(valid, valid, near_miss(field, entity))
    return st.one_of(valid, near_miss(field, entity), refs, wild)


@cache
def field_map(fields: tuple[str, ...], entity: str | None, mode: int) -> st.SearchStrategy:
    """A dict of updates or criteria: known fields and, unless valid, a few strangers."""
    names = fields if mode == 0 else fields + ("colour", "self", "model_config", "criteria")
    entry = st.sampled_from(names).flatmap(
        lambda name: st.tuples(st.just(name), field_value(name, entity, mode))
    )
    return st.lists(entry, max_size=3).map(dict)


@st.composite
def tool_call(draw: st.DrawFn, names: tuple[str, ...] = tuple(TOOL_SPECS)) -> tuple[Any, Any]:
    """One recipe: a tool name and its arguments (occasionally not a dict at all)."""
    name = draw(st.sampled_from(names))
    spec = TOOL_SPECS[name]
    mode = draw(st.integers(0, 2))
    fields = tuple(param for param in spec.optional if param not in ("updates", "criteria"))
    args: dict[Any, Any] = {}
    for param in spec.params:
        if param in spec.required and (mode == 0 or draw(st.integers(0, 19)) > 0):
            args[param] = draw(field_value(param, spec.entity, mode))
        elif param not in spec.required and draw(st.integers(0, 9)) < 2:
            if param in ("updates", "criteria"):
                args[param] = draw(field_map(fields, spec.entity, mode) if mode < 2 else wild)
            else:
                args[param] = draw(field_value(param, spec.entity, mode))
    if isinstance(args.get("entity_type"), str) and args["entity_type"] in KINDS and mode < 2:
        args["entity_id"] = draw(ref_to(args["entity_type"]))  # a target of the right kind
    roll = draw(st.integers(0, 29))
    if roll == 0:
        strangers = st.one_of(text, st.integers(), st.sampled_from(["self", "document_url", "foo"]))
        args.update(draw(st.dictionaries(strangers, wild, max_size=2)))
    elif roll == 1:
        return draw(st.sampled_from([name, "drop_tables", None])), draw(wild)
    elif roll == 2 and spec.entity:  # an explicit, often taken, primary key
        key = st.one_of(ref_to(spec.entity), st.uuids().map(str))
        args[PRIMARY_KEYS[spec.entity]] = draw(key)
    return name, args


# ---- what must always hold ----------------------------------------------------------------------
def assert_plain(value: Any) -> None:
    """A payload holds plain values only (no models, no enum objects)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)
    else:
        assert value is None or type(value) in (str, int, float, bool, date, datetime)


def assert_records_valid(api: CrmApi) -> None:
    """Every record is its model, under its own key, re-validates unchanged, with valid enums."""
    for kind, model in ENTITY_TYPES.items():
        for key, record in api.store.items(kind):
            assert type(record) is model
            assert getattr(record, PRIMARY_KEYS[kind]) == key
            dump = record.model_dump()
            assert model.model_validate(dump).model_dump() == dump
            for field, enum in ENUMS.get(kind, {}).items():
                value = getattr(record, field)
                valid = value is None or (type(value) is str and value in get_args(enum))
                assert valid, (kind, field, value)
            for number in ("amount", "value", "probability"):
                value = getattr(record, number, None)
                assert value is None or (type(value) is float and math.isfinite(value))


def assert_references_resolve(api: CrmApi) -> None:
    """Foreign keys and document/note targets point at existing records."""
    keys = {kind: {key for key, _ in api.store.items(kind)} for kind in KINDS}
    for kind, links in FOREIGN_KEYS.items():
        for record in api.store.records(kind):
            for field, target in links.items():
                value = getattr(record, field)
                assert value in keys[target] or (value is None and field == "opportunity_id"), (
                    kind,
                    field,
                )
    for kind in ("Document", "Note"):
        for record in api.store.records(kind):
            assert record.entity_id in keys[record.entity_type], kind  # type: ignore[attr-defined]


def assert_emails_unique(api: CrmApi) -> None:
    """Client emails are unique case-insensitively, and the email index agrees with the records."""
    emails: dict[str, list[str]] = {}
    for key, client in api.store.items("Client"):
        if client.email is not None:  # type: ignore[attr-defined]
            emails.setdefault(client.email.lower(), []).append(key)  # type: ignore[attr-defined]
    assert all(len(keys) == 1 for keys in emails.values()), emails
    index = api.store.email_index  # type: ignore[attr-defined]
    assert {email: sorted(keys) for email, keys in index.items()} == emails


def run_call(api: CrmApi, name: Any, arguments: Any) -> ToolResult:
    """One call through ``call_tool``: it must return a well-formed result, never raise."""
    result = call_tool(api, name, arguments)
    assert isinstance(result, ToolResult)
    if result.ok:
        assert result.error is None
        assert_plain(result.payload)
    else:
        assert isinstance(result.error, str) and result.error
        assert result.payload is None
    return result


# ---- the state machines -------------------------------------------------------------------------
class CrmMachine(RuleBasedStateMachine):
    """Default mode: failed calls change nothing, references and emails stay consistent."""

    strict = False

    @initialize(seed=st.integers(0, 3))
    def start(self, seed: int) -> None:
        self.api, _ = build_world(strict_upstream=self.strict, seed=seed)

    @rule(call=tool_call())
    def call(self, call: tuple[Any, Any]) -> None:
        name, arguments = call
        arguments = materialize(arguments, self.api)
        before = dump_state(self.api)
        result = run_call(self.api, name, arguments)
        partial = self.strict and str(name).startswith("modify_")  # upstream was not atomic
        if (not result.ok and not partial) or name in READ_ONLY:
            assert dump_state(self.api) == before, result.error

    @invariant()
    def records_valid(self) -> None:
        assert_records_valid(self.api)

    @invariant()
    def consistent(self) -> None:
        if not self.strict:
            assert_references_resolve(self.api)
            assert_emails_unique(self.api)


class StrictCrmMachine(CrmMachine):
    """``strict_upstream=True``: upstream's warts are allowed; crashes and bad records are not."""

    strict = True


TestCrmMachine = CrmMachine.TestCase
TestCrmMachine.settings = SETTINGS
TestStrictCrmMachine = StrictCrmMachine.TestCase
TestStrictCrmMachine.settings = settings(SETTINGS, max_examples=40)


# ---- determinism -------------------------------------------------------------------------------
def replay(seed: int, strict: bool, calls: list[tuple[Any, Any]]) -> tuple[Any, ...]:
    api, ids = build_world(strict_upstream=strict, seed=seed)
    outcomes = []
    for name, arguments in calls:
        result = run_call(api, name, materialize(arguments, api))
        outcomes.append((result.ok, result.payload, result.error))
    return ids, outcomes, dump_state(api), api.clock.now()


@settings(SETTINGS, max_examples=40)
@given(seed=st.integers(0, 2**32), strict=st.booleans(), calls=st.lists(tool_call(), max_size=25))
def test_same_seed_same_calls_same_state(seed: int, strict: bool, calls: list) -> None:
    first = replay(seed, strict, calls)
    assert replay(seed, strict, calls) == first


def test_different_seeds_give_different_ids() -> None:
    assert build_world(seed=1)[1]["acme"] != build_world(seed=2)[1]["acme"]
