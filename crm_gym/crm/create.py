"""The create tools (SPEC-arc.md section 2.2), checks in upstream's order."""

from __future__ import annotations

from typing import Any, get_args

from crm_gym.crm import rules
from crm_gym.crm.core import CrmCore
from crm_gym.crm.entities import (
    Client,
    ClientStatus,
    Contact,
    Contract,
    ContractStatus,
    Document,
    DocumentEntityType,
    Note,
    NoteEntityType,
    Opportunity,
    OpportunityStage,
    Quote,
    QuoteStatus,
)

CLIENT_STATUSES = get_args(ClientStatus)
STAGES = get_args(OpportunityStage)
QUOTE_STATUSES = get_args(QuoteStatus)
CONTRACT_STATUSES = get_args(ContractStatus)
DOCUMENT_TARGETS = get_args(DocumentEntityType)
NOTE_TARGETS = get_args(NoteEntityType)


class CreateTools(CrmCore):
    """Tools that add records."""

    def create_new_client(self, name: Any, email: Any, status: Any, **extra: Any) -> Client:
        """Create a client; the email must not belong to another client (in any letter case).

        Example:
            >>> from crm_gym.crm import CrmApi
            >>> api = CrmApi(seed=0)
            >>> client = api.create_new_client("Acme", "ops@acme.com", "Active")
            >>> [c.name for c in api.list_clients().values()]
            ['Acme']
            >>> api.create_new_client("Other", "OPS@acme.com", "Active")
            Traceback (most recent call last):
            ...
            crm_gym.errors.DuplicateEmailError: Client already exists with email 'OPS@acme.com'.
        """
        if email is not None:
            self._check_email_free(email)
        rules.required_text(name, "Client name")
        rules.enum_value(status, "Client status", CLIENT_STATUSES)
        fields = {"client_id": self.ids.new_id(), **extra, "name": name, "email": email}
        fields["status"] = status
        self._stamp(fields, "created_date")
        client = self._build("Client", fields)
        self._insert("Client", client)
        return client  # type: ignore[return-value]

    def ensure_client(self, **fields: Any) -> Client:
        """Return the client with this email if one exists, else create it."""
        missing = [name for name in ("name", "email", "status") if name not in fields]
        existing = self._clients_with_email(fields.get("email"))
        if existing:
            return self.store.get("Client", existing[0])  # type: ignore[return-value]
        if missing:
            raise rules.missing_arguments("create_new_client", missing)
        return self.create_new_client(**fields)

    def create_new_opportunity(
        self, name: Any, client_id: Any, amount: Any, stage: Any, **extra: Any
    ) -> Opportunity:
        """Create a deal for an existing client."""
        self._require("Client", client_id)
        rules.required_text(name, "Opportunity name")
        value = rules.amount(amount, "Opportunity amount")
        rules.enum_value(stage, "Opportunity stage", STAGES)
        if extra.get("probability") is not None:
            extra["probability"] = rules.probability(extra["probability"])
        if extra.get("close_date") is not None:
            extra["close_date"] = rules.close_date(extra["close_date"])
        fields = {"opportunity_id": self.ids.new_id(), **extra, "name": name}
        fields.update(client_id=client_id, amount=value, stage=stage)
        self._stamp(fields, "created_at")
        opportunity = self._build("Opportunity", fields)
        rules.close_date_not_past(opportunity.close_date, self.clock.today())  # type: ignore[attr-defined]
        self._insert("Opportunity", opportunity)
        return opportunity  # type: ignore[return-value]

    def create_quote(self, opportunity_id: Any, amount: Any, status: Any, **extra: Any) -> Quote:
        """Create a quote for an existing opportunity (named after it unless a name is given)."""
        opportunity = self._require("Opportunity", opportunity_id)
        value = rules.amount(amount, "Quote amount")
        rules.enum_value(status, "Quote status", QUOTE_STATUSES)
        if extra.get("name") is None:
            extra["name"] = f"{opportunity.name} Quote"  # type: ignore[attr-defined]
        fields = {"quote_id": self.ids.new_id(), **extra, "opportunity_id": opportunity_id}
        fields.update(amount=value, status=status)
        self._stamp(fields, "created_date")
        quote = self._build("Quote", fields)
        self._insert("Quote", quote)
        return quote  # type: ignore[return-value]

    def create_contract(self, client_id: Any, opportunity_id: Any = None, **extra: Any) -> Contract:
        """Create a contract for a client, optionally tied to one of its opportunities."""
        self._require("Client", client_id)
        if opportunity_id:
            self._require("Opportunity", opportunity_id)
        status = extra.pop("status", "Pending")
        rules.enum_value(status, "Contract status", CONTRACT_STATUSES)
        fields = {"contract_id": self.ids.new_id(), **extra, "client_id": client_id}
        fields.update(opportunity_id=opportunity_id, status=status)
        contract = self._build("Contract", fields)
        self._insert("Contract", contract)
        return contract  # type: ignore[return-value]

    def create_new_contact(
        self, first_name: Any, last_name: Any, client_id: Any, **extra: Any
    ) -> Contact:
        """Create a contact person at an existing client."""
        self._require("Client", client_id)
        rules.required_text(first_name, "Contact first name")
        rules.required_text(last_name, "Contact last name")
        fields = {"contact_id": self.ids.new_id(), **extra, "first_name": first_name}
        fields.update(last_name=last_name, client_id=client_id)
        contact = self._build("Contact", fields)
        self._insert("Contact", contact)
        return contact  # type: ignore[return-value]

    def upload_document(
        self, entity_type: Any, entity_id: Any, file_name: Any, **extra: Any
    ) -> Document:
        """Attach a file record to a client, opportunity, quote or contract.

        ``document_url`` is accepted as an alias of ``file_url`` (the public data uses it), and
        surrounding whitespace is trimmed from ``file_name``; neither under ``strict_upstream``.
        """
        name = rules.file_name(file_name, trim=not self.strict_upstream)
        rules.entity_type(entity_type, DOCUMENT_TARGETS, "DocumentEntityType")
        self._require(entity_type, entity_id)
        if not self.strict_upstream and "document_url" in extra:
            alias = extra.pop("document_url")
            extra.setdefault("file_url", alias)
        fields = {"document_id": self.ids.new_id(), **extra, "entity_type": entity_type}
        fields.update(entity_id=entity_id, file_name=name)
        self._stamp(fields, "uploaded_at")
        document = self._build("Document", fields)
        self._insert("Document", document)
        return document  # type: ignore[return-value]

    def add_note(self, entity_type: Any, entity_id: Any, content: Any, **extra: Any) -> Note:
        """Add a note to a client, contact, opportunity, quote or contract."""
        rules.required_text(content, "Note content")
        rules.entity_type(entity_type, NOTE_TARGETS, "NoteEntityType")
        self._require(entity_type, entity_id)
        fields = {"note_id": self.ids.new_id(), **extra, "entity_type": entity_type}
        fields.update(entity_id=entity_id, content=content)
        self._stamp(fields, "created_at")
        note = self._build("Note", fields)
        self._insert("Note", note)
        return note  # type: ignore[return-value]
