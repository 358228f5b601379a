"""Clause forms of the paraphrase grammar: how one argument is said, and how entities are named.

Three families: describing a new record (``attr``: "worth $120k"), changing one (``set``: "the
amount to $120k") and filtering (``filter``: "in Proposal"). ``wording.render`` joins the
clauses that a sentence pattern of ``phrasebook`` leaves over.
"""

from __future__ import annotations

from crm_gym.crm.tool_catalogue import TOOL_SPECS, ToolSpec


def _family(spec: ToolSpec) -> str:
    """An update's values are changes; a search's (``criteria``) filters; others describe."""
    if "updates" in spec.special:
        return "set"
    return "filter" if "criteria" in spec.special else "attr"


FAMILY = {name: _family(spec) for name, spec in TOOL_SPECS.items()}
"""Clause family of each tool's requests, from its row's special parameters."""

CLAUSES: dict[str, dict[str, tuple[str, ...]]] = {
    "attr": {
        "email": ("with email {v}", "email {v}", "reachable at {v}", "using {v} as the email"),
        "status": ("with status {v}", "status {v}", "marked as {v}", "in {v} status"),
        "industry": ("in the {v} industry", "industry {v}", "in {v}"),
        "phone": ("phone {v}", "with phone number {v}", "reachable by phone at {v}"),
        "owner": ("owned by {v}", "with {v} as owner", "owner {v}", "assigned to {v}"),
        "address": ("located at {v}", "address {v}"),
        "amount": ("worth {v}", "for {v}", "valued at {v}", "with an amount of {v}", "amount {v}"),
        "stage": ("in the {v} stage", "at stage {v}", "stage {v}", "starting in {v}"),
        "probability": (
            "at {v} probability",
            "with a {v} chance to close",
            "probability {v}",
            "with {v} win probability",
        ),
        "close_date": (
            "closing {v}",
            "with a close date of {v}",
            "expected to close on {v}",
            "close date {v}",
        ),
        "notes": ("with the note {v}", "notes {v}"),
        "name": ("named {v}", "called {v}", "titled {v}"),
        "version": ("version {v}", "as version {v}"),
        "valid_until": ("valid until {v}", "expiring {v}", "good through {v}"),
        "quote_prefix": ("with prefix {v}", "using the quote prefix {v}", "prefix {v}"),
        "start_date": ("starting {v}", "with a start date of {v}", "effective {v}"),
        "end_date": ("ending {v}", "through {v}", "with an end date of {v}"),
        "value": ("worth {v}", "with a value of {v}", "valued at {v}", "value {v}"),
        "document_url": ("with the signed copy at {v}", "document link {v}"),
        "title": ("with the title {v}", "title {v}", "who works as {v}"),
        "file_url": ("from {v}", "with link {v}", "stored at {v}"),
        "uploaded_by": ("uploaded by {v}", "on behalf of {v}"),
        "created_by": ("signed by {v}", "from {v}", "written by {v}"),
        "entity_type": ("with entity type {v}", "filed under type {v}"),
        "deal": ("linked to {v}", "tied to {v}", "covering {v}"),
    },
    "set": {
        "stage": ("stage to {v}", "the stage to {v}", "the pipeline stage to {v}"),
        "amount": ("amount to {v}", "the amount to {v}", "the total to {v}"),
        "probability": (
            "probability to {v}",
            "the win probability to {v}",
            "the probability to {v}",
        ),
        "close_date": (
            "close date to {v}",
            "the expected close date to {v}",
            "the close date to {v}",
        ),
        "owner": ("owner to {v}", "the owner to {v}", "the account owner to {v}"),
        "notes": ("notes to {v}", "the notes to {v}"),
        "name": ("name to {v}", "the name to {v}"),
        "status": ("status to {v}", "the status to {v}"),
        "industry": ("industry to {v}", "the industry to {v}"),
        "phone": ("phone to {v}", "the phone number to {v}"),
        "email": ("email to {v}", "the email address to {v}"),
        "address": ("address to {v}", "the address to {v}"),
        "title": ("title to {v}", "the job title to {v}"),
        "last_name": ("last name to {v}", "the surname to {v}"),
        "valid_until": ("expiry to {v}", "the valid-until date to {v}", "the validity date to {v}"),
        "version": ("version to {v}", "the version to {v}"),
        "quote_prefix": ("prefix to {v}", "the quote prefix to {v}"),
    },
    "filter": {
        "name": ("named {v}", "whose name contains {v}", "matching {v}", "with {v} in the name"),
        "status": ("with status {v}", "in {v} status", "marked {v}"),
        "stage": ("in {v}", "in the {v} stage", "at stage {v}"),
        "industry": ("in the {v} industry", "in industry {v}"),
        "email": ("with email {v}", "using the email {v}"),
        "owner": ("owned by {v}", "assigned to {v}"),
        "first_name": ("with first name {v}", "called {v}"),
        "last_name": ("with last name {v}", "surnamed {v}"),
        "title": ("with the title {v}", "whose title contains {v}"),
        "type": ("of type {v}", "listed as {v}"),
        "client": ("for {v}", "belonging to {v}", "under {v}"),
        "deal": ("for {v}", "on {v}", "attached to {v}"),
    },
}

REST_JOIN = {
    "attr": (", ", " ", ", "),
    "set": (" and set ", ", and change ", "; also set "),
    "filter": (" ",),
}
"""What joins the leftover clauses (``{rest}``) to the body, per family."""

MENTION_FORMS = {
    "literal": (
        "{w} {id}",
        "{w} {id} ({name})",
        "the {w} with ID {id}",
        "{name} ({w} {id})",
        "{w} ID {id}",
    ),
    "earlier": (
        "the {w} from turn {n}",
        "the {w} {verb} in turn {n}",
        "the {w} you {verb} in step {n}",
        "the {w} from turn {n} ({name})",
    ),
    "previous": (
        "that {w}",
        "the {w} you just {verb}",
        "the {w} from the previous step",
        "the {w} from turn {n}",
    ),
    "via": (
        "the {w} of the {src} from turn {n}",
        "the {w} that the {src} from turn {n} belongs to",
    ),
}
"""How an entity is named: by literal id, by an earlier turn, by the turn just before, or as a
foreign key of an earlier turn's record."""
