"""The paraphrase grammar: sentence patterns per intent and clause forms per argument.

A pattern is a request body with tokens: ``{name}`` states a value, ``{client}`` names an entity
(a mention role), ``{Deal}``/``{Deals}``/``{a_Deal}`` are entity words (synonyms), ``{rest}``
states the remaining values as clauses (``crm_gym.generator.clauses``) and ``{all}`` states all of
them (at least one). A leading ``?`` marks a question, a leading ``!`` a statement (not a verb
phrase). ``wording.render`` fills them.

``REPLIES`` words the expected reply of a tool whose result is not records (the others are
worded alike by ``crm_gym.generator.responses``).
"""

from __future__ import annotations

from typing import Any, Callable

WORDS = {
    "Client": (("client", "clients"), ("customer", "customers"), ("account", "accounts")),
    "Opportunity": (("opportunity", "opportunities"), ("deal", "deals")),
    "Quote": (("quote", "quotes"), ("quotation", "quotations")),
    "Contract": (("contract", "contracts"), ("agreement", "agreements")),
    "Contact": (("contact", "contacts"),),
    "Company": (("company", "companies"), ("organization", "organizations")),
    "Document": (("document", "documents"), ("file", "files")),
    "Note": (("note", "notes"),),
}
"""Entity words: (singular, plural) synonyms; the first is the entity type's own name."""

TOKENS = {
    "Client": "Client",
    "Deal": "Opportunity",
    "Quote": "Quote",
    "Contract": "Contract",
    "Contact": "Contact",
    "Company": "Company",
    "Document": "Document",
    "Note": "Note",
}
"""Word tokens of patterns -> entity type (``{Deals}`` is the plural, ``{a_Deal}`` with article)."""

_MODIFY = (
    "update {target}: set {all}",
    "!on {target}, change {all}",
    "set {all} for {target}",
    "edit {target} and set {all}",
    "!for {target}, update {all}",
    "!{target} needs an update: {all}",
    "change {all} on {target}",
)
_SEARCH = (
    "find {W} {all}",
    "search for {W} {all}",
    "look up {W} {all}",
    "?Do we have any {W} {all}?",
    "show me {W} {all}",
    "?Which {W} are there {all}?",
    "pull up all {W} {all}",
)
_LIST = (
    "list all {W}",
    "show me every {w} we have",
    "give me the complete list of {W}",
    "?What {W} do we have?",
    "pull the full {w} list",
)


def _words(patterns: tuple[str, ...], plural: str, singular: str) -> tuple[str, ...]:
    return tuple(p.replace("{W}", plural).replace("{w}", singular) for p in patterns)


PATTERNS: dict[str, tuple[str, ...]] = {
    "create_new_client": (
        "create a new {Client} {name}{rest}",
        "add {name} as a new {Client}{rest}",
        "set up {name} in the CRM{rest}",
        "onboard {name}{rest}",
        "register {name} as {a_Client}{rest}",
        "!we signed up {name}; add them{rest}",
        "?Can you add {a_Client} named {name}{rest}?",
    ),
    "ensure_client": (
        "make sure {name} ({email}) exists as {a_Client}, creating it with status {status} "
        "if needed",
        "check whether we already have {a_Client} with email {email}; if not, create {name} with "
        "status {status}",
        "get or create the {Client} {name} with email {email} and status {status}",
        "ensure there's {a_Client} record for {email}: {name}, status {status}",
        "look for {email} among our {Clients} and add {name} as {status} if nobody has it",
    ),
    "create_new_opportunity": (
        "create a new {Deal} {name} for {client}{rest}",
        "open {a_Deal} called {name} under {client}{rest}",
        "add {a_Deal} {name} to {client}{rest}",
        "log a new {Deal} for {client}: {name}{rest}",
        "start tracking {a_Deal} named {name} for {client}{rest}",
        "!{client} has a new {Deal}, {name}{rest}; add it",
        "create {a_Deal} {name} worth {amount} for {client}{rest}",
        "set up {a_Deal} for {client} called {name}, {stage} stage{rest}",
    ),
    "create_quote": (
        "create a {Quote} for {deal}{rest}",
        "draft a {Quote} on {deal}{rest}",
        "add a new {Quote} to {deal}{rest}",
        "prepare a {Quote} of {amount} for {deal}{rest}",
        "put together a {Quote} for {deal} at {amount}{rest}",
        "quote {deal} at {amount}{rest}",
        "!we need a {Quote} for {deal}{rest}",
    ),
    "create_contract": (
        "create a {Contract} for {client}{rest}",
        "draw up {a_Contract} with {client}{rest}",
        "set up a new {Contract} for {client}{rest}",
        "record {a_Contract} with {client}{rest}",
        "add {a_Contract} for {client} tied to {deal}{rest}",
        "open {a_Contract} for {client}{rest}",
    ),
    "create_new_contact": (
        "add {person} as a {Contact} at {client}{rest}",
        "create a new {Contact} {person} for {client}{rest}",
        "!we have a new {Contact} at {client}: {person}{rest}",
        "register {person} under {client}{rest}",
        "save {person} as a {Contact} for {client}{rest}",
    ),
    "upload_document": (
        "upload {file_name} to {target}{rest}",
        "attach the file {file_name} to {target}{rest}",
        "add the document {file_name} to {target}{rest}",
        "file {file_name} under {target}{rest}",
        "store {file_name} against {target}{rest}",
    ),
    "add_note": (
        "add a note to {target}: {content}{rest}",
        "log a note on {target} saying {content}{rest}",
        "note on {target}: {content}{rest}",
        "write down {content} on {target}{rest}",
        "attach the note {content} to {target}{rest}",
    ),
    "modify_opportunity": _MODIFY
    + (
        "move {target} to {stage}{rest}",
        "advance {target} to the {stage} stage{rest}",
        "mark {target} as {stage}{rest}",
        "bump the probability of {target} to {probability}{rest}",
        "push the close date of {target} to {close_date}{rest}",
        "change the amount on {target} to {amount}{rest}",
        "reassign {target} to {owner}{rest}",
    ),
    "modify_client": _MODIFY
    + (
        "mark {target} as {status}{rest}",
        "switch {target} to {status} status{rest}",
        "change the phone number of {target} to {phone}{rest}",
    ),
    "modify_quote": _MODIFY
    + (
        "mark {target} as {status}{rest}",
        "reprice {target} to {amount}{rest}",
        "extend {target} until {valid_until}{rest}",
    ),
    "modify_contact": _MODIFY
    + (
        "!{target} has a new title, {title}{rest}",
        "change the email of {target} to {email}{rest}",
        "update the phone number of {target} to {phone}{rest}",
    ),
    "create_new_client_bare": (
        "create a new {Client}{rest}",
        "add {a_Client} to the CRM{rest}",
        "set up a new {Client} record{rest}",
    ),
    "create_new_opportunity_bare": (
        "create a new {Deal} for {client}{rest}",
        "open {a_Deal} under {client}{rest}",
        "add {a_Deal} to {client}{rest}",
    ),
    "upload_document_bare": (
        "upload a document to {target}{rest}",
        "attach a file to {target}{rest}",
        "add a document to {target}{rest}",
    ),
    "add_note_bare": (
        "add a note to {target}{rest}",
        "log a note on {target}{rest}",
        "put a note on {target}{rest}",
    ),
    "modify_empty": (
        "update {target}",
        "make some changes to {target}",
        "edit {target}",
        "modify {target} for me",
        "?Can you update {target}?",
    ),
    "delete_opportunity": (
        "delete {target}",
        "remove {target} from the CRM",
        "get rid of {target}",
        "!{target} is dead; drop it",
        "?Can you delete {target}?",
        "permanently delete {target}",
    ),
    "delete_quote": (
        "delete {target}",
        "remove {target}",
        "discard {target}",
        "get rid of {target}",
        "delete {target} entirely",
    ),
    "cancel_quote": (
        "cancel {target}",
        "void {target}",
        "!the customer backed out; cancel {target}",
        "withdraw {target} by canceling it",
    ),
    "clone_opportunity": (
        "clone {target}",
        "duplicate {target}",
        "make a copy of {target}",
        "copy {target} into a new {Deal}",
        "create a clone of {target}",
    ),
    "client_search": _words(_SEARCH, "{Clients}", "{Client}"),
    "opportunity_search": _words(_SEARCH, "{Deals}", "{Deal}"),
    "contact_search": _words(_SEARCH, "{Contacts}", "{Contact}"),
    "quote_search": _words(_SEARCH, "{Quotes}", "{Quote}"),
    "contract_search": _words(_SEARCH, "{Contracts}", "{Contract}"),
    "company_search": _words(_SEARCH, "{Companies}", "{Company}"),
    "view_opportunity_details": (
        "show me {target}",
        "pull up {target}",
        "?What are the details of {target}?",
        "view the details of {target}",
        "display {target}",
        "?What's the current state of {target}?",
    ),
    "opportunity_details": (
        "get the opportunity details for {target}",
        "fetch the details of {target}",
        "give me the full details of {target}",
        "look at {target} in detail",
    ),
    "quote_details": (
        "show me {target}",
        "get the details of {target}",
        "?What does {target} look like?",
        "pull up {target}",
        "display the details of {target}",
    ),
    "compare_quotes": (
        "compare {quotes}",
        "put {quotes} side by side",
        "?How do {quotes} compare?",
        "show {quotes} next to each other",
        "line up {quotes} for comparison",
    ),
    "compare_quote_details": (
        "compare the details of {quotes}, including the total",
        "give me the amounts, statuses and total of {quotes}",
        "break down {quotes}: amounts, statuses and the combined total",
        "?What are the amounts and statuses of {quotes}, and their total?",
    ),
    "summarize_opportunities": (
        "summarize the {Deals} {all}",
        "give me a pipeline summary of {Deals} {all}",
        "?How many {Deals} are there {all}, and what are they worth?",
        "total up the {Deals} {all}",
    ),
    "summarize_all": (
        "summarize the whole pipeline",
        "give me a summary of all {Deals}",
        "?What does the pipeline look like overall?",
        "total up every {Deal} we have by stage and owner",
    ),
    "quote_prefixes": (
        "list the quote prefixes in use",
        "?Which quote prefixes do we use?",
        "show all quote prefixes",
        "?What quote prefixes exist?",
    ),
    "list_clients": _words(_LIST, "{Clients}", "{Client}"),
    "list_contacts": _words(_LIST, "{Contacts}", "{Contact}"),
    "list_opportunities": _words(_LIST, "{Deals}", "{Deal}"),
    "list_quotes": _words(_LIST, "{Quotes}", "{Quote}"),
    "list_contracts": _words(_LIST, "{Contracts}", "{Contract}"),
    "list_documents": _words(_LIST, "{Documents}", "{Document}"),
    "list_notes": _words(_LIST, "{Notes}", "{Note}"),
    "list_companies": _words(_LIST, "{Companies}", "{Company}"),
    "summarize_counts": (
        "?How many records of each type are in the CRM?",
        "give me a count of everything in the CRM",
        "summarize the record counts",
        "count the records of every kind",
        "?How big is the CRM right now?",
    ),
}


def _summary(payload: dict[str, Any]) -> str:
    parts = []
    for key in ("by_stage", "by_owner"):
        if payload[key]:
            counts = ", ".join(f"{name} {count}" for name, count in payload[key].items())
            parts.append(f"{key.replace('_', ' ')}: {counts}; ")
    totals = f"total_count={payload['total_count']}, total_amount={payload['total_amount']}"
    return f"Pipeline summary, {''.join(parts)}{totals}."


def _compared(payload: dict[str, Any]) -> str:
    amounts = " and ".join(str(amount) for amount in payload["amounts"])
    statuses = " and ".join(str(status) for status in payload["statuses"])
    return (
        f"Compared {len(payload['quotes'])} quotes (amounts {amounts}; statuses {statuses}): "
        f"total_amount={payload['total_amount']}."
    )


def _prefixes(payload: list[str]) -> str:
    if not payload:
        return "No results: no quote prefixes are in use."
    return f"Quote prefixes in use: {', '.join(payload)}."


def _counts(payload: dict[str, int]) -> str:
    counts = ", ".join(f"{key}={value}" for key, value in payload.items())
    return f"Record counts: {counts}."


REPLIES: dict[str, Callable[[Any], str]] = {
    "summarize_opportunities": _summary,
    "compare_quote_details": _compared,
    "quote_prefixes": _prefixes,
    "summarize_counts": _counts,
}
"""Tool -> the expected reply to its successful result (the payload), for non-record results."""
