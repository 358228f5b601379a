"""Env speed: steps, resets, ground-truth replay and vector envs, with text actions.

What is measured (each number is the median over ``repeats`` runs; every timed run starts after
a garbage collection, and the envs' reference runs are built before timing unless said "cold"):

1. **Steps/s** of ``ArcCrm-v1`` and ``ArcCrmConversation-v1`` under two fixed policies: the
   replay policy (the reference call, then the reference reply) and a malformed-action policy
   (``{not json`` until the step budget, 5, ends the turn). Only ``step`` is timed, not the
   policy's formatting nor ``reset``.
2. **Resets/s** of both envs, cycling through every task (``reset(options={"task_id": ...})``).
3. **Replay turns/s**: the replay policy through ``ArcCrmConversation-v1`` over every public
   conversation, end to end (resets, the policy, steps and scoring), in turns per second. Next
   to it, in the same run: our bare ``crm_gym.data.replay`` (no env, no shaped scoring) and
   upstream's harness as measured on this machine kind (REFERENCE.md section 7, about 5,700
   turns/s; not run here). The goal is 2x upstream. "Cold" is a fresh env whose reference runs
   are built on first use (a second full replay per conversation).
4. **Vector envs**: ``SyncVectorEnv`` against a plain Python loop over the same N envs (the ratio
   is the vector wrapper's overhead), and ``AsyncVectorEnv`` (``shared_memory=False``, fork)
   against ``SyncVectorEnv`` at 1, 2, 4 and 8 envs, in env steps per second. A step here takes
   tens of microseconds, so async's pipe round trip per step costs more than the work it
   spreads over processes; async pays only when steps are slow (a judge, a remote CRM).

Run::

    python -m benchmarks.speed.envs [--quick] [--data PATH]

The data file is ``--data``, else ``$ARC_CRM_DATA``, else
``<repo>/../shared/arc/evaluation_400.jsonl``; without it the built-in examples are used and
the replay comparison with upstream is skipped (and says so). The last line printed is one
JSON object with every number.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

import crm_gym  # noqa: F401  (registers the env ids)
from crm_gym.actions import format_tool_call
from crm_gym.data import Conversation, load_conversations, replay
from crm_gym.data.examples import builtin_path
from crm_gym.envs.tasks import TaskSource

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"
ENV_IDS = {"crm_env": "ArcCrm-v1", "conversation_env": "ArcCrmConversation-v1"}
Tasks = list[Conversation]

UPSTREAM_REPLAY = (5_500.0, 5_950.0)
"""Upstream's harness replaying the 400 conversations, turns/s (REFERENCE.md 7; not this run)."""
UPSTREAM_REPLAY_MID = 5_700.0
GOAL_VS_UPSTREAM = 2.0

MALFORMED = "{not json"
COUNTS = format_tool_call("summarize_counts", {})
VECTOR_CYCLE = (COUNTS, MALFORMED, "Done.")
"""Each env's fixed action cycle in the vector workloads: a call, a malformed action, an answer."""


@dataclass(frozen=True)
class Config:
    """Sizes of the workloads."""

    repeats: int = 5
    step_conversations: int = 100
    vector_steps: int = 600
    async_steps: int = 600
    vector_sizes: tuple[int, ...] = (1, 2, 4, 8)
    loop_envs: int = 4


QUICK = Config(repeats=3, step_conversations=25, vector_steps=150, async_steps=60)


# ---- timing -------------------------------------------------------------------------------------
Work = Callable[[], tuple[int, float]]
"""One timed run: returns (operations, seconds)."""


def median_rate(work: Work, repeats: int) -> float:
    """Median of ``count / seconds`` over ``repeats`` runs of ``work`` (which times itself)."""
    return compare({"work": work}, repeats)["work"]


def compare(works: dict[str, Work], repeats: int) -> dict[str, float]:
    """Median rate of each work.

    Repeats interleave the works, rotating which goes first, so drift on a shared machine hits
    all of them alike.
    """
    rates: dict[str, list[float]] = {name: [] for name in works}
    names = list(works)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            count, seconds = works[name]()
            rates[name].append(count / seconds)
    return {name: statistics.median(values) for name, values in rates.items()}


def timed(work: Callable[[], int]) -> Work:
    """Wrap a work that returns a count into one that also returns its wall time."""

    def run() -> tuple[int, float]:
        start = time.perf_counter()
        count = work()
        return count, time.perf_counter() - start

    return run


def make_env(env_id: str, tasks: TaskSource | list[Conversation], **kwargs: Any) -> gym.Env:
    """The raw env (no checker wrappers), as a training loop would use it."""
    return gym.make(env_id, tasks=tasks, disable_env_checker=True, **kwargs).unwrapped


def task_ids(env_id: str, conversations: list[Conversation]) -> list[str]:
    """Every task: one per turn for ``ArcCrm-v1``, one per conversation otherwise."""
    if env_id == "ArcCrm-v1":
        return [f"{c.conversation_id}#{t.turn_id}" for c in conversations for t in c.turns]
    return [c.conversation_id for c in conversations]


def warm_source(conversations: list[Conversation]) -> TaskSource:
    """A task source with every reference run built (so timing sees only the env's own work)."""
    source = TaskSource(conversations)
    for index in range(len(source)):
        source.reference(index)
    return source


# ---- 1. steps -----------------------------------------------------------------------------------
def replay_steps(env: gym.Env, ids: list[str]) -> tuple[int, float]:
    """The replay policy over ``ids``; returns (steps, seconds spent inside ``step``)."""
    steps, seconds, clock = 0, 0.0, time.perf_counter
    for task_id in ids:
        _, info = env.reset(options={"task_id": task_id})
        done = False
        while not done:
            reference = info["reference"]
            call = format_tool_call(reference["expected_tool"], reference["expected_arguments"])
            answer = reference["expected_response"] or "Done."
            start = clock()
            env.step(call)
            _, _, terminated, truncated, info = env.step(answer)
            seconds += clock() - start
            steps, done = steps + 2, terminated or truncated
    return steps, seconds


def malformed_steps(env: gym.Env, ids: list[str]) -> tuple[int, float]:
    """The malformed-action policy over ``ids``; returns (steps, seconds inside ``step``)."""
    steps, seconds, clock = 0, 0.0, time.perf_counter
    for task_id in ids:
        env.reset(options={"task_id": task_id})
        done = False
        while not done:
            start = clock()
            _, _, terminated, truncated, _ = env.step(MALFORMED)
            seconds += clock() - start
            steps, done = steps + 1, terminated or truncated
    return steps, seconds


def bench_steps(source: TaskSource, conversations: Tasks, cfg: Config) -> dict[str, float]:
    works = {}
    for name, env_id in ENV_IDS.items():
        env = make_env(env_id, source, expose_reference=True)
        ids = task_ids(env_id, conversations[: cfg.step_conversations])
        works[f"{name}_steps_per_s_replay"] = partial(replay_steps, env, ids)
        works[f"{name}_steps_per_s_malformed"] = partial(malformed_steps, env, ids)
    return compare(works, cfg.repeats)


# ---- 2. resets ----------------------------------------------------------------------------------
def resets(env: gym.Env, ids: list[str]) -> int:
    for task_id in ids:
        env.reset(options={"task_id": task_id})
    return len(ids)


def bench_resets(source: TaskSource, conversations: Tasks, cfg: Config) -> dict[str, float]:
    works = {}
    for name, env_id in ENV_IDS.items():
        env, ids = make_env(env_id, source), task_ids(env_id, conversations)
        works[f"{name}_resets_per_s"] = timed(partial(resets, env, ids))
    return compare(works, cfg.repeats)


# ---- 3. replay ----------------------------------------------------------------------------------
def replay_turns(env: gym.Env, ids: list[str]) -> int:
    """The replay policy end to end (reset, policy, steps); returns the number of turns."""
    turns = 0
    for task_id in ids:
        _, info = env.reset(options={"task_id": task_id})
        done = False
        while not done:
            reference = info["reference"]
            env.step(format_tool_call(reference["expected_tool"], reference["expected_arguments"]))
            _, _, terminated, truncated, info = env.step(reference["expected_response"] or "Done.")
            turns, done = turns + 1, terminated or truncated
    return turns


def cold_replay(conversations: list[Conversation]) -> tuple[int, float]:
    env = make_env("ArcCrmConversation-v1", conversations, expose_reference=True)
    return timed(lambda: replay_turns(env, task_ids("ArcCrmConversation-v1", conversations)))()


def bare_replay(conversations: list[Conversation]) -> int:
    return sum(len(replay(c).turns) for c in conversations)


def bench_replay(source: TaskSource, conversations: Tasks, cfg: Config) -> dict[str, Any]:
    env = make_env("ArcCrmConversation-v1", source, expose_reference=True)
    ids = task_ids("ArcCrmConversation-v1", conversations)
    works = {
        "warm": timed(lambda: replay_turns(env, ids)),
        "cold": lambda: cold_replay(conversations),
        "bare": timed(lambda: bare_replay(conversations)),
    }
    rates = compare(works, cfg.repeats)
    return {
        "replay_conversations": len(conversations),
        "replay_turns": sum(len(c.turns) for c in conversations),
        "replay_env_turns_per_s": rates["warm"],
        "replay_env_turns_per_s_cold": rates["cold"],
        "replay_bare_turns_per_s": rates["bare"],
        "replay_env_vs_bare": rates["warm"] / rates["bare"],
        "replay_env_cold_vs_bare": rates["cold"] / rates["bare"],
    }


def versus_upstream(results: dict[str, Any]) -> dict[str, Any]:
    """Ours / upstream's replay range (measured on this machine kind, not in this run)."""
    low, high = UPSTREAM_REPLAY
    ratios: dict[str, Any] = {}
    for key in ("replay_env_turns_per_s", "replay_env_turns_per_s_cold", "replay_bare_turns_per_s"):
        ratios[f"{key}_vs_upstream_ref_min"] = results[key] / high
        ratios[f"{key}_vs_upstream_ref_max"] = results[key] / low
        ratios[f"{key}_vs_upstream_ref"] = results[key] / UPSTREAM_REPLAY_MID
    goal = ratios["replay_env_turns_per_s_vs_upstream_ref"] >= GOAL_VS_UPSTREAM
    ratios["replay_env_meets_goal"] = goal
    return ratios


# ---- 4. vector envs -----------------------------------------------------------------------------
def vector_env(kind: str, source: TaskSource, num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` ArcCrm-v1 envs over a warm task source, SAME_STEP autoreset."""
    fns = [lambda: gym.make("ArcCrm-v1", tasks=source, disable_env_checker=True)] * num_envs
    if kind == "sync":
        return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    same_step = AutoresetMode.SAME_STEP
    return AsyncVectorEnv(fns, shared_memory=False, autoreset_mode=same_step, context="fork")


def vector_steps(envs: gym.vector.VectorEnv, steps: int) -> tuple[int, float]:
    """``steps`` vector steps of the fixed action cycle; returns (env steps, seconds)."""
    envs.reset(seed=0)
    start = time.perf_counter()
    for i in range(steps):
        envs.step([VECTOR_CYCLE[(i + k) % len(VECTOR_CYCLE)] for k in range(envs.num_envs)])
    return steps * envs.num_envs, time.perf_counter() - start


def loop_steps(source: TaskSource, num_envs: int, steps: int) -> tuple[int, float]:
    """The same work as ``vector_steps`` as a plain loop over ``num_envs`` envs."""
    envs = [gym.make("ArcCrm-v1", tasks=source, disable_env_checker=True) for _ in range(num_envs)]
    for k, env in enumerate(envs):
        env.reset(seed=k)
    start = time.perf_counter()
    for i in range(steps):
        for k, env in enumerate(envs):
            _, _, terminated, truncated, _ = env.step(VECTOR_CYCLE[(i + k) % len(VECTOR_CYCLE)])
            if terminated or truncated:
                env.reset()
    return steps * num_envs, time.perf_counter() - start


def bench_vector(source: TaskSource, cfg: Config) -> dict[str, Any]:
    n = cfg.loop_envs
    sync = vector_env("sync", source, n)
    try:
        works = {
            "loop": partial(loop_steps, source, n, cfg.vector_steps),
            "sync": partial(vector_steps, sync, cfg.vector_steps),
        }
        rates = compare(works, cfg.repeats)
    finally:
        sync.close()
    results = {
        "vector_loop_envs": n,
        "plain_loop_steps_per_s": rates["loop"],
        "sync_vector_steps_per_s": rates["sync"],
        "sync_vector_vs_plain_loop": rates["sync"] / rates["loop"],
    }
    for size in cfg.vector_sizes:
        results.update(sync_against_async(source, size, cfg))
    return results


def sync_against_async(source: TaskSource, size: int, cfg: Config) -> dict[str, float]:
    """Sync and async vectors of ``size`` envs, timed interleaved."""
    envs = {kind: vector_env(kind, source, size) for kind in ("sync", "async")}
    try:
        works = {kind: partial(vector_steps, env, cfg.async_steps) for kind, env in envs.items()}
        rates = compare(works, cfg.repeats)
    finally:
        for env in envs.values():
            env.close()
    return {
        f"sync_steps_per_s_{size}": rates["sync"],
        f"async_steps_per_s_{size}": rates["async"],
        f"async_vs_sync_{size}": rates["async"] / rates["sync"],
    }


# ---- report -------------------------------------------------------------------------------------
def print_table(results: dict[str, Any]) -> None:
    machine = f"{results['nproc']} CPUs, Python {results['python']}"
    versions = f"gymnasium {results['gymnasium']}, {results['seconds']:.1f} s"
    print(f"Env speed, median of {results['repeats']} repeats ({machine}, {versions})")
    print(f"tasks: {results['tasks']}")
    print(f"{'workload':<46}{'ArcCrm-v1':>14}{'Conversation':>14}")
    for label, key in (
        ("steps/s, replay policy", "steps_per_s_replay"),
        ("steps/s, malformed-action policy", "steps_per_s_malformed"),
        ("resets/s", "resets_per_s"),
    ):
        crm, conversation = results[f"crm_env_{key}"], results[f"conversation_env_{key}"]
        print(f"{label:<46}{crm:>14,.0f}{conversation:>14,.0f}")
    print_replay(results)
    print_vector(results)
    for reason in results["skipped"]:
        print(f"skipped: {reason}")


def print_replay(results: dict[str, Any]) -> None:
    turns, convs = results["replay_turns"], results["replay_conversations"]
    head = f"replay of {convs} conversations ({turns} turns), turns/s"
    print(f"\n{head:<50}{'ours':>8}{'vs bare':>9}{'vs upstream*':>13}")
    rows = (
        ("ConversationEnv + replay policy, warm", "replay_env_turns_per_s"),
        ("ConversationEnv + replay policy, cold", "replay_env_turns_per_s_cold"),
        ("bare crm_gym.data.replay", "replay_bare_turns_per_s"),
    )
    for label, key in rows:
        rate, bare = results[key], results["replay_bare_turns_per_s"]
        upstream = results.get(f"{key}_vs_upstream_ref")
        ups = f"{upstream:.2f}x" if upstream is not None else "-"
        print(f"  {label:<48}{rate:>8,.0f}{rate / bare:>8.2f}x{ups:>13}")
    if "replay_env_meets_goal" in results:
        met = "yes" if results["replay_env_meets_goal"] else "NO"
        goal = GOAL_VS_UPSTREAM * UPSTREAM_REPLAY_MID
        print(f"  goal: {GOAL_VS_UPSTREAM:.0f}x upstream (~{goal:,.0f} turns/s), met: {met}")
        print("  * upstream's harness on this machine kind, 5,500-5,950 turns/s;")
        print("    not measured in this run (docs/performance.md)")


def print_vector(results: dict[str, Any]) -> None:
    n = results["vector_loop_envs"]
    loop, sync = results["plain_loop_steps_per_s"], results["sync_vector_steps_per_s"]
    print(f"\nvector envs (ArcCrm-v1), env steps/s; {n} envs: plain loop {loop:,.0f},")
    print(f"  SyncVectorEnv {sync:,.0f} (sync/plain {results['sync_vector_vs_plain_loop']:.2f})")
    print(f"  {'envs':>6}{'sync':>12}{'async':>12}{'async/sync':>12}")
    for size in results["vector_sizes"]:
        sync, spread = results[f"sync_steps_per_s_{size}"], results[f"async_steps_per_s_{size}"]
        print(f"  {size:>6}{sync:>12,.0f}{spread:>12,.0f}{spread / sync:>12.2f}")
    print("  async pays a pipe round trip per step, more than a step's work here")


# ---- main ---------------------------------------------------------------------------------------
def data_path(cli_value: str | None) -> Path:
    """``--data``, else ``$ARC_CRM_DATA``, else the shared public file next to the repository."""
    return Path(cli_value or os.environ.get("ARC_CRM_DATA") or DEFAULT_DATA)


def run(cfg: Config, path: Path) -> dict[str, Any]:
    start = time.perf_counter()
    results: dict[str, Any] = {
        "repeats": cfg.repeats,
        "nproc": os.cpu_count(),
        "skipped": [],
        "python": platform.python_version(),
        "gymnasium": gym.__version__,
        "vector_sizes": list(cfg.vector_sizes),
    }
    if path.is_file():
        conversations, results["tasks"] = load_conversations(path), str(path)
    else:
        conversations, results["tasks"] = load_conversations(builtin_path()), "built-in examples"
        results["skipped"].append(f"upstream replay comparison: no data file at {path}")
    source = warm_source(conversations)
    results.update(bench_steps(source, conversations, cfg))
    results.update(bench_resets(source, conversations, cfg))
    results.update(bench_replay(source, conversations, cfg))
    if path.is_file():
        results.update(versus_upstream(results))
    results.update(bench_vector(source, cfg))
    results["seconds"] = time.perf_counter() - start
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats and smaller workloads")
    parser.add_argument("--data", help="evaluation JSONL (default: $ARC_CRM_DATA or shared/arc)")
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else Config(), data_path(args.data))
    print_table(results)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
