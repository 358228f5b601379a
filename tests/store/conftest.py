"""Fixtures of the store suite: one store per backend, and a throwaway PostgreSQL cluster.

PostgreSQL comes from ``$CRM_GYM_TEST_PG_DSN`` when set, else from a private cluster started with
the server binaries on this machine (``benchmarks.postgres``, stopped at the end of the session).
Without either the PostgreSQL cases skip, unless ``CRM_GYM_TEST_PG_REQUIRED=1`` (``.ci/run``
sets it) turns that into a failure.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest

from benchmarks.postgres import ClusterUnavailable, throwaway_cluster
from crm_gym.crm import CrmApi
from crm_gym.crm.store import MemoryStore, Store, make_store
from tests.crm.world import build_world

BACKENDS = ("memory", "sqlite", "sqlite-file", "postgresql")
SQL_BACKENDS = BACKENDS[1:]
PG_MISSING = (
    "PostgreSQL tests need a server: set CRM_GYM_TEST_PG_DSN=postgresql+psycopg://... or put "
    "initdb and pg_ctl on PATH"
)
EMPTY = MemoryStore().snapshot()
PG_STORES: list[Any] = []
"""PostgreSQL stores opened this session: closed before the cluster stops."""


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A PostgreSQL DSN for the whole session (skips, or fails in CI, without a server)."""
    configured = os.environ.get("CRM_GYM_TEST_PG_DSN")
    if configured:
        yield configured
        close_all(PG_STORES)
        return
    try:
        with throwaway_cluster() as dsn:
            yield dsn
            close_all(PG_STORES)
    except ClusterUnavailable as exc:
        if os.environ.get("CRM_GYM_TEST_PG_REQUIRED") == "1":
            pytest.fail(f"{PG_MISSING} ({exc})")
        pytest.skip(f"{PG_MISSING} ({exc})")


@pytest.fixture(scope="session")
def open_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Store]]:
    """``open_store(backend)``: a new store of that backend, closed at the end of the session."""
    opened: list[Any] = []

    def open_(backend: str) -> Store:
        if backend == "memory":
            return MemoryStore()
        if backend == "sqlite":
            spec = "sqlite"
        elif backend == "sqlite-file":
            spec = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'crm.db'}"
        else:
            spec = request.getfixturevalue("pg_dsn")
        store = make_store(spec)
        (PG_STORES if backend == "postgresql" else opened).append(store)
        return store

    yield open_
    close_all(opened)


def close_all(stores: list[Any]) -> None:
    while stores:
        stores.pop().close()


@pytest.fixture(scope="session")
def shared_stores(open_store: Callable[[str], Store]) -> dict[str, Store]:
    """One long-lived store per SQL backend, reused by the tests (each restores it first)."""
    return {}


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest,
    open_store: Callable[[str], Store],
    shared_stores: dict[str, Store],
) -> Store:
    """An empty store of each backend (SQL stores are shared and emptied by ``restore``)."""
    return backend_store(request.param, open_store, shared_stores)


def backend_store(
    backend: str, open_store: Callable[[str], Store], shared: dict[str, Store]
) -> Store:
    """An empty store of ``backend``: a new memory store, or the shared SQL one rolled back."""
    if backend == "memory":
        return MemoryStore()
    if backend not in shared:
        shared[backend] = open_store(backend)
    shared[backend].restore(EMPTY)
    return shared[backend]


@pytest.fixture
def all_stores(
    open_store: Callable[[str], Store], shared_stores: dict[str, Store]
) -> dict[str, Store]:
    """An empty store of every backend at once (for differential tests)."""
    return {backend: backend_store(backend, open_store, shared_stores) for backend in BACKENDS}


def world_on(store: Store, strict_upstream: bool = False) -> tuple[CrmApi, dict[str, str]]:
    """``tests.crm.world.build_world`` moved onto ``store``: same records, ids, id stream, clock."""
    reference, ids = build_world(strict_upstream=strict_upstream)
    store.restore(reference.store.snapshot())
    api = CrmApi(store, seed=7, strict_upstream=strict_upstream)
    api.ids.set_state(reference.ids.state())  # type: ignore[attr-defined]
    api.clock.current = reference.clock.current  # type: ignore[attr-defined]
    return api, ids
