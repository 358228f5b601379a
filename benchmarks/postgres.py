"""A throwaway PostgreSQL cluster for the benchmarks that need a real server (REFERENCE.md 6).

``benchmarks.speed.stores`` and ``benchmarks.fuzz_actions`` start one; the store test suite's
fixture (``tests/store/conftest.py``) reuses it. It lives with the benchmarks, its first users,
because the dependency runs one way: tests import benchmarks (they test them), benchmarks never
import tests.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port (about 1.3 s),
then stop and delete it. ``initdb`` refuses to run as root, so under root the cluster runs as
the unprivileged ``nobody`` user (through ``runuser``) in a directory owned by it.

Example::

    with throwaway_cluster() as dsn:  # "postgresql+psycopg://postgres@127.0.0.1:PORT/postgres"
        store = make_store(dsn)
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SEARCH_DIRS = (
    "/usr/local/bin",
    "/usr/local/pgsql/bin",
    *sorted(glob.glob("/usr/lib/postgresql/*/bin")),
)


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or they could not start a cluster."""


def server_binaries() -> tuple[str, str]:
    """Paths of ``initdb`` and ``pg_ctl`` (PATH first), or raise ``ClusterUnavailable``."""
    found = []
    for name in ("initdb", "pg_ctl"):
        path = shutil.which(name) or next(
            (str(Path(d, name)) for d in SEARCH_DIRS if Path(d, name).is_file()), None
        )
        if path is None:
            raise ClusterUnavailable(f"{name} not found on PATH or in {', '.join(SEARCH_DIRS)}")
        found.append(path)
    return found[0], found[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _runner(directory: str) -> list[str]:
    """The command prefix that runs the server unprivileged (and hands it ``directory``)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise ClusterUnavailable("running as root and runuser is missing (initdb refuses root)")
    nobody = pwd.getpwnam("nobody")
    os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    return ["runuser", "-u", "nobody", "--"]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ClusterUnavailable(f"{' '.join(command[:4])}... failed: {done.stderr.strip()[-500:]}")


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a private cluster; yield its SQLAlchemy DSN; stop it and delete its files."""
    initdb, pg_ctl = server_binaries()
    directory = tempfile.mkdtemp(prefix="crm-gym-pg-")
    data = os.path.join(directory, "data")
    try:
        runner = _runner(directory)
        flags = ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"]
        _run([*runner, initdb, "-D", data, *flags])
        port = free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {directory}"
        log = os.path.join(directory, "server.log")
        _run([*runner, pg_ctl, "-D", data, "-l", log, "-w", "-o", options, "start"])
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*runner, pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
