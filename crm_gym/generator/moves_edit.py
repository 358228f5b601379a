"""Moves that edit, remove or copy existing records, and the rule-abiding edits of ``policy``."""

from __future__ import annotations

from typing import Any, Callable

from crm_gym.crm.entities import CLIENT_STATUSES, CLOSED_STAGES, OPEN_STAGES
from crm_gym.generator import pools
from crm_gym.generator.intents import Intent
from crm_gym.generator.moves_write import (
    deal_intent,
    deal_values,
    fresh_email,
    is_open,
    prefix,
)
from crm_gym.generator.pools import TODAY
from crm_gym.generator.scene import Scene

Draw = Callable[[Scene, Any], Any]
"""Draws a new value for a field from the scene and the current record."""


def _changes(scene: Scene, record: Any, fields: dict[str, Draw], most: int = 3) -> dict[str, Any]:
    """1..``most`` fields with new values (a draw that repeats the stored value is redrawn)."""
    count = 1 if scene.rng.chance(0.6) else int(scene.rng.integers(2, most + 1))
    changes: dict[str, Any] = {}
    keys = list(fields)
    for index in scene.rng.permutation(len(keys)):
        key = keys[index]
        for _ in range(4):
            value = fields[key](scene, record)
            if value != getattr(record, key, None):
                changes[key] = value
                break
        if len(changes) == count:
            break
    return changes


_DEAL_FIELDS: dict[str, Draw] = {
    "stage": lambda s, r: s.rng.pick(tuple(x for x in OPEN_STAGES if x != r.stage)),
    "amount": lambda s, r: pools.amount(s.rng),
    "probability": lambda s, r: pools.probability(s.rng),
    "close_date": lambda s, r: pools.future_date(s.rng),
    "owner": lambda s, r: s.rng.pick_name(pools.OWNERS),
    "notes": lambda s, r: pools.note_text(s.rng),
    "name": lambda s, r: pools.deal_name(s.rng, r.name.split(" ")[0]),
}
_CLIENT_FIELDS: dict[str, Draw] = {
    "status": lambda s, r: s.rng.pick(tuple(x for x in CLIENT_STATUSES if x != r.status)),
    "industry": lambda s, r: s.rng.pick(pools.INDUSTRIES),
    "phone": lambda s, r: pools.phone(s.rng),
    "owner": lambda s, r: s.rng.pick_name(pools.OWNERS),
    "address": lambda s, r: pools.address(s.rng),
    "email": lambda s, r: fresh_email(s, r.name),
}
_QUOTE_FIELDS: dict[str, Draw] = {
    "status": lambda s, r: s.rng.pick(
        tuple(x for x in ("Draft", "Sent", "Approved", "Rejected") if x != r.status)
    ),
    "amount": lambda s, r: pools.amount(s.rng, 1_000, 1_000_000),
    "valid_until": lambda s, r: pools.future_date(s.rng),
    "version": lambda s, r: s.rng.pick(("2.0", "2.1", "3.0", "final")),
    "quote_prefix": lambda s, r: prefix(s.rng, r.name or "quote"),
    "name": lambda s, r: (
        f"{(r.name or 'Quote').split(' Quote')[0]} Quote {s.rng.pick(('Revised', 'v3', 'C'))}"
    ),
}
_CONTACT_FIELDS: dict[str, Draw] = {
    "title": lambda s, r: s.rng.pick(pools.TITLES),
    "email": lambda s, r: pools.person_email(
        s.rng, r.first_name, r.last_name, s.rng.pick_name(pools.NAME_HEADS)
    ),
    "phone": lambda s, r: pools.phone(s.rng),
    "notes": lambda s, r: pools.note_text(s.rng),
    "last_name": lambda s, r: s.rng.pick_name(pools.LAST_NAMES),
}
EDITS: dict[str, tuple[str, dict[str, Draw]]] = {
    "Opportunity": ("modify_opportunity", _DEAL_FIELDS),
    "Client": ("modify_client", _CLIENT_FIELDS),
    "Quote": ("modify_quote", _QUOTE_FIELDS),
    "Contact": ("modify_contact", _CONTACT_FIELDS),
}


def edit(
    scene: Scene,
    kind: str,
    where: Callable[[Any], bool] | None = None,
    fields: dict[str, Draw] | None = None,
) -> Intent | None:
    """Change one to three fields of a record of ``kind``."""
    target = scene.pick(kind, where)
    if target is None:
        return None
    tool, default_fields = EDITS[kind]
    changes = _changes(scene, scene.record(target), fields or default_fields)
    if not changes:
        return None
    args = {f"{kind.lower()}_id": target.arg, **changes}
    return Intent(tool, args, changes, {"target": target}, learns="updated")


def edit_deal(scene: Scene) -> Intent | None:
    """Revise an open deal (stage, amount, probability, close date, owner, notes, name)."""
    return edit(scene, "Opportunity", is_open)


def edit_client(scene: Scene) -> Intent | None:
    """Update a client's status, industry, phone, owner, address or email."""
    return edit(scene, "Client")


def edit_quote(scene: Scene) -> Intent | None:
    """Revise a quote that is not canceled."""
    return edit(scene, "Quote", lambda q: q.status != "Canceled")


def edit_contact(scene: Scene) -> Intent | None:
    """Update a contact's title, email, phone, notes or last name."""
    return edit(scene, "Contact")


def close_deal(scene: Scene) -> Intent | None:
    """Mark an open deal won or lost (its money fields lock from then on)."""
    deal = scene.pick("Opportunity", is_open)
    if deal is None:
        return None
    stage = scene.rng.pick(CLOSED_STAGES)
    changes: dict[str, Any] = {"stage": stage}
    if scene.rng.chance(0.3):
        changes["probability"] = 99 if stage == "Closed-Won" else 1
    return _deal_change(deal, changes, learns="closed")


def _deal_change(deal: Any, changes: dict[str, Any], learns: str) -> Intent:
    """``modify_opportunity`` of ``deal`` with ``changes``; the scene learns ``learns``."""
    return Intent(
        "modify_opportunity",
        {"opportunity_id": deal.arg, **changes},
        changes,
        {"target": deal},
        learns=learns,
    )


def closed_touch(scene: Scene) -> Intent | None:
    """Edit what stays editable on a closed deal: notes, owner or name."""
    fields = {key: _DEAL_FIELDS[key] for key in ("notes", "owner", "name")}
    return edit(scene, "Opportunity", lambda d: not is_open(d), fields)


def boundary_deal(scene: Scene) -> Intent | None:
    """A new deal right at a rule's limit: probability 1 or 99, closing today, or 10,000,000."""
    client = scene.pick("Client")
    if client is None:
        return None
    values = deal_values(scene, client.name or "New")
    values.update(_limit(scene))
    return deal_intent(client, values)


def boundary_edit(scene: Scene) -> Intent | None:
    """Move an open deal to a rule's limit (the largest allowed amount, today's close date...)."""
    deal = scene.pick("Opportunity", is_open)
    if deal is None:
        return None
    changes = _limit(scene)
    return _deal_change(deal, changes, learns="updated")


def _limit(scene: Scene) -> dict[str, Any]:
    key = scene.rng.pick(("probability", "close_date", "amount"))
    if key == "probability":
        return {"probability": scene.rng.pick((1, 99))}
    return {"close_date": TODAY.isoformat()} if key == "close_date" else {"amount": 10_000_000}


def _by_id(
    scene: Scene,
    tool: str,
    kind: str,
    where: Callable[[Any], bool] | None = None,
    learns: str | None = None,
) -> Intent | None:
    target = scene.pick(kind, where)
    if target is None:
        return None
    return Intent(tool, {f"{kind.lower()}_id": target.arg}, {}, {"target": target}, learns=learns)


def void_quote(scene: Scene) -> Intent | None:
    """Cancel a quote that is still live."""
    return _by_id(scene, "cancel_quote", "Quote", lambda q: q.status != "Canceled", "canceled")


def _unreferenced(scene: Scene, kind: str) -> Callable[[Any], bool]:
    """Records nothing points at, whose deletion is the same under upstream's rules.

    crm-gym cascades deletes to quotes, files and notes; upstream left orphans.
    """
    pk = f"{kind.lower()}_id"
    used = {r.entity_id for k in ("Document", "Note") for r in scene.records(k)}
    if kind == "Opportunity":
        used |= {r.opportunity_id for k in ("Quote", "Contract") for r in scene.records(k)}
    return lambda record: getattr(record, pk) not in used


def discard_quote(scene: Scene) -> Intent | None:
    """Delete a quote that has no files or notes."""
    return _by_id(scene, "delete_quote", "Quote", _unreferenced(scene, "Quote"))


def delete_deal(scene: Scene) -> Intent | None:
    """Delete a deal that has no quotes, contracts, files or notes."""
    return _by_id(scene, "delete_opportunity", "Opportunity", _unreferenced(scene, "Opportunity"))


def clone_deal(scene: Scene) -> Intent | None:
    """Copy a deal under a new id."""
    return _by_id(scene, "clone_opportunity", "Opportunity", learns="cloned")
