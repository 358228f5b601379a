"""Moves that change the CRM (the ``crud`` skill): each builds one request that must succeed.

A move reads the scene (what exists, what the conversation already talked about) and returns an
``Intent``, or None when the scene has nothing it can act on. Values are new (different from the
stored ones) and always legal, so the planned success is real.
"""

from __future__ import annotations

from typing import Any

from crm_gym.crm.entities import CLIENT_STATUSES, CLOSED_STAGES, CONTRACT_STATUSES, OPEN_STAGES
from crm_gym.generator import pools
from crm_gym.generator.intents import Intent, Mention, turn_template
from crm_gym.generator.scene import Scene

ATTACHABLE = ("Client", "Opportunity", "Quote", "Contract")
NOTABLE = ("Client", "Contact", "Opportunity", "Quote", "Contract")


def is_open(deal: Any) -> bool:
    """A deal whose stage, amount, probability and close date may still change."""
    return deal.stage not in CLOSED_STAGES


def fresh_email(scene: Scene, name: str) -> str:
    """A company email no client uses yet (as the CRM's duplicate-email rule sees it)."""
    taken = scene.api._clients_with_email
    email = pools.company_email(scene.rng, name)
    while taken(email):
        email = pools.company_email(scene.rng, pools.company_name(scene.rng))
    return email


Options = dict[str, tuple[float, Any]]
"""Optional values of a request: field -> (chance, draw function taking the generator)."""


def _extras(scene: Scene, values: dict[str, Any], options: Options) -> None:
    """Add optional values, each with its own chance (draw functions take the generator)."""
    for key, (p, draw) in options.items():
        if scene.rng.chance(p):
            values[key] = draw(scene.rng)


_CLIENT_EXTRAS: Options = {
    "industry": (0.4, lambda r: r.pick(pools.INDUSTRIES)),
    "phone": (0.15, pools.phone),
    "owner": (0.2, lambda r: r.pick_name(pools.OWNERS)),
}
_DEAL_EXTRAS: Options = {
    "probability": (0.55, pools.probability),
    "close_date": (0.4, pools.future_date),
    "owner": (0.2, lambda r: r.pick_name(pools.OWNERS)),
    "notes": (0.1, pools.note_text),
}
_CONTRACT_EXTRAS: Options = {
    "start_date": (0.7, lambda r: pools.future_date(r, 0, 60)),
    "value": (0.8, lambda r: pools.amount(r, 5_000, 1_500_000)),
    "status": (0.7, lambda r: r.pick(CONTRACT_STATUSES)),
}
_NOTE_EXTRAS: Options = {"created_by": (0.3, lambda r: r.pick_name(pools.OWNERS))}


def _client_values(scene: Scene) -> dict[str, Any]:
    name = pools.company_name(scene.rng)
    values = {
        "name": name,
        "email": fresh_email(scene, name),
        "status": scene.rng.pick(CLIENT_STATUSES),
    }
    _extras(scene, values, _CLIENT_EXTRAS)
    return values


def new_client(scene: Scene) -> Intent:
    """Create a client with a fresh email."""
    values = _client_values(scene)
    return Intent("create_new_client", dict(values), values, learns="created")


def find_or_add_client(scene: Scene) -> Intent:
    """Get-or-create: an existing client's email (returns it) or a new client."""
    known = scene.pick("Client", lambda c: c.email is not None and c.status is not None)
    if known is not None and scene.rng.chance(0.5):
        record = scene.record(known)
        values = {"name": record.name, "email": record.email, "status": record.status}
        return Intent("ensure_client", dict(values), values, learns="confirmed")
    values = _client_values(scene)
    values = {key: values[key] for key in ("name", "email", "status")}
    return Intent("ensure_client", dict(values), values, learns="set up")


def new_contact(scene: Scene) -> Intent | None:
    """A new person at a client."""
    client = scene.pick("Client")
    if client is None:
        return None
    first, last = pools.person(scene.rng)
    values: dict[str, Any] = {"first_name": first, "last_name": last}
    company = client.name or "client"
    _extras(
        scene,
        values,
        {
            "title": (0.7, lambda r: r.pick(pools.TITLES)),
            "email": (0.6, lambda r: pools.person_email(r, first, last, company)),
            "phone": (0.2, pools.phone),
        },
    )
    args = {"first_name": first, "last_name": last, "client_id": client.arg}
    args.update({k: v for k, v in values.items() if k not in args})
    return Intent("create_new_contact", args, values, {"client": client}, learns="created")


def deal_values(
    scene: Scene, client_name: str, stages: tuple[str, ...] = OPEN_STAGES
) -> dict[str, Any]:
    """Name, amount and stage of a new deal, with some optional fields."""
    rng = scene.rng
    values = {
        "name": pools.deal_name(rng, client_name),
        "amount": pools.amount(rng),
        "stage": rng.pick(stages),
    }
    _extras(scene, values, _DEAL_EXTRAS)
    return values


def new_deal(scene: Scene, stages: tuple[str, ...] = OPEN_STAGES) -> Intent | None:
    """A new opportunity for a client."""
    client = scene.pick("Client")
    if client is None:
        return None
    values = deal_values(scene, client.name or "New", stages)
    return deal_intent(client, values)


def deal_intent(client: Mention, values: dict[str, Any]) -> Intent:
    """The create_new_opportunity intent for these values (upstream's argument order)."""
    args = {
        "name": values.get("name"),
        "client_id": client.arg,
        "amount": values.get("amount"),
        "stage": values.get("stage"),
    }
    args = {k: v for k, v in args.items() if k in values or k == "client_id"}
    args.update({k: v for k, v in values.items() if k not in args})
    return Intent("create_new_opportunity", args, values, {"client": client}, learns="created")


def new_closed_deal(scene: Scene) -> Intent | None:
    """A deal recorded as already won or lost (allowed: only edits of closed deals are locked)."""
    return new_deal(scene, CLOSED_STAGES)


def new_quote(scene: Scene) -> Intent | None:
    """A quote for a deal, priced near the deal's amount."""
    deal = scene.pick("Opportunity")
    if deal is None:
        return None
    rng, record = scene.rng, scene.record(deal)
    base = int(record.amount or 50_000)
    values = {
        "amount": pools.amount(rng, max(500, base // 2), min(10_000_000, max(1_000, base * 2))),
        "status": rng.pick(("Draft", "Draft", "Sent", "Approved")),
    }
    _extras(
        scene,
        values,
        {
            "name": (0.3, lambda r: f"{record.name} Quote {r.pick(('A', 'B', 'v2', 'Final'))}"),
            "version": (0.2, lambda r: r.pick(("1.0", "2.0", "1.1", "3"))),
            "valid_until": (0.3, pools.future_date),
            "quote_prefix": (0.3, lambda r: prefix(r, record.name)),
        },
    )
    args = {"opportunity_id": deal.arg, "amount": values["amount"], "status": values["status"]}
    args.update({k: v for k, v in values.items() if k not in args})
    return Intent("create_quote", args, values, {"deal": deal}, learns="created")


def prefix(rng: Any, name: str) -> str:
    """A quote prefix such as ``NOR-2025`` or ``Q-ATL``."""
    head = pools.slug(name)[:3].upper()
    return rng.pick(
        (f"{head}-2025", f"Q-{head}", f"{head}Q", f"{head}-{int(rng.integers(10, 99))}")
    )


def new_contract(scene: Scene) -> Intent | None:
    """A contract for a client, often tied to one of its deals."""
    deal = scene.pick("Opportunity")
    client = (
        _client_of(scene, deal)
        if deal is not None and scene.rng.chance(0.6)
        else scene.pick("Client")
    )
    if client is None:
        return None
    rng = scene.rng
    values: dict[str, Any] = {}
    mentions = {"client": client}
    if deal is not None and scene.record(deal).client_id == client.key:
        mentions["deal"] = deal
    _extras(scene, values, _CONTRACT_EXTRAS)
    if "start_date" in values and rng.chance(0.8):
        values["end_date"] = pools.future_date(rng, 365, 1100)
    if rng.chance(0.15):
        values["document_url"] = (
            f"https://docs.example.com/contracts/{pools.slug(client.name or 'c')}.pdf"
        )
    args = {"client_id": client.arg}
    if "deal" in mentions:
        args["opportunity_id"] = mentions["deal"].arg
    args.update(values)
    return Intent("create_contract", args, values, mentions, learns="created")


def _client_of(scene: Scene, deal: Mention) -> Mention:
    """The deal's client, named through the deal's turn when the deal came from one."""
    client_id = scene.record(deal).client_id
    if deal.turn is not None and scene.rng.chance(0.5):
        template = turn_template(deal.turn, "client_id")
        name = scene.mention("Client", client_id).name
        return Mention("Client", client_id, template, name, deal.turn, deal.verb, "Opportunity")
    return scene.mention("Client", client_id)


def upload(scene: Scene) -> Intent | None:
    """A document on a client, deal, quote or contract."""
    kind = scene.rng.pick(ATTACHABLE)
    target = scene.pick(kind) or scene.pick("Client")
    if target is None:
        return None
    rng = scene.rng
    values = {"file_name": pools.file_name(rng, (target.name or "account").split(" ")[0])}
    _extras(
        scene,
        values,
        {
            "file_url": (0.25, lambda r: f"https://files.example.com/{values['file_name']}"),
            "uploaded_by": (0.25, lambda r: r.pick_name(pools.OWNERS)),
        },
    )
    args = {"entity_type": target.kind, "entity_id": target.arg, **values}
    return Intent(
        "upload_document", args, values, {"target": target}, learns="uploaded", canonical=True
    )


def note(scene: Scene) -> Intent | None:
    """A note on a client, contact, deal, quote or contract."""
    kind = scene.rng.pick(NOTABLE)
    target = scene.pick(kind) or scene.pick("Client")
    if target is None:
        return None
    values = {"content": pools.note_text(scene.rng)}
    _extras(scene, values, _NOTE_EXTRAS)
    args = {"entity_type": target.kind, "entity_id": target.arg, **values}
    return Intent("add_note", args, values, {"target": target}, learns="added", canonical=True)
