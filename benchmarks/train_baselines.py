"""Policy-free reference points for a training run's held-out set (issue #19).

A run's held-out success means little alone: these place it between a floor and a ceiling
measured on the same tasks under the run's own evaluation settings (``env_id``,
``max_env_steps``, ``reward_mode`` of its ``Args``; the envs ``agents.train`` builds):

- ``held_out_ceiling``: the reference actions (``ReplayPolicy``), one episode per task;
- ``random_success``: ``RandomPolicy``, seeded as ``evaluate_per_task`` seeds its episodes;
- ``best_constant``: the best single action text sent on every task, the floor a policy that
  ignores its request would reach at best (e.g. always ``list_clients`` when most tasks ask it).

Usage:
    python -m benchmarks.train_baselines --preset cpu-args
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Sequence

import numpy as np

from agents.baselines import RandomPolicy, ReplayPolicy
from agents.policy import SamplingParams
from agents.presets import PRESETS
from agents.rollout import collect_rollouts, episode_seed, every_turn_passed, scored_turns
from agents.train_args import Args
from agents.train_data import env_kwargs, eval_seed, first_turn, run_tasks
from crm_gym.actions import format_tool_call
from crm_gym.crm.tools import tool_schemas

CONSTANT_ANSWER = "Done."
"""The plain-text answer among the constant candidates."""
MAX_VECTOR_ENVS = 16
"""Envs per vector env: results do not depend on it (each episode carries its own seed)."""


def _success(
    args: Args, policy: Any, held_out: list[Any], samples: int, sampling: SamplingParams
) -> float:
    """Mean success of ``samples`` episodes per held-out task, seeded as the run evaluates."""
    from crm_gym import make_vec

    task_ids = [first_turn(c) for c in held_out]
    options = [{"task_id": task_id} for task_id in task_ids for _ in range(samples)]
    seeds = [episode_seed(sampling.seed, t, k) for t in task_ids for k in range(samples)]
    envs = make_vec(args.env_id, min(len(options), MAX_VECTOR_ENVS), **env_kwargs(args, held_out))
    try:
        trajectories = collect_rollouts(
            envs, policy, sampling=sampling, options=options, episode_seeds=seeds
        )
    finally:
        envs.close()
    return float(np.mean([t.passed for t in trajectories]))


def held_out_ceiling(args: Args) -> float:
    """Success of the reference actions on the held-out tasks, one episode each.

    Below 1.0, some held-out task cannot be passed under the run's settings (too few steps, a
    reward mode that fails the ground truth): its scores have a lower ceiling than they claim.
    """
    _, held_out = run_tasks(args)
    sampling = SamplingParams(seed=eval_seed(args))
    return _success(args, ReplayPolicy(), held_out, 1, sampling)


def random_success(args: Args, samples: int, held_out: list[Any] | None = None) -> float:
    """Success of ``RandomPolicy``, ``samples`` episodes per held-out task.

    Episode ``k`` of a task is seeded ``episode_seed(eval_seed(args), task_id, k)``, as
    ``evaluate_per_task`` seeds the run's sampled evaluation, so the value is deterministic.
    ``held_out``: other conversations to score (the run's held-out ones by default).
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if held_out is None:
        _, held_out = run_tasks(args)
    seed = eval_seed(args)
    return _success(args, RandomPolicy(seed), held_out, samples, SamplingParams(seed=seed))


def constant_candidates(train: Sequence[Any]) -> list[str]:
    """Every distinct reference call of the training tasks, each tool with ``{}``, "Done."."""
    calls = [format_tool_call(c.turns[0].expected_tool, c.turns[0].expected_args) for c in train]
    tools = [format_tool_call(schema["function"]["name"], {}) for schema in tool_schemas()]
    return list(dict.fromkeys([*calls, *tools, CONSTANT_ANSWER]))


def constant_passes(env: Any, action: str, task_id: str) -> int:
    """1 if sending ``action`` at every step of task ``task_id`` passes it (every turn), else 0."""
    env.reset(options={"task_id": task_id})
    infos, done = [], False
    while not done:
        _, _, terminated, truncated, info = env.step(action)
        infos.append(info)
        done = terminated or truncated
    return int(every_turn_passed(scored_turns(infos)))


def best_constant(args: Args) -> dict[str, Any]:
    """The best constant policy on the run's held-out tasks (``best_constant_on``)."""
    return best_constant_on(args, *run_tasks(args))


def best_constant_on(args: Args, train: list[Any], held_out: list[Any]) -> dict[str, Any]:
    """The best constant policy on ``held_out``: one action text sent on every task.

    Candidates are ``constant_candidates`` of the training tasks. Each is scored on every
    held-out task, one episode each (a constant action on a task's fixed starting state is
    deterministic), and the best is chosen ON the held-out set itself: the most favourable
    choice for a constant, so an upper bound on what any request-blind policy reaches (the first
    candidate wins a tie). One env serves every episode (reset with the task id).

    Returns:
        ``{"success", "action", "candidates", "per_task": {task_id: 0 or 1}}`` of the best.
    """
    import gymnasium as gym

    task_ids = [first_turn(c) for c in held_out]
    candidates = constant_candidates(train)
    env = gym.make(args.env_id, **env_kwargs(args, held_out))
    try:
        scores = [[constant_passes(env, action, t) for t in task_ids] for action in candidates]
    finally:
        env.close()
    best = int(np.argmax([sum(row) for row in scores]))
    return {
        "success": float(np.mean(scores[best])),
        "action": candidates[best],
        "candidates": len(candidates),
        "per_task": dict(zip(task_ids, scores[best], strict=True)),
    }


def baselines(args: Args, samples: int) -> dict[str, Any]:
    """The three reference points, and the seconds the constant search took."""
    tick = time.perf_counter()
    constant = best_constant(args)
    seconds = time.perf_counter() - tick
    return {
        "ceiling": held_out_ceiling(args),
        "random": random_success(args, samples),
        "best_constant": {
            "success": constant["success"],
            "action": constant["action"],
            "candidates": constant["candidates"],
        },
        "num_tasks": len(constant["per_task"]),
        "best_constant_seconds": round(seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line of a preset's held-out baselines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True, choices=sorted(PRESETS))
    parser.add_argument(
        "--samples",
        type=int,
        default=None,
        help="random episodes per held-out task (default: the preset's eval_samples)",
    )
    options = parser.parse_args(argv)
    args = Args(**PRESETS[options.preset])
    samples = args.eval_samples if options.samples is None else options.samples
    if samples < 1:
        parser.error(f"argument --samples: must be >= 1, got {samples}")
    print(json.dumps({"preset": options.preset, **baselines(args, samples)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
