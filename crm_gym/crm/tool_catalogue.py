"""The catalogue of the tools: one keyword-built row per tool holding every fact about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional

from crm_gym.crm.entities import PLURALS

Criteria = (Optional[dict[str, Any]], "search criteria as an object (same fields as the top level)")
Updates = (Optional[dict[str, Any]], "fields to change; they may also be given at the top level")
QuoteIds = (list[str], "ids of the quotes to compare, in order")


OPPORTUNITIES = "Opportunity Management"
CLIENTS = "Client Management"
CONTACTS = "Contact Management"
QUOTES = "Quote Management"
CONTRACTS = "Contract Management"
COMPANIES = "Company / Account Management"
DOCUMENTS = "Document Management"
NOTES = "Notes & Collaboration"
GENERAL = "General"
"""Upstream's workflow categories (its task table's intents), one per tool."""


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """Every fact about one tool: how it is called, and how tasks, labels and replies treat it.

    Other tables (search and modify tools, skills, categories, task names, result kinds) are
    derived from these rows, so adding a tool means adding one row and its CRM method.
    """

    name: str
    description: str
    skill: str
    category: str
    entity: str | None = None
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    open_kwargs: bool = False
    special: dict[str, tuple[Any, str]] = field(default_factory=dict)
    creates: bool = False
    """Whether a success makes a record (ids in its reply are new, not looked up)."""
    returns_records: bool = True
    task: str | None = None
    upstream_criteria: tuple[str, ...] | None = None
    """The search fields upstream's harness moved into ``criteria`` (None: it merged none)."""
    get_or_create: bool = False
    """Whether a call returns the matching record when one exists (so create checks may not run)."""
    reply_fields: tuple[str, ...] = ("value",)
    """The keys ``{{turn_N.KEY}}`` reads of a reply that is no record (a bare value: ``value``)."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Argument -> the parameter the CRM reads it as (not under strict_upstream); lint flags it."""

    @cached_property
    def params(self) -> tuple[str, ...]:
        """Every advertised parameter, required first."""
        return self.required + self.optional

    @cached_property
    def accepted(self) -> frozenset[str]:
        """``params`` as a set: a call using only these keys passes the keyword checks at once."""
        return frozenset(self.params)

    @cached_property
    def required_set(self) -> frozenset[str]:
        """``required`` as a set."""
        return frozenset(self.required)

    @property
    def task_name(self) -> str:
        """Upstream's task name, as in conversation ids such as ``SKEL-CREATE QUOTE_simple_...``."""
        return self.task or self.name.upper().replace("_", " ")

    @property
    def result_kind(self) -> str | None:
        """The kind of record a success returns (one or a list), or None for other replies."""
        return self.entity if self.returns_records else None


def _search(
    name: str, entity: str, description: str, fields: tuple[str, ...], **facts: Any
) -> ToolSpec:
    facts.setdefault("skill", "knowledge")
    return ToolSpec(
        name=name,
        description=description,
        entity=entity,
        optional=fields + ("criteria",),
        open_kwargs=True,
        special={"criteria": Criteria},
        **facts,
    )


def _modify(name: str, entity: str, key: str, fields: tuple[str, ...], category: str) -> ToolSpec:
    description = (
        f"Update fields of an existing {entity.lower()} (flat fields or an updates object)."
    )
    return ToolSpec(
        name=name,
        description=description,
        skill="crud",
        category=category,
        entity=entity,
        required=(key,),
        optional=("updates",) + fields,
        open_kwargs=True,
        special={"updates": Updates},
    )


def _by_id(name: str, entity: str, description: str, **facts: Any) -> ToolSpec:
    return ToolSpec(
        name=name,
        description=description,
        entity=entity,
        required=(f"{entity.lower()}_id",),
        **facts,
    )


def _listing(name: str, what: str, category: str) -> ToolSpec:
    description = f"List every {what} in the CRM, keyed by id."
    return ToolSpec(name=name, description=description, skill="knowledge", category=category)


_CLIENT = ("client_id", "name", "industry", "email", "phone", "address", "status", "owner")
_CONTACT = tuple("contact_id first_name last_name title email phone client_id notes".split())
_OPPORTUNITY = tuple(
    "opportunity_id name client_id stage amount close_date owner probability notes".split()
)
_QUOTE = tuple(
    "quote_id opportunity_id name version amount status valid_until quote_prefix".split()
)
_CONTRACT = tuple(
    "contract_id client_id opportunity_id start_date end_date value status document_url".split()
)
_COMPANY = ("company_id", "name", "type", "industry", "address")
_CREATE = {"skill": "crud", "open_kwargs": True, "creates": True}
_CRUD = {"skill": "crud"}

_SPECS = [
    ToolSpec(name="create_new_client",
             description="Create a new client account; its email must be unused.",
             entity="Client", required=("name", "email", "status"),
             optional=("industry", "phone", "address", "owner"), category=CLIENTS, **_CREATE),
    ToolSpec(name="create_new_opportunity",
             description="Create a new sales opportunity for an existing client.",
             entity="Opportunity", required=("name", "client_id", "amount", "stage"),
             optional=("close_date", "owner", "probability", "notes"), category=OPPORTUNITIES,
             **_CREATE),
    ToolSpec(name="create_quote", description="Create a quote for an existing opportunity.",
             entity="Quote", required=("opportunity_id", "amount", "status"),
             optional=("name", "version", "valid_until", "quote_prefix"), category=QUOTES,
             **_CREATE),
    ToolSpec(name="create_contract",
             description="Create a contract for a client, optionally tied to an opportunity.",
             entity="Contract", required=("client_id",),
             optional=("opportunity_id", "start_date", "end_date", "value", "status",
                       "document_url"), category=CONTRACTS, task="CREATE NEW CONTRACT",
             **_CREATE),
    ToolSpec(name="create_new_contact",
             description="Create a contact person at an existing client.", entity="Contact",
             required=("first_name", "last_name", "client_id"),
             optional=("title", "email", "phone", "notes"), category=CONTACTS, **_CREATE),
    ToolSpec(name="upload_document",
             description="Attach a document (file name with an allowed extension) to a client, "
             "opportunity, quote or contract.", entity="Document",
             required=("entity_type", "entity_id", "file_name"),
             optional=("file_url", "uploaded_by"), category=DOCUMENTS,
             aliases={"document_url": "file_url"}, **_CREATE),
    ToolSpec(name="add_note",
             description="Add a note to a client, contact, opportunity, quote or contract.",
             entity="Note", required=("entity_type", "entity_id", "content"),
             optional=("created_by",), category=NOTES, **_CREATE),
    ToolSpec(name="ensure_client",
             description="Return the client with this email, creating it if it does not exist.",
             entity="Client",
             optional=("name", "email", "status", "industry", "phone", "address", "owner"),
             category=CLIENTS, get_or_create=True, **_CREATE),
    _modify("modify_opportunity", "Opportunity", "opportunity_id", _OPPORTUNITY[1:],
            OPPORTUNITIES),
    _modify("modify_client", "Client", "client_id", _CLIENT[1:], CLIENTS),
    _modify("modify_quote", "Quote", "quote_id", _QUOTE[1:], QUOTES),
    _modify("modify_contact", "Contact", "contact_id", _CONTACT[1:], CONTACTS),
    _by_id("delete_opportunity", "Opportunity", "Delete an opportunity.",
           category=OPPORTUNITIES, returns_records=False, **_CRUD),
    _by_id("delete_quote", "Quote", "Delete a quote.", category=QUOTES, returns_records=False,
           **_CRUD),
    _by_id("cancel_quote", "Quote", "Cancel a quote (set its status to Canceled).",
           category=QUOTES, **_CRUD),
    _by_id("clone_opportunity", "Opportunity", "Copy an opportunity under a new id and the name "
           "'<name> (Clone)'.", category=OPPORTUNITIES, creates=True, **_CRUD),
    _search("client_search", "Client", "Find clients matching criteria (case-insensitive substring "
            "on text fields).", _CLIENT, category=CLIENTS,
            upstream_criteria=("client_id", "name", "email", "status")),
    _search("opportunity_search", "Opportunity", "Find opportunities matching criteria.",
            _OPPORTUNITY, category=OPPORTUNITIES,
            upstream_criteria=("opportunity_id", "client_id", "name", "stage")),
    _search("contact_search", "Contact", "Find contacts matching criteria.", _CONTACT,
            category=CONTACTS,
            upstream_criteria=("contact_id", "first_name", "last_name", "email", "client_id")),
    _search("quote_search", "Quote", "Find quotes matching criteria.", _QUOTE, category=QUOTES,
            upstream_criteria=("quote_id", "opportunity_id", "name", "status")),
    _search("contract_search", "Contract", "Find contracts matching criteria.", _CONTRACT,
            category=CONTRACTS,
            upstream_criteria=("contract_id", "client_id", "opportunity_id", "status")),
    _search("company_search", "Company", "Find companies (partners, vendors, competitors) matching "
            "criteria.", _COMPANY, category=COMPANIES),
    _by_id("view_opportunity_details", "Opportunity", "Show one opportunity's details.",
           skill="knowledge", category=OPPORTUNITIES),
    _by_id("opportunity_details", "Opportunity", "Show one opportunity's details (alias of "
           "view_opportunity_details).", skill="knowledge", category=OPPORTUNITIES),
    _by_id("quote_details", "Quote", "Show one quote's details.", skill="knowledge",
           category=QUOTES),
    ToolSpec(name="compare_quotes",
             description="Return several quotes side by side, in the order given.",
             entity="Quote", required=("quote_ids",), special={"quote_ids": QuoteIds},
             skill="analytics", category=QUOTES),
    ToolSpec(name="compare_quote_details", description="Compare quotes: the records, their "
             "amounts, statuses and total.", entity="Quote", required=("quote_ids",),
             special={"quote_ids": QuoteIds}, skill="analytics", category=QUOTES,
             returns_records=False,
             reply_fields=("quotes", "amounts", "statuses", "total_amount")),
    _search("summarize_opportunities", "Opportunity", "Count and total the opportunities matching "
            "criteria, by stage and by owner.", ("client_id", "name", "stage", "owner"),
            skill="analytics", category=OPPORTUNITIES, returns_records=False,
            upstream_criteria=("client_id",),
            reply_fields=("total_count", "total_amount", "by_stage", "by_owner")),
    ToolSpec(name="quote_prefixes", description="List the distinct quote prefixes in use, sorted.",
             skill="analytics", category=QUOTES),
    _listing("list_clients", "client", CLIENTS),
    _listing("list_contacts", "contact", CONTACTS),
    _listing("list_opportunities", "opportunity", OPPORTUNITIES),
    _listing("list_quotes", "quote", QUOTES),
    _listing("list_contracts", "contract", CONTRACTS),
    _listing("list_documents", "document", DOCUMENTS),
    _listing("list_notes", "note", NOTES),
    _listing("list_companies", "company", COMPANIES),
    ToolSpec(name="summarize_counts", description="Count the records of each kind in the CRM.",
             skill="analytics", category=GENERAL, reply_fields=tuple(PLURALS.values())),
]  # fmt: skip

TOOL_SPECS: dict[str, ToolSpec] = {spec.name: spec for spec in _SPECS}
"""Tool name -> spec, grouped as SPEC-arc.md section 2.1 groups them."""

LISTING_TOOLS: tuple[str, ...] = tuple(name for name in TOOL_SPECS if name.startswith("list_"))
"""The eight ``list_<plural>`` tools, in catalogue order."""
