"""The store protocol: where CRM records live, independent of the tools' business rules."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Iterable, Protocol

from crm_gym.crm.entities import Entity


class Store(Protocol):
    """Records keyed by entity name and primary key, in insertion order.

    Records handed out are never mutated by the CRM: an update replaces the stored record with a
    new object, which keeps snapshots cheap and shared records safe.
    """

    def insert(self, kind: str, record: Entity) -> None:
        """Add a new record (its primary key must be new)."""
        ...

    def replace(self, kind: str, key: str, record: Entity) -> None:
        """Store ``record`` under the existing ``key``, keeping its position."""
        ...

    def get(self, kind: str, key: str) -> Entity | None:
        """The record with this primary key, or None."""
        ...

    def delete(self, kind: str, key: str) -> bool:
        """Remove a record; False when it did not exist."""
        ...

    def records(self, kind: str) -> Iterable[Entity]:
        """All records of one kind in insertion order."""
        ...

    def items(self, kind: str) -> Iterable[tuple[str, Entity]]:
        """``(key, record)`` pairs of one kind in insertion order."""
        ...

    def count(self, kind: str) -> int:
        """How many records of one kind exist."""
        ...

    def clients_with_email(self, email_key: str) -> list[str]:
        """Keys of the clients whose lower-cased email equals ``email_key``."""
        ...

    def snapshot(self) -> Any:
        """An opaque copy of the whole state, for ``restore``."""
        ...

    def restore(self, snapshot: Any) -> None:
        """Return to a state taken by ``snapshot`` (the snapshot stays reusable)."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes: an exception inside the block undoes all of them."""
        ...

    def close(self) -> None:
        """Release the store's resources (its database connection); later uses raise."""
        ...
