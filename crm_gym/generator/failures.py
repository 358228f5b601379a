"""Failures on purpose: realistic mistakes, each with the exact upstream error substring.

A failure is made by *botching* a request that would succeed (the stage "Won" instead of
"Closed-Won", a typo in an id, a forgotten amount...). ``botch`` works on the conversation's next
planned request, so the user can correct it in the following turn (recovery); ``standalone``
builds a fresh request to botch. Error texts are upstream's (SPEC-arc.md section 1.4); the scene
checks each one against the simulated error.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, get_args, get_origin

from crm_gym.crm.entities import CLOSED_STAGES, ENTITY_TYPES
from crm_gym.crm.tool_catalogue import TOOL_SPECS, ToolSpec
from crm_gym.generator import moves_edit, moves_read, moves_write, pools
from crm_gym.generator.intents import Failure, Intent, Mention
from crm_gym.generator.moves_write import is_open
from crm_gym.generator.pools import Dice
from crm_gym.generator.scene import Scene

Botched = tuple[Intent, Failure]


def _updates(spec: ToolSpec) -> bool:
    """An edit of an existing record (fields given flat or in ``updates``)."""
    return "updates" in spec.special


def _checks(spec: ToolSpec, field: str) -> bool:
    """Whether every call of the tool checks ``field``: it creates or edits a record with it.

    A get-or-create call may return an existing record unchecked, so it never counts.
    """
    writes = (spec.creates or _updates(spec)) and not spec.get_or_create
    return writes and field in spec.params


def _choices(annotation: Any) -> tuple[str, ...]:
    """The values of a ``Literal`` annotation, optional or not (else none)."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    return next((get_args(a) for a in get_args(annotation) if get_origin(a) is Literal), ())


def _enum(spec: ToolSpec) -> tuple[str, str, str] | None:
    """(field, error label, allowed values as the error lists them) of the tool's enum field."""
    if spec.entity is None:
        return None
    for field, info in ENTITY_TYPES[spec.entity].model_fields.items():
        allowed = _choices(info.annotation)
        if allowed and field != "entity_type" and _checks(spec, field):
            label = f"{spec.entity} {field}" + (" update" if _updates(spec) else "")
            return field, label, ", ".join(sorted(allowed))
    return None


_ENUMS = {name: enum for name, spec in TOOL_SPECS.items() if (enum := _enum(spec))}
"""Tool -> its enum field, the error's label and the allowed values (``rules.enum_value``)."""
_WRONG = {
    "Opportunity": (
        "Won",
        "Closed Won",
        "Lost",
        "Demo",
        "Discovery",
        "Qualified",
        "Negotiating",
        "Closed",
        "Contracting",
        "Pipeline",
    ),
    "Client": ("Lead", "Customer", "Churned", "Paused", "Trial", "Archived"),
    "Quote": ("Cancelled", "Accepted", "Pending", "Declined", "Expired", "Final"),
    "Contract": ("Signed", "Draft", "Terminated", "Cancelled", "Renewed"),
    "Note": ("Deal", "Account", "Customer", "Lead", "Person"),
    "Document": ("Deal", "Account", "Invoice", "Customer"),
}
_KEPT = ("first_name",)
"""Required values a request never leaves out: the wording's ``{person}`` needs a first name."""
_ID_ROLES = {"target": None, "client": "Client", "deal": "Opportunity"}


def _edit_key(intent: Intent) -> str | None:
    """The id argument of an edit (``quote_id``...), or None for other requests."""
    spec = TOOL_SPECS[intent.tool]
    return spec.required[0] if _updates(spec) else None


def _with(intent: Intent, **values: object) -> Intent:
    """A copy of the intent with some values (and the same arguments) replaced or added.

    The replaced values come first (right after an edit's id): upstream applied edits field by
    field, so a failing field must fail before any other field is assigned.
    """
    key = _edit_key(intent)
    head = {key: intent.args[key]} if key else {}
    args = {
        **head,
        **values,
        **{k: v for k, v in intent.args.items() if k not in head and k not in values},
    }
    new_values = {**values, **{k: v for k, v in intent.values.items() if k not in values}}
    return intent.but(args, new_values)


def invalid_enum(scene: Scene, intent: Intent) -> Botched | None:
    """A stage or status outside the enum (``Won``, ``Cancelled``...), or a wrong record type."""
    spec = TOOL_SPECS[intent.tool]
    if _checks(spec, "entity_type"):  # a note or document: the Enum name rules.entity_type gives
        wrong = scene.rng.pick(_WRONG[spec.entity])
        return _with(intent, entity_type=wrong), Failure(
            "invalid_enum", f"'{wrong}' is not a valid {spec.entity}EntityType"
        )
    enum = _ENUMS.get(intent.tool)
    if enum is None or enum[0] not in intent.values:
        return None
    field, label, allowed = enum
    wrong = scene.rng.pick(_WRONG[spec.entity])
    return _with(intent, **{field: wrong}), Failure(
        "invalid_enum", f"{label} must be one of: {allowed}."
    )


def unknown_id(scene: Scene, intent: Intent) -> Botched | None:
    """An id that names no record: a typo of the real id, a made-up one, or a deleted record.

    Half the time a record deleted earlier in the conversation is named again (when there is
    one); otherwise the user mistypes the intended id (one character changed, or two neighbours
    swapped) or pastes an id from somewhere else (a fresh UUID). The expected error names the
    id, which is how the linter tells an unknown id on purpose from a dangling one.
    """
    role = next((r for r in _ID_ROLES if r in intent.mentions), None)
    if role is None or "criteria" in TOOL_SPECS[intent.tool].special:
        return None  # a search or summary naming an unknown id finds nothing, without an error
    mention: Mention = intent.mentions[role]
    rng = scene.rng
    gone = [m for m in scene.gone if m.kind == mention.kind]
    if gone and rng.chance(0.5):
        bad = rng.pick(gone)._replace(name=None)
    else:
        key = typo(rng, mention.key) if rng.chance(0.6) else pools.new_uuid(rng)
        while scene.exists(key):
            key = pools.new_uuid(rng)
        bad = Mention(mention.kind, key, key)
    arg = {"target": f"{mention.kind.lower()}_id", "client": "client_id", "deal": "opportunity_id"}[
        role
    ]
    if "entity_id" in intent.args:  # a note or document names its record by type and id
        arg = "entity_id"
    mentions = {**intent.mentions, role: bad}
    args = {**intent.args, arg: bad.arg}
    failure = Failure("unknown_id", f"{mention.kind} not found with ID '{bad.key}'.")
    return intent.but(args, mentions=mentions), failure


_HEX = "0123456789abcdef"
_TYPO_AT = tuple(i for i in range(36) if i not in (8, 13, 14, 18, 19, 23))
"""Positions of a UUID a typo may touch: hex digits, not dashes, version or variant."""


def typo(rng: Dice, key: str) -> str:
    """``key`` mistyped: one hex digit changed, or two different neighbours swapped."""
    chars = list(key)
    at = rng.pick(_TYPO_AT)
    after = at + 1
    if rng.chance(0.3) and after in _TYPO_AT and chars[at] != chars[after]:
        chars[at], chars[after] = chars[after], chars[at]
    else:
        chars[at] = rng.pick(_HEX.replace(chars[at].lower(), ""))
    return "".join(chars)


def missing_field(scene: Scene, intent: Intent) -> Botched | None:
    """A request that leaves out a required argument (or, for an update, every change)."""
    key = _edit_key(intent)
    if key is not None:
        failure = Failure("missing_field", "Must provide either updates dict or keyword args")
        return intent.but({key: intent.args[key]}, {}, phrase="modify_empty"), failure
    required = TOOL_SPECS[intent.tool].required
    options = [f for f in required if f in intent.values and f not in _KEPT]
    if not options:
        return None
    field = scene.rng.pick(options)
    phrase = f"{intent.tool}_bare" if field in ("name", "file_name", "content") else intent.phrase
    args = {k: v for k, v in intent.args.items() if k != field}
    values = {k: v for k, v in intent.values.items() if k != field}
    failure = Failure("missing_field", f"missing 1 required positional argument: '{field}'")
    return intent.but(args, values, phrase=phrase), failure


def closed_deal(scene: Scene, intent: Intent) -> Botched | None:
    """An edit of a won or lost deal's stage, amount, probability or close date."""
    deal = intent.mentions.get("target")
    if not _deal_edit(intent) or deal is None or is_open(scene.record(deal)):
        return None
    rng, stage = scene.rng, scene.record(deal).stage
    draws = {
        "amount": lambda: pools.amount(rng),
        "probability": lambda: pools.probability(rng),
        "close_date": lambda: pools.future_date(rng),
        "stage": lambda: rng.pick(
            ("Negotiation", "Proposal", *(s for s in CLOSED_STAGES if s != stage))
        ),
    }
    keys = sorted({rng.pick(tuple(draws)) for _ in range(1 + rng.chance(0.3))})
    changes = {key: draws[key]() for key in keys}
    args = {"opportunity_id": deal.arg, **changes}
    failure = Failure(
        "closed_deal", f"Cannot modify closed opportunity fields {keys} while stage is '{stage}'."
    )
    return intent.but(args, changes, phrase=intent.tool), failure


def _deal_edit(intent: Intent) -> bool:
    """An edit of a deal (whose stage, amount, probability and close date lock once closed)."""
    spec = TOOL_SPECS[intent.tool]
    return _updates(spec) and spec.entity == "Opportunity"


def _rule_applies(intent: Intent, scene: Scene, field: str) -> bool:
    """A request that checks ``field``, unless it edits a closed deal (that fails on the lock)."""
    if not _checks(TOOL_SPECS[intent.tool], field):
        return False
    return not _deal_edit(intent) or is_open(scene.record(intent.mentions["target"]))


def probability_range(scene: Scene, intent: Intent) -> Botched | None:
    """A probability of 0, 100, 150 or a fraction such as 0.5 (whole percentages 1-99 only)."""
    if not _rule_applies(intent, scene, "probability"):
        return None
    value: Any  # an int or a float, kept as drawn (the JSON writes 0, not 0.0)
    if scene.rng.chance(0.3):
        value, text = (
            scene.rng.pick((0.5, 0.75, 62.5, 33.3)),
            "Probability must be expressed as a whole-number percentage.",
        )
    else:
        value, text = (
            scene.rng.pick((0, 100, 101, 110, 120, 150, 200)),
            "Probability must be between 1 and 99.",
        )
    return _with(intent, probability=value), Failure("probability_range", text)


def amount_bounds(scene: Scene, intent: Intent) -> Botched | None:
    """An amount of zero, below zero or above 10,000,000."""
    spec = TOOL_SPECS[intent.tool]
    if not _rule_applies(intent, scene, "amount") or (
        _updates(spec) and "amount" not in intent.values
    ):
        return None
    label = f"{spec.entity} amount"
    if scene.rng.chance(0.5):
        value, rule = scene.rng.pick((0, -500, -1_000, -25_000)), "must be greater than zero."
    else:
        value, rule = (
            scene.rng.pick((12_500_000, 15_000_000, 25_000_000, 10_500_000, 50_000_000)),
            "must not exceed 10,000,000.",
        )
    return _with(intent, amount=value), Failure("amount_bounds", f"{label} {rule}")


def past_close_date(scene: Scene, intent: Intent) -> Botched | None:
    """A close date before today."""
    if not _rule_applies(intent, scene, "close_date"):
        return None
    return _with(intent, close_date=pools.past_date(scene.rng)), Failure(
        "past_close_date", "Close date must be today or in the future."
    )


def duplicate_email(scene: Scene, intent: Intent) -> Botched | None:
    """A new client with the email of an existing one (matched case-insensitively)."""
    spec = TOOL_SPECS[intent.tool]
    taken = [c.email for c in scene.records("Client") if c.email]
    if not (spec.creates and spec.entity == "Client" and _checks(spec, "email")) or not taken:
        return None
    email = scene.rng.pick(taken)
    if scene.rng.chance(0.3):
        email = email.upper() if scene.rng.chance(0.5) else email[0].upper() + email[1:]
    return _with(intent, email=email), Failure(
        "duplicate_email", f"Client already exists with email '{email}'."
    )


def bad_extension(scene: Scene, intent: Intent) -> Botched | None:
    """A file type that is not allowed (``.xls``, ``.jpg``...) or no extension at all."""
    if not _checks(TOOL_SPECS[intent.tool], "file_name"):
        return None
    stem = (
        intent.values["file_name"].rsplit(".", 1)[0] if "file_name" in intent.values else "upload"
    )
    if scene.rng.chance(0.25):
        return _with(intent, file_name=stem), Failure(
            "bad_extension", "Document file name must include an extension."
        )
    ext = scene.rng.pick(pools.BAD_EXTENSIONS)
    return _with(intent, file_name=f"{stem}.{ext}"), Failure(
        "bad_extension", f"Document file extension '.{ext}' is not supported"
    )


def bad_file_name(scene: Scene, intent: Intent) -> Botched | None:
    """A file name with spaces or symbols."""
    if not _checks(TOOL_SPECS[intent.tool], "file_name"):
        return None
    stem = scene.rng.pick(
        ("Q3 proposal", "signed contract", "pricing (final)", "deck v2", "SOW #4")
    )
    name = f"{stem}.{scene.rng.pick(pools.GOOD_EXTENSIONS)}"
    return _with(intent, file_name=name), Failure(
        "bad_file_name",
        "Document file name may only include letters, numbers, dots, underscores, and hyphens.",
    )


BOTCH: dict[str, Callable[[Scene, Intent], Botched | None]] = {
    "invalid_enum": invalid_enum,
    "unknown_id": unknown_id,
    "missing_field": missing_field,
    "closed_deal": closed_deal,
    "probability_range": probability_range,
    "amount_bounds": amount_bounds,
    "past_close_date": past_close_date,
    "duplicate_email": duplicate_email,
    "bad_extension": bad_extension,
    "bad_file_name": bad_file_name,
}

_BASES: dict[str, tuple[Callable[[Scene], Intent | None], ...]] = {
    "invalid_enum": (
        moves_write.new_deal,
        moves_write.new_client,
        moves_write.new_quote,
        moves_write.note,
        moves_write.upload,
        lambda s: moves_edit.edit(
            s, "Client", fields={"status": moves_edit.EDITS["Client"][1]["status"]}
        ),
    ),
    "unknown_id": (
        moves_read.view_deal,
        moves_read.deal_details,
        moves_read.view_quote,
        moves_edit.edit_deal,
        moves_edit.edit_quote,
        moves_write.new_quote,
        moves_edit.void_quote,
        moves_edit.clone_deal,
        moves_write.upload,
        moves_write.note,
    ),
    "missing_field": (
        moves_write.new_client,
        moves_write.new_deal,
        moves_write.new_quote,
        moves_write.new_contact,
        moves_write.upload,
        moves_write.note,
        moves_edit.edit_client,
    ),
    "closed_deal": (moves_edit.closed_touch,),
    "probability_range": (moves_write.new_deal, moves_edit.edit_deal),
    "amount_bounds": (moves_write.new_quote, moves_write.new_deal),
    "past_close_date": (moves_write.new_deal, moves_edit.edit_deal),
    "duplicate_email": (moves_write.new_client,),
    "bad_extension": (moves_write.upload,),
    "bad_file_name": (moves_write.upload,),
}


def _possible(scene: Scene, category: str) -> bool:
    """Cheap precondition of a category, to skip building requests that cannot be botched."""
    if category == "closed_deal":
        return bool(scene.records("Opportunity", lambda deal: not is_open(deal)))
    return True


def standalone(scene: Scene, category: str) -> Botched | None:
    """A fresh request of this failure category, or None when the scene cannot support one."""
    if not _possible(scene, category):
        return None
    bases = list(_BASES[category])
    scene.rng.shuffle(bases)
    for base in bases:
        intent = base(scene)
        botched = BOTCH[category](scene, intent) if intent is not None else None
        if botched is not None:
            return botched
    return None
