"""The default store: one dict per entity type plus an email index, all in process memory."""

from __future__ import annotations

from typing import Iterable

from crm_gym.crm.entities import ENTITY_TYPES, PRIMARY_KEYS, Entity

Tables = dict[str, dict[str, Entity]]
EmailIndex = dict[str, list[str]]


def _email_key(record: Entity) -> str | None:
    email = record.email  # type: ignore[attr-defined]
    return email.lower() if email else None


class MemoryStore:
    """Dicts keyed by primary key (insertion-ordered, as upstream's mock).

    Snapshots copy the dicts but share the records, which the CRM never mutates, so a snapshot or
    restore costs O(records) pointer copies. Writes inside ``transaction()`` keep an undo log.
    ``versions[kind]`` changes whenever that table may have changed (so scoring can reuse what it
    derived from an unchanged table); ``version`` is the latest of them.

    Example:
        >>> from crm_gym.crm.entities import Client
        >>> store = MemoryStore()
        >>> store.insert("Client", Client(client_id="0" * 32, name="Acme", email="a@acme.com"))
        >>> store.count("Client"), store.clients_with_email("a@acme.com")
        (1, ['00000000000000000000000000000000'])
    """

    def __init__(self) -> None:
        self.tables: Tables = {kind: {} for kind in ENTITY_TYPES}
        self.email_index: EmailIndex = {}
        self._undo: list[tuple[str, str, Entity | None]] | None = None
        self.version = 0
        self.versions = dict.fromkeys(ENTITY_TYPES, 0)

    # ---- writes -------------------------------------------------------------------------------
    def insert(self, kind: str, record: Entity) -> None:
        """Add a record under its primary key."""
        self._write(kind, getattr(record, PRIMARY_KEYS[kind]), record)

    def replace(self, kind: str, key: str, record: Entity) -> None:
        """Swap in a new version of an existing record (dict order is kept)."""
        self._write(kind, key, record)

    def delete(self, kind: str, key: str) -> bool:
        """Remove a record; False if absent."""
        if key not in self.tables[kind]:
            return False
        self._write(kind, key, None)
        return True

    def _write(self, kind: str, key: str, record: Entity | None) -> None:
        table = self.tables[kind]
        self.version = self.versions[kind] = self.version + 1
        if self._undo is not None:
            self._undo.append((kind, key, table.get(key, _ABSENT)))
        if kind == "Client":
            self._reindex(key, table.get(key), record)
        if record is None:
            del table[key]
        else:
            table[key] = record

    def _reindex(self, key: str, old: Entity | None, new: Entity | None) -> None:
        old_email = _email_key(old) if old is not None else None
        new_email = _email_key(new) if new is not None else None
        if old_email == new_email:
            return
        if old_email is not None:
            keys = self.email_index[old_email]
            keys.remove(key)
            if not keys:
                del self.email_index[old_email]
        if new_email is not None:
            self.email_index.setdefault(new_email, []).append(key)

    # ---- reads --------------------------------------------------------------------------------
    def get(self, kind: str, key: str) -> Entity | None:
        """The record or None (non-string keys are never found)."""
        return self.tables[kind].get(key) if isinstance(key, str) else None

    def records(self, kind: str) -> Iterable[Entity]:
        """Records of one kind in insertion order."""
        return self.tables[kind].values()

    def items(self, kind: str) -> Iterable[tuple[str, Entity]]:
        """``(key, record)`` pairs in insertion order."""
        return self.tables[kind].items()

    def count(self, kind: str) -> int:
        """Number of records of one kind."""
        return len(self.tables[kind])

    def clients_with_email(self, email_key: str) -> list[str]:
        """Client keys whose lower-cased email is ``email_key`` (O(1))."""
        return list(self.email_index.get(email_key, ()))

    # ---- whole-state operations ---------------------------------------------------------------
    def snapshot(self) -> tuple[Tables, EmailIndex]:
        """Shallow copies of every table and of the index (records are shared, never mutated)."""
        tables = {kind: table.copy() for kind, table in self.tables.items()}
        return tables, {email: keys.copy() for email, keys in self.email_index.items()}

    def restore(self, snapshot: tuple[Tables, EmailIndex]) -> None:
        """Return to the snapshot's state; the snapshot can be restored again later."""
        tables, index = snapshot
        self.tables = {kind: table.copy() for kind, table in tables.items()}
        self.email_index = {email: keys.copy() for email, keys in index.items()}
        self.version += 1
        self.versions = dict.fromkeys(ENTITY_TYPES, self.version)

    def close(self) -> None:
        """Nothing to release: the records live in this object."""

    def transaction(self) -> _Transaction:
        """Undo every write of the block if it raises (nested blocks join the outer one)."""
        return _Transaction(self)


class _Absent:
    """Marks an undo entry for a key that did not exist before the write."""


_ABSENT: Entity = _Absent()  # type: ignore[assignment]


class _Transaction:
    """Context manager behind ``MemoryStore.transaction`` (a class: cheaper than a generator)."""

    def __init__(self, store: MemoryStore):
        self.store = store
        self.outer = store._undo is not None

    def __enter__(self) -> None:
        if not self.outer:
            self.store._undo = []

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.outer:
            return
        undo, self.store._undo = self.store._undo or [], None
        if exc_type is not None:
            for kind, key, old in reversed(undo):
                self.store._write(kind, key, None if old is _ABSENT else old)
