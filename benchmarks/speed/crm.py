"""CRM speed: tool calls, resets, ground-truth replay and client creation, ours vs upstream's rules.

What is measured (each number is the median over ``repeats`` runs of the workload; ours and the
``CrmApi(strict_upstream=True)`` baseline run interleaved in the same process, alternating which
goes first, so drift on a shared machine hits both alike):

1. **Mixed tool calls/s**: REFERENCE.md section 7's workload. 300 episodes, each a fresh
   ``CrmApi(seed=episode)`` then 10 rounds of ``create_new_client`` (unique email, Active),
   ``create_new_opportunity`` (that client, amount, Qualification, probability 40),
   ``create_quote`` (amount, Draft), ``opportunity_search(stage="Qualification")`` and
   ``modify_opportunity(id, updates={"stage": "Negotiation", "probability": 70})``: 15,000 calls.
   Once as direct method calls, once through ``call_tool`` with dict arguments (what envs use).
2. **Resets/s**: ``new_episode(conversation)`` (a fresh ``CrmApi`` seeded with the
   conversation's initial entities), cycling through the public conversations; after its first
   episode a conversation's validated seed records are cached and reused (what an env does).
   ``resets_per_s_cold`` measures first episodes only (fresh conversation objects, every seed
   record validated). Separately, the
   snapshot path: each conversation is seeded once (untimed), then a reset is
   ``api.store.restore(snapshot)`` (store state only; the id stream and clock are not rewound).
3. **Replay turns/s**: ``replay(c)`` over every public conversation; total turns / seconds.
4. **create_new_client/s** with 0 and with 5,000 clients already stored (500 creates each):
   flat in store size with the email index, linear in it with strict_upstream's scan.

Ratios "vs strict" are measured in this run. Ratios "vs upstream" divide by the numbers upstream's
own code reached on this machine kind (REFERENCE.md section 7): they were not measured in this
run. The garbage collector stays on (as in real use); each timed run starts after a collection.

Run::

    python -m benchmarks.speed.crm [--quick] [--data PATH]

The data file is ``--data``, else ``$ARC_CRM_DATA``, else
``<repo>/../shared/arc/evaluation_400.jsonl``; without it, workloads 2 and 3 are skipped (and
say so). The last line printed is one JSON object
with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from benchmarks.speed.timing import rate
from crm_gym.crm import CrmApi, MemoryStore
from crm_gym.crm.tools import ToolResult, call_tool
from crm_gym.data import Conversation, load_conversations, replay
from crm_gym.data.replay import new_episode

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"

UPSTREAM = {
    "mixed_calls_per_s": (24_000.0, 38_000.0),
    "resets_per_s": (11_500.0, 13_500.0),
    "resets_per_s_cold": (11_500.0, 13_500.0),
    "replay_turns_per_s": (5_500.0, 5_950.0),
    "create_client_per_s_5000": (1_700.0, 2_400.0),
}
"""Upstream's ranges over 3 runs on this machine kind (REFERENCE.md section 7), not this run."""

TARGETS = {
    "mixed_calls_per_s": 150_000.0,
    "mixed_calls_per_s_registry": 150_000.0,
    "resets_per_s": 120_000.0,
    "resets_per_s_cold": 120_000.0,
    "resets_per_s_snapshot": 120_000.0,
    "replay_turns_per_s": 12_000.0,
    "create_client_flatness": 0.8,
}
"""Goals; "flat in store size" is read as: the rate at 5,000 clients is at least 0.8 x at 0."""

Work = Callable[[], int]
"""One run of a workload; returns how many operations it did."""


@dataclass(frozen=True)
class Config:
    """Sizes of the workloads (the mixed one is fixed by REFERENCE.md section 7)."""

    repeats: int = 5
    episodes: int = 300
    rounds: int = 10
    resets: int = 4_000
    restores: int = 40_000
    prefill: int = 5_000
    creates: int = 500


# ---- timing -------------------------------------------------------------------------------------
def compare(make_work: Callable[[bool], Work], repeats: int) -> tuple[float, float]:
    """Median rates of ours and strict_upstream, interleaved; setup in ``make_work`` is untimed."""
    rates: dict[bool, list[float]] = {False: [], True: []}
    for repeat in range(repeats):
        for strict in (False, True) if repeat % 2 == 0 else (True, False):
            rates[strict].append(rate(make_work(strict)))
    return statistics.median(rates[False]), statistics.median(rates[True])


def pair(key: str, rates: tuple[float, float]) -> dict[str, float]:
    """``key``, ``key_strict`` and ``key_vs_strict`` (ours / strict) of one comparison."""
    ours, strict = rates
    return {key: ours, f"{key}_strict": strict, f"{key}_vs_strict": ours / strict}


# ---- 1. mixed workload --------------------------------------------------------------------------
def mixed_direct(strict: bool, cfg: Config) -> int:
    """REFERENCE.md 7's workload as direct method calls."""
    for episode in range(cfg.episodes):
        api = CrmApi(seed=episode, strict_upstream=strict)
        for i in range(cfg.rounds):
            client = api.create_new_client(f"Client {i}", f"c{episode}.{i}@example.com", "Active")
            deal = api.create_new_opportunity(
                f"Deal {i}", client.client_id, 10_000.0 + i, "Qualification", probability=40
            )
            api.create_quote(deal.opportunity_id, 9_000.0 + i, "Draft")
            api.opportunity_search(stage="Qualification")
            updates = {"stage": "Negotiation", "probability": 70}
            api.modify_opportunity(deal.opportunity_id, updates=updates)
    return cfg.episodes * cfg.rounds * 5


def mixed_registry(strict: bool, cfg: Config) -> int:
    """The same workload through ``call_tool`` with dict arguments and dict payloads."""
    for episode in range(cfg.episodes):
        api = CrmApi(seed=episode, strict_upstream=strict)
        for i in range(cfg.rounds):
            registry_round(api, episode, i)
    return cfg.episodes * cfg.rounds * 5


def registry_round(api: CrmApi, episode: int, i: int) -> None:
    """Round ``i`` of REFERENCE.md 7's workload through ``call_tool``: 5 calls, each must pass."""
    email = f"c{episode}.{i}@example.com"
    client = {"name": f"Client {i}", "email": email, "status": "Active"}
    client_id = ok(call_tool(api, "create_new_client", client))["client_id"]
    deal = {"name": f"Deal {i}", "client_id": client_id, "amount": 10_000.0 + i}
    deal.update(stage="Qualification", probability=40)
    deal_id = ok(call_tool(api, "create_new_opportunity", deal))["opportunity_id"]
    quote = {"opportunity_id": deal_id, "amount": 9_000.0 + i, "status": "Draft"}
    ok(call_tool(api, "create_quote", quote))
    ok(call_tool(api, "opportunity_search", {"stage": "Qualification"}))
    updates = {"stage": "Negotiation", "probability": 70}
    ok(call_tool(api, "modify_opportunity", {"opportunity_id": deal_id, "updates": updates}))


def ok(result: ToolResult) -> Any:
    """The payload of a call that must succeed (a benchmark must not time error paths)."""
    if not result.ok:
        raise RuntimeError(f"{result.name} failed in the benchmark: {result.error}")
    return result.payload


def bench_mixed(cfg: Config) -> dict[str, float]:
    direct = compare(lambda strict: partial(mixed_direct, strict, cfg), cfg.repeats)
    registry = compare(lambda strict: partial(mixed_registry, strict, cfg), cfg.repeats)
    return {**pair("mixed_calls_per_s", direct), **pair("mixed_calls_per_s_registry", registry)}


# ---- 2. resets ----------------------------------------------------------------------------------
def fresh_resets(conversations: list[Conversation], strict: bool, count: int) -> int:
    """``count`` resets, each a fresh CrmApi seeded with the next conversation's entities."""
    for i in range(count):
        new_episode(conversations[i % len(conversations)], strict_upstream=strict)
    return count


def cold_resets(conversations: list[Conversation], strict: bool, count: int) -> Work:
    """Fresh copies of the conversations (untimed), so every reset validates its seed records."""
    copies = [
        Conversation.model_validate(conversations[i % len(conversations)].model_dump())
        for i in range(count)
    ]

    def work() -> int:
        for conversation in copies:
            new_episode(conversation, strict_upstream=strict)
        return count

    return work


def snapshot_resets(conversations: list[Conversation], strict: bool, count: int) -> Work:
    """Seed every conversation once (untimed); the work restores their snapshots in turn."""
    stores = [new_episode(c, strict_upstream=strict).store for c in conversations]
    prepared = [(store, store.snapshot()) for store in stores]

    def work() -> int:
        for i in range(count):
            store, snapshot = prepared[i % len(prepared)]
            store.restore(snapshot)
        return count

    return work


def bench_resets(conversations: list[Conversation], cfg: Config) -> dict[str, float]:
    fresh = compare(lambda s: partial(fresh_resets, conversations, s, cfg.resets), cfg.repeats)
    cold = compare(lambda s: cold_resets(conversations, s, cfg.resets), cfg.repeats)
    restored = compare(lambda s: snapshot_resets(conversations, s, cfg.restores), cfg.repeats)
    return {
        **pair("resets_per_s", fresh),
        **pair("resets_per_s_cold", cold),
        **pair("resets_per_s_snapshot", restored),
    }


# ---- 3. replay ----------------------------------------------------------------------------------
def replay_turns(conversations: list[Conversation], strict: bool) -> int:
    """Replay every conversation's ground truth; the number of turns run."""
    return sum(len(replay(c, strict_upstream=strict).turns) for c in conversations)


def replay_passed(conversations: list[Conversation], strict: bool) -> int:
    """How many conversations replay cleanly (untimed; checks the timed work is the real thing)."""
    return sum(replay(c, strict_upstream=strict).passed for c in conversations)


def bench_replay(conversations: list[Conversation], cfg: Config) -> dict[str, float]:
    rates = compare(lambda strict: partial(replay_turns, conversations, strict), cfg.repeats)
    counts = {
        "replay_conversations": len(conversations),
        "replay_conversations_passed": replay_passed(conversations, False),
        "replay_conversations_passed_strict": replay_passed(conversations, True),
    }
    return {**pair("replay_turns_per_s", rates), **counts}


# ---- 4. create_new_client vs store size ---------------------------------------------------------
def filled_snapshot(clients: int) -> Any:
    """A store snapshot holding ``clients`` clients with distinct emails."""
    api = CrmApi(seed=0)
    for i in range(clients):
        api.create_new_client(f"Filler {i}", f"filler{i}@example.com", "Active")
    return api.store.snapshot()


def create_clients(snapshot: Any, strict: bool, count: int) -> Work:
    """A CRM restored from ``snapshot`` (untimed); the work creates ``count`` new clients."""
    store = MemoryStore()
    store.restore(snapshot)
    api = CrmApi(store, seed=1, strict_upstream=strict)

    def work() -> int:
        for i in range(count):
            api.create_new_client(f"New {i}", f"new{i}@example.com", "Active")
        return count

    return work


def bench_create(cfg: Config) -> dict[str, float]:
    empty, full = MemoryStore().snapshot(), filled_snapshot(cfg.prefill)
    at_0 = compare(lambda strict: create_clients(empty, strict, cfg.creates), cfg.repeats)
    at_n = compare(lambda strict: create_clients(full, strict, cfg.creates), cfg.repeats)
    results = {**pair("create_client_per_s_0", at_0), **pair("create_client_per_s_5000", at_n)}
    results["create_client_flatness"] = at_n[0] / at_0[0]
    results["create_client_flatness_strict"] = at_n[1] / at_0[1]
    return results


# ---- report -------------------------------------------------------------------------------------
def versus_upstream(results: dict[str, Any]) -> dict[str, float]:
    """Ours / upstream's published range: ``_min`` divides by its best run, ``_max`` its worst."""
    ratios = {}
    for key, (low, high) in UPSTREAM.items():
        if results.get(key) is not None:
            ratios[f"{key}_vs_upstream_ref_min"] = results[key] / high
            ratios[f"{key}_vs_upstream_ref_max"] = results[key] / low
    return ratios


def target_checks(results: dict[str, Any]) -> dict[str, bool]:
    """``<key>_meets_target`` for every target whose number was measured."""
    measured = [key for key in TARGETS if results.get(key) is not None]
    return {f"{key}_meets_target": results[key] >= TARGETS[key] for key in measured}


ROWS = (
    ("mixed_calls_per_s", "mixed calls/s, direct"),
    ("mixed_calls_per_s_registry", "mixed calls/s, call_tool"),
    ("resets_per_s", "resets/s, fresh + seed"),
    ("resets_per_s_cold", "resets/s, first episode"),
    ("resets_per_s_snapshot", "resets/s, snapshot restore"),
    ("replay_turns_per_s", "replay turns/s (400 convs)"),
    ("create_client_per_s_0", "create_new_client/s, 0 stored"),
    ("create_client_per_s_5000", "create_new_client/s, 5,000"),
    ("create_client_flatness", "  flatness (5,000 / 0)"),
)


def table_row(key: str, label: str, results: dict[str, Any]) -> str:
    """One line of the table: ours, strict, ratio, upstream range and ratio, target, met."""
    ours, strict = results.get(key), results.get(f"{key}_strict")
    if ours is None:
        return f"{label:<32}{'skipped (no data)':>14}"
    ratio = results.get(f"{key}_vs_strict")
    ratio_cell = f"{ratio:>10.2f}x" if ratio is not None else f"{'-':>11}"
    low, high = UPSTREAM.get(key, (None, None))
    ups = f"{low:,.0f}-{high:,.0f}" if low else "-"
    vs_up = f"{ours / high:.1f}-{ours / low:.1f}x" if low else "-"
    target = TARGETS.get(key)
    goal = "-" if target is None else (f">= {target:,.1f}" if target < 10 else f"{target:,.0f}+")
    met = {True: "yes", False: "NO"}.get(results.get(f"{key}_meets_target"), "-")
    number = "{:>12,.2f}" if ours < 10 else "{:>12,.0f}"
    cells = number.format(ours) + number.format(strict)
    return f"{label:<32}{cells}{ratio_cell}{ups:>16}{vs_up:>12}{goal:>11}{met:>5}"


def print_table(results: dict[str, Any]) -> None:
    machine = f"{results['nproc']} CPUs, Python {results['python']}"
    print(f"CRM speed, median of {results['repeats']} repeats, ours and strict_upstream")
    print(f"interleaved in this run ({machine}, {results['seconds']:.1f} s)")
    head = f"{'workload':<32}{'ours':>12}{'strict':>12}{'ours/str':>11}{'upstream*':>16}"
    print(head + f"{'ours/ups*':>12}{'target':>11}{'met':>5}")
    for key, label in ROWS:
        print(table_row(key, label, results))
    print("* upstream measured on this machine kind (docs/performance.md), not in this run.")
    if "replay_conversations" in results:
        ours, strict = (results[f"replay_conversations_passed{s}"] for s in ("", "_strict"))
        print(f"replay passed: ours {ours}, strict {strict} of {results['replay_conversations']}")
    for reason in results["skipped"]:
        print(f"skipped: {reason}")


# ---- main ---------------------------------------------------------------------------------------
def data_path(cli_value: str | None) -> Path:
    """``--data``, else ``$ARC_CRM_DATA``, else the shared public file next to the repository."""
    return Path(cli_value or os.environ.get("ARC_CRM_DATA") or DEFAULT_DATA)


def run(cfg: Config, path: Path) -> dict[str, Any]:
    """Every workload; the data-driven ones only when ``path`` exists."""
    start = time.perf_counter()
    results: dict[str, Any] = {"repeats": cfg.repeats, "nproc": os.cpu_count()}
    results.update(python=platform.python_version(), data=str(path), skipped=[])
    results.update(bench_mixed(cfg))
    if path.is_file():
        conversations = load_conversations(path)
        results.update(bench_resets(conversations, cfg))
        results.update(bench_replay(conversations, cfg))
    else:
        results["skipped"].append(f"resets and replay: no data file at {path}")
    results.update(bench_create(cfg))
    results.update(versus_upstream(results))
    results.update(target_checks(results))
    results["seconds"] = time.perf_counter() - start
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 5")
    parser.add_argument("--data", help="evaluation JSONL (default: $ARC_CRM_DATA or shared/arc)")
    args = parser.parse_args(argv)
    cfg = Config(repeats=3) if args.quick else Config()
    results = run(cfg, data_path(args.data))
    print_table(results)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
