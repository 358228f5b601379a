"""Seeding a CRM from a conversation's ``initial_entities`` (SPEC-arc.md section 3.4).

Records go straight into the store (no tool rules), through builders that fill upstream's
defaults. With ``strict_upstream`` the builders drop what upstream dropped (quote version, close
dates, addresses...) and downgrade closed stages; by default they keep every field the entity
model knows, also seed notes and companies, and check emails and references like the tools do.
The generator's own worlds, valid by construction, skip builders and validation
(``seed_generated``).
"""

from __future__ import annotations

import math
import uuid
from typing import Any, Callable, NamedTuple, Optional

from crm_gym.crm import CrmApi
from crm_gym.crm.entities import (
    CLIENT_STATUSES,
    CLOSED_STAGES,
    CONTRACT_STATUSES,
    ENTITY_TYPES,
    FIELD_NAMES,
    FOREIGN_KEYS,
    OPEN_STAGES,
    PRIMARY_KEYS,
    QUOTE_STATUSES,
    Entity,
)
from crm_gym.data.conversation import Conversation
from crm_gym.errors import CrmError, SeedingError

UPSTREAM_ORDER = ("Client", "Contact", "Opportunity", "Quote", "Contract", "Document")
FULL_ORDER = UPSTREAM_ORDER + ("Note", "Company")

Meta = dict[str, Any]


def seed_conversation(api: CrmApi, conversation: Conversation) -> None:
    """Seed ``api`` (an empty CRM) with a conversation's entities, built once and then reused.

    Seeded records are validated the first time and cached on the conversation; later episodes
    insert the same record objects, which is safe because the CRM never mutates a stored record.
    """
    cache = conversation.seed_cache
    records = cache.get(api.strict_upstream)
    if records is None:
        scratch = CrmApi(strict_upstream=api.strict_upstream, seed=0)
        seed(scratch, conversation.initial_entities)
        records = [(kind, tuple(scratch.store.records(kind))) for kind in ENTITY_TYPES]
        cache[api.strict_upstream] = records
    for kind, kind_records in records:
        for record in kind_records:
            api.store.insert(kind, record)


def seed(api: CrmApi, initial_entities: dict[str, Any]) -> None:
    """Insert the seed records of ``initial_entities["seed_data"]`` into ``api``'s store.

    Raises:
        SeedingError: with upstream's message when a builder rejects a record.
    """
    seed_data = initial_entities.get("seed_data") if isinstance(initial_entities, dict) else None
    if not isinstance(seed_data, dict) or not seed_data:
        return
    strict = api.strict_upstream
    clients = seed_data.get("Client") or {}
    fallback_client = next(iter(clients), None)
    insert = api.store.insert
    for kind in UPSTREAM_ORDER if strict else FULL_ORDER:
        entries = seed_data.get(kind) or {}
        if not isinstance(entries, dict):
            raise SeedingError(
                f"seed_data.{kind} must map ids to records, got {type(entries).__name__}."
            )
        build, pk, validate = BUILDERS[kind], PRIMARY_KEYS[kind], _VALIDATORS[kind]
        for key, meta in entries.items():
            fields = build(key, meta if isinstance(meta, dict) else {}, fallback_client, api)
            if not strict:
                fields = keep_known(kind, meta, fields)
            fields[pk] = key
            record = _validate(kind, validate, fields)
            if not strict:
                _check_references(api, kind, record)
            insert(kind, record)


_VALIDATORS = {kind: model.__pydantic_validator__ for kind, model in ENTITY_TYPES.items()}
"""Each entity model's validator, called directly (``Model(**fields)`` adds a Python frame)."""


def _validate(kind: str, validate: Any, fields: Meta) -> Entity:
    try:
        return validate.validate_python(fields)
    except ValueError as exc:
        raise SeedingError(f"Cannot seed {kind} {fields.get(PRIMARY_KEYS[kind])}: {exc}") from None


Seeded = list[tuple[str, tuple[Entity, ...]]]


def seed_generated(api: CrmApi, seed_data: dict[str, dict[str, Meta]]) -> Seeded:
    """Seed a default-mode CRM with the generator's own world (``world.seed_world``).

    The world's records are valid by construction and already hold what the builders keep
    (trimmed names, known statuses, positive amounts, existing references), so each becomes its
    record in one step, without builders or validation (a test keeps them equal to ``seed``'s).
    Returns the records by kind, in type order (what ``seed_conversation`` caches).
    """
    insert = api.store.insert
    seeded = []
    for kind in FULL_ORDER:
        records = []
        for key, meta in seed_data[kind].items():
            record = _world_record(kind, key, meta)
            insert(kind, record)
            records.append(record)
        seeded.append((kind, tuple(records)))
    return seeded


def reuse_seeded(conversation: Conversation, seeded: Seeded) -> None:
    """Give ``seed_conversation`` the default-mode records a seeding already built for this task.

    For the generator: its simulation seeds exactly as replay will (``seed_generated``), so
    replay can insert those records instead of validating the seed data again. The records must
    be the ones ``seed_generated`` returned for ``conversation.initial_entities``.
    """
    conversation.seed_cache[False] = seeded


class _Kind(NamedTuple):
    """What turns a world record of one entity type into its entity record."""

    model: type[Entity]
    base: Meta
    """Every field's default in field order (a factory's field holds a placeholder), except
    ``gaps``: what the builder sets for the fields a world record may leave out."""
    gaps: tuple[str, ...]
    factories: tuple[tuple[str, Callable[..., Any]], ...]
    """Fields whose default is made per record (``Company.contacts``' list)."""
    floats: tuple[str, ...]
    """Float fields (the world sets each): pydantic makes the world's ints floats."""
    pk: str


UNASSIGNED_OWNER = "Unassigned Owner"
"""The owner upstream's seeding gives a client without one."""

_GAPS: dict[str, Meta] = {
    "Client": {"owner": UNASSIGNED_OWNER, "phone": None},
    "Contact": {"phone": None},
    "Opportunity": {"owner": None, "notes": None},
    "Contract": {"opportunity_id": None},
}


def _kind(kind: str, model: type[Entity]) -> _Kind:
    fields = model.model_fields.items()
    gaps = _GAPS.get(kind, {})
    return _Kind(
        model,
        {name: gaps.get(name, field.default) for name, field in fields},
        tuple(gaps),
        tuple((name, f.default_factory) for name, f in fields if f.default_factory),
        tuple(name for name, f in fields if f.annotation == Optional[float]),
        PRIMARY_KEYS[kind],
    )


_KINDS = {kind: _kind(kind, model) for kind, model in ENTITY_TYPES.items()}


def _world_record(kind: str, key: str, meta: Meta) -> Entity:
    """The record ``seed`` makes of a world record, built directly."""
    spec = _KINDS[kind]
    values = {**spec.base, **meta, spec.pk: key}
    fields_set = {*spec.gaps, *meta, spec.pk}
    for name in spec.floats:
        values[name] = float(values[name])
    for name, make in spec.factories:
        values[name] = make()  # the world sets no factory field
    if kind == "Quote" and "name" not in meta:
        values["name"] = f"Quote {key[:8]}"
        fields_set.add("name")
    return spec.model.model_construct(fields_set, **values)


def keep_known(kind: str, meta: Any, built: Meta) -> Meta:
    """Full-fidelity seeding: fields the model knows survive unless the builder decided them."""
    if not isinstance(meta, dict):
        return built
    known = FIELD_NAMES[kind]
    kept = {k: v for k, v in meta.items() if k in known and k != PRIMARY_KEYS[kind]}
    if kind == "Opportunity" and meta.get("stage") in CLOSED_STAGES:
        built = {**built, "stage": meta["stage"]}
    return {**kept, **built}


def _check_references(api: CrmApi, kind: str, record: Entity) -> None:
    try:
        if kind == "Client" and record.email:  # type: ignore[attr-defined]
            api._check_email_free(record.email)  # type: ignore[attr-defined]
        for field, target in FOREIGN_KEYS.get(kind, {}).items():
            value = getattr(record, field)
            if value is not None:
                api._require(target, value)
        if kind in ("Document", "Note"):
            api._require(record.entity_type, record.entity_id)  # type: ignore[attr-defined]
    except CrmError as exc:
        key = getattr(record, PRIMARY_KEYS[kind])
        raise SeedingError(f"Cannot seed {kind} {key}: {exc}") from None


# ---- builders: metadata -> fields, with upstream's defaults and messages -------------------------
def _client(key: str, meta: Meta, fallback: str | None, api: CrmApi) -> Meta:
    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SeedingError(f"Client {key} missing human-readable name metadata.")
    status = meta.get("status")
    return {
        "name": name.strip(),
        "status": status if status in CLIENT_STATUSES else "Active",
        "industry": meta.get("industry") or "Technology",
        "owner": meta.get("owner") or meta.get("owner_name") or UNASSIGNED_OWNER,
        "email": meta.get("email"),
        "phone": meta.get("phone"),
    }


def _client_of(kind: str, meta: Meta, fallback: str | None) -> str:
    client_id = meta.get("client_id") or fallback
    if not client_id:
        raise SeedingError(f"{kind} seeding requires a client_id.")
    return client_id


def _contact(key: str, meta: Meta, fallback: str | None, api: CrmApi) -> Meta:
    client_id = _client_of("Contact", meta, fallback)
    for field in ("first_name", "last_name"):
        if not meta.get(field):
            raise SeedingError(f"Contact {key} missing required metadata field '{field}'.")
    fields = {f: meta.get(f) for f in ("first_name", "last_name", "email", "phone", "title")}
    return {**fields, "client_id": client_id}


def _number(kind: str, key: str, meta: Meta, field: str) -> float:
    if field not in meta or meta[field] is None:
        raise SeedingError(f"{kind} {key} missing {field} metadata.")
    try:
        value = float(meta[field])
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value):
        raise SeedingError(f"{kind} {key} has non-numeric {field} metadata: {meta[field]!r}.")
    return value


def _opportunity(key: str, meta: Meta, fallback: str | None, api: CrmApi) -> Meta:
    client_id = _client_of("Opportunity", meta, fallback)
    stage = meta.get("stage")
    open_stages = OPEN_STAGES
    amount = _number("Opportunity", key, meta, "amount")
    probability = min(99, max(1, int(_number("Opportunity", key, meta, "probability"))))
    if not meta.get("name"):
        raise SeedingError(f"Opportunity {key} missing name metadata.")
    return {
        "name": meta["name"],
        "client_id": client_id,
        "stage": stage if stage in open_stages else "Qualification",
        "amount": amount,
        "probability": float(probability),
        "notes": meta.get("notes"),
        "owner": meta.get("owner"),
    }


def _quote(key: str, meta: Meta, fallback: str | None, api: CrmApi) -> Meta:
    if not meta.get("opportunity_id"):
        raise SeedingError("Quote seeding requires an opportunity_id.")
    status = meta.get("status")
    statuses = QUOTE_STATUSES
    return {
        "opportunity_id": meta["opportunity_id"],
        "status": status if status in statuses else "Draft",
        "amount": _number("Quote", key, meta, "amount"),
        "name": meta.get("name") or f"Quote {key[:8]}",
    }


def _contract(key: str, meta: Meta, fallback: str | None, api: CrmApi) -> Meta:
    status = meta.get("status")
    value = meta.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value:
        value = 75000.0
    return {
        "client_id": _client_of("Contract", meta, fallback),
        "status": status if status in CONTRACT_STATUSES else "Active",
        "value": float(value),
        "opportunity_id": meta.get("opportunity_id"),
    }


def _document(key: str, meta: Meta, fallback: str | None, api: CrmApi) -> Meta:
    # Upstream drew a random id for a missing target; a name-based UUID keeps seeding free of
    # side effects on the id stream (and as dangling), so seeded records can be cached.
    return {
        "entity_type": meta.get("entity_type") or "Opportunity",
        "entity_id": meta.get("entity_id")
        or str(uuid.uuid5(uuid.NAMESPACE_URL, f"document:{key}")),
        "file_name": meta.get("file_name") or f"document-{key[:8]}.pdf",
    }


def _note(key: str, meta: Meta, fallback: str | None, api: CrmApi) -> Meta:
    return {
        "entity_type": meta.get("entity_type") or "Client",
        "entity_id": meta.get("entity_id") or fallback,
        "content": meta.get("content"),
    }


def _company(key: str, meta: Meta, fallback: str | None, api: CrmApi) -> Meta:
    return {"name": meta.get("name")}


BUILDERS: dict[str, Callable[[str, Meta, str | None, CrmApi], Meta]] = {
    "Client": _client,
    "Contact": _contact,
    "Opportunity": _opportunity,
    "Quote": _quote,
    "Contract": _contract,
    "Document": _document,
    "Note": _note,
    "Company": _company,
}
