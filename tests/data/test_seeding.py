"""Seeding from ``initial_entities`` (SPEC-arc.md section 3.4): upstream's builders in
``strict_upstream`` mode, and the full-fidelity default mode."""

from __future__ import annotations

from typing import Any

import pytest

from crm_gym.crm import CrmApi
from crm_gym.crm.entities import ENTITY_TYPES, is_uuid
from crm_gym.data.conversation import Conversation
from crm_gym.data.replay import replay, summarize
from crm_gym.data.seeding import reuse_seeded, seed, seed_conversation, seed_generated
from crm_gym.errors import SeedingError
from crm_gym.generator import generate, to_json
from crm_gym.generator.pools import Dice
from crm_gym.generator.world import seed_world

C1 = "0a1b2c3d-0000-4000-8000-000000000001"
C2 = "0a1b2c3d-0000-4000-8000-000000000002"
K1 = "0a1b2c3d-0000-4000-8000-0000000000c1"
O1 = "0a1b2c3d-0000-4000-8000-0000000000a1"
Q1 = "0a1b2c3d-0000-4000-8000-0000000000b1"
T1 = "0a1b2c3d-0000-4000-8000-0000000000d1"
D1 = "0a1b2c3d-0000-4000-8000-0000000000e1"
N1 = "0a1b2c3d-0000-4000-8000-0000000000f1"
M1 = "0a1b2c3d-0000-4000-8000-000000000101"
MISSING = "0a1b2c3d-0000-4000-8000-0000000009ff"

CLIENT = {"name": "Halden Labs", "email": "ops@haldenlabs.com", "status": "Active"}
OPPORTUNITY = {"name": "Halden LIMS Pilot", "client_id": C1, "amount": 40000, "probability": 30}


def seeded(seed_data: dict[str, Any], strict: bool = True) -> CrmApi:
    api = CrmApi(seed=0, strict_upstream=strict)
    seed(api, {"seed_data": seed_data})
    return api


def one(seed_data: dict[str, Any], kind: str, key: str, strict: bool = True) -> dict[str, Any]:
    record = seeded(seed_data, strict).store.get(kind, key)
    assert record is not None, f"{kind} {key} was not seeded"
    return record.model_dump()


def counts(api: CrmApi) -> dict[str, int]:
    return {k: v for k, v in api.summarize_counts().items() if v}


# ---- nothing to seed -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "entities", [{}, {"seed_data": {}}, {"seed_data": None}, {"client_id": C1}]
)
def test_absent_or_empty_seed_data_seeds_nothing(entities):
    api = CrmApi(strict_upstream=True)
    seed(api, entities)
    assert counts(api) == {}


# ---- strict_upstream: Client ---------------------------------------------------------------------
def test_strict_client_defaults():
    client = one({"Client": {C1: {"name": "  Halden Labs  "}}}, "Client", C1)
    assert client["name"] == "Halden Labs"
    assert client["status"] == "Active"
    assert client["industry"] == "Technology"
    assert client["owner"] == "Unassigned Owner"
    assert client["email"] is None and client["phone"] is None


def test_strict_client_copies_email_and_phone_and_drops_the_rest():
    meta = {
        **CLIENT,
        "status": "Prospect",
        "industry": "Biotech",
        "phone": "+1-555-0100",
        "address": "1 Lab Way",
        "created_date": "2024-05-01T10:00:00",
        "tier": "gold",
    }
    client = one({"Client": {C1: meta}}, "Client", C1)
    assert (client["status"], client["industry"]) == ("Prospect", "Biotech")
    assert (client["email"], client["phone"]) == ("ops@haldenlabs.com", "+1-555-0100")
    assert client["address"] is None and client["created_date"] is None


@pytest.mark.parametrize("status", ["Dormant", "active", " Active", None])
def test_strict_client_invalid_status_becomes_active(status):
    assert (
        one({"Client": {C1: {"name": "Halden", "status": status}}}, "Client", C1)["status"]
        == "Active"
    )


def test_strict_client_owner_falls_back_to_owner_name():
    assert (
        one({"Client": {C1: {"name": "H", "owner_name": "Ines"}}}, "Client", C1)["owner"] == "Ines"
    )
    meta = {"name": "H", "owner": "Raj", "owner_name": "Ines"}
    assert one({"Client": {C1: meta}}, "Client", C1)["owner"] == "Raj"


@pytest.mark.parametrize("meta", [{}, {"name": "   "}, {"name": 42}, {"name": None}])
def test_strict_client_needs_a_name(meta):
    with pytest.raises(SeedingError, match=f"^Client {C1} missing human-readable name metadata.$"):
        seeded({"Client": {C1: meta}})


# ---- strict_upstream: Contact --------------------------------------------------------------------
def test_strict_contact_copies_fields_and_falls_back_to_the_first_client():
    meta = {
        "first_name": "Ana",
        "last_name": "Ruiz",
        "email": "ana@haldenlabs.com",
        "phone": "555-0101",
        "title": "CTO",
        "notes": "met at expo",
    }
    data = {"Client": {C2: {"name": "First"}, C1: {"name": "Second"}}, "Contact": {K1: meta}}
    contact = one(data, "Contact", K1)
    assert contact["client_id"] == C2  # the first key of seed_data.Client
    assert (contact["email"], contact["phone"], contact["title"]) == (
        "ana@haldenlabs.com",
        "555-0101",
        "CTO",
    )
    assert contact["notes"] is None
    assert (
        one({**data, "Contact": {K1: {**meta, "client_id": C1}}}, "Contact", K1)["client_id"] == C1
    )


def test_strict_contact_errors():
    with pytest.raises(SeedingError, match="^Contact seeding requires a client_id.$"):
        seeded({"Contact": {K1: {"first_name": "Ana", "last_name": "Ruiz"}}})
    clients = {"Client": {C1: {"name": "H"}}}
    for field, meta in (
        ("first_name", {"last_name": "Ruiz"}),
        ("last_name", {"first_name": "Ana"}),
    ):
        expected = f"^Contact {K1} missing required metadata field '{field}'.$"
        with pytest.raises(SeedingError, match=expected):
            seeded({**clients, "Contact": {K1: meta}})


# ---- strict_upstream: Opportunity ----------------------------------------------------------------
def opportunity(strict: bool = True, **meta: Any) -> dict[str, Any]:
    data = {"Client": {C1: CLIENT}, "Opportunity": {O1: {**OPPORTUNITY, **meta}}}
    return one(data, "Opportunity", O1, strict)


def test_strict_opportunity_defaults_and_dropped_fields():
    opp = opportunity(
        notes="warm", owner="Raj", close_date="2026-01-31", created_at="2024-01-01T00:00:00"
    )
    assert opp["stage"] == "Qualification"
    assert (opp["amount"], opp["probability"]) == (40000.0, 30.0)
    assert isinstance(opp["amount"], float) and isinstance(opp["probability"], float)
    assert (opp["notes"], opp["owner"]) == ("warm", "Raj")
    assert opp["close_date"] is None and opp["created_at"] is None


@pytest.mark.parametrize(
    "stage, stored",
    [
        ("Proposal", "Proposal"),
        ("Negotiation", "Negotiation"),
        ("Won", "Qualification"),
        ("Closed-Won", "Qualification"),
        ("Closed-Lost", "Qualification"),
    ],
)
def test_strict_opportunity_stage_rules(stage, stored):
    assert opportunity(stage=stage)["stage"] == stored


@pytest.mark.parametrize(
    "given, stored", [(150, 99.0), (0, 1.0), (-5, 1.0), (50.7, 50.0), (99, 99.0)]
)
def test_strict_opportunity_probability_is_int_converted_and_clamped(given, stored):
    assert opportunity(probability=given)["probability"] == stored


def test_strict_opportunity_client_falls_back_to_the_first_client():
    data = {
        "Client": {C1: CLIENT},
        "Opportunity": {O1: {"name": "X", "amount": 1, "probability": 5}},
    }
    assert one(data, "Opportunity", O1)["client_id"] == C1


@pytest.mark.parametrize(
    "meta, message",
    [
        ({"amount": None}, f"^Opportunity {O1} missing amount metadata.$"),
        ({"amount": "lots"}, f"^Opportunity {O1} has non-numeric amount metadata: 'lots'"),
        ({"probability": None}, f"^Opportunity {O1} missing probability metadata.$"),
        ({"name": ""}, f"^Opportunity {O1} missing"),
    ],
)
def test_strict_opportunity_errors(meta, message):
    data = {"Client": {C1: CLIENT}, "Opportunity": {O1: {**OPPORTUNITY, **meta}}}
    with pytest.raises(SeedingError, match=message):
        seeded(data)


def test_strict_opportunity_needs_a_client():
    with pytest.raises(SeedingError, match="^Opportunity seeding requires a client_id.$"):
        seeded({"Opportunity": {O1: {"name": "X", "amount": 1, "probability": 5}}})


# ---- strict_upstream: Quote, Contract, Document --------------------------------------------------
BASE = {"Client": {C1: CLIENT}, "Opportunity": {O1: OPPORTUNITY}}


def test_strict_quote_defaults_and_dropped_fields():
    meta = {
        "opportunity_id": O1,
        "amount": 120000,
        "version": "1.0",
        "valid_until": "2025-06-30",
        "quote_prefix": "HAL",
    }
    quote = one({**BASE, "Quote": {Q1: meta}}, "Quote", Q1)
    assert quote["status"] == "Draft"
    assert quote["amount"] == 120000.0
    assert quote["name"] == f"Quote {Q1[:8]}"
    assert (
        quote["version"] is None and quote["valid_until"] is None and quote["quote_prefix"] is None
    )


@pytest.mark.parametrize(
    "status, stored", [("Sent", "Sent"), ("Accepted", "Draft"), (None, "Draft")]
)
def test_strict_quote_status(status, stored):
    meta = {"opportunity_id": O1, "amount": 5, "status": status, "name": "Named"}
    quote = one({**BASE, "Quote": {Q1: meta}}, "Quote", Q1)
    assert (quote["status"], quote["name"]) == (stored, "Named")


def test_strict_quote_errors():
    with pytest.raises(SeedingError, match="^Quote seeding requires an opportunity_id.$"):
        seeded({**BASE, "Quote": {Q1: {"amount": 5}}})
    with pytest.raises(SeedingError, match=f"^Quote {Q1} missing amount metadata.$"):
        seeded({**BASE, "Quote": {Q1: {"opportunity_id": O1}}})


@pytest.mark.parametrize(
    "meta, status, value",
    [
        ({}, "Active", 75000.0),
        ({"status": "Pending", "value": 90000}, "Pending", 90000.0),
        ({"status": "Signed", "value": 0}, "Active", 75000.0),
        ({"value": "n/a"}, "Active", 75000.0),
    ],
)
def test_strict_contract_defaults(meta, status, value):
    contract = one({**BASE, "Contract": {T1: meta}}, "Contract", T1)
    assert (contract["status"], contract["value"], contract["client_id"]) == (status, value, C1)
    assert contract["opportunity_id"] is None
    linked = one({**BASE, "Contract": {T1: {"opportunity_id": O1}}}, "Contract", T1)
    assert linked["opportunity_id"] == O1


def test_strict_contract_needs_a_client():
    with pytest.raises(SeedingError, match="^Contract seeding requires a client_id.$"):
        seeded({"Contract": {T1: {"value": 5}}})


def test_strict_document_defaults():
    document = one({"Document": {D1: {}}}, "Document", D1)
    assert document["entity_type"] == "Opportunity"
    assert is_uuid(document["entity_id"])
    assert document["file_name"] == f"document-{D1[:8]}.pdf"
    meta = {"entity_type": "Client", "entity_id": C1, "file_name": "msa.pdf", "uploaded_by": "Ines"}
    document = one({**BASE, "Document": {D1: meta}}, "Document", D1)
    assert (document["entity_type"], document["entity_id"]) == ("Client", C1)
    assert (document["file_name"], document["uploaded_by"]) == ("msa.pdf", None)


def test_strict_mode_ignores_notes_and_companies():
    data = {
        **BASE,
        "Note": {N1: {"entity_type": "Client", "entity_id": C1, "content": "hi"}},
        "Company": {M1: {"name": "Vantage Routing"}},
    }
    assert counts(seeded(data)) == {"clients": 1, "opportunities": 1}


def test_strict_mode_runs_no_tool_rules():
    data = {
        "Client": {C1: CLIENT, C2: {**CLIENT, "email": "OPS@haldenlabs.com"}},
        "Quote": {Q1: {"opportunity_id": MISSING, "amount": 20_000_000}},
    }
    api = seeded(data)
    assert counts(api) == {"clients": 2, "quotes": 1}


def test_strict_mode_still_validates_the_models():
    with pytest.raises(SeedingError, match="value is not a valid email address"):
        seeded({"Client": {C1: {"name": "H", "email": "not-an-email"}}})
    with pytest.raises(SeedingError, match="client_id must be a valid UUID string."):
        seeded({"Client": {"client-1": {"name": "H"}}})


def test_types_are_seeded_in_upstream_order_and_json_order_within_a_type():
    data = {"Opportunity": {O1: OPPORTUNITY}, "Client": {C2: {"name": "B"}, C1: {"name": "A"}}}
    api = seeded(data)
    assert list(api.list_clients()) == [C2, C1]
    assert api.store.get("Opportunity", O1).client_id == C1  # type: ignore[union-attr]


def test_a_seeding_error_fails_the_conversation_at_turn_one():
    conversation = Conversation.model_validate(
        {
            "conversation_id": "bad-seed",
            "initial_entities": {"seed_data": {"Client": {C1: {"email": "a@b.com"}}}},
            "turns": [{"turn_id": 1, "expected_tool": "list_clients"}],
        }
    )
    result = replay(conversation, strict_upstream=True)
    assert not result.passed and result.turns == []
    assert result.error == f"Client {C1} missing human-readable name metadata."
    (failure,) = summarize([result])["failures"]
    assert (failure["turn_id"], failure["tool"]) == (1, None)


# ---- default mode: full fidelity -----------------------------------------------------------------
def test_default_mode_keeps_every_known_field():
    client = one(
        {"Client": {C1: {**CLIENT, "address": "1 Lab Way", "tier": "gold"}}}, "Client", C1, False
    )
    assert client["address"] == "1 Lab Way"
    assert (client["industry"], client["owner"]) == ("Technology", "Unassigned Owner")
    opp = opportunity(strict=False, close_date="2026-01-31")
    assert str(opp["close_date"]) == "2026-01-31"
    meta = {
        "opportunity_id": O1,
        "amount": 5,
        "version": "1.0",
        "valid_until": "2025-06-30",
        "quote_prefix": "HAL",
    }
    quote = one({**BASE, "Quote": {Q1: meta}}, "Quote", Q1, False)
    assert (quote["version"], str(quote["valid_until"]), quote["quote_prefix"]) == (
        "1.0",
        "2025-06-30",
        "HAL",
    )
    contact = {"first_name": "Ana", "last_name": "Ruiz", "notes": "met at expo"}
    assert one({**BASE, "Contact": {K1: contact}}, "Contact", K1, False)["notes"] == "met at expo"


@pytest.mark.parametrize("stage", ["Closed-Won", "Closed-Lost"])
def test_default_mode_keeps_closed_stages(stage):
    assert opportunity(strict=False, stage=stage)["stage"] == stage


def test_default_mode_applies_the_same_builder_rules():
    assert opportunity(strict=False, stage="Won", probability=150)["stage"] == "Qualification"
    assert opportunity(strict=False, probability=150)["probability"] == 99.0
    with pytest.raises(SeedingError, match=f"^Client {C1} missing human-readable name metadata.$"):
        seeded({"Client": {C1: {}}}, strict=False)


def test_default_mode_seeds_notes_and_companies():
    data = {
        **BASE,
        "Note": {N1: {"entity_type": "Opportunity", "entity_id": O1, "content": "Pilot ok"}},
        "Company": {M1: {"name": "Vantage Routing", "type": "Competitor"}},
    }
    api = seeded(data, strict=False)
    assert counts(api) == {"clients": 1, "opportunities": 1, "notes": 1, "companies": 1}
    assert api.store.get("Note", N1).content == "Pilot ok"  # type: ignore[union-attr]
    assert api.company_search(type="Competitor")[0].name == "Vantage Routing"


def test_default_mode_rejects_a_duplicate_client_email():
    data = {"Client": {C1: CLIENT, C2: {**CLIENT, "email": "OPS@haldenlabs.com"}}}
    with pytest.raises(
        SeedingError, match=f"Cannot seed Client {C2}: Client already exists with email"
    ):
        seeded(data, strict=False)


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"Contact": {K1: {"first_name": "A", "last_name": "B", "client_id": MISSING}}},
            f"Cannot seed Contact {K1}: Client not found with ID '{MISSING}'.",
        ),
        (
            {"Quote": {Q1: {"opportunity_id": MISSING, "amount": 5}}},
            f"Cannot seed Quote {Q1}: Opportunity not found with ID '{MISSING}'.",
        ),
        (
            {"Contract": {T1: {"opportunity_id": MISSING}}},
            f"Cannot seed Contract {T1}: Opportunity not found with ID '{MISSING}'.",
        ),
        (
            {"Note": {N1: {"entity_type": "Quote", "entity_id": MISSING, "content": "x"}}},
            f"Cannot seed Note {N1}: Quote not found with ID '{MISSING}'.",
        ),
        ({"Document": {D1: {}}}, f"Cannot seed Document {D1}: Opportunity not found with ID"),
    ],
    ids=["contact", "quote", "contract", "note", "document-default-target"],
)
def test_default_mode_rejects_dangling_references(data, message):
    with pytest.raises(SeedingError, match=message.replace("(", r"\(")):
        seeded({**BASE, **data}, strict=False)


# ---- the generator's own worlds ------------------------------------------------------------------
def test_generated_worlds_seed_exactly_as_validated_seeding():
    """``seed_generated`` skips builders and validation; its records and store are ``seed``'s."""
    rng = Dice("generated worlds")
    for index in range(4000):
        seed_data = seed_world(rng, rich=index % 2 == 0)
        fast, slow = CrmApi(seed=0), seeded(seed_data, strict=False)
        built = seed_generated(fast, seed_data)
        assert built == [(kind, tuple(slow.store.records(kind))) for kind in ENTITY_TYPES]
        for kind, records in built:
            assert records == tuple(fast.store.records(kind))
            for a, b in zip(records, slow.store.records(kind), strict=True):
                assert list(a.__dict__.items()) == list(b.__dict__.items())
                assert a.model_fields_set == b.model_fields_set
                assert a.model_dump_json() == b.model_dump_json()
        assert fast.store.email_index == slow.store.email_index
        assert fast.store.versions == slow.store.versions


def test_generated_companies_get_a_contacts_list_each():
    api = CrmApi(seed=0)
    world = {kind: {} for kind in ENTITY_TYPES}
    world["Company"] = {C1: {"name": "Acme"}, C2: {"name": "Globex"}}
    first, second = dict(seed_generated(api, world))["Company"]
    assert first.contacts == second.contacts == [] and first.contacts is not second.contacts


def test_reused_seed_records_are_the_ones_seeding_inserts():
    """``reuse_seeded`` hands replay the generator's records: the same objects, no rebuilding."""
    built = next(generate(1, 3))
    conversation = Conversation.model_validate_json(to_json(built))
    reuse_seeded(conversation, built.seed_cache[False])
    api = CrmApi(seed=0)
    seed_conversation(api, conversation)
    kind, records = next((kind, records) for kind, records in built.seed_cache[False] if records)
    assert all(any(stored is record for stored in api.store.records(kind)) for record in records)
    assert conversation.seed_cache == {False: built.seed_cache[False]}
