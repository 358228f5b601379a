"""A store's life: ``env.close()`` releases it, a PostgreSQL restart costs one episode, not all.

The restart tests run their own throwaway cluster (restarting the session's would cut the shared
stores' connections): ``pg_ctl`` stops and starts it while an env is mid-episode.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import gymnasium as gym
import pytest
import sqlalchemy as sa

import crm_gym  # noqa: F401 - registers the env ids
from benchmarks.postgres import ClusterUnavailable, _runner, server_binaries, throwaway_cluster
from crm_gym import make_vec
from crm_gym.crm.store import make_store
from crm_gym.data import load_conversations
from crm_gym.data.examples import builtin_path
from crm_gym.envs import CrmEnv
from crm_gym.errors import StoreConnectionError, StoreError
from tests.store.conftest import PG_STORES

TASKS = load_conversations(builtin_path())[:2]
TASK = {"task_id": f"{TASKS[0].conversation_id}#{TASKS[0].turns[0].turn_id}"}
CREATE = json.dumps(
    {
        "name": "create_new_client",
        "arguments": {"name": "Acme", "email": "ops@acme.example", "status": "Active"},
    }
)


def crm_sessions(dsn: str, expected: int) -> int:
    """How many crm-gym connections the server holds, waiting up to 20 s for ``expected``.

    A backend leaves ``pg_stat_activity`` shortly after its client disconnects, not at once.
    """
    engine = sa.create_engine(dsn, poolclass=sa.NullPool)
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crm-gym'"
    deadline = time.monotonic() + 20
    with engine.connect() as conn:
        while (count := conn.exec_driver_sql(query).scalar_one()) != expected:
            conn.rollback()  # pg_stat_activity is a snapshot per transaction: take a new one
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    engine.dispose()
    return count


# ---- close ------------------------------------------------------------------------------------
def test_env_close_releases_its_sqlite_file(tmp_path: Path) -> None:
    spec = f"sqlite:///{tmp_path / 'crm.db'}"
    env = CrmEnv(tasks=TASKS, store=spec)
    env.reset(options=TASK)
    env.close()
    again = gym.make("ArcCrm-v1", tasks=TASKS, store=spec)  # the file is free again
    again.reset(options=TASK)
    again.close()
    make_store(spec).close()  # type: ignore[attr-defined]
    env.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="is closed"):
        env.reset(options=TASK)


def test_env_close_releases_its_postgresql_connections(pg_dsn: str) -> None:
    before = crm_sessions(pg_dsn, len(PG_STORES))
    envs = make_vec("ArcCrm-v1", 2, tasks=TASKS, store=pg_dsn)
    envs.reset(seed=0)
    assert crm_sessions(pg_dsn, before + 2) == before + 2
    envs.close()
    assert crm_sessions(pg_dsn, before) == before


def test_env_close_leaves_a_store_it_was_given_open(tmp_path: Path) -> None:
    store = make_store(f"sqlite:///{tmp_path / 'crm.db'}")
    env = CrmEnv(tasks=TASKS, store=store)
    env.reset(options=TASK)
    env.close()
    assert store.count("Client") >= 0  # still usable: the caller opened it, the caller closes it
    store.close()  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match=r"SqlStore\('sqlite:///.*crm.db'\) is closed"):
        store.count("Client")


# ---- SQLite files that hold someone else's tables ---------------------------------------------
def test_a_sqlite_file_with_foreign_crm_tables_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "users.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE crm_clients (id TEXT, name TEXT)")
        conn.exec_driver_sql("CREATE TABLE crm_notes (body TEXT)")
        conn.exec_driver_sql("INSERT INTO crm_clients VALUES ('1', 'mine')")
    message = (
        f"{path} holds tables crm_clients, crm_notes that crm-gym did not create; "
        "refusing to overwrite them (use another file)"
    )
    with pytest.raises(StoreError) as raised:
        make_store(f"sqlite:///{path}")
    assert str(raised.value) == message
    with engine.begin() as conn:  # the data is intact and the file is not left locked
        assert conn.exec_driver_sql("SELECT * FROM crm_clients").all() == [("1", "mine")]
        conn.exec_driver_sql("INSERT INTO crm_notes VALUES ('still writable')")
    engine.dispose()


def test_a_sqlite_file_keeps_its_other_tables_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (name TEXT)")
        conn.exec_driver_sql("INSERT INTO users VALUES ('ada')")
    for _ in range(2):  # the second open finds crm-gym's own marked tables and recreates them
        env = CrmEnv(tasks=TASKS, store=f"sqlite:///{path}")
        env.reset(options=TASK)
        env.step(CREATE)
        env.close()
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT name FROM users").all() == [("ada",)]
        assert conn.exec_driver_sql("SELECT schema_version FROM crm_gym_meta").all() == [(1,)]
        assert conn.exec_driver_sql("SELECT count(*) FROM crm_clients").scalar() == 0
    engine.dispose()


# ---- PostgreSQL restarts ----------------------------------------------------------------------
class Cluster:
    """A private cluster that the test can stop and start again on the same port."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        engine = sa.create_engine(dsn, poolclass=sa.NullPool)
        with engine.connect() as conn:
            self.data = conn.exec_driver_sql("SHOW data_directory").scalar_one()
        engine.dispose()
        self.directory = os.path.dirname(self.data)
        self.pg_ctl = server_binaries()[1]
        self.runner = _runner(self.directory)

    def pg_ctl_run(self, *args: str) -> None:
        log = os.path.join(self.directory, "server.log")
        command = [*self.runner, self.pg_ctl, "-D", self.data, "-l", log, "-w", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    def stop(self) -> None:
        self.pg_ctl_run("-m", "fast", "stop")

    def start(self) -> None:
        port = sa.engine.make_url(self.dsn).port
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {self.directory}"
        self.pg_ctl_run("-o", options, "start")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    try:
        with throwaway_cluster() as dsn:
            yield Cluster(dsn)
    except ClusterUnavailable as exc:
        if os.environ.get("CRM_GYM_TEST_PG_REQUIRED") == "1":
            pytest.fail(f"PostgreSQL restart tests need initdb and pg_ctl ({exc})")
        pytest.skip(f"PostgreSQL restart tests need initdb and pg_ctl ({exc})")


def clients_after_create(env: Any) -> list[str]:
    """Create a client in a fresh episode; the names of the clients the env then holds."""
    env.reset(options=TASK)
    observation = env.step(CREATE)[0]
    assert observation.startswith("Tool result (create_new_client)"), observation
    return sorted(client.name for client in env.unwrapped.api.store.records("Client"))


def test_a_restart_mid_episode_loses_that_episode_only(cluster: Cluster) -> None:
    env = CrmEnv(tasks=TASKS, store=cluster.dsn)
    expected = clients_after_create(CrmEnv(tasks=TASKS))
    assert clients_after_create(env) == expected
    cluster.stop()
    cluster.start()
    with pytest.raises(StoreConnectionError, match="lost the connection to postgresql"):
        env.step(CREATE)
    with pytest.raises(StoreConnectionError, match=r"reset\(\) reconnects"):
        env.step(CREATE)  # every use until the reset says the same
    for _ in range(3):  # every later reset works, on a new session with rebuilt tables
        assert clients_after_create(env) == expected
    env.close()
    assert crm_sessions(cluster.dsn, 0) == 0


def test_a_restart_between_episodes_is_invisible(cluster: Cluster) -> None:
    env = CrmEnv(tasks=TASKS, store=cluster.dsn)
    expected = clients_after_create(env)
    cluster.stop()
    cluster.start()
    assert clients_after_create(env) == expected
    env.close()


def test_a_reset_while_the_server_is_down_says_so_and_a_later_one_recovers(
    cluster: Cluster,
) -> None:
    env = CrmEnv(tasks=TASKS, store=cluster.dsn)
    expected = clients_after_create(env)
    cluster.stop()
    try:
        with pytest.raises(StoreError, match="cannot open postgresql"):
            env.reset(options=TASK)
    finally:
        cluster.start()
    assert clients_after_create(env) == expected
    env.close()


def test_a_terminated_session_costs_one_episode(pg_dsn: str) -> None:
    env = CrmEnv(tasks=TASKS, store=pg_dsn)
    expected = clients_after_create(env)
    engine = sa.create_engine(pg_dsn, poolclass=sa.NullPool)
    with engine.connect() as conn:
        pid = conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'crm-gym' "
            "ORDER BY backend_start DESC LIMIT 1"
        ).scalar_one()
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    engine.dispose()
    with pytest.raises(StoreConnectionError):
        env.step(CREATE)
    assert clients_after_create(env) == expected
    env.close()
