"""Happy paths of all 38 tools (SPEC-arc.md section 2.2), on ``CrmApi`` and via ``call_tool``.

Each case names a tool, its arguments (``"$nickname"`` stands for an id of ``build_world``) and
what the payload must be. Records are checked field by field with exact types, so ``50000.0``
must be a float and enums plain strings.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from crm_gym.crm import CrmApi
from crm_gym.crm.clock import DEFAULT_EPOCH
from crm_gym.crm.entities import ENTITY_TYPES, PRIMARY_KEYS
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import call_tool, to_payload, tool_names
from crm_gym.errors import CrmError
from tests.crm.world import TODAY, build_world, dump_state, resolve

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class Rec(dict):
    """Expect one record: these fields with these exact values and types."""


class Keys(list):
    """Expect a list of records with these primary keys, in this order."""


class Compared(dict):
    """Expect a ``compare_quote_details`` dict: the quotes (by key), the other entries as given."""


class Listing(list):
    """Expect a ``list_*`` dict: these keys in order, each mapping to the record with that key."""


def check(payload: Any, expected: Any, ids: dict[str, str]) -> None:
    if isinstance(expected, Rec):
        assert isinstance(payload, dict)
        for field, value in resolve(dict(expected), ids).items():
            assert payload[field] == value, field
            assert type(payload[field]) is type(value), field
    elif isinstance(expected, Keys):
        assert [_key(record) for record in payload] == resolve(list(expected), ids)
    elif isinstance(expected, Listing):
        assert list(payload) == resolve(list(expected), ids)
        assert all(_key(record) == key for key, record in payload.items())
    elif isinstance(expected, Compared):
        assert list(payload) == ["quotes", "amounts", "statuses", "total_amount"]
        assert [_key(record) for record in payload["quotes"]] == resolve(expected["quotes"], ids)
        assert {**payload, "quotes": None} == {**expected, "quotes": None}
    else:
        assert payload == resolve(expected, ids)
        assert type(payload) is type(expected)


def _key(record: dict[str, Any]) -> str:
    return next(value for field, value in record.items() if field in PRIMARY_KEYS.values())


def run(api: CrmApi, tool: str, args: dict[str, Any], via: str) -> Any:
    if via == "api":
        return to_payload(getattr(api, tool)(**args))
    result = call_tool(api, tool, args)
    assert result.ok, result.error
    assert result.error is None
    return result.payload


# ---- the table ----------------------------------------------------------------------------------
HAPPY = [
    # create
    ("create_new_client",
     {"name": "  Beta Ltd  ", "email": " Ops@Beta.EXAMPLE ", "status": "Prospect",
                           "industry": " Retail ", "phone": "555-0100"},
     Rec(name="Beta Ltd", email="Ops@beta.example", status="Prospect", industry="Retail",
         phone="555-0100", address=None, owner=None)),
    ("create_new_client", {"name": "No Mail", "email": None, "status": "Inactive"},
     Rec(name="No Mail", email=None, status="Inactive")),
    ("create_new_client", {"name": "Sales Co", "email": "Sales@Sales.Example", "status": "Active"},
     Rec(email="sales@sales.example")),  # RFC 2142 role mailbox: email-validator lower-cases it
    ("create_new_client", {"name": "Given Id", "email": "id@given.example", "status": "Active",
                           "client_id": "$new", "owner": "kim", "address": "1 Main St"},
     Rec(client_id="$new", owner="kim", address="1 Main St")),
    ("ensure_client", {"email": "TEAM@Acme.Example", "name": "Ignored", "status": "Inactive"},
     Rec(client_id="$acme", name="Acme Corporation", status="Active", email="team@acme.example")),
    ("ensure_client", {"name": "Umbrella", "email": "hq@umbrella.example", "status": "Active"},
     Rec(name="Umbrella", email="hq@umbrella.example", status="Active")),
    ("create_new_opportunity", {"name": " Big Deal ", "client_id": "$acme", "amount": 50000,
                                "stage": "Prospecting", "probability": 50, "owner": "dana",
                                "close_date": "2025-02-01", "notes": " call back "},
     Rec(name="Big Deal", client_id="$acme", amount=50000.0, stage="Prospecting", probability=50.0,
         close_date=date(2025, 2, 1), notes="call back", owner="dana")),
    ("create_new_opportunity", {"name": "Edge", "client_id": "$globex", "amount": 10_000_000,
                                "stage": "Closed-Lost", "close_date": "2025-01-06",
                                "probability": 99.0},
     Rec(amount=10_000_000.0, stage="Closed-Lost", close_date=TODAY, probability=99.0)),
    ("create_new_opportunity", {"name": "Bools", "client_id": "$acme", "amount": True,
                                "stage": "Qualification", "probability": True},
     Rec(amount=1.0, probability=1.0, close_date=None)),
    ("create_new_opportunity", {"name": "Tiny", "client_id": "$acme", "amount": 0.01,
                                "stage": "Negotiation", "probability": 1},
     Rec(amount=0.01, probability=1.0)),
    ("create_quote", {"opportunity_id": "$opp", "amount": 1200, "status": "Draft"},
     Rec(opportunity_id="$opp", name="Q4 Sales Opportunity Quote", amount=1200.0, status="Draft")),
    ("create_quote",
     {"opportunity_id": "$won", "amount": 99.5, "status": "Canceled", "name": " Custom ",
                      "version": "v2", "valid_until": "2020-01-01", "quote_prefix": "ZED"},
     Rec(name="Custom", amount=99.5, status="Canceled", version="v2",
         valid_until=date(2020, 1, 1), quote_prefix="ZED")),
    ("create_contract", {"client_id": "$globex"},
     Rec(client_id="$globex", opportunity_id=None, status="Pending", value=None)),
    ("create_contract", {"client_id": "$acme", "opportunity_id": "$opp", "value": -5,
                         "start_date": "2025-06-01", "end_date": "2025-01-01", "status": "Expired",
                         "document_url": "https://example.com/c.pdf"},
     Rec(opportunity_id="$opp", value=-5.0, start_date=date(2025, 6, 1), end_date=date(2025, 1, 1),
         status="Expired", document_url="https://example.com/c.pdf")),
    ("create_contract", {"client_id": "$acme", "opportunity_id": None, "status": "Active"},
     Rec(opportunity_id=None, status="Active")),
    ("create_new_contact", {"first_name": " Jane ", "last_name": "Doe ", "client_id": "$acme",
                            "email": "Jane.Doe@ACME.example", "title": "CFO", "notes": "new"},
     Rec(first_name="Jane", last_name="Doe", client_id="$acme", email="Jane.Doe@acme.example",
         title="CFO", notes="new", phone=None)),
    ("create_new_contact", {"first_name": "Johnny", "last_name": "Smith", "client_id": "$globex",
                            "email": "john@acme.example"},  # contact emails may repeat
     Rec(email="john@acme.example", client_id="$globex")),
    ("upload_document",
     {"entity_type": "Quote", "entity_id": "$quote", "file_name": "Q4_deck-v2.PPTX",
                         "file_url": "https://example.com/deck.pptx", "uploaded_by": "dana"},
     Rec(entity_type="Quote", entity_id="$quote", file_name="Q4_deck-v2.PPTX",
         file_url="https://example.com/deck.pptx", uploaded_by="dana")),
    ("upload_document", {"entity_type": "Opportunity", "entity_id": "$opp",
                         "document_url": "https://example.com/document.pdf",
                         "file_name": "document.pdf"},
     Rec(entity_type="Opportunity", file_name="document.pdf",
         file_url="https://example.com/document.pdf")),
    ("upload_document", {"entity_type": "Client", "entity_id": "$acme", "file_name": " terms.txt "},
     Rec(entity_type="Client", file_name="terms.txt", file_url=None)),
    ("upload_document",
     {"entity_type": "Contract", "entity_id": "$contract", "file_name": "a.b.key"},
     Rec(entity_type="Contract", entity_id="$contract", file_name="a.b.key")),
    ("add_note", {"entity_type": "Contact", "entity_id": "$contact", "content": "  Prefers email  ",
                  "created_by": "dana"},
     Rec(entity_type="Contact", entity_id="$contact", content="Prefers email", created_by="dana")),
    ("add_note", {"entity_type": "Quote", "entity_id": "$quote2", "content": "sent"},
     Rec(entity_type="Quote", entity_id="$quote2", content="sent")),
    ("add_note", {"entity_type": "Contract", "entity_id": "$contract", "content": "renew"},
     Rec(entity_type="Contract")),
    ("add_note", {"entity_type": "Opportunity", "entity_id": "$won", "content": "won it"},
     Rec(entity_type="Opportunity", entity_id="$won")),
    # modify
    ("modify_opportunity", {"opportunity_id": "$opp", "stage": "Negotiation", "probability": 70},
     Rec(opportunity_id="$opp", stage="Negotiation", probability=70.0, amount=50000.0)),
    ("modify_opportunity", {"opportunity_id": "$opp", "updates": {"amount": 60000, "owner": "x"},
                            "owner": "  kim  "},
     Rec(amount=60000.0, owner="kim")),
    ("modify_opportunity",
     {"opportunity_id": "$opp", "updates": {"probability": 500}, "probability": 5},
     Rec(probability=5.0)),  # a flat key overrides the same key of ``updates``
    ("modify_opportunity", {"opportunity_id": "$opp", "updates": {}},
     Rec(name="Q4 Sales Opportunity", amount=50000.0, stage="Qualification", probability=40.0)),
    ("modify_opportunity",
     {"opportunity_id": "$won", "notes": "signed", "owner": "kim", "name": "Renewal"},
     Rec(notes="signed", owner="kim", name="Renewal", stage="Closed-Won")),
    ("modify_opportunity", {"opportunity_id": "$opp", "stage": "Closed-Won", "amount": 55000,
                            "close_date": "2025-01-06"},
     Rec(stage="Closed-Won", amount=55000.0, close_date=TODAY)),
    ("modify_opportunity", {"opportunity_id": "$opp", "client_id": "$globex", "probability": 99.0},
     Rec(client_id="$globex", probability=99.0)),
    ("modify_client", {"client_id": "$globex", "status": "Active", "industry": "Technology"},
     Rec(client_id="$globex", status="Active", industry="Technology", name="Globex")),
    ("modify_client", {"client_id": "$acme", "updates": {"email": "Team@ACME.Example"}},
     Rec(email="Team@acme.example")),  # its own email in another case is not a duplicate
    ("modify_client", {"client_id": "$acme", "email": None, "phone": " 555 "},
     Rec(email=None, phone="555")),
    ("modify_quote", {"quote_id": "$quote", "amount": 120000, "status": "Sent"},
     Rec(quote_id="$quote", amount=120000.0, status="Sent", name="Q4 Sales Opportunity Quote")),
    ("modify_quote",
     {"quote_id": "$quote", "updates": {"version": "v9", "valid_until": "2026-01-31"}},
     Rec(version="v9", valid_until=date(2026, 1, 31))),
    ("modify_contact", {"contact_id": "$contact", "title": " Senior VP Sales "},
     Rec(contact_id="$contact", title="Senior VP Sales", first_name="John")),
    ("modify_contact", {"contact_id": "$contact", "client_id": "$globex", "email": "J@X.Example"},
     Rec(client_id="$globex", email="J@x.example")),
    # delete, cancel, clone
    ("delete_opportunity", {"opportunity_id": "$won"}, True),
    ("delete_quote", {"quote_id": "$quote2"}, True),
    ("cancel_quote", {"quote_id": "$quote"},
     Rec(quote_id="$quote", status="Canceled", amount=1000.0)),
    ("clone_opportunity", {"opportunity_id": "$opp"},
     Rec(name="Q4 Sales Opportunity (Clone)", client_id="$acme", stage="Qualification",
         amount=50000.0, close_date=date(2025, 3, 31), owner="dana", probability=40.0, notes=None)),
    # search: AND of criteria, case-insensitive substring on strings, equality otherwise
    ("client_search", {"name": "acme"}, Keys(["$acme"])),
    ("client_search", {"email": "ACME.EX"}, Keys(["$acme"])),
    ("client_search", {"status": "pro"}, Keys(["$globex"])),
    ("client_search", {}, Keys(["$acme", "$globex"])),
    ("client_search", {"name": ""}, Keys(["$acme", "$globex"])),  # "" matches any non-null string
    ("client_search", {"industry": ""}, Keys(["$acme"])),  # ...but not null
    ("client_search", {"industry": None}, Keys(["$globex"])),  # None matches null fields
    ("client_search", {"name": "acme", "status": "Prospect"}, Keys([])),
    ("client_search", {"colour": "red"}, Keys([])),  # unknown field: no match, no error
    ("client_search", {"model_extra": None}, Keys([])),  # a pydantic attribute is not a field
    ("client_search", {"client_id": "$acme_prefix"}, Keys(["$acme"])),  # ids are strings too
    ("opportunity_search", {"stage": "closed"}, Keys(["$won", "$lost"])),
    ("opportunity_search", {"amount": 50000}, Keys(["$opp"])),  # 50000 == 50000.0
    ("opportunity_search", {"probability": 40, "owner": "DANA"}, Keys(["$opp"])),
    ("opportunity_search", {"close_date": date(2025, 3, 31)}, Keys(["$opp"])),
    ("opportunity_search", {"close_date": "2025-03-31"}, Keys([])),  # date != str
    ("opportunity_search", {"notes": None}, Keys(["$opp", "$won", "$lost"])),
    ("opportunity_search", {"client_id": "$globex"}, Keys(["$won", "$lost"])),
    ("contact_search", {"first_name": "jo"}, Keys(["$contact"])),
    ("contact_search", {"last_name": "Jones"}, Keys([])),
    ("quote_search", {"opportunity_id": "$opp"}, Keys(["$quote", "$quote2"])),
    ("quote_search", {"status": "DRAFT", "amount": 1000.0}, Keys(["$quote"])),
    ("contract_search", {"client_id": "$acme"}, Keys(["$contract"])),
    ("contract_search", {"status": "Pending"}, Keys([])),
    ("company_search", {"name": "init"}, Keys(["$company"])),
    ("company_search", {"type": "vendor", "contacts": []}, Keys(["$company"])),
    ("company_search", {"name": "Hooli"}, Keys([])),
    # read
    ("view_opportunity_details", {"opportunity_id": "$opp"},
     Rec(opportunity_id="$opp", name="Q4 Sales Opportunity", amount=50000.0,
         stage="Qualification")),
    ("opportunity_details", {"opportunity_id": "$won"},
     Rec(opportunity_id="$won", stage="Closed-Won")),
    ("quote_details", {"quote_id": "$quote2"},
     Rec(quote_id="$quote2", amount=2500.0, status="Sent")),
    # compare and aggregate
    ("compare_quotes", {"quote_ids": ["$quote2", "$quote", "$quote2"]},
     Keys(["$quote2", "$quote", "$quote2"])),
    ("compare_quotes", {"quote_ids": []}, Keys([])),
    ("compare_quote_details", {"quote_ids": ["$quote2", "$quote"]},
     Compared(quotes=["$quote2", "$quote"], amounts=[2500.0, 1000.0], statuses=["Sent", "Draft"],
              total_amount=3500.0)),
    ("compare_quote_details", {"quote_ids": ["$quote", "$quote"]},
     Compared(quotes=["$quote", "$quote"], amounts=[1000.0, 1000.0], statuses=["Draft", "Draft"],
              total_amount=2000.0)),
    ("summarize_opportunities", {},
     {"total_count": 3, "total_amount": 145000.0,
      "by_stage": {"Qualification": 1, "Closed-Won": 1, "Closed-Lost": 1},
      "by_owner": {"dana": 1, "lee": 1}}),  # the owner-less deal is left out of by_owner
    ("summarize_opportunities", {"client_id": "$acme"},
     {"total_count": 1, "total_amount": 50000.0, "by_stage": {"Qualification": 1},
      "by_owner": {"dana": 1}}),
    ("summarize_opportunities", {"stage": "Prospecting"},
     {"total_count": 0, "total_amount": 0, "by_stage": {}, "by_owner": {}}),
    ("quote_prefixes", {}, ["ACME", "BETA"]),
    # bulk listing
    ("list_clients", {}, Listing(["$acme", "$globex"])),
    ("list_contacts", {}, Listing(["$contact"])),
    ("list_opportunities", {}, Listing(["$opp", "$won", "$lost"])),
    ("list_quotes", {}, Listing(["$quote", "$quote2"])),
    ("list_contracts", {}, Listing(["$contract"])),
    ("list_documents", {}, Listing(["$doc"])),
    ("list_notes", {}, Listing(["$note"])),
    ("list_companies", {}, Listing(["$company"])),
    ("summarize_counts", {},
     {"clients": 2, "contacts": 1, "opportunities": 3, "quotes": 2, "contracts": 1, "documents": 1,
      "notes": 1, "companies": 1}),
]  # fmt: skip


def _case_id(case: tuple) -> str:
    tool, args, _ = case
    return f"{tool}({','.join(map(str, args))})"


@pytest.mark.parametrize("via", ["api", "call_tool"])
@pytest.mark.parametrize("tool, args, expected", HAPPY, ids=[_case_id(case) for case in HAPPY])
def test_happy_path(tool: str, args: dict, expected: Any, via: str) -> None:
    api, ids = build_world()
    check(run(api, tool, resolve(args, ids), via), expected, ids)


def test_every_tool_has_a_happy_case() -> None:
    assert {case[0] for case in HAPPY} == set(tool_names())
    assert len(tool_names()) == len(TOOL_SPECS)


# ---- argument shapes through call_tool ----------------------------------------------------------
@pytest.mark.parametrize(
    "tool, args, expected",
    [
        ("client_search", {"criteria": {"name": "Acme Corporation"}}, ["$acme"]),
        ("client_search", {"criteria": {"name": "acme"}, "name": "glob"}, ["$globex"]),  # top wins
        ("opportunity_search", {"criteria": {"stage": "Qualification"}}, ["$opp"]),
        ("opportunity_search", {"criteria": {"owner": "lee"}}, ["$won"]),
        ("contact_search", {"criteria": {"first_name": "John"}}, ["$contact"]),
        ("quote_search", {"criteria": {"opportunity_id": "$opp"}}, ["$quote", "$quote2"]),
        ("contract_search", {"criteria": {"client_id": "$acme"}}, ["$contract"]),
        ("company_search", {"criteria": {"name": "Initech"}}, ["$company"]),
        ("company_search", {"name": "Initech"}, ["$company"]),
        ("client_search", {"criteria": "acme"}, []),  # a non-dict criteria stays a literal kwarg
    ],
)
def test_call_tool_flattens_criteria(tool: str, args: dict, expected: list) -> None:
    api, ids = build_world()
    result = call_tool(api, tool, resolve(args, ids))
    assert result.ok
    assert [_key(record) for record in result.payload] == resolve(expected, ids)


def test_call_tool_summarize_opportunities_criteria() -> None:
    api, ids = build_world()
    result = call_tool(api, "summarize_opportunities", {"criteria": {"client_id": ids["globex"]}})
    assert result.payload["total_count"] == 2
    assert result.payload["by_stage"] == {"Closed-Won": 1, "Closed-Lost": 1}


def test_api_search_takes_criteria_literally() -> None:
    api, _ = build_world()
    assert api.client_search(criteria={"name": "Acme"}) == []


def test_strict_company_search_keeps_literal_criteria() -> None:
    api, _ = build_world(strict_upstream=True)
    assert call_tool(api, "company_search", {"criteria": {"name": "Initech"}}).payload == []
    assert call_tool(api, "client_search", {"criteria": {"name": "acme"}}).ok


def test_tool_result_fields() -> None:
    api, ids = build_world()
    result = call_tool(api, "quote_details", {"quote_id": ids["quote"]})
    assert (result.name, result.arguments, result.ok, result.error) == (
        "quote_details",
        {"quote_id": ids["quote"]},
        True,
        None,
    )
    assert result.payload == api.quote_details(ids["quote"]).model_dump()


# ---- payload shapes -----------------------------------------------------------------------------
def test_record_payload_has_every_field() -> None:
    api, ids = build_world()
    for kind, tool in [("Opportunity", "view_opportunity_details"), ("Quote", "quote_details")]:
        key = ids["opp"] if kind == "Opportunity" else ids["quote"]
        payload = call_tool(api, tool, {PRIMARY_KEYS[kind]: key}).payload
        assert list(payload) == list(ENTITY_TYPES[kind].model_fields)


def test_compare_quote_details_shape() -> None:
    api, ids = build_world()
    api.modify_quote(ids["quote2"], status="Approved")
    payload = call_tool(api, "compare_quote_details", {"quote_ids": [ids["quote2"], ids["quote"]]})
    assert list(payload.payload) == ["quotes", "amounts", "statuses", "total_amount"]
    assert [quote["quote_id"] for quote in payload.payload["quotes"]] == [
        ids["quote2"],
        ids["quote"],
    ]
    assert payload.payload["amounts"] == [2500.0, 1000.0]
    assert payload.payload["statuses"] == ["Approved", "Draft"]
    assert payload.payload["total_amount"] == 3500.0


def test_compare_quote_details_keeps_null_amounts() -> None:
    api, ids = build_world()
    quote = api.create_quote(ids["opp"], 10, "Draft")
    api.store.replace("Quote", quote.quote_id, quote.model_copy(update={"amount": None}))
    details = api.compare_quote_details([quote.quote_id, ids["quote"]])
    assert details["amounts"] == [None, 1000.0]
    assert details["total_amount"] == 1000.0


def test_listing_is_a_copy_of_the_store() -> None:
    api, ids = build_world()
    listing = api.list_clients()
    listing.clear()
    assert api.summarize_counts()["clients"] == 2


def test_search_result_order_is_insertion_order_after_modify() -> None:
    api, ids = build_world()
    api.modify_client(ids["acme"], name="Zeta")
    assert [c.client_id for c in api.client_search()] == [ids["acme"], ids["globex"]]


# ---- side effects -------------------------------------------------------------------------------
def test_new_ids_are_lowercase_uuid4() -> None:
    api, ids = build_world()
    for key in [
        ids[name] for name in ("acme", "opp", "quote", "contract", "contact", "doc", "note")
    ]:
        assert UUID4.fullmatch(key)


def test_timestamps_come_from_the_clock() -> None:
    api = CrmApi(seed=3)
    client = api.create_new_client("A", "a@a.example", "Active")
    opp = api.create_new_opportunity("O", client.client_id, 5, "Prospecting")
    quote = api.create_quote(opp.opportunity_id, 5, "Draft")
    doc = api.upload_document("Quote", quote.quote_id, "q.pdf")
    note = api.add_note("Quote", quote.quote_id, "n")
    stamps = [
        client.created_date,
        opp.created_at,
        quote.created_date,
        doc.uploaded_at,
        note.created_at,
    ]
    assert stamps == [DEFAULT_EPOCH + timedelta(seconds=i) for i in range(5)]


def test_explicit_timestamp_is_kept() -> None:
    api = CrmApi(seed=3)
    client = api.create_new_client("A", None, "Active", created_date="2020-05-01T12:00:00Z")
    assert client.created_date == datetime(2020, 5, 1, 12, tzinfo=timezone.utc)


def test_strict_upstream_leaves_timestamps_null() -> None:
    api, ids = build_world(strict_upstream=True)
    assert api.list_clients()[ids["acme"]].created_date is None
    assert api.view_opportunity_details(ids["opp"]).created_at is None
    assert api.quote_details(ids["quote"]).created_date is None
    assert api.list_documents()[ids["doc"]].uploaded_at is None
    assert api.list_notes()[ids["note"]].created_at is None
    assert api.clone_opportunity(ids["opp"]).created_at is None


def test_same_seed_same_ids_and_timestamps() -> None:
    first, ids_a = build_world()
    second, ids_b = build_world()
    assert ids_a == ids_b
    assert dump_state(first) == dump_state(second)
    assert CrmApi(seed=8).create_new_client("x", None, "Active").client_id != ids_a["acme"]


def test_unseeded_api_uses_random_ids_and_system_clock() -> None:
    before = datetime.now(timezone.utc)
    client = CrmApi().create_new_client("A", None, "Active")
    assert UUID4.fullmatch(client.client_id)
    assert before <= client.created_date <= datetime.now(timezone.utc)


def test_clone_gets_new_id_and_stamp_and_copies_closed_state() -> None:
    api, ids = build_world()
    source = api.view_opportunity_details(ids["won"])
    clone = api.clone_opportunity(ids["won"])
    assert clone.opportunity_id not in (ids["won"], ids["opp"])
    assert UUID4.fullmatch(clone.opportunity_id)
    assert clone.name == "Renewal 2025 (Clone)"
    assert clone.created_at is not None and clone.created_at != source.created_at
    same = ("client_id", "stage", "amount", "close_date", "owner", "probability", "notes")
    assert {f: getattr(clone, f) for f in same} == {f: getattr(source, f) for f in same}
    assert api.summarize_counts()["opportunities"] == 4


def test_clone_copies_a_past_close_date_without_checking() -> None:
    api, ids = build_world()
    api.modify_opportunity(ids["opp"], close_date="2025-01-06")
    api.clock.current += timedelta(days=30)
    assert api.clone_opportunity(ids["opp"]).close_date == TODAY


def test_cancel_quote_is_idempotent() -> None:
    api, ids = build_world()
    assert api.cancel_quote(ids["quote"]).status == "Canceled"
    assert api.cancel_quote(ids["quote"]).status == "Canceled"
    assert api.quote_details(ids["quote"]).status == "Canceled"


def test_modify_returns_and_stores_the_update() -> None:
    api, ids = build_world()
    before = api.view_opportunity_details(ids["opp"])
    after = api.modify_opportunity(ids["opp"], stage="Proposal")
    assert before.stage == "Qualification"  # records handed out are never mutated
    assert api.view_opportunity_details(ids["opp"]) == after


def test_modify_close_date_accepts_date_and_midnight_datetime() -> None:
    api, ids = build_world()
    assert api.modify_opportunity(ids["opp"], close_date=date(2025, 5, 1)).close_date == date(
        2025, 5, 1
    )
    midnight = datetime(2025, 5, 2)
    assert api.modify_opportunity(ids["opp"], close_date=midnight).close_date == date(2025, 5, 2)
    created = api.create_new_opportunity("D", ids["acme"], 1, "Proposal", close_date=midnight)
    assert created.close_date == date(2025, 5, 2)


def test_modify_client_email_moves_the_duplicate_check() -> None:
    api, ids = build_world()
    api.modify_client(ids["acme"], email="new@acme.example")
    assert (
        api.create_new_client("Reuse", "TEAM@acme.example", "Active").email == "TEAM@acme.example"
    )
    assert api.ensure_client(email="NEW@ACME.EXAMPLE").client_id == ids["acme"]


def test_delete_opportunity_cascades() -> None:
    api, ids = build_world()
    api.upload_document("Quote", ids["quote"], "q.pdf")
    api.add_note("Quote", ids["quote2"], "q2")
    api.add_note("Opportunity", ids["opp"], "o")
    kept_note = api.add_note("Opportunity", ids["won"], "other deal")
    assert api.delete_opportunity(ids["opp"]) is True
    assert api.list_opportunities().keys() == {ids["won"], ids["lost"]}
    assert api.list_quotes() == {}
    assert api.list_documents() == {}
    assert list(api.list_notes()) == [ids["note"], kept_note.note_id]
    contract = api.list_contracts()[ids["contract"]]
    assert (contract.client_id, contract.opportunity_id) == (ids["acme"], None)


def test_delete_quote_cascades_to_its_attachments_only() -> None:
    api, ids = build_world()
    api.upload_document("Quote", ids["quote"], "q.pdf")
    api.add_note("Quote", ids["quote"], "q")
    other = api.add_note("Quote", ids["quote2"], "q2")
    assert api.delete_quote(ids["quote"]) is True
    assert list(api.list_quotes()) == [ids["quote2"]]
    assert list(api.list_documents()) == [ids["doc"]]
    assert list(api.list_notes()) == [ids["note"], other.note_id]


def test_strict_upstream_delete_does_not_cascade() -> None:
    api, ids = build_world(strict_upstream=True)
    api.add_note("Quote", ids["quote"], "q")
    before = api.summarize_counts()
    assert api.delete_opportunity(ids["opp"]) is True
    assert api.summarize_counts() == {**before, "opportunities": before["opportunities"] - 1}
    assert api.quote_details(ids["quote"]).opportunity_id == ids["opp"]
    assert api.list_contracts()[ids["contract"]].opportunity_id == ids["opp"]
    assert api.list_documents()[ids["doc"]].entity_id == ids["opp"]
    assert api.delete_quote(ids["quote"]) is True
    assert api.summarize_counts()["notes"] == before["notes"]


def test_strict_upstream_modify_client_allows_duplicate_email() -> None:
    api, ids = build_world(strict_upstream=True)
    updated = api.modify_client(ids["globex"], email="TEAM@acme.example")
    assert updated.email == "TEAM@acme.example"
    emails = [client.email.lower() for client in api.list_clients().values()]
    assert emails == ["team@acme.example", "team@acme.example"]


def test_strict_upstream_modify_skips_foreign_key_checks() -> None:
    api, ids = build_world(strict_upstream=True)
    assert api.modify_contact(ids["contact"], client_id=ids["missing"]).client_id == ids["missing"]
    assert (
        api.modify_quote(ids["quote"], opportunity_id=ids["missing"]).opportunity_id
        == ids["missing"]
    )


def test_strict_upstream_upload_document_with_file_url() -> None:
    api, ids = build_world(strict_upstream=True)
    doc = api.upload_document(
        "Opportunity", ids["opp"], "d.pdf", file_url="https://example.com/d.pdf"
    )
    assert doc.file_url == "https://example.com/d.pdf"


def test_quote_prefixes_are_distinct_sorted_and_non_empty() -> None:
    api, ids = build_world()
    api.create_quote(ids["opp"], 5, "Draft", quote_prefix="ACME")
    api.create_quote(ids["opp"], 5, "Draft", quote_prefix="  ")
    api.create_quote(ids["won"], 5, "Draft", quote_prefix="AAA")
    assert api.quote_prefixes() == ["AAA", "ACME", "BETA"]


@pytest.mark.parametrize(
    "key",
    [
        "ABCDEF01-2345-4678-89AB-CDEF01234567",
        "abcdef0123454678-89abcdef01234567",
        "{abcdef01-2345-4678-89ab-cdef01234567}",
        "urn:uuid:abcdef01-2345-4678-89ab-cdef01234567",
    ],
)
def test_explicit_ids_are_stored_as_given(key: str) -> None:
    api, ids = build_world()
    assert api.create_new_client("Given", None, "Active", client_id=key).client_id == key
    assert api.create_new_contact("A", "B", key).client_id == key
    assert [c.client_id for c in api.client_search(client_id=key)] == [key]
    with pytest.raises(CrmError, match="^Client not found with ID"):
        api.create_new_contact("A", "B", key.lower() if key != key.lower() else key.upper())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="date.fromisoformat is wider from 3.11")
def test_close_date_accepts_what_date_fromisoformat_accepts() -> None:
    api, ids = build_world()
    assert api.modify_opportunity(ids["opp"], close_date="20300102").close_date == date(2030, 1, 2)
    assert api.modify_opportunity(ids["opp"], close_date="2030-W01-1").close_date == date(
        2029, 12, 31
    )
