"""The eight CRM entities and their enums (SPEC-arc.md section 1), as strict pydantic models.

Every model forbids unknown fields, trims strings, validates on assignment and stores enums as
plain strings, because upstream's payloads and error texts depend on exactly that.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal, Optional, get_args

from pydantic import AfterValidator, AnyUrl, BaseModel, ConfigDict, Field, PlainSerializer

from crm_gym.crm.emails import Email

ClientStatus = Literal["Active", "Prospect", "Inactive"]
OpportunityStage = Literal[
    "Prospecting", "Qualification", "Proposal", "Negotiation", "Closed-Won", "Closed-Lost"
]
QuoteStatus = Literal["Draft", "Sent", "Approved", "Rejected", "Canceled"]
ContractStatus = Literal["Active", "Pending", "Expired"]
DocumentEntityType = Literal["Opportunity", "Contract", "Quote", "Client"]
NoteEntityType = Literal["Opportunity", "Client", "Contact", "Quote", "Contract"]
CompanyType = Literal["Partner", "Vendor", "Competitor"]

CLIENT_STATUSES: tuple[str, ...] = get_args(ClientStatus)
OPPORTUNITY_STAGES: tuple[str, ...] = get_args(OpportunityStage)
OPEN_STAGES = OPPORTUNITY_STAGES[:4]
CLOSED_STAGES = OPPORTUNITY_STAGES[4:]
"""The two final stages, in the order the stage type lists them."""
QUOTE_STATUSES: tuple[str, ...] = get_args(QuoteStatus)
CONTRACT_STATUSES: tuple[str, ...] = get_args(ContractStatus)
COMPANY_TYPES: tuple[str, ...] = get_args(CompanyType)

UUID_PATTERN = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
"""A canonical UUID of any case, as a regular expression (the one copy in the package)."""
_CANONICAL_UUID = re.compile(UUID_PATTERN)


def is_uuid(value: str) -> bool:
    """True when ``value`` parses as a UUID in any form Python's ``uuid.UUID`` accepts."""
    if _CANONICAL_UUID.fullmatch(value):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _uuid_field(name: str) -> AfterValidator:
    def check(value: str) -> str:
        if _CANONICAL_UUID.fullmatch(value) is None and not is_uuid(value):  # one frame, usually
            raise ValueError(f"{name} must be a valid UUID string.")
        return value

    return AfterValidator(check)


def _url(value: AnyUrl) -> str:
    return str(value)


Url = Annotated[AnyUrl, AfterValidator(_url), PlainSerializer(str, return_type=str)]
"""An absolute URL, validated by pydantic and stored as its string."""


class Entity(BaseModel):
    """Shared configuration of every CRM record."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, str_strip_whitespace=True, allow_inf_nan=False
    )


class Client(Entity):
    """An account or prospect tracked by the revenue team."""

    client_id: Annotated[str, _uuid_field("client_id")]
    name: str
    industry: Optional[str] = None
    email: Optional[Email] = None
    phone: Optional[str] = None
    address: Optional[str] = None
    status: Optional[ClientStatus] = None
    created_date: Optional[datetime] = None
    owner: Optional[str] = None


class Contact(Entity):
    """A person at a client."""

    contact_id: Annotated[str, _uuid_field("contact_id")]
    first_name: str
    last_name: str
    title: Optional[str] = None
    email: Optional[Email] = None
    phone: Optional[str] = None
    client_id: Annotated[str, _uuid_field("client_id")]
    notes: Optional[str] = None


class Opportunity(Entity):
    """A deal in the sales pipeline of one client."""

    opportunity_id: Annotated[str, _uuid_field("opportunity_id")]
    name: str
    client_id: Annotated[str, _uuid_field("client_id")]
    stage: Optional[OpportunityStage] = None
    amount: Optional[float] = None
    close_date: Optional[date] = None
    owner: Optional[str] = None
    probability: Optional[float] = Field(default=None, ge=0, le=100)
    notes: Optional[str] = None
    created_at: Optional[datetime] = None


class Quote(Entity):
    """A priced offer for an opportunity."""

    quote_id: Annotated[str, _uuid_field("quote_id")]
    opportunity_id: Annotated[str, _uuid_field("opportunity_id")]
    name: Optional[str] = None
    version: Optional[str] = None
    amount: Optional[float] = Field(default=None, ge=0)
    status: Optional[QuoteStatus] = None
    valid_until: Optional[date] = None
    created_date: Optional[datetime] = None
    quote_prefix: Optional[str] = None


class Contract(Entity):
    """A signed or pending agreement with a client."""

    contract_id: Annotated[str, _uuid_field("contract_id")]
    client_id: Annotated[str, _uuid_field("client_id")]
    opportunity_id: Optional[Annotated[str, _uuid_field("opportunity_id")]] = None
    start_date: Optional[date] = None
    end_date: Optional[date] = None
    value: Optional[float] = None
    status: Optional[ContractStatus] = None
    document_url: Optional[Url] = None


class Document(Entity):
    """A file attached to a client, opportunity, quote or contract."""

    document_id: Annotated[str, _uuid_field("document_id")]
    entity_type: DocumentEntityType
    entity_id: Annotated[str, _uuid_field("entity_id")]
    file_name: Optional[str] = None
    uploaded_by: Optional[str] = None
    uploaded_at: Optional[datetime] = None
    file_url: Optional[Url] = None


class Note(Entity):
    """A free-text note on a record."""

    note_id: Annotated[str, _uuid_field("note_id")]
    entity_type: NoteEntityType
    entity_id: Annotated[str, _uuid_field("entity_id")]
    content: str
    created_by: Optional[str] = None
    created_at: Optional[datetime] = None


class Company(Entity):
    """A partner, vendor or competitor (no tool creates one; seeded directly)."""

    company_id: Annotated[str, _uuid_field("company_id")]
    name: str
    type: Optional[CompanyType] = None
    industry: Optional[str] = None
    address: Optional[str] = None
    contacts: list[str] = Field(default_factory=list)


ENTITY_TYPES: dict[str, type[Entity]] = {
    "Client": Client,
    "Contact": Contact,
    "Opportunity": Opportunity,
    "Quote": Quote,
    "Contract": Contract,
    "Document": Document,
    "Note": Note,
    "Company": Company,
}
"""Entity name -> model, in the order the stores and the counts tool list them."""

PRIMARY_KEYS: dict[str, str] = {name: f"{name.lower()}_id" for name in ENTITY_TYPES}

PLURALS: dict[str, str] = {
    "Client": "clients",
    "Contact": "contacts",
    "Opportunity": "opportunities",
    "Quote": "quotes",
    "Contract": "contracts",
    "Document": "documents",
    "Note": "notes",
    "Company": "companies",
}
"""Entity name -> its plural, as the counts and ``list_<plural>`` tools say it."""

FIELD_NAMES: dict[str, frozenset[str]] = {
    name: frozenset(model.model_fields) for name, model in ENTITY_TYPES.items()
}
"""Entity name -> its field names (read once: pydantic's ``model_fields`` access is slow)."""

FOREIGN_KEYS: dict[str, dict[str, str]] = {
    "Contact": {"client_id": "Client"},
    "Opportunity": {"client_id": "Client"},
    "Quote": {"opportunity_id": "Opportunity"},
    "Contract": {"client_id": "Client", "opportunity_id": "Opportunity"},
}
"""Plain foreign keys: entity -> {field: referenced entity}. Documents and notes point at
``(entity_type, entity_id)`` instead."""
