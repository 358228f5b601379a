"""Tools that change or remove existing records: modify, delete, cancel, clone."""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

from pydantic import ValidationError

from crm_gym.crm import rules
from crm_gym.crm.core import CrmCore, crm_validation_error
from crm_gym.crm.create import CLIENT_STATUSES, QUOTE_STATUSES, STAGES
from crm_gym.crm.entities import (
    FIELD_NAMES,
    FOREIGN_KEYS,
    PRIMARY_KEYS,
    Client,
    Contact,
    Entity,
    Opportunity,
    Quote,
)
from crm_gym.errors import CrmError


class ChangeTools(CrmCore):
    """Modify, delete, cancel and clone."""

    # ---- modify -------------------------------------------------------------------------------
    def modify_opportunity(
        self, opportunity_id: Any, updates: dict | None = None, **kwargs: Any
    ) -> Opportunity:
        """Update a deal; stage, amount, probability and close date freeze once it is closed."""
        return self._modify("Opportunity", opportunity_id, updates, kwargs)  # type: ignore[return-value]

    def modify_client(self, client_id: Any, updates: dict | None = None, **kwargs: Any) -> Client:
        """Update a client's fields."""
        return self._modify("Client", client_id, updates, kwargs)  # type: ignore[return-value]

    def modify_quote(self, quote_id: Any, updates: dict | None = None, **kwargs: Any) -> Quote:
        """Update a quote's fields."""
        return self._modify("Quote", quote_id, updates, kwargs)  # type: ignore[return-value]

    def modify_contact(
        self, contact_id: Any, updates: dict | None = None, **kwargs: Any
    ) -> Contact:
        """Update a contact's fields."""
        return self._modify("Contact", contact_id, updates, kwargs)  # type: ignore[return-value]

    def _modify(self, kind: str, key: Any, updates: Any, kwargs: dict[str, Any]) -> Entity:
        """Apply updates field by field in upstream's order; atomic unless ``strict_upstream``."""
        if updates is None and not kwargs:
            raise CrmError("Must provide either updates dict or keyword args")
        if updates is not None and not isinstance(updates, dict):
            raise CrmError("updates must be a dict mapping field names to new values.")
        changes = {**(updates or {}), **kwargs}
        record = self._require(kind, key)
        if kind == "Opportunity":
            rules.closed_deal_lock(record.stage, changes)  # type: ignore[attr-defined]
        updated = record.model_copy()
        try:
            self._apply(kind, key, updated, changes)
        except CrmError:
            if self.strict_upstream:  # upstream kept the fields assigned before the failure
                self.store.replace(kind, key, updated)
            raise
        self.store.replace(kind, key, updated)
        return updated

    def _apply(self, kind: str, key: str, record: Entity, changes: dict[str, Any]) -> None:
        field_rule = FIELD_RULES[kind]
        validator = record.__pydantic_validator__
        today = self.clock.today()
        for field, value in changes.items():
            if field not in FIELD_NAMES[kind]:
                raise CrmError(f"{kind} has no field named '{field}'.")
            value = field_rule(field, value, today)
            if kind == "Client" and field == "email" and not self.strict_upstream:
                self._check_email_free(value, exclude=key)
            try:  # what ``setattr`` does for a field under ``validate_assignment``, minus 2 frames
                validator.validate_assignment(record, field, value)
            except ValidationError as exc:
                raise crm_validation_error(exc) from None
            if not self.strict_upstream:
                self._guard_keys(kind, key, field, getattr(record, field))
        if kind == "Opportunity":
            rules.close_date_not_past(record.close_date, today)  # type: ignore[attr-defined]

    def _guard_keys(self, kind: str, key: str, field: str, value: Any) -> None:
        """Keep identity and references intact: no primary-key edits, no dangling foreign keys."""
        if field == PRIMARY_KEYS[kind] and value != key:
            raise CrmError(f"{kind} {field} cannot be changed.")
        target = FOREIGN_KEYS.get(kind, {}).get(field)
        if target is not None and value is not None:
            self._require(target, value)

    # ---- delete, cancel, clone ----------------------------------------------------------------
    def delete_opportunity(self, opportunity_id: Any) -> bool:
        """Delete a deal (and, unless ``strict_upstream``, its quotes, files and notes)."""
        self._require("Opportunity", opportunity_id)
        with self.store.transaction():
            if not self.strict_upstream:
                self._cascade_opportunity(opportunity_id)
            self.store.delete("Opportunity", opportunity_id)
        return True

    def delete_quote(self, quote_id: Any) -> bool:
        """Delete a quote (and, unless ``strict_upstream``, its files and notes)."""
        self._require("Quote", quote_id)
        with self.store.transaction():
            if not self.strict_upstream:
                self._delete_attachments("Quote", quote_id)
            self.store.delete("Quote", quote_id)
        return True

    def _cascade_opportunity(self, opportunity_id: str) -> None:
        quotes = [
            q.quote_id  # type: ignore[attr-defined]
            for q in self.store.records("Quote")
            if q.opportunity_id == opportunity_id  # type: ignore[attr-defined]
        ]
        for quote_id in quotes:
            self._delete_attachments("Quote", quote_id)
            self.store.delete("Quote", quote_id)
        self._delete_attachments("Opportunity", opportunity_id)
        for key, contract in list(self.store.items("Contract")):
            if contract.opportunity_id == opportunity_id:  # type: ignore[attr-defined]
                unlinked = contract.model_copy(update={"opportunity_id": None})
                self.store.replace("Contract", key, unlinked)

    def _delete_attachments(self, entity_type: str, entity_id: str) -> None:
        for kind in ("Document", "Note"):
            doomed = [
                key
                for key, record in self.store.items(kind)
                if record.entity_type == entity_type and record.entity_id == entity_id  # type: ignore[attr-defined]
            ]
            for key in doomed:
                self.store.delete(kind, key)

    def cancel_quote(self, quote_id: Any) -> Quote:
        """Set a quote's status to Canceled (idempotent)."""
        quote = self._require("Quote", quote_id)
        canceled = quote.model_copy(update={"status": "Canceled"})
        self.store.replace("Quote", quote_id, canceled)
        return canceled  # type: ignore[return-value]

    def clone_opportunity(self, opportunity_id: Any) -> Opportunity:
        """Copy a deal under a new id and the name "<name> (Clone)"; no rule is re-checked."""
        source = self._require("Opportunity", opportunity_id)
        fields = source.model_dump(exclude={"opportunity_id", "created_at"})
        fields.update(opportunity_id=self.ids.new_id(), name=f"{source.name} (Clone)")  # type: ignore[attr-defined]
        self._stamp(fields, "created_at")
        clone = Opportunity.model_construct(**fields)
        self.store.insert("Opportunity", clone)
        return clone


def _opportunity_rule(field: str, value: Any, today: date) -> Any:
    if field == "stage":
        return rules.enum_value(value, "Opportunity stage update", STAGES)
    if field == "probability":
        return rules.probability(value)
    if field == "amount":
        return rules.amount(value, "Opportunity amount")
    if field == "close_date":
        parsed = rules.close_date(value)
        rules.close_date_not_past(parsed, today)
        return parsed
    rules.not_blank(value, "Opportunity", field)
    return value


def _client_rule(field: str, value: Any, today: date) -> Any:
    if field == "status":
        return rules.enum_value(value, "Client status update", CLIENT_STATUSES)
    rules.not_blank(value, "Client", field)
    return value


def _quote_rule(field: str, value: Any, today: date) -> Any:
    if field == "status":
        return rules.enum_value(value, "Quote status update", QUOTE_STATUSES)
    if field == "amount":
        return rules.amount(value, "Quote amount")
    rules.not_blank(value, "Quote", field)
    return value


def _contact_rule(field: str, value: Any, today: date) -> Any:
    rules.not_blank(value, "Contact", field)
    return value


FieldRule = Callable[[str, Any, date], Any]
FIELD_RULES: dict[str, FieldRule] = {
    "Opportunity": _opportunity_rule,
    "Client": _client_rule,
    "Quote": _quote_rule,
    "Contact": _contact_rule,
}
"""Per-field checks of each modify tool (SPEC-arc.md section 2.2), run before assignment."""
