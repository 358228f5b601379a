"""``SqlStore``: the store protocol on SQLite or PostgreSQL, through SQLAlchemy Core.

The database guards the data (see ``sql_schema``: keys, foreign keys, CHECKs, a unique email
index) and every statement is parameterised. Transactions:

- **Episode**: the store is always inside one database transaction that is never committed.
  ``restore`` (what an env's reset calls) rolls it back, begins a new one and inserts the
  snapshot's records, so a reset is cheap and nothing of an episode outlives it: a process killed
  mid-episode leaves no rows behind.
- **Tool call**: ``transaction()`` is a savepoint inside the episode, taken lazily before the
  block's first write (read-only tools cost nothing) and rolled back if the block raises. Nested
  blocks join the outer one, as on the memory store. A write outside any block gets its own.

Isolation: each store owns one connection. On PostgreSQL its tables are temporary tables, which
live in that session's private schema (``pg_temp``): envs sharing one database never see each
other's records, even with the same seeded ids and emails, and the tables vanish with the
session. SQLite ``sqlite`` is a private in-memory database; a ``sqlite:///FILE`` store recreates
its ``crm_*`` tables in the file when it opens and holds the file's lock while open (one store
per file). It marks its tables with a ``crm_gym_meta`` table and refuses a file whose ``crm_*``
tables lack the mark: they are someone else's, and their data is never dropped. See
``make_store`` for the accepted URLs.

Lifetime: ``close()`` (which an env's ``close`` calls for a store it opened) releases the
connection and the file. A lost connection (a PostgreSQL restart, a terminated session) loses the
episode: every use raises ``StoreConnectionError`` until the next ``restore`` (an env's reset),
which connects again and rebuilds the tables.

Integrity errors, which the CRM's own checks make rare, become the memory store's ``CrmError``
texts (``Client not found with ID '...'``...). Snapshots are portable: ``snapshot()`` returns
the memory store's format, ``(tables, email_index)``, and ``restore`` accepts any store's.

Example (``CrmApi(store)`` runs the CRM on it):
    >>> from crm_gym.crm.entities import Client
    >>> store = SqlStore("sqlite")
    >>> key = "7c0bad1a-955e-4b9a-b863-04f900c0c1ce"
    >>> with store.transaction():
    ...     store.insert("Client", Client(client_id=key, name="Acme", email="ops@acme.com"))
    >>> store.get("Client", key).name, store.count("Client")
    ('Acme', 1)
    >>> store.clients_with_email("ops@acme.com") == [key]
    True
    >>> store.close()
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any, Iterable, NoReturn

from crm_gym.crm.entities import ENTITY_TYPES, FOREIGN_KEYS, PRIMARY_KEYS, Entity
from crm_gym.crm.rules import not_found
from crm_gym.crm.store.sql_engine import (
    connect,
    create_engine,
    normalize_url,
    open_error,
    sa,
    shown_url,
)
from crm_gym.crm.store.sql_schema import (
    TABLE_NAMES,
    RowCodec,
    attachment_targets,
    build_meta_table,
    build_tables,
)
from crm_gym.errors import CrmError, DuplicateEmailError, StoreConnectionError, StoreError

TRUNCATE_EVERY = 1_000
"""PostgreSQL: truncate the (empty) tables every this many episodes (see ``_truncate``)."""
SCHEMA_VERSION = 1
"""Written to ``crm_gym_meta`` in a SQLite file: the mark of the ``crm_*`` tables crm-gym made."""


class SqlStore:
    """The CRM's records in SQLite or PostgreSQL (see the module docstring).

    Args:
        url: ``"sqlite"`` (private in-memory database), ``"sqlite:///path.db"``, or
            ``"postgresql+psycopg://user:password@host:port/dbname"``.
    """

    def __init__(self, url: str = "sqlite"):
        self.url = normalize_url(url)
        self._engine = create_engine(self.url)
        self.dialect: str = self._engine.dialect.name
        postgresql = self.dialect == "postgresql"
        self._metadata = sa.MetaData(schema="pg_temp" if postgresql else None)
        self._tables = build_tables(self._metadata)
        self._meta = None if postgresql else build_meta_table(self._metadata)
        self._codecs = {kind: RowCodec(kind, postgresql) for kind in ENTITY_TYPES}
        self._statements = {
            kind: _Statements(t, PRIMARY_KEYS[kind]) for kind, t in self._tables.items()
        }
        self._conn: Any = _Unusable(StoreError, f"{self!r} is not open")
        self._live: list[sa.Connection] = []  # this store's connections, closed by close()
        self._finalizer = weakref.finalize(self, _close, self._live, self._engine)
        self._block: _Block | None = None
        self._release_pending = False  # the last block's savepoint, released with the next one
        self._restarts = 0
        self._seq = itertools.count(1)
        self._watch_disconnects()
        try:
            self._open()
        except StoreError:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SqlStore({shown_url(self.url)!r})"

    def __getstate__(self) -> Any:
        raise TypeError(
            "a SqlStore holds a database connection and cannot be pickled; build the env (and "
            "its store) in each worker, e.g. with env factories for AsyncVectorEnv"
        )

    # ---- the connection's life ----------------------------------------------------------------
    def _open(self) -> None:
        """Connect, build the tables (PostgreSQL: temporary ones) and begin an empty episode."""
        conn = connect(self._engine, self.url)
        self._live.append(conn)
        try:
            with conn.begin():
                if self._meta is not None:
                    self._claim_tables(conn)
                self._metadata.create_all(conn, checkfirst=False)
                if self._meta is not None:
                    conn.execute(self._meta.insert(), {"schema_version": SCHEMA_VERSION})
        except sa.exc.OperationalError as exc:
            raise open_error(self.url, exc) from None
        self._episode = conn.begin()
        self._conn = conn
        self._release_pending = False

    def _claim_tables(self, conn: sa.Connection) -> None:
        """Drop the ``crm_*`` tables crm-gym made in this file; refuse anyone else's.

        crm-gym marks its tables with ``crm_gym_meta``: ``crm_*`` tables without it are a
        user's, and their data must not be destroyed.
        """
        present = set(sa.inspect(conn).get_table_names())
        foreign = sorted(present & set(TABLE_NAMES.values()))
        if foreign and self._meta is not None and self._meta.name not in present:
            path = sa.engine.make_url(self.url).database
            raise StoreError(
                f"{path} holds tables {', '.join(foreign)} that crm-gym did not create; "
                "refusing to overwrite them (use another file)"
            )
        self._metadata.drop_all(conn)

    def _watch_disconnects(self) -> None:
        """A lost connection raises ``StoreConnectionError``, now and at every use until reset."""
        store = weakref.ref(self)  # the engine must not keep its store alive

        @sa.event.listens_for(self._engine, "handle_error")
        def _lost(context: Any) -> None:
            this = store()
            if this is None or not context.is_disconnect or context.connection is None:
                return
            message = (
                f"lost the connection to {shown_url(this.url)} (the server restarted or ended "
                "the session): this episode's records are gone; reset() reconnects"
            )
            this._conn = _Unusable(StoreConnectionError, message)
            raise StoreConnectionError(message)

    def _reconnect(self) -> None:
        """A new session after a lost one: its temporary tables went with the old session."""
        _close_all(self._live)
        self._open()

    def close(self) -> None:
        """Roll back the episode and close the connection (also done when garbage-collected).

        Later uses raise ``StoreError``; closing twice is harmless.
        """
        self._conn = _Unusable(StoreError, f"{self!r} is closed")
        self._finalizer()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ---- writes -------------------------------------------------------------------------------
    def insert(self, kind: str, record: Entity) -> None:
        """Add a new record at the end of its table's order."""
        row = self._codecs[kind].row(record)
        row["seq"] = next(self._seq)
        self._write(kind, self._statements[kind].insert, row, record, inserting=True)

    def replace(self, kind: str, key: str, record: Entity) -> None:
        """Store a new version of a record; it keeps its row, so its position."""
        codec = self._codecs[kind]
        if getattr(record, codec.pk) != key:
            raise CrmError(f"{kind} {codec.pk} cannot be changed.")
        row = codec.row(record)
        row["_key"] = codec.key(key)
        if self._write(kind, self._statements[kind].update, row, record).rowcount == 0:
            self.insert(kind, record)  # as on the memory store: replacing a missing key adds it

    def delete(self, kind: str, key: str) -> bool:
        """Remove a record; False if absent."""
        if not _sendable(key):
            return False
        params = {"_key": self._codecs[kind].key(key)}
        return self._write(kind, self._statements[kind].delete, params, key).rowcount > 0

    def _write(
        self, kind: str, statement: Any, params: dict, target: Entity | str, inserting: bool = False
    ) -> Any:
        """One write inside the current block's savepoint; integrity errors become CRM errors.

        ``target`` is the record written, or the key deleted (for the error text).
        """
        with self.transaction():
            block = self._block
            assert block is not None
            if not block.savepoint:
                self._savepoint()
                block.savepoint = True
            try:
                return self._conn.execute(statement, params)
            except sa.exc.IntegrityError as exc:
                self._rollback_to_savepoint()  # PostgreSQL needs it before the next statement
                raise self._explain(kind, target, inserting, exc) from None

    def _savepoint(self) -> None:
        """Open the block's savepoint, releasing the previous block's in the same round trip.

        Savepoints are written as SQL (the fixed name ``crm_call``), not with SQLAlchemy's
        ``begin_nested``, so that the release of the last block can ride along with the next one.
        """
        if not self._release_pending:
            self._conn.exec_driver_sql("SAVEPOINT crm_call")
        elif self.dialect == "postgresql":  # psycopg sends a parameterless string as one message
            self._conn.exec_driver_sql("RELEASE SAVEPOINT crm_call; SAVEPOINT crm_call")
        else:  # the sqlite3 driver runs one statement per call (in process: cheap)
            self._conn.exec_driver_sql("RELEASE SAVEPOINT crm_call")
            self._conn.exec_driver_sql("SAVEPOINT crm_call")
        self._release_pending = False

    def _rollback_to_savepoint(self) -> None:
        """Undo the block's writes; the savepoint stays and is released later."""
        self._conn.exec_driver_sql("ROLLBACK TO SAVEPOINT crm_call")

    def _explain(self, kind: str, target: Entity | str, inserting: bool, exc: Any) -> CrmError:
        """The memory store's error for the rule that the database enforced."""
        if isinstance(target, str):
            return CrmError(
                f"{kind} with ID '{target}' cannot be deleted: other records refer to it."
            )
        record = target
        key = getattr(record, self._codecs[kind].pk)
        if inserting and self._exists(kind, key):
            return CrmError(f"{kind} already exists with ID '{key}'.")
        email = getattr(record, "email", None) if kind == "Client" else None
        if email and any(other != key for other in self.clients_with_email(email.lower())):
            return DuplicateEmailError(f"Client already exists with email '{email}'.")
        for field, parent in FOREIGN_KEYS.get(kind, {}).items():
            value = getattr(record, field)
            if value is not None and not self._exists(parent, value):
                return not_found(parent, value)
        if kind in ("Document", "Note") and record.entity_type in attachment_targets(kind):  # type: ignore[attr-defined]
            if not self._exists(record.entity_type, record.entity_id):  # type: ignore[attr-defined]
                return not_found(record.entity_type, record.entity_id)  # type: ignore[attr-defined]
        return CrmError(f"{kind} {key} was refused by the database: {exc.orig}")

    def _exists(self, kind: str, key: str) -> bool:
        return self.get(kind, key) is not None

    # ---- reads --------------------------------------------------------------------------------
    def get(self, kind: str, key: str) -> Entity | None:
        """The record or None (a key no row can hold is simply not found)."""
        if not _sendable(key):
            return None
        codec = self._codecs[kind]
        row = self._conn.execute(self._statements[kind].get, {"_key": codec.key(key)}).first()
        return None if row is None else codec.record(row)

    def records(self, kind: str) -> Iterable[Entity]:
        """Records of one kind in insertion order."""
        record = self._codecs[kind].record
        return [record(row) for row in self._conn.execute(self._statements[kind].all)]

    def items(self, kind: str) -> Iterable[tuple[str, Entity]]:
        """``(key, record)`` pairs in insertion order."""
        codec = self._codecs[kind]
        rows = self._conn.execute(self._statements[kind].all)
        return [(codec.row_key(row), codec.record(row)) for row in rows]

    def count(self, kind: str) -> int:
        """Number of records of one kind."""
        return self._conn.execute(self._statements[kind].count).scalar_one()

    def clients_with_email(self, email_key: str) -> list[str]:
        """Client keys whose lower-cased email is ``email_key`` (the unique index)."""
        if not _sendable(email_key):
            return []
        codec = self._codecs["Client"]
        params = {"_key": codec.key(email_key)}
        rows = self._conn.execute(self._statements["Client"].by_email, params)
        return [codec.row_key(row) for row in rows]

    # ---- whole-state operations ---------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, dict[str, Entity]], dict[str, list[str]]]:
        """Every record, in the memory store's snapshot format ``(tables, email_index)``."""
        tables = {kind: dict(self.items(kind)) for kind in ENTITY_TYPES}
        index: dict[str, list[str]] = {}
        for key, client in tables["Client"].items():
            if client.email:  # type: ignore[attr-defined]
                index.setdefault(client.email.lower(), []).append(key)  # type: ignore[attr-defined]
        return tables, index

    def restore(self, snapshot: Any) -> None:
        """Roll the episode back and start a new one holding ``snapshot``'s records.

        Accepts the snapshot of any store (the memory store's ``(tables, email_index)``).
        """
        if self._block is not None:
            raise StoreError("restore() cannot run inside transaction()")
        tables, _index = snapshot
        self._restart_episode()
        done = False
        try:
            for kind in ENTITY_TYPES:
                self._insert_all(kind, tables.get(kind) or {})
            done = True
        finally:
            if not done:  # leave an empty, usable episode behind
                self._restart_episode()

    def _restart_episode(self) -> None:
        """A new, empty episode; after a lost connection, on a new connection."""
        if not self._finalizer.alive:
            raise StoreError(f"{self!r} is closed")
        if not isinstance(self._conn, _Unusable):
            try:
                self._episode.rollback()
            except StoreConnectionError:  # lost since the last statement: _conn is now unusable
                pass
        if isinstance(self._conn, _Unusable):
            self._reconnect()
            return
        self._restarts += 1
        if self.dialect == "postgresql" and self._restarts % TRUNCATE_EVERY == 0:
            self._truncate()
        self._episode = self._conn.begin()
        self._release_pending = False

    def _truncate(self) -> None:
        """Give PostgreSQL back the space of rolled-back rows.

        A rollback leaves dead rows that only VACUUM reclaims, and autovacuum skips temporary
        tables, so without this the tables (and every full scan) would grow with the number of
        resets. The tables hold no committed rows, so truncating them changes nothing else.
        """
        names = ", ".join(f"pg_temp.{table.name}" for table in self._tables.values())
        with self._conn.begin():
            self._conn.exec_driver_sql(f"TRUNCATE {names}")

    def _insert_all(self, kind: str, records: dict[str, Entity]) -> None:
        codec = self._codecs[kind]
        rows = []
        for key, record in records.items():
            if getattr(record, codec.pk) != key:
                raise StoreError(
                    f"snapshot holds {kind} {getattr(record, codec.pk)!r} under {key!r}"
                )
            rows.append({**codec.row(record), "seq": next(self._seq)})
        if not rows:
            return
        try:
            self._conn.execute(self._statements[kind].insert, rows)
        except sa.exc.IntegrityError as exc:
            raise StoreError(
                f"snapshot breaks a database constraint of {kind}: {exc.orig}"
            ) from None

    def transaction(self) -> _Block:
        """A savepoint around a tool call: if the block raises, its writes are undone."""
        return _Block(self)


class _Block:
    """Context manager behind ``SqlStore.transaction`` (nested blocks join the outermost)."""

    __slots__ = ("store", "outer", "savepoint")

    def __init__(self, store: SqlStore):
        self.store = store
        self.outer = False
        self.savepoint = False

    def __enter__(self) -> None:
        self.outer = self.store._block is not None
        if not self.outer:
            self.store._block = self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.outer:
            return
        store = self.store
        store._block = None
        if self.savepoint:
            if exc_type is not None:
                store._rollback_to_savepoint()
            store._release_pending = True


class _Statements:
    """The statements of one table, built once (SQLAlchemy caches their compiled form)."""

    def __init__(self, table: sa.Table, pk: str):
        key = table.c[pk] == sa.bindparam("_key")
        self.insert = table.insert()
        self.update = table.update().where(key)
        self.delete = table.delete().where(key)
        self.get = sa.select(table).where(key)
        self.all = sa.select(table).order_by(table.c.seq)
        self.count = sa.select(sa.func.count()).select_from(table)
        if "email_key" in table.c:
            by_email = table.c.email_key == sa.bindparam("_key")
            self.by_email = sa.select(table.c[pk]).where(by_email).order_by(table.c.seq)


def _sendable(key: Any) -> bool:
    """A string the driver can send (UTF-8 encodable): anything else matches no stored text."""
    if not isinstance(key, str):
        return False
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Unusable:
    """Stands in for the connection of a closed or disconnected store: any use raises."""

    def __init__(self, error: type[StoreError], message: str):
        self.error, self.message = error, message

    def __getattr__(self, name: str) -> NoReturn:
        raise self.error(self.message)


def _close_all(connections: list[sa.Connection]) -> None:
    while connections:
        connections.pop().close()  # rolls back an open episode; a lost one is just discarded


def _close(connections: list[sa.Connection], engine: sa.Engine) -> None:
    _close_all(connections)
    engine.dispose()
