"""Isolation on PostgreSQL (and crash safety on SQLite files): envs never see each other.

Eight ``CrmEnv``s share one PostgreSQL database, each with its own ``SqlStore`` (its own
connection and session-private temporary tables), and step interleaved from eight threads with
the same seeded ids and the same emails. Each must end exactly where a memory-store env given the
same actions ends; a reset must give back the episode's initial state exactly; and a process
killed mid-episode must leave nothing behind.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest
import sqlalchemy as sa

from crm_gym.crm.canonical import canonical_state
from crm_gym.data import load_conversations
from crm_gym.data.examples import builtin_path
from crm_gym.envs import CrmEnv
from tests.store.test_differential import typed

REPO = Path(__file__).resolve().parents[2]
NUM_ENVS = 8
TASK = {"task_id": load_conversations(builtin_path())[0].conversation_id}


def actions(env_index: int) -> list[str]:
    """What env ``env_index`` does: the same ids in every env, different names."""
    calls = []
    for k in range(3):
        client = {
            "name": f"Env{env_index} Client {k}",
            "email": f"c{k}@same.example",
            "status": "Active",
        }
        calls.append({"name": "create_new_client", "arguments": client})
        calls.append({"name": "client_search", "arguments": {"criteria": {"name": "Client"}}})
    return [json.dumps(call) for call in calls]


def state_of(env: CrmEnv) -> Any:
    store = env.api.store
    return typed(
        {
            kind: [(k, r.model_dump()) for k, r in store.items(kind)]
            for kind in ("Client", "Opportunity")
        }
    )


def test_eight_envs_on_one_database_never_see_each_other(pg_dsn: str) -> None:
    tasks = str(builtin_path())
    envs = [CrmEnv(tasks=tasks, max_steps=50, store=pg_dsn) for _ in range(NUM_ENVS)]
    starts = [env.reset(seed=0, options=TASK) for env in envs]
    initial = [env.api.store.snapshot() for env in envs]
    barrier = threading.Barrier(NUM_ENVS)
    seen: dict[int, list[str]] = {i: [] for i in range(NUM_ENVS)}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for action in actions(i):
                barrier.wait(timeout=30)  # every env takes its k-th step at the same time
                observation, *_ = envs[i].step(action)
                seen[i].append(observation)
        except BaseException as exc:  # noqa: B036 - reported in the main thread below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(NUM_ENVS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    for i, env in enumerate(envs):
        others = [f"Env{j} " for j in range(NUM_ENVS) if j != i]
        assert not any(name in text for text in seen[i] for name in others)
        assert [c.name for c in env.api.client_search(name="Client")] == [
            f"Env{i} Client {k}" for k in range(3)
        ]
        reference = CrmEnv(tasks=tasks, max_steps=50)
        assert reference.reset(seed=0, options=TASK)[0] == starts[i][0]
        for action in actions(i):
            reference.step(action)
        assert state_of(env) == state_of(reference)
        known = frozenset()
        assert canonical_state(env.api.store, known) == canonical_state(reference.api.store, known)
    for i, env in enumerate(envs):
        env.reset(seed=0, options=TASK)
        assert typed(_tables(env.api.store.snapshot())) == typed(_tables(initial[i]))
        env.api.store.close()


def _tables(snapshot: Any) -> dict:
    tables, index = snapshot
    return {
        kind: [(k, r.model_dump()) for k, r in records.items()] for kind, records in tables.items()
    } | {"index": index}


CRASHER = """
import sys, time
from crm_gym.crm import CrmApi
from crm_gym.crm.store import make_store
store = make_store(sys.argv[1])
api = CrmApi(store, seed=0)
for i in range(20):
    client = api.create_new_client(f"Doomed {i}", f"doomed{i}@x.example", "Active")
    api.create_new_opportunity("Deal", client.client_id, 100, "Proposal")
info = ""
if store.dialect == "postgresql":
    info = store._conn.exec_driver_sql(
        "SELECT pg_backend_pid(), nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()").one()
print("READY", store.count("Client"), *info, flush=True)
time.sleep(120)
"""


def crash_mid_episode(spec: str) -> list[str]:
    """Run a process that writes an episode, SIGKILL it mid-episode; what it printed."""
    command = [sys.executable, "-c", CRASHER, spec]
    process = subprocess.Popen(command, cwd=REPO, stdout=PIPE, stderr=PIPE, text=True)
    try:
        line = process.stdout.readline().split()  # type: ignore[union-attr]
        assert line[:2] == ["READY", "20"], process.stderr.read()  # type: ignore[union-attr]
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    return line


def test_killed_process_leaves_nothing_in_postgresql(pg_dsn: str) -> None:
    _, _, pid, temp_schema = crash_mid_episode(pg_dsn)
    engine = sa.create_engine(
        pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=sa.NullPool
    )
    alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p")
    with engine.connect() as conn:
        deadline = time.monotonic() + 20
        while conn.execute(alive, {"p": int(pid)}).scalar():
            conn.rollback()  # pg_stat_activity is a snapshot per transaction: take a new one
            assert time.monotonic() < deadline, "the killed client's backend did not end"
            time.sleep(0.05)
        leftovers = sa.text(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname LIKE 'crm\\_%' AND (n.nspname = :temp OR c.relpersistence = 'p')"
        )
        assert conn.execute(leftovers, {"temp": temp_schema}).all() == []
    engine.dispose()


def test_killed_process_leaves_nothing_in_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    crash_mid_episode(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:  # opening rolls the hot journal back
        counts = [
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("crm_clients", "crm_opportunities")
        ]
    assert counts == [0, 0]


def test_one_store_per_sqlite_file(tmp_path: Path) -> None:
    from crm_gym.crm.store import make_store
    from crm_gym.errors import StoreError

    spec = f"sqlite:///{tmp_path / 'crm.db'}"
    first = make_store(spec)
    with pytest.raises(StoreError, match="in use by another store"):
        make_store(spec)
    first.close()  # type: ignore[attr-defined]
    make_store(spec).close()  # type: ignore[attr-defined]
