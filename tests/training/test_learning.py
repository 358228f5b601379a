"""GRPO raises the tiny model's reward on a task family with a known answer (SB3's identity idea).

The ``noarg`` family: the right action is a tool call without arguments named by the request's
wording. A short supervised warm start teaches the call format; GRPO then raises the sampled
success rate (binary reward) within a bounded number of steps, seeded.
"""

import json
from pathlib import Path

import numpy as np

from agents.train import Args, train


def test_grpo_raises_the_reward_of_the_tiny_model(tmp_path: Path) -> None:
    config = dict(steps=14, warm_start_steps=80, warm_start_lr=5e-3, eval_every=14, save_every=14)
    config |= dict(max_env_steps=1, lr=1e-3, max_new_tokens=16, reward_mode="binary")
    config |= dict(prompts_per_step=8, group_size=4, num_conversations=600, num_eval_tasks=8)
    args = Args(output_dir=str(tmp_path), num_threads=1, progress=False, **config)
    summary = train(args)
    rows = [json.loads(line) for line in Path(summary["metrics"]).read_text().splitlines()]
    rewards = [row["rollout/reward_mean"] for row in rows]
    first, last = np.mean(rewards[:4]), np.mean(rewards[-4:])
    assert last > first + 0.1, rewards
    assert summary["eval_reward_after"] >= summary["eval_reward_before"]
