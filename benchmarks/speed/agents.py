"""Agent speed: HF backend generation tokens/s on the tiny model, and rollout env steps/s.

What is measured (each number is the median over ``repeats`` runs; every timed run starts after
a garbage collection):

Generation and the tiny-model rollout run once per torch thread count (``--threads``, default
1 and the CPU count): on a shared 2-CPU machine torch's worker threads wait on each other, and a
model this small is faster on one thread.

1. **Generation tokens/s** of ``HFPolicy`` on the tiny model (``agents.tiny``: Qwen3-style,
   hidden 64, 2 layers) at batch 1, 8 and 32: one ``act`` call on the compact prompt of a real
   first observation (``ArcCrmConversation-v1``, about 450 prompt tokens), temperature 1,
   ``max_new_tokens`` tokens per row with the end-of-turn ids ignored, so every row generates
   exactly that many. Generated tokens divided by the call's wall time (prefill included).
2. **Rollout env steps/s** through ``collect_rollouts`` over ``make_vec(..., SAME_STEP)``:
   the replay policy over ``ArcCrmConversation-v1`` (every public conversation once, each by
   its ``task_id``, so each episode pays an explicit reset after the autoreset; the reference
   runs are built before timing), the random policy (the collector's and envs' own cost with a
   free policy), and the tiny model (a few conversations, ``rollout_new_tokens`` tokens per
   action, episodes cut at ``rollout_max_steps`` actions), where generation dominates.

Run::

    python -m benchmarks.speed.agents [--quick] [--data PATH] [--threads 1,2]

The data file is ``--data``, else ``$ARC_CRM_DATA``, else
``<repo>/../shared/arc/evaluation_400.jsonl``; without it the built-in examples are used. The
last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from benchmarks.speed.timing import median_rate

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"


@dataclass(frozen=True)
class Config:
    """Sizes of the workloads."""

    repeats: int = 5
    batch_sizes: tuple[int, ...] = (1, 8, 32)
    new_tokens: int = 64
    vector_envs: int = 8
    replay_conversations: int = 400
    random_episodes: int = 64
    tiny_episodes: int = 8
    rollout_new_tokens: int = 16
    rollout_max_steps: int = 6


QUICK = Config(
    repeats=1,
    batch_sizes=(1, 8),
    new_tokens=8,
    vector_envs=4,
    replay_conversations=40,
    random_episodes=8,
    tiny_episodes=4,
    rollout_new_tokens=4,
    rollout_max_steps=3,
)


def load_tasks(data: Path) -> tuple[list, str]:
    from crm_gym.data import load_conversations
    from crm_gym.data.examples import builtin_path

    if data.is_file():
        return list(load_conversations(data)), str(data)
    return list(load_conversations(builtin_path())), "built-in examples"


# ---- 1. generation ------------------------------------------------------------------------------
def bench_generation(policy: Any, cfg: Config) -> dict[str, float]:
    import gymnasium as gym

    import crm_gym  # noqa: F401  (registers the env ids)
    from agents.policy import Observation, SamplingParams

    text, info = gym.make("ArcCrmConversation-v1").reset(seed=0)
    observation = Observation(text, info)
    stop_ids, policy.stop_ids = policy.stop_ids, frozenset({-1})  # every row runs to the limit
    results: dict[str, float] = {"prompt_tokens": float(len(policy.prompt_ids(observation)))}
    try:
        for size in cfg.batch_sizes:
            sampling = SamplingParams(temperature=1.0, max_new_tokens=cfg.new_tokens, seed=0)
            policy.act([observation] * size, sampling=sampling)  # warm-up

            def work(size: int = size, sampling: SamplingParams = sampling) -> int:
                rows = policy.act([observation] * size, sampling=sampling)
                return sum(len(row[0].completion_ids) for row in rows)

            results[f"hf_tokens_per_s_batch_{size}"] = median_rate(work, cfg.repeats)
    finally:
        policy.stop_ids = stop_ids
    return results


# ---- 2. rollouts --------------------------------------------------------------------------------
def rollout_work(envs: Any, policy: Any, **kwargs: Any) -> Callable[[], int]:
    """A timed rollout: returns the number of env steps its trajectories took."""
    from agents.rollout import collect_rollouts

    def work() -> int:
        return sum(len(t.steps) for t in collect_rollouts(envs, policy, **kwargs))

    return work


def rollout_envs(tasks: list, cfg: Config) -> tuple[Any, list[dict[str, str]]]:
    """The vector env and the replay plan (every conversation once, by ``task_id``)."""
    from agents.baselines import ReplayPolicy
    from crm_gym import make_vec

    conversations = tasks[: cfg.replay_conversations]
    options = [{"task_id": c.conversation_id} for c in conversations]
    envs = make_vec(
        "ArcCrmConversation-v1", cfg.vector_envs, tasks=conversations, expose_reference=True
    )
    rollout_work(envs, ReplayPolicy(), options=options, seed=0)()  # builds every reference run
    return envs, options


def bench_baseline_rollouts(envs: Any, options: list, cfg: Config) -> dict[str, float]:
    from agents.baselines import RandomPolicy, ReplayPolicy

    replay = rollout_work(envs, ReplayPolicy(), options=options, seed=0)
    random = rollout_work(envs, RandomPolicy(0), num_episodes=cfg.random_episodes, seed=0)
    return {
        "rollout_steps_per_s_replay": median_rate(replay, cfg.repeats),
        "rollout_steps_per_s_random": median_rate(random, cfg.repeats),
        "replay_episodes": float(len(options)),
    }


def bench_tiny_rollouts(envs: Any, policy: Any, cfg: Config) -> dict[str, float]:
    from agents.policy import SamplingParams

    sampling = SamplingParams(temperature=1.0, max_new_tokens=cfg.rollout_new_tokens)
    tiny = rollout_work(
        envs,
        policy,
        sampling=sampling,
        num_episodes=cfg.tiny_episodes,
        max_steps=cfg.rollout_max_steps,
        seed=0,
    )
    return {"rollout_steps_per_s_tiny": median_rate(tiny, cfg.repeats)}


# ---- report -------------------------------------------------------------------------------------
def run(cfg: Config, data: Path, threads: list[int]) -> dict[str, Any]:
    import torch
    import transformers

    from agents.hf import HFPolicy
    from agents.tiny import build_tiny_model

    tasks, source = load_tasks(data)
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        path = build_tiny_model(directory, seed=0)
        build_seconds = time.perf_counter() - start
        policy = HFPolicy(path, device="cpu", prompt_style="compact")
    results: dict[str, Any] = {"tiny_build_s": build_seconds, "tasks": source, **asdict(cfg)}
    envs, options = rollout_envs(tasks, cfg)
    results.update(bench_baseline_rollouts(envs, options, cfg))
    for count in threads:
        torch.set_num_threads(count)
        measured = {**bench_generation(policy, cfg), **bench_tiny_rollouts(envs, policy, cfg)}
        results["prompt_tokens"] = measured.pop("prompt_tokens")
        results.update({f"{key}_threads_{count}": value for key, value in measured.items()})
    results["threads"] = threads
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return results


def print_table(results: dict[str, Any]) -> None:
    machine = results["machine"]
    print(f"Agent speed, median of {results['repeats']} repeats ({machine})")
    print(f"tiny model built in {results['tiny_build_s']:.2f} s; tasks: {results['tasks']}")
    print(
        f"HF generation, {results['new_tokens']} new tokens per row after "
        f"{results['prompt_tokens']:.0f} prompt tokens:"
    )
    threads = results["threads"]
    print(f"  {'torch threads':<16}" + "".join(f"{count:>12}" for count in threads))
    for size in results["batch_sizes"]:
        rates = [results[f"hf_tokens_per_s_batch_{size}_threads_{count}"] for count in threads]
        print(f"  {f'batch {size}':<16}" + "".join(f"{rate:>12,.0f}" for rate in rates))
    print(f"rollouts over {results['vector_envs']} ArcCrmConversation-v1 envs, env steps/s:")
    for name in ("replay", "random"):
        print(f"  {name:<16}{results[f'rollout_steps_per_s_{name}']:>12,.1f}")
    rates = [results[f"rollout_steps_per_s_tiny_threads_{count}"] for count in threads]
    print(
        f"  {'tiny model':<16}"
        + "".join(f"{rate:>12,.1f}" for rate in rates)
        + "  (per thread count)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one repeat, small sizes (a smoke run)"
    )
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("ARC_CRM_DATA", DEFAULT_DATA))
    )
    parser.add_argument(
        "--threads", default=f"1,{os.cpu_count()}", help="torch thread counts to try"
    )
    args = parser.parse_args(argv)
    threads = sorted({int(count) for count in args.threads.split(",")})
    results = run(QUICK if args.quick else Config(), args.data, threads)
    print_table(results)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
