"""The seed state of a generated conversation: ``initial_entities["seed_data"]`` of all 8 types.

Seed records carry only the fields upstream's seeding keeps (SPEC-arc.md section 3.4), open
stages only, and always a probability, so clients, contacts, deals, quotes, contracts and
documents mean the same under ``strict_upstream``. Notes and companies (which upstream never
seeds) are included because the default seeding supports them; the linter judges generated
conversations (they carry an ``episode_seed``) by the default seeding, so it reports nothing.
"""

from __future__ import annotations

from typing import Any

from crm_gym.crm import entities
from crm_gym.crm.entities import CLIENT_STATUSES, CONTRACT_STATUSES, OPEN_STAGES
from crm_gym.generator import pools
from crm_gym.generator.pools import Dice

QUOTE_STATUSES = tuple(s for s in entities.QUOTE_STATUSES if s != "Canceled")
"""Seeded quotes are never canceled."""

SeedData = dict[str, dict[str, dict[str, Any]]]

SIZES = {
    "Client": (1, 2),
    "Contact": (0, 2),
    "Opportunity": (0, 3),
    "Quote": (0, 2),
    "Contract": (0, 1),
    "Document": (0, 1),
    "Note": (0, 1),
    "Company": (0, 2),
}
"""Inclusive range of seeded records per entity type."""


def seed_world(rng: Dice, rich: bool = False) -> SeedData:
    """A small, varied CRM: 1-2 clients and what hangs off them (``rich``: at least 2 deals)."""
    seed: SeedData = {}
    count: dict[str, int] = {}
    for kind, (low, high) in SIZES.items():
        seed[kind] = {}
        count[kind] = rng.integers(low, high + 1)
    if rich:
        count["Opportunity"] = max(2, count["Opportunity"])
    emails: set[str] = set()
    for _ in range(count["Client"]):
        _add(seed, "Client", rng, _client(rng, emails))
    clients = list(seed["Client"].items())
    for _ in range(count["Contact"]):
        _add(seed, "Contact", rng, _contact(rng, *rng.pick(clients)))
    for _ in range(count["Opportunity"]):
        _add(seed, "Opportunity", rng, _opportunity(rng, *rng.pick(clients)))
    deals = list(seed["Opportunity"].items())
    for _ in range(count["Quote"] if deals else 0):
        _add(seed, "Quote", rng, _quote(rng, *rng.pick(deals)))
    for _ in range(count["Contract"]):
        _add(seed, "Contract", rng, _contract(rng, clients, deals))
    _attachments(seed, rng, count)
    for _ in range(count["Company"]):
        _add(seed, "Company", rng, _company(rng))
    return seed


def _add(seed: SeedData, kind: str, rng: Dice, record: dict[str, Any]) -> None:
    seed[kind][pools.new_uuid(rng)] = record


def _client(rng: Dice, emails: set[str]) -> dict[str, Any]:
    name = pools.company_name(rng)
    email = pools.company_email(rng, name)
    while email in emails:
        email = pools.company_email(rng, pools.company_name(rng))
    emails.add(email)
    record = {
        "name": name,
        "email": email,
        "status": rng.pick(CLIENT_STATUSES),
        "industry": rng.pick(pools.INDUSTRIES),
    }
    if rng.chance(0.4):
        record["owner"] = rng.pick_name(pools.OWNERS)
    if rng.chance(0.3):
        record["phone"] = pools.phone(rng)
    return record


def _contact(rng: Dice, client_id: str, client: dict[str, Any]) -> dict[str, Any]:
    first, last = pools.person(rng)
    return {
        "first_name": first,
        "last_name": last,
        "title": rng.pick(pools.TITLES),
        "email": pools.person_email(rng, first, last, client["name"]),
        "client_id": client_id,
    }


def _opportunity(rng: Dice, client_id: str, client: dict[str, Any]) -> dict[str, Any]:
    record = {
        "name": pools.deal_name(rng, client["name"]),
        "client_id": client_id,
        "stage": rng.pick(OPEN_STAGES),
        "amount": pools.amount(rng),
        "probability": pools.probability(rng),
    }
    if rng.chance(0.5):
        record["owner"] = rng.pick_name(pools.OWNERS)
    return record


def _quote(rng: Dice, deal_id: str, deal: dict[str, Any]) -> dict[str, Any]:
    value = pools.amount(rng, max(1_000, deal["amount"] // 2), deal["amount"] * 2)
    record = {"opportunity_id": deal_id, "amount": value, "status": rng.pick(QUOTE_STATUSES)}
    if rng.chance(0.5):
        record["name"] = f"{deal['name']} Quote {rng.pick(('A', 'B', 'v1', 'v2', 'Draft'))}"
    return record


def _contract(rng: Dice, clients: list, deals: list) -> dict[str, Any]:
    client_id, _ = rng.pick(clients)
    record = {
        "client_id": client_id,
        "status": rng.pick(CONTRACT_STATUSES),
        "value": pools.amount(rng, 5_000, 1_500_000),
    }
    own = [deal_id for deal_id, deal in deals if deal["client_id"] == client_id]
    if own and rng.chance(0.6):
        record["opportunity_id"] = rng.pick(own)
    return record


def _attachments(seed: SeedData, rng: Dice, count: dict[str, int]) -> None:
    """Documents and notes on records seeded above."""
    targets = [
        (kind, key, record)
        for kind in ("Client", "Opportunity", "Quote", "Contract")
        for key, record in seed[kind].items()
    ]
    for _ in range(count["Document"]):
        kind, key, record = rng.pick(targets)
        stem = _stem(seed, kind, record).split(" ")[0]
        _add(
            seed,
            "Document",
            rng,
            {"entity_type": kind, "entity_id": key, "file_name": pools.file_name(rng, stem)},
        )
    for _ in range(count["Note"]):
        kind, key, _ = rng.pick(targets)
        _add(
            seed,
            "Note",
            rng,
            {
                "entity_type": kind,
                "entity_id": key,
                "content": pools.note_text(rng),
                "created_by": rng.pick_name(pools.OWNERS),
            },
        )


def _stem(seed: SeedData, kind: str, record: dict[str, Any]) -> str:
    """The name a file about this record is named after."""
    if kind == "Quote":
        return seed["Opportunity"][record["opportunity_id"]]["name"]
    if kind == "Contract":
        return seed["Client"][record["client_id"]]["name"]
    return record["name"]


def _company(rng: Dice) -> dict[str, Any]:
    return {
        "name": pools.company_name(rng),
        "type": rng.pick(entities.COMPANY_TYPES),
        "industry": rng.pick(pools.INDUSTRIES),
        "address": pools.address(rng),
    }
