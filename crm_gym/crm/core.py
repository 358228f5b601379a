"""The state and helpers that every group of CRM tools shares."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from crm_gym.crm.clock import Clock, SystemClock, VirtualClock
from crm_gym.crm.emails import normalize_email
from crm_gym.crm.entities import ENTITY_TYPES, PRIMARY_KEYS, Entity
from crm_gym.crm.ids import IdSource, RandomIds, SeededIds
from crm_gym.crm.rules import not_found
from crm_gym.crm.store import MemoryStore, Store
from crm_gym.errors import CrmError, CrmValidationError, DuplicateEmailError


class CrmCore:
    """A store plus the clock, id source and compatibility switch the tools consult.

    Args:
        store: where records live; a fresh ``MemoryStore`` by default.
        clock: "now" and "today"; a ``VirtualClock`` when ``seed`` is given, else the system clock.
        ids: new primary keys; ``SeededIds(seed)`` when ``seed`` is given, else random UUID4s.
        seed: makes ids and timestamps reproducible (ignored for what is passed explicitly).
        strict_upstream: reproduce upstream's mock exactly (see README "Differences from
            upstream"): non-atomic modifies, no ``document_url`` alias, no timestamps, a linear
            duplicate-email scan, and none of the added foreign-key guards.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        clock: Clock | None = None,
        ids: IdSource | None = None,
        seed: int | None = None,
        strict_upstream: bool = False,
    ):
        self.store: Store = store if store is not None else MemoryStore()
        seeded = seed is not None
        self.clock: Clock = clock or (VirtualClock() if seeded else SystemClock())
        self.ids: IdSource = ids or (SeededIds(seed) if seeded else RandomIds())
        self.strict_upstream = strict_upstream

    # ---- lookups ------------------------------------------------------------------------------
    def _require(self, kind: str, key: Any, label: str | None = None) -> Entity:
        """The record of ``kind`` with this key, or the upstream "not found" error."""
        record = self.store.get(kind, key)
        if record is None:
            raise not_found(label or kind, key)
        return record

    # ---- record construction ------------------------------------------------------------------
    def _build(self, kind: str, fields: dict[str, Any]) -> Entity:
        """Validate a new record with its model; its error is both a CRM and a pydantic error.

        The model's validator is called directly: ``Model(**fields)`` runs the same validation
        but adds a keyword-argument copy and a Python frame.
        """
        try:
            return ENTITY_TYPES[kind].__pydantic_validator__.validate_python(fields)
        except ValidationError as exc:
            raise crm_validation_error(exc) from None

    def _stamp(self, fields: dict[str, Any], name: str) -> None:
        """Fill a creation timestamp from the clock (upstream's mock left them null)."""
        if not self.strict_upstream and fields.get(name) is None:
            fields[name] = self.clock.now()

    def _insert(self, kind: str, record: Entity) -> None:
        """Store a new record; an id supplied by the caller may not overwrite another record."""
        key = getattr(record, PRIMARY_KEYS[kind])
        if not self.strict_upstream and self.store.get(kind, key) is not None:
            raise CrmError(f"{kind} already exists with ID '{key}'.")
        self.store.insert(kind, record)

    # ---- client emails ------------------------------------------------------------------------
    def _clients_with_email(self, email: Any) -> list[str]:
        """Keys of the clients using this email, case-insensitively (R15)."""
        if not isinstance(email, str):
            return []
        if self.strict_upstream:  # upstream's linear scan
            lowered = email.lower()
            return [
                key
                for key, client in self.store.items("Client")
                if client.email is not None and client.email.lower() == lowered  # type: ignore[attr-defined]
            ]
        return self.store.clients_with_email(_email_key(email))

    def _check_email_free(self, email: Any, exclude: str | None = None) -> None:
        if any(key != exclude for key in self._clients_with_email(email)):
            raise DuplicateEmailError(f"Client already exists with email '{email}'.")


def crm_validation_error(exc: ValidationError) -> CrmValidationError:
    """The same errors as a ``CrmValidationError``: the same text, ``errors()`` and title.

    Callers written for upstream catch pydantic's ``ValidationError``; crm-gym's own code catches
    ``CrmError``; this is both. Pydantic rebuilds a standard error (one with a ``url``) from its
    type and context; a custom one (the email check's) is passed whole as a custom error.
    """
    line_errors: list[Any] = []
    for error in exc.errors():
        if "url" not in error:
            custom = PydanticCustomError(error["type"], error["msg"], error.get("ctx"))
            error = {**error, "type": custom}
        line_errors.append(error)
    return CrmValidationError.from_exception_data(exc.title, line_errors)


def _email_key(email: str) -> str:
    """The index key of an email: its normalised form, lower-cased (raw text if invalid)."""
    try:
        return normalize_email(email.strip()).lower()
    except ValueError:
        return email.strip().lower()
