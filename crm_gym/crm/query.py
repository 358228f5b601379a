"""Read-only tools: searches, details, comparisons, summaries and listings."""

from __future__ import annotations

from typing import Any

from crm_gym.crm.core import CrmCore
from crm_gym.crm.entities import (
    ENTITY_TYPES,
    FIELD_NAMES,
    PLURALS,
    Client,
    Company,
    Contact,
    Contract,
    Document,
    Entity,
    Note,
    Opportunity,
    Quote,
)
from crm_gym.crm.search import search
from crm_gym.errors import CrmError


class QueryTools(CrmCore):
    """Tools that read the CRM without changing it."""

    # ---- searches -----------------------------------------------------------------------------
    def client_search(self, **criteria: Any) -> list[Client]:
        """Clients matching all criteria (case-insensitive substring on strings)."""
        return self._search("Client", criteria)  # type: ignore[return-value]

    def opportunity_search(self, **criteria: Any) -> list[Opportunity]:
        """Opportunities matching all criteria."""
        return self._search("Opportunity", criteria)  # type: ignore[return-value]

    def contact_search(self, **criteria: Any) -> list[Contact]:
        """Contacts matching all criteria."""
        return self._search("Contact", criteria)  # type: ignore[return-value]

    def quote_search(self, **criteria: Any) -> list[Quote]:
        """Quotes matching all criteria."""
        return self._search("Quote", criteria)  # type: ignore[return-value]

    def contract_search(self, **criteria: Any) -> list[Contract]:
        """Contracts matching all criteria."""
        return self._search("Contract", criteria)  # type: ignore[return-value]

    def company_search(self, **criteria: Any) -> list[Company]:
        """Companies matching all criteria."""
        return self._search("Company", criteria)  # type: ignore[return-value]

    def _search(self, kind: str, criteria: dict[str, Any]) -> list[Entity]:
        return search(self.store.records(kind), criteria, FIELD_NAMES[kind])

    # ---- details ------------------------------------------------------------------------------
    def view_opportunity_details(self, opportunity_id: Any) -> Opportunity:
        """One opportunity by id."""
        return self._require("Opportunity", opportunity_id)  # type: ignore[return-value]

    def opportunity_details(self, opportunity_id: Any) -> Opportunity:
        """One opportunity by id (alias of ``view_opportunity_details``)."""
        return self._require("Opportunity", opportunity_id)  # type: ignore[return-value]

    def quote_details(self, quote_id: Any) -> Quote:
        """One quote by id."""
        return self._require("Quote", quote_id)  # type: ignore[return-value]

    # ---- comparisons and summaries ------------------------------------------------------------
    def compare_quotes(self, quote_ids: Any) -> list[Quote]:
        """The quotes with these ids, in the order asked (the first missing id fails)."""
        if not isinstance(quote_ids, (list, tuple)):
            raise CrmError("quote_ids must be a list of quote ids.")
        return [self._require("Quote", key) for key in quote_ids]  # type: ignore[misc]

    def compare_quote_details(self, quote_ids: Any) -> dict[str, Any]:
        """Quotes side by side: the records, their amounts and statuses, and the total."""
        quotes = self.compare_quotes(quote_ids)
        amounts = [quote.amount for quote in quotes]
        return {
            "quotes": quotes,
            "amounts": amounts,
            "statuses": [quote.status for quote in quotes],
            "total_amount": sum(amount for amount in amounts if amount),
        }

    def summarize_opportunities(self, **criteria: Any) -> dict[str, Any]:
        """Count, total amount and breakdowns by stage and owner of the matching deals."""
        deals: list[Opportunity] = self.opportunity_search(**criteria)
        by_stage: dict[str, int] = {}
        by_owner: dict[str, int] = {}
        for deal in deals:
            if deal.stage is not None:
                by_stage[deal.stage] = by_stage.get(deal.stage, 0) + 1
            if deal.owner is not None:
                by_owner[deal.owner] = by_owner.get(deal.owner, 0) + 1
        return {
            "total_count": len(deals),
            "total_amount": sum(deal.amount for deal in deals if deal.amount),
            "by_stage": by_stage,
            "by_owner": by_owner,
        }

    def quote_prefixes(self) -> list[str]:
        """The distinct non-empty quote prefixes, sorted."""
        prefixes = {q.quote_prefix for q in self.store.records("Quote")}  # type: ignore[attr-defined]
        return sorted(prefix for prefix in prefixes if prefix)

    # ---- listings -----------------------------------------------------------------------------
    def list_clients(self) -> dict[str, Client]:
        """Every client by id."""
        return self._listing("Client")  # type: ignore[return-value]

    def list_contacts(self) -> dict[str, Contact]:
        """Every contact by id."""
        return self._listing("Contact")  # type: ignore[return-value]

    def list_opportunities(self) -> dict[str, Opportunity]:
        """Every opportunity by id."""
        return self._listing("Opportunity")  # type: ignore[return-value]

    def list_quotes(self) -> dict[str, Quote]:
        """Every quote by id."""
        return self._listing("Quote")  # type: ignore[return-value]

    def list_contracts(self) -> dict[str, Contract]:
        """Every contract by id."""
        return self._listing("Contract")  # type: ignore[return-value]

    def list_documents(self) -> dict[str, Document]:
        """Every document by id."""
        return self._listing("Document")  # type: ignore[return-value]

    def list_notes(self) -> dict[str, Note]:
        """Every note by id."""
        return self._listing("Note")  # type: ignore[return-value]

    def list_companies(self) -> dict[str, Company]:
        """Every company by id."""
        return self._listing("Company")  # type: ignore[return-value]

    def summarize_counts(self) -> dict[str, int]:
        """How many records of each of the eight kinds exist."""
        return {PLURALS[kind]: self.store.count(kind) for kind in ENTITY_TYPES}

    def _listing(self, kind: str) -> dict[str, Entity]:
        return dict(self.store.items(kind))
