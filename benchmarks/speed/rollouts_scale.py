"""Rollouts at training scale: one GRPO batch of 128 prompts x 8 episodes on 1,024 sync envs.

``collect_rollouts`` runs the batch as ``agents.train`` does (``make_vec`` with one env per
episode, ``expose_reference``, ``max_env_steps`` 5, each group's task in its reset options) with
a scripted policy, ``ReplayPolicy`` (the reference call, then the reference reply), wrapped to
time its own calls. What is measured:

1. **Env time**: the whole ``collect_rollouts`` less the policy's time (the env steps, resets,
   the vector wrapper and the rollout bookkeeping: everything that is not generation), per
   batch step (one policy call over every live episode) and per episode-step.
2. **Memory per episode**: Python allocations of the run (``tracemalloc`` peak, in a second
   run) and the resident-size growth, over 1,024. The envs are built before either is counted.
3. **The env's share of a GPU step**: a batch step's env time against a *floor* of the same
   step's generation with vLLM on an H100 SXM, for each GPU preset. Decoding is memory bound:
   every new token reads all the weights (``weights / 3.35 TB/s``, NVIDIA's HBM3 figure), so one
   wave of sequences takes at least ``max_new_tokens`` such reads, whatever its size. How many
   sequences a wave holds is set by the KV cache: the preset's vLLM share less the weights,
   over each sequence's own tokens (completions and tool results: vLLM's prefix cache shares
   the system prompt). ``waves * wave floor`` is the floor; real engines are slower, so the
   share printed is an upper bound. The target is under 5%.

Run::

    python -m benchmarks.speed.rollouts_scale [--prompts 128] [--group-size 8]

The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crm_gym  # noqa: F401  (registers the env ids)
from agents.baselines import ReplayPolicy
from agents.memory_plan import count_parameters
from agents.policy import Observation, Sample, SamplingParams
from agents.rollout import collect_rollouts

H100_HBM_BYTES_PER_S = 3.35e12  # H100 SXM5 80GB: 3.35 TB/s (NVIDIA H100 data sheet)
TARGET_SHARE = 0.05


@dataclass
class TimedPolicy:
    """A policy that adds up the seconds its inner policy spends in ``act``."""

    inner: Any
    seconds: float = 0.0
    calls: int = 0
    actions: int = 0

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """The inner policy's samples, timed."""
        tick = time.perf_counter()
        rows = self.inner.act(observations, n=n, sampling=sampling)
        self.seconds += time.perf_counter() - tick
        self.calls += 1
        self.actions += len(observations)
        return rows


def build(prompts: int, group_size: int, max_env_steps: int, seed: int = 0) -> tuple[Any, list]:
    """The vector env (one env per episode) and the batch's reset options, as training makes."""
    from agents.train_data import first_turn
    from crm_gym import make_vec
    from crm_gym.generator import generate

    tasks = list(generate(2000, seed=seed))
    num_envs = prompts * group_size
    envs = make_vec(
        "ArcCrm-v1", num_envs, tasks=tasks, expose_reference=True, max_steps=max_env_steps
    )
    options = [
        {"task_id": first_turn(tasks[k % len(tasks)])}
        for k in range(prompts)
        for _ in range(group_size)
    ]
    return envs, options


def timed_batch(envs: Any, options: list, seed: int) -> dict[str, float]:
    """One batch: total seconds, the policy's, the env's, per batch step and per episode-step."""
    policy = TimedPolicy(ReplayPolicy())
    gc.collect()
    tick = time.perf_counter()
    trajectories = collect_rollouts(envs, policy, options=options, seed=seed)
    total = time.perf_counter() - tick
    env = total - policy.seconds
    return {
        "episodes": len(trajectories),
        "batch_steps": policy.calls,
        "episode_steps": policy.actions,
        "total_s": total,
        "policy_s": policy.seconds,
        "env_s": env,
        "env_ms_per_batch_step": 1e3 * env / policy.calls,
        "env_us_per_episode_step": 1e6 * env / policy.actions,
        "reward_mean": sum(t.total_return for t in trajectories) / len(trajectories),
    }


def batch_memory(envs: Any, options: list, seed: int) -> dict[str, float]:
    """Python allocations (tracemalloc: peak, and kept in the trajectories) and RSS growth."""
    gc.collect()
    rss_before = _rss_kib()
    tracemalloc.start()
    trajectories = collect_rollouts(envs, ReplayPolicy(), options=options, seed=seed)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = _rss_kib()
    count = len(trajectories)
    return {
        "kib_per_episode_traced_peak": peak / 1024 / count,
        "kib_per_episode_kept": current / 1024 / count,
        "kib_per_episode_rss_kept": (rss_after - rss_before) / count,
    }


def _rss_kib() -> int:
    """The resident size now (``VmRSS``), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise KeyError("VmRSS")


def generation_floor_s(preset: str, rows: int, device_gib: float = 80.0) -> dict[str, float]:
    """The least seconds one batch step of ``rows`` sequences can take on an H100 with vLLM."""
    from agents.memory_plan import DTYPE_BYTES, ENV_TOKENS_PER_STEP, GIB, model_shape
    from agents.presets import PRESETS
    from agents.train_args import Args

    args = Args(**PRESETS[preset])
    shape = model_shape(args.model)
    weights = count_parameters(shape) * DTYPE_BYTES[shape.dtype]
    kv_per_token = 2 * shape.num_hidden_layers * shape.num_key_value_heads * shape.head_dim * 2
    own_tokens = args.max_env_steps * (args.max_new_tokens + ENV_TOKENS_PER_STEP)
    kv_budget = args.vllm_gpu_memory_utilization * device_gib * GIB - weights
    per_wave = max(1, int(kv_budget // (own_tokens * kv_per_token)))
    waves = -(-rows // per_wave)
    wave_s = args.max_new_tokens * weights / H100_HBM_BYTES_PER_S
    return {"sequences_per_wave": per_wave, "waves": waves, "floor_s": waves * wave_s}


def run(prompts: int, group_size: int, max_env_steps: int, repeats: int) -> dict[str, Any]:
    """Build, warm up, time ``repeats`` batches (median), then measure memory once."""
    tick = time.perf_counter()
    envs, options = build(prompts, group_size, max_env_steps)
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "num_envs": envs.num_envs,
        "build_s": time.perf_counter() - tick,
    }
    timed_batch(envs, options, seed=0)  # warm-up: the tasks' reference runs are built here
    runs = [timed_batch(envs, options, seed=1 + k) for k in range(repeats)]
    runs.sort(key=lambda row: row["env_s"])
    results |= runs[len(runs) // 2]
    results |= batch_memory(envs, options, seed=99)
    for preset in ("gpu-qwen3-0.6b", "gpu-qwen3-4b"):
        floor = generation_floor_s(preset, envs.num_envs)
        share = results["env_ms_per_batch_step"] / 1e3 / floor["floor_s"]
        results |= {f"{preset}_{k}": v for k, v in floor.items()}
        results[f"{preset}_env_share_of_floor"] = share
    results["target_share"] = TARGET_SHARE
    envs.close()
    return results


def main(argv: list[str] | None = None) -> None:
    """Parse, run, print one line per number and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=128, help="prompts per GRPO batch")
    parser.add_argument("--group-size", type=int, default=8, help="episodes per prompt")
    parser.add_argument("--max-env-steps", type=int, default=5, help="actions per episode")
    parser.add_argument("--repeats", type=int, default=3, help="timed batches (median)")
    options = parser.parse_args(argv)
    results = run(options.prompts, options.group_size, options.max_env_steps, options.repeats)
    for key, value in results.items():
        print(f"{key:<40}{value:,.4g}" if isinstance(value, float) else f"{key:<40}{value}")
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
