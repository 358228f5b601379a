"""Store speed: tool calls/s and resets/s on every store, measured in one run.

Stores: ``memory`` (the default), ``sqlite`` (SQLite in memory), ``sqlite-file`` (SQLite in a file
in a temporary directory) and ``postgresql`` (``--pg-dsn``, else ``$CRM_GYM_TEST_PG_DSN``, else a
throwaway cluster started with the server binaries here; skipped, and said so, without one).
Each number is the median over ``repeats`` runs; the stores take turns within each repeat (the
order rotates), so drift on a shared machine hits all of them alike.

1. **Tool calls/s**: REFERENCE.md section 7's mixed workload through ``call_tool`` (what envs
   use: one transaction per call). Per episode a reset (``store.restore`` of an empty snapshot)
   and ``CrmApi(store, seed=episode)``, then 10 rounds of five calls (a client, a deal, a quote,
   a search and an edit: ``benchmarks.speed.crm.registry_round``, also timed there).
2. **Resets/s**: ``store.restore(snapshot)``, what an env's reset does, cycling through the
   initial states of the public conversations (seeded once on the memory store, untimed), or,
   without the data file, through 50 small synthetic worlds.

Run::

    python -m benchmarks.speed.stores [--quick] [--data PATH] [--pg-dsn DSN]

The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterator

from benchmarks.postgres import ClusterUnavailable, throwaway_cluster
from benchmarks.speed.crm import registry_round
from benchmarks.speed.timing import rate
from crm_gym.crm import CrmApi, MemoryStore
from crm_gym.crm.store import Store, make_store
from crm_gym.data import load_conversations
from crm_gym.data.replay import new_episode

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"
STORES = ("memory", "sqlite", "sqlite-file", "postgresql")
EMPTY = MemoryStore().snapshot()


@dataclass(frozen=True)
class Config:
    """Sizes of the workloads."""

    repeats: int = 5
    episodes: int = 60
    rounds: int = 10
    resets: int = 2_000


QUICK = Config(repeats=3, episodes=4, resets=100)


# ---- workloads ----------------------------------------------------------------------------------
def mixed_calls(store: Store, cfg: Config) -> int:
    """REFERENCE.md 7's workload through ``call_tool``; returns the number of calls."""
    for episode in range(cfg.episodes):
        store.restore(EMPTY)
        api = CrmApi(store, seed=episode)
        for i in range(cfg.rounds):
            registry_round(api, episode, i)
    return cfg.episodes * cfg.rounds * 5


def resets(store: Store, snapshots: list[Any], count: int) -> int:
    """``count`` env resets: restore the next initial state."""
    for i in range(count):
        store.restore(snapshots[i % len(snapshots)])
    return count


def initial_states(path: Path) -> tuple[list[Any], str]:
    """Snapshots of the public conversations' seeded states, or of synthetic worlds."""
    if path.is_file():
        return [new_episode(c).store.snapshot() for c in load_conversations(path)], str(path)
    worlds = []
    for seed in range(50):
        api = CrmApi(seed=seed)
        client = api.create_new_client("Acme", f"ops{seed}@acme.example", "Active")
        deal = api.create_new_opportunity("Deal", client.client_id, 5_000, "Proposal")
        api.create_quote(deal.opportunity_id, 4_000, "Draft")
        api.create_new_contact("Ann", "Lee", client.client_id)
        worlds.append(api.store.snapshot())
    return worlds, f"synthetic worlds (no data file at {path})"


# ---- timing -------------------------------------------------------------------------------------
def measure(stores: dict[str, Store], snapshots: list[Any], cfg: Config) -> dict[str, float]:
    """Median calls/s and resets/s per store, the stores interleaved within every repeat."""
    samples: dict[str, list[float]] = {}
    names = list(stores)
    for repeat in range(cfg.repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            store = stores[name]
            calls = rate(partial(mixed_calls, store, cfg))
            samples.setdefault(f"{name}_calls_per_s", []).append(calls)
            reset_rate = rate(partial(resets, store, snapshots, cfg.resets))
            samples.setdefault(f"{name}_resets_per_s", []).append(reset_rate)
    results = {key: statistics.median(values) for key, values in samples.items()}
    for name in names:
        for what in ("calls", "resets"):
            results[f"{name}_{what}_vs_memory"] = (
                results[f"{name}_{what}_per_s"] / results[f"memory_{what}_per_s"]
            )
    return results


@contextlib.contextmanager
def postgres(dsn: str | None, skipped: list[str]) -> Iterator[str | None]:
    """A PostgreSQL DSN: the given one, or a throwaway cluster; None (and a reason) without."""
    if dsn:
        yield dsn
        return
    try:
        with throwaway_cluster() as started:
            yield started
    except ClusterUnavailable as exc:
        skipped.append(f"postgresql: {exc}")
        yield None


# ---- report -------------------------------------------------------------------------------------
def print_table(results: dict[str, Any]) -> None:
    print(f"Store speed, median of {results['repeats']} repeats, stores interleaved in this run")
    print(f"({results['nproc']} CPUs, Python {results['python']}, {results['seconds']:.1f} s)")
    print(f"{'store':<14}{'tool calls/s':>14}{'vs memory':>11}{'resets/s':>12}{'vs memory':>11}")
    for name in results["stores"]:
        calls, resets_ = results[f"{name}_calls_per_s"], results[f"{name}_resets_per_s"]
        print(
            f"{name:<14}{calls:>14,.0f}{results[f'{name}_calls_vs_memory']:>10.3f}x"
            f"{resets_:>12,.0f}{results[f'{name}_resets_vs_memory']:>10.3f}x"
        )
    print(f"resets restore: {results['reset_states']}")
    for reason in results["skipped"]:
        print(f"skipped: {reason}")


def run(cfg: Config, path: Path, pg_dsn: str | None) -> dict[str, Any]:
    """Every workload on every store that is available."""
    start = time.perf_counter()
    snapshots, source = initial_states(path)
    results: dict[str, Any] = {"repeats": cfg.repeats, "nproc": os.cpu_count(), "skipped": []}
    results.update(python=platform.python_version(), reset_states=source, config=cfg.__dict__)
    with tempfile.TemporaryDirectory() as tmp, postgres(pg_dsn, results["skipped"]) as dsn:
        specs = {"memory": "memory", "sqlite": "sqlite", "sqlite-file": f"sqlite:///{tmp}/crm.db"}
        if dsn:
            specs["postgresql"] = dsn
        stores = {name: make_store(spec) for name, spec in specs.items()}
        results["stores"] = list(stores)
        results.update(measure(stores, snapshots, cfg))
        for store in stores.values():
            getattr(store, "close", lambda: None)()
    results["seconds"] = time.perf_counter() - start
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 3 repeats (a smoke run)")
    parser.add_argument("--data", help="evaluation JSONL (default: $ARC_CRM_DATA or shared/arc)")
    parser.add_argument(
        "--pg-dsn", help="PostgreSQL DSN (default: $CRM_GYM_TEST_PG_DSN or a throwaway cluster)"
    )
    args = parser.parse_args(argv)
    path = Path(args.data or os.environ.get("ARC_CRM_DATA") or DEFAULT_DATA)
    dsn = args.pg_dsn or os.environ.get("CRM_GYM_TEST_PG_DSN")
    results = run(QUICK if args.quick else Config(), path, dsn)
    print_table(results)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
