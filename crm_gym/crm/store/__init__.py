"""Stores: where CRM records live (``memory`` by default; SQLite or PostgreSQL via ``sql``)."""

from __future__ import annotations

import os
from typing import Any

from crm_gym.crm.store.base import Store
from crm_gym.crm.store.memory import MemoryStore
from crm_gym.errors import StoreError

SQL_PREFIXES = ("sqlite:", "sqlite+", "postgresql:", "postgresql+", "postgres:")


def make_store(spec: str | Store | None = None, *, strict_upstream: bool = False) -> Store:
    """The store a spec names.

    Specs: ``None`` or ``"memory"`` (a new ``MemoryStore``), ``"sqlite"`` (a private in-memory
    SQLite database), ``"sqlite:///path.db"``, ``"postgresql+psycopg://user:pw@host:port/db"``
    (``postgresql://`` also means psycopg 3), or ``"$VARIABLE"``: the spec held by that
    environment variable (to keep a DSN and its password out of code and command lines). A
    ``Store`` object is returned as it is. The SQL stores need ``pip install "crm-gym[sql]"``.

    ``strict_upstream=True`` (upstream's mock: duplicate emails through a client edit,
    dangling references, overwriting creates) is only possible on the memory store: the SQL
    stores' constraints refuse what it would write, so asking for both raises ``StoreError``.

    Example:
        >>> make_store("memory").count("Client")
        0
    """
    if isinstance(spec, str) and spec.startswith("$"):
        value = os.environ.get(spec[1:])
        if not value:
            raise StoreError(f"store {spec!r}: environment variable {spec[1:]} is not set")
        spec = value
    if spec is None or spec == "memory":
        return MemoryStore()
    if not isinstance(spec, str):
        _check_strict(spec, strict_upstream)
        return spec
    if spec != "sqlite" and not spec.startswith(SQL_PREFIXES):
        raise StoreError(
            f"unknown store {spec!r}: use 'memory', 'sqlite', 'sqlite:///PATH', "
            "'postgresql+psycopg://USER@HOST:PORT/DB' or '$ENV_VARIABLE'"
        )
    _check_strict(spec, strict_upstream)
    from crm_gym.crm.store.sql import SqlStore

    return SqlStore(spec)


def _check_strict(store: Any, strict_upstream: bool) -> None:
    if strict_upstream and not isinstance(store, MemoryStore):
        raise StoreError(
            "strict_upstream=True needs the memory store: upstream's mock writes duplicate "
            "emails and dangling references that the SQL stores' constraints refuse"
        )


def __getattr__(name: str) -> Any:
    if name == "SqlStore":  # imported on first use: SQLAlchemy is an optional dependency
        from crm_gym.crm.store.sql import SqlStore

        return SqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MemoryStore", "Store", "make_store"]
