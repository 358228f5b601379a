"""Failures on purpose: realistic mistakes, each with the exact upstream error substring.

A failure is made by *botching* a request that would succeed (the stage "Won" instead of
"Closed-Won", a typo in an id, a forgotten amount...). ``botch`` works on the conversation's next
planned request, so the user can correct it in the following turn (recovery); ``standalone``
builds a fresh request to botch. Error texts are upstream's (SPEC-arc.md section 1.4); the scene
checks each one against the simulated error.
"""

from __future__ import annotations

from typing import Any, Callable

from crm_gym.crm.entities import CLOSED_STAGES
from crm_gym.generator import moves_edit, moves_read, moves_write, pools
from crm_gym.generator.intents import Failure, Intent, Mention
from crm_gym.generator.moves_write import is_open
from crm_gym.generator.pools import Dice
from crm_gym.generator.scene import Scene

Botched = tuple[Intent, Failure]

STAGES = "Closed-Lost, Closed-Won, Negotiation, Proposal, Prospecting, Qualification"
_ENUMS = {  # tool -> (field, error label, the allowed values as the error lists them)
    "create_new_opportunity": ("stage", "Opportunity stage", STAGES),
    "modify_opportunity": ("stage", "Opportunity stage update", STAGES),
    "create_new_client": ("status", "Client status", "Active, Inactive, Prospect"),
    "modify_client": ("status", "Client status update", "Active, Inactive, Prospect"),
    "create_quote": ("status", "Quote status", "Approved, Canceled, Draft, Rejected, Sent"),
    "modify_quote": ("status", "Quote status update", "Approved, Canceled, Draft, Rejected, Sent"),
    "create_contract": ("status", "Contract status", "Active, Expired, Pending"),
}
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
_REQUIRED = {
    "create_new_client": ("name", "email", "status"),
    "create_new_opportunity": ("name", "amount", "stage"),
    "create_quote": ("amount", "status"),
    "create_new_contact": ("last_name",),
    "upload_document": ("file_name",),
    "add_note": ("content",),
}
_ID_ROLES = {"target": None, "client": "Client", "deal": "Opportunity"}
_NOT_FOUND_LABEL = {
    "create_new_opportunity": "Client",
    "create_new_contact": "Client",
    "create_contract": "Client",
    "create_quote": "Opportunity",
}


def _with(intent: Intent, **values: object) -> Intent:
    """A copy of the intent with some values (and the same arguments) replaced or added.

    The replaced values come first (right after an edit's id): upstream applied edits field by
    field, so a failing field must fail before any other field is assigned.
    """
    key = f"{intent.tool.removeprefix('modify_')}_id"
    head = {key: intent.args[key]} if intent.tool.startswith("modify_") else {}
    args = {
        **head,
        **values,
        **{k: v for k, v in intent.args.items() if k not in head and k not in values},
    }
    new_values = {**values, **{k: v for k, v in intent.values.items() if k not in values}}
    return intent.but(args, new_values)


def invalid_enum(scene: Scene, intent: Intent) -> Botched | None:
    """A stage or status outside the enum (``Won``, ``Cancelled``...), or a wrong record type."""
    if intent.tool in ("add_note", "upload_document"):
        enum = "NoteEntityType" if intent.tool == "add_note" else "DocumentEntityType"
        wrong = scene.rng.pick(_WRONG["Note" if intent.tool == "add_note" else "Document"])
        return _with(intent, entity_type=wrong), Failure(
            "invalid_enum", f"'{wrong}' is not a valid {enum}"
        )
    spec = _ENUMS.get(intent.tool)
    if spec is None or spec[0] not in intent.values:
        return None
    field, label, allowed = spec
    entity = {"stage": "Opportunity"}.get(field) or intent.tool.split("_")[-1].title()
    wrong = scene.rng.pick(_WRONG[entity])
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
    if (
        role is None
        or intent.tool.endswith("_search")
        or intent.tool.startswith(("summarize", "ensure"))
    ):
        return None
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
    if intent.tool in ("add_note", "upload_document"):
        arg = "entity_id"
    mentions = {**intent.mentions, role: bad}
    args = {**intent.args, arg: bad.arg}
    label = _NOT_FOUND_LABEL.get(intent.tool, mention.kind)
    failure = Failure("unknown_id", f"{label} not found with ID '{bad.key}'.")
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
    if intent.tool.startswith("modify_"):
        key = f"{intent.tool.removeprefix('modify_')}_id"
        failure = Failure("missing_field", "Must provide either updates dict or keyword args")
        return intent.but({key: intent.args[key]}, {}, phrase="modify_empty"), failure
    options = [f for f in _REQUIRED.get(intent.tool, ()) if f in intent.values]
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
    if intent.tool != "modify_opportunity" or deal is None or is_open(scene.record(deal)):
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
    return intent.but(args, changes, phrase="modify_opportunity"), failure


def _deal_rule(intent: Intent, scene: Scene, tools: tuple[str, ...]) -> bool:
    """One of ``tools``, and not an edit of a closed deal (that fails on the lock first)."""
    if intent.tool not in tools:
        return False
    return intent.tool != "modify_opportunity" or is_open(scene.record(intent.mentions["target"]))


def probability_range(scene: Scene, intent: Intent) -> Botched | None:
    """A probability of 0, 100, 150 or a fraction such as 0.5 (whole percentages 1-99 only)."""
    if not _deal_rule(intent, scene, ("create_new_opportunity", "modify_opportunity")):
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
    tools = ("create_new_opportunity", "modify_opportunity", "create_quote", "modify_quote")
    if not _deal_rule(intent, scene, tools) or (
        intent.tool.startswith("modify") and "amount" not in intent.values
    ):
        return None
    label = "Quote amount" if "quote" in intent.tool else "Opportunity amount"
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
    if not _deal_rule(intent, scene, ("create_new_opportunity", "modify_opportunity")):
        return None
    return _with(intent, close_date=pools.past_date(scene.rng)), Failure(
        "past_close_date", "Close date must be today or in the future."
    )


def duplicate_email(scene: Scene, intent: Intent) -> Botched | None:
    """A new client with the email of an existing one (matched case-insensitively)."""
    taken = [c.email for c in scene.records("Client") if c.email]
    if intent.tool != "create_new_client" or not taken:
        return None
    email = scene.rng.pick(taken)
    if scene.rng.chance(0.3):
        email = email.upper() if scene.rng.chance(0.5) else email[0].upper() + email[1:]
    return _with(intent, email=email), Failure(
        "duplicate_email", f"Client already exists with email '{email}'."
    )


def bad_extension(scene: Scene, intent: Intent) -> Botched | None:
    """A file type that is not allowed (``.xls``, ``.jpg``...) or no extension at all."""
    if intent.tool != "upload_document":
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
    if intent.tool != "upload_document":
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
