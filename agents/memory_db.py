"""Where the guideline memory lives: one table in SQLite (default) or PostgreSQL.

The same SQLAlchemy layer as the CRM stores (``crm_gym.crm.store.sql_engine``). Every write is
one transaction that first bumps the version counter in ``crm_gym_memory``: that row's lock (on
SQLite, ``BEGIN IMMEDIATE``'s write lock) serialises writers, so processes on one machine (a
SQLite file in WAL mode, with a busy timeout) or on several (PostgreSQL) never lose a write, and
de-duplication and eviction see every committed guideline. Readers re-read the rows only when the
version moved.

``crm_gym_memory`` also marks the tables as crm-gym's: a ``crm_gym_guidelines`` table without
it belongs to someone else and is refused, never overwritten.
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

try:
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.pool import StaticPool
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError('GuidelineMemory needs SQLAlchemy: pip install "crm-gym[memory]"') from exc

from crm_gym.crm.store.sql_engine import normalize_url, shown_url
from crm_gym.errors import GuidelineMemoryError

SCHEMA_VERSION = 1
SQL_PREFIXES = ("sqlite:", "sqlite+", "postgresql:", "postgresql+", "postgres:")
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 60.0
"""How long a SQLite writer waits for another's write lock before giving up."""
LOCK_ID = 0x6372_6D67  # "crmg": PostgreSQL advisory lock taken while creating the tables

metadata = sa.MetaData()
guidelines = sa.Table(
    "crm_gym_guidelines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),  # sha256 of key and text
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("task", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("created", sa.Text, nullable=False),
)
meta = sa.Table(
    "crm_gym_memory",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),  # bumped by every write
)
COLUMNS = ("key", "text", "task", "source", "count", "seq", "created")


# ---- where ------------------------------------------------------------------------------------
def database_url(location: str | Path | None) -> str:
    """The SQLAlchemy URL of a memory: None is private and in memory; a path is a SQLite file.

    ``"$VARIABLE"`` reads the URL (or path) from that environment variable, to keep a
    PostgreSQL password out of code and command lines.
    """
    if location is None:
        return "sqlite://"
    text = str(location)
    if text.startswith("$"):
        text = os.environ.get(text[1:], "")
        if not text:
            raise GuidelineMemoryError(f"memory {location!r}: environment variable is not set")
    if text.startswith(SQL_PREFIXES):
        return normalize_url(text)
    return f"sqlite:///{_sqlite_path(Path(text))}"


def _sqlite_path(path: Path) -> Path:
    """A path for a SQLite memory file; a JSONL file or any non-SQLite file is refused."""
    if path.suffix == ".jsonl" or (path.is_file() and not _is_sqlite(path)):
        raise GuidelineMemoryError(
            f"{path} is not a SQLite database: the guideline memory is a database now; open "
            "another path (e.g. memory.db) and call its import_jsonl on this file"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as file:
        header = file.read(len(SQLITE_HEADER))
    return header in (SQLITE_HEADER, b"")  # an empty file becomes a database


def digest(key: str, text: str) -> str:
    """The identity of a guideline (its key and text), short enough for a unique index."""
    return hashlib.sha256(f"{key}\x00{text}".encode()).hexdigest()


# ---- the database -----------------------------------------------------------------------------
class GuidelineDb:
    """The guideline rows of one database: read (cached by version), write, close."""

    def __init__(self, url: str):
        self.url = url
        self._engine = _engine(url)
        self._finalizer = weakref.finalize(self, self._engine.dispose)
        self._cache: tuple[int, list[dict[str, Any]]] = (-1, [])
        self._lock = threading.Lock()  # one call at a time per process: the cache, one connection
        try:
            self._create()
        except sa.exc.OperationalError as exc:
            self.close()
            shown = shown_url(url)
            raise GuidelineMemoryError(f"cannot open memory {shown}: {exc.orig}") from None
        except GuidelineMemoryError:
            self.close()
            raise

    def _create(self) -> None:
        """Create the tables once (racing creators wait for the first); refuse foreign ones."""
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_ID)))
            present = set(sa.inspect(conn).get_table_names())
            if guidelines.name in present and meta.name not in present:
                raise GuidelineMemoryError(
                    f"{shown_url(self.url)} holds a table {guidelines.name} that crm-gym did not "
                    "create; refusing to use it (open another database)"
                )
            metadata.create_all(conn)
            row = conn.execute(sa.select(meta.c.schema_version)).first()
            if row is None:
                first = {"id": 1, "schema_version": SCHEMA_VERSION, "version": 0}
                conn.execute(meta.insert(), first)
            elif row[0] != SCHEMA_VERSION:
                raise GuidelineMemoryError(
                    f"{shown_url(self.url)} holds a memory of schema {row[0]}; this crm-gym "
                    f"reads schema {SCHEMA_VERSION}"
                )

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``, the file's write lock at once)."""
        with self._engine.connect() as conn:
            conn.execution_options(crm_gym_write=True)
            with conn.begin():
                yield conn

    def rows(self) -> list[dict[str, Any]]:
        """Every guideline row in first-write order (re-read only after some write)."""
        with self._lock, self._engine.connect() as conn:
            version = conn.execute(sa.select(meta.c.version)).scalar_one()
            if version != self._cache[0]:
                query = sa.select(*(guidelines.c[name] for name in COLUMNS))
                found = conn.execute(query.order_by(guidelines.c.id)).mappings().all()
                self._cache = (version, [dict(row) for row in found])
        return self._cache[1]

    def write(self, rows: list[dict[str, Any]], max_entries: int) -> None:
        """Add rows in one transaction: a repeat adds its count; then evict down to size.

        Each row gets ``seq``, the version its write made, in the order given. Eviction removes
        the least-counted, oldest rows (as many as exceed ``max_entries``).
        """
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock, self._write() as conn:
            bump = meta.update().values(version=meta.c.version + len(rows))
            version = conn.execute(bump.returning(meta.c.version)).scalar_one() - len(rows)
            for offset, row in enumerate(rows, start=1):
                created = row.get("created") or now
                _upsert(conn, {**row, "seq": version + offset, "created": created})
            _evict(conn, max_entries)

    def close(self) -> None:
        """Release the database connections (closing twice is harmless)."""
        self._finalizer()


def _upsert(conn: sa.Connection, row: dict[str, Any]) -> None:
    """Insert a guideline, or add its count to the stored one with the same key and text."""
    key = digest(row["key"], row["text"])
    update = (
        guidelines.update()
        .where(guidelines.c.digest == key)
        .values(count=guidelines.c.count + row["count"], seq=row["seq"])
    )
    if conn.execute(update).rowcount == 0:
        conn.execute(guidelines.insert(), {**{c: row[c] for c in COLUMNS}, "digest": key})


def _evict(conn: sa.Connection, max_entries: int) -> None:
    excess = conn.execute(sa.select(sa.func.count()).select_from(guidelines)).scalar_one()
    excess -= max_entries
    if excess > 0:
        order = (guidelines.c.count, guidelines.c.seq)
        doomed = sa.select(guidelines.c.id).order_by(*order).limit(excess).scalar_subquery()
        conn.execute(guidelines.delete().where(guidelines.c.id.in_(doomed)))


def _engine(url: str) -> sa.Engine:
    """An engine for one memory; SQLite files get WAL, a busy timeout and immediate writes."""
    try:
        if url == "sqlite://":  # private: one connection (each would see its own database),
            # shared by threads one at a time (GuidelineDb's lock)
            single = {"check_same_thread": False}
            return _sqlite(sa.create_engine(url, poolclass=StaticPool, connect_args=single), False)
        if url.startswith("sqlite"):
            return _sqlite(sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S}), True)
        # pre_ping: a memory outlives server restarts (a connection is checked when taken)
        return sa.create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise ImportError(f'{exc.name} is missing: pip install "crm-gym[memory,sql]"') from exc
    except sa.exc.ArgumentError as exc:
        raise GuidelineMemoryError(f"bad memory URL {url!r}: {exc}") from None


def _sqlite(engine: sa.Engine, wal: bool) -> sa.Engine:
    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        if wal:  # readers never block the writer; a commit needs no fsync of the database file
            dbapi_connection.execute("PRAGMA journal_mode = WAL")
            dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # a deferred BEGIN that later writes can fail at once with "database is locked" when
        # another writer got in first; IMMEDIATE takes the lock up front, waiting busy_timeout
        write = conn.get_execution_options().get("crm_gym_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
