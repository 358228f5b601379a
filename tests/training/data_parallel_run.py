"""One tiny GRPO run for ``test_data_parallel.py``: ``python -m`` it alone or under a launcher.

Rewards get a deterministic function of each trajectory's tokens added, so that groups differ
and the gradient is not zero (an untrained model earns equal rewards within a group).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import agents.train
from agents.rollout import Trajectory, collect_rollouts
from agents.train import Args, train

CONFIG = dict(
    steps=2, warm_start_steps=2, eval_every=2, save_every=2, lr=1e-3, lr_schedule="linear"
)
CONFIG |= dict(num_threads=1, max_new_tokens=8, max_env_steps=1, prompts_per_step=2, group_size=4)
CONFIG |= dict(num_conversations=120, num_eval_tasks=3, eval_samples=2, progress=False)


def token_noise(trajectory: Trajectory) -> float:
    """A reward in [0, 1) that depends on the tokens only (the same on any process)."""
    return sum((i + 1) * t for i, t in enumerate(trajectory.input_ids)) % 1009 / 1009


def noisy_rollouts(*args: Any, **kwargs: Any) -> list[Trajectory]:
    trajectories = collect_rollouts(*args, **kwargs)
    return [replace(t, total_return=t.total_return + token_noise(t)) for t in trajectories]


def run(output_dir: str) -> dict[str, Any]:
    agents.train.collect_rollouts = noisy_rollouts
    return train(Args(output_dir=output_dir, **CONFIG))


if __name__ == "__main__":
    run(sys.argv[1])
