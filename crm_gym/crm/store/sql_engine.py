"""Engines and connections of the SQL stores: URLs, SQLite settings, and the errors of opening.

This module imports SQLAlchemy; ``crm_gym.crm.store.sql`` and ``agents.memory_db`` import it.
"""

from __future__ import annotations

from typing import Any

try:
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.pool import NullPool, StaticPool
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError('SQL stores need SQLAlchemy: pip install "crm-gym[sql]"') from exc

from crm_gym.errors import StoreError

SQLITE_MEMORY = "sqlite://"


def normalize_url(url: str) -> str:
    """A SQLAlchemy URL for a store spec: ``sqlite`` is in-memory; PostgreSQL uses psycopg 3."""
    if url == "sqlite":
        return SQLITE_MEMORY
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def shown_url(url: str) -> str:
    """The URL as error messages and reprs show it: without its password."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def create_engine(url: str) -> sa.Engine:
    """The engine of one store: one SQLite connection, or unpooled PostgreSQL connections."""
    try:
        if url.startswith("sqlite"):
            return _sqlite_engine(url)
        if url.startswith("postgresql"):
            return sa.create_engine(
                url, poolclass=NullPool, connect_args={"application_name": "crm-gym"}
            )
    except ModuleNotFoundError as exc:
        raise ImportError(f'{exc.name} is missing: pip install "crm-gym[sql]"') from exc
    raise StoreError(f"unsupported database URL {url!r}: use sqlite or postgresql+psycopg")


def _sqlite_engine(url: str) -> sa.Engine:
    """One connection, usable from any thread (one at a time); SQLAlchemy drives transactions."""
    connect_args = {"check_same_thread": False, "timeout": 0.2}
    engine = sa.create_engine(url, poolclass=StaticPool, connect_args=connect_args)
    in_memory = url == SQLITE_MEMORY or ":memory:" in url

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, record: Any) -> None:
        # pysqlite's legacy transaction mode would skip BEGIN before SAVEPOINT (SQLAlchemy docs,
        # "Transactions with SQLite and the sqlite3 driver"): switch it off, emit BEGIN below.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        if not in_memory:  # keep the file's lock while open: one store per file; a WAL makes
            # a rollback cheap, and a crash leaves only uncommitted frames, which SQLite ignores
            dbapi_connection.execute("PRAGMA locking_mode = EXCLUSIVE")
            dbapi_connection.execute("PRAGMA journal_mode = WAL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def connect(engine: sa.Engine, url: str) -> sa.Connection:
    """A new connection, or a ``StoreError`` that says why the database cannot be opened."""
    try:
        return engine.connect()
    except sa.exc.OperationalError as exc:
        raise open_error(url, exc) from None


def open_error(url: str, exc: sa.exc.OperationalError) -> StoreError:
    """The ``StoreError`` for a database that refused to open (a locked SQLite file...)."""
    if url.startswith("sqlite") and "locked" in str(exc.orig):
        return StoreError(
            f"cannot open {shown_url(url)}: the file is in use by another store (one store per "
            "SQLite file; 'sqlite' gives each env its own in-memory database)"
        )
    return StoreError(f"cannot open {shown_url(url)}: {exc.orig}")
