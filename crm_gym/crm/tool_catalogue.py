"""The catalogue of the 38 tools: parameters and one-line descriptions, as a dict literal."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional

Criteria = (Optional[dict[str, Any]], "search criteria as an object (same fields as the top level)")
Updates = (Optional[dict[str, Any]], "fields to change; they may also be given at the top level")
QuoteIds = (list[str], "ids of the quotes to compare, in order")


@dataclass(frozen=True)
class ToolSpec:
    """How one tool is called: its parameters and whether it takes arbitrary keyword fields."""

    name: str
    description: str
    entity: str | None = None
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    open_kwargs: bool = False
    special: dict[str, tuple[Any, str]] = field(default_factory=dict)

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


def _search(name: str, entity: str, description: str, fields: tuple[str, ...]) -> ToolSpec:
    return ToolSpec(
        name, description, entity, (), fields + ("criteria",), True, {"criteria": Criteria}
    )


def _modify(name: str, entity: str, key: str, fields: tuple[str, ...]) -> ToolSpec:
    description = (
        f"Update fields of an existing {entity.lower()} (flat fields or an updates object)."
    )
    params = ("updates",) + fields
    return ToolSpec(name, description, entity, (key,), params, True, {"updates": Updates})


def _by_id(name: str, entity: str, description: str) -> ToolSpec:
    return ToolSpec(name, description, entity, (f"{entity.lower()}_id",))


def _listing(name: str, what: str) -> ToolSpec:
    return ToolSpec(name, f"List every {what} in the CRM, keyed by id.")


_CLIENT = ("client_id", "name", "industry", "email", "phone", "address", "status", "owner")
_CONTACT = ("contact_id", "first_name", "last_name", "title", "email", "phone", "client_id",
            "notes")  # fmt: skip
_OPPORTUNITY = ("opportunity_id", "name", "client_id", "stage", "amount", "close_date", "owner",
                "probability", "notes")  # fmt: skip
_QUOTE = ("quote_id", "opportunity_id", "name", "version", "amount", "status", "valid_until",
          "quote_prefix")  # fmt: skip
_CONTRACT = ("contract_id", "client_id", "opportunity_id", "start_date", "end_date", "value",
             "status", "document_url")  # fmt: skip
_COMPANY = ("company_id", "name", "type", "industry", "address")

_SPECS = [
    ToolSpec("create_new_client", "Create a new client account; its email must be unused.",
             "Client", ("name", "email", "status"), ("industry", "phone", "address", "owner"),
             True),
    ToolSpec("create_new_opportunity", "Create a new sales opportunity for an existing client.",
             "Opportunity", ("name", "client_id", "amount", "stage"),
             ("close_date", "owner", "probability", "notes"), True),
    ToolSpec("create_quote", "Create a quote for an existing opportunity.", "Quote",
             ("opportunity_id", "amount", "status"),
             ("name", "version", "valid_until", "quote_prefix"), True),
    ToolSpec("create_contract",
             "Create a contract for a client, optionally tied to an opportunity.", "Contract",
             ("client_id",),
             ("opportunity_id", "start_date", "end_date", "value", "status", "document_url"), True),
    ToolSpec("create_new_contact", "Create a contact person at an existing client.", "Contact",
             ("first_name", "last_name", "client_id"), ("title", "email", "phone", "notes"), True),
    ToolSpec("upload_document", "Attach a document (file name with an allowed extension) to a "
             "client, opportunity, quote or contract.", "Document",
             ("entity_type", "entity_id", "file_name"), ("file_url", "uploaded_by"), True),
    ToolSpec("add_note", "Add a note to a client, contact, opportunity, quote or contract.", "Note",
             ("entity_type", "entity_id", "content"), ("created_by",), True),
    ToolSpec("ensure_client",
             "Return the client with this email, creating it if it does not exist.", "Client", (),
             ("name", "email", "status", "industry", "phone", "address", "owner"), True),
    _modify("modify_opportunity", "Opportunity", "opportunity_id", _OPPORTUNITY[1:]),
    _modify("modify_client", "Client", "client_id", _CLIENT[1:]),
    _modify("modify_quote", "Quote", "quote_id", _QUOTE[1:]),
    _modify("modify_contact", "Contact", "contact_id", _CONTACT[1:]),
    _by_id("delete_opportunity", "Opportunity", "Delete an opportunity."),
    _by_id("delete_quote", "Quote", "Delete a quote."),
    _by_id("cancel_quote", "Quote", "Cancel a quote (set its status to Canceled)."),
    _by_id("clone_opportunity", "Opportunity", "Copy an opportunity under a new id and the name "
           "'<name> (Clone)'."),
    _search("client_search", "Client", "Find clients matching criteria (case-insensitive substring "
            "on text fields).", _CLIENT),
    _search("opportunity_search", "Opportunity", "Find opportunities matching criteria.",
            _OPPORTUNITY),
    _search("contact_search", "Contact", "Find contacts matching criteria.", _CONTACT),
    _search("quote_search", "Quote", "Find quotes matching criteria.", _QUOTE),
    _search("contract_search", "Contract", "Find contracts matching criteria.", _CONTRACT),
    _search("company_search", "Company", "Find companies (partners, vendors, competitors) matching "
            "criteria.", _COMPANY),
    _by_id("view_opportunity_details", "Opportunity", "Show one opportunity's details."),
    _by_id("opportunity_details", "Opportunity", "Show one opportunity's details (alias of "
           "view_opportunity_details)."),
    _by_id("quote_details", "Quote", "Show one quote's details."),
    ToolSpec("compare_quotes", "Return several quotes side by side, in the order given.", "Quote",
             ("quote_ids",), special={"quote_ids": QuoteIds}),
    ToolSpec("compare_quote_details", "Compare quotes: the records, their amounts, statuses and "
             "total.", "Quote", ("quote_ids",), special={"quote_ids": QuoteIds}),
    _search("summarize_opportunities", "Opportunity", "Count and total the opportunities matching "
            "criteria, by stage and by owner.", ("client_id", "name", "stage", "owner")),
    ToolSpec("quote_prefixes", "List the distinct quote prefixes in use, sorted."),
    _listing("list_clients", "client"),
    _listing("list_contacts", "contact"),
    _listing("list_opportunities", "opportunity"),
    _listing("list_quotes", "quote"),
    _listing("list_contracts", "contract"),
    _listing("list_documents", "document"),
    _listing("list_notes", "note"),
    _listing("list_companies", "company"),
    ToolSpec("summarize_counts", "Count the records of each kind in the CRM."),
]  # fmt: skip

TOOL_SPECS: dict[str, ToolSpec] = {spec.name: spec for spec in _SPECS}
"""Tool name -> spec, grouped as SPEC-arc.md section 2.1 groups them."""

LISTING_TOOLS: tuple[str, ...] = tuple(name for name in TOOL_SPECS if name.startswith("list_"))
"""The eight ``list_<plural>`` tools, in catalogue order."""
