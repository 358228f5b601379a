"""A small populated CRM shared by the tool tests, and a canonical dump of a CRM's state."""

from __future__ import annotations

from datetime import date
from typing import Any

from crm_gym.crm import CrmApi
from crm_gym.crm.entities import ENTITY_TYPES, Company

TODAY = date(2025, 1, 6)  # the VirtualClock's default epoch
MISSING = "00000000-0000-4000-8000-000000000000"  # a valid UUID that no record uses
NEW = "11111111-2222-4333-8444-555555555555"  # a fresh id to pass explicitly
COMPANY_ID = "99999999-9999-4999-8999-999999999999"


def build_world(strict_upstream: bool = False, seed: int = 7) -> tuple[CrmApi, dict[str, str]]:
    """A seeded CRM with one record of every kind (and a few more), plus their ids by nickname."""
    api = CrmApi(seed=seed, strict_upstream=strict_upstream)
    acme = api.create_new_client(
        "Acme Corporation", "team@acme.example", "Active", industry="Manufacturing", owner="dana"
    )
    globex = api.create_new_client("Globex", "info@globex.example", "Prospect", owner="lee")
    opp = api.create_new_opportunity(
        "Q4 Sales Opportunity",
        acme.client_id,
        50000,
        "Qualification",
        owner="dana",
        probability=40,
        close_date="2025-03-31",
    )
    won = api.create_new_opportunity(
        "Renewal 2025", globex.client_id, 75000, "Closed-Won", owner="lee"
    )
    lost = api.create_new_opportunity("Lost Deal", globex.client_id, 20000, "Closed-Lost")
    quote = api.create_quote(opp.opportunity_id, 1000, "Draft", quote_prefix="ACME", version="v1")
    quote2 = api.create_quote(opp.opportunity_id, 2500, "Sent", quote_prefix="BETA")
    contract = api.create_contract(acme.client_id, opp.opportunity_id, value=50000, status="Active")
    contact = api.create_new_contact(
        "John", "Smith", acme.client_id, email="john@acme.example", title="VP Sales"
    )
    doc = api.upload_document(
        "Opportunity", opp.opportunity_id, "proposal.pdf", file_url="https://example.com/p.pdf"
    )
    note = api.add_note("Client", acme.client_id, "Met at the expo")
    api.store.insert("Company", Company(company_id=COMPANY_ID, name="Initech", type="Vendor"))
    ids = {
        "acme": acme.client_id,
        "globex": globex.client_id,
        "opp": opp.opportunity_id,
        "won": won.opportunity_id,
        "lost": lost.opportunity_id,
        "quote": quote.quote_id,
        "quote2": quote2.quote_id,
        "contract": contract.contract_id,
        "contact": contact.contact_id,
        "doc": doc.document_id,
        "note": note.note_id,
        "company": COMPANY_ID,
        "missing": MISSING,
        "new": NEW,
    }
    ids["ACME"] = ids["acme"].upper()
    ids["acme_prefix"] = ids["acme"][:8]
    return api, ids


def resolve(value: Any, ids: dict[str, str]) -> Any:
    """Replace ``"$nickname"`` strings (at any depth) by the id they name."""
    if isinstance(value, str) and value.startswith("$") and value[1:] in ids:
        return ids[value[1:]]
    if isinstance(value, dict):
        return {key: resolve(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, ids) for item in value]
    return value


def dump_state(api: CrmApi) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every record of every kind, in store order, as ``(key, model_dump())`` pairs."""
    return {
        kind: [(key, record.model_dump()) for key, record in api.store.items(kind)]
        for kind in ENTITY_TYPES
    }
