"""The training loop's metrics: one step's row of ``metrics.jsonl`` from its rollouts and losses.

Every process gathers its micro-batch parts, so every process computes the global batch's row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.grpo import masked_mean
from agents.train_args import Args
from agents.train_parallel import gather_rows, merge_parts


def step_metrics(
    args: Args,
    step: int,
    accelerator: Any,
    rollout: tuple[Any, list, int],
    curriculum: Any,
    optimisation: tuple[list, list, Any, Any],
    times: tuple[float, float],
) -> dict[str, Any]:
    """One step's row of ``metrics.jsonl``: rollouts, losses, curriculum and timings."""
    rewards, passed, tokens = rollout
    loss_parts, mismatch, grad_norm, scheduler = optimisation
    seconds, rollout_seconds = times
    return {
        "step": step + 1,
        **rollout_metrics(rewards, args.group_size, passed, tokens),
        **loss_metrics(accelerator, loss_parts, mismatch),
        "loss/grad_norm": float(grad_norm),
        "loss/lr": scheduler.get_last_lr()[0],
        **curriculum.metrics(),
        "perf/step_seconds": seconds,
        "perf/rollout_seconds": rollout_seconds,
        "perf/tokens_per_s": tokens / seconds,
    }


def logprob_mismatch(logprobs: Any, batch: dict, rows: slice) -> dict[str, float]:
    """Sampler vs trainer logprobs of a micro-batch: the token mean gap, and its token count."""
    mask = batch["action_mask"][rows]
    gap = (logprobs.detach() - batch["old_logprobs"][rows]).abs()
    return {"gap": float(masked_mean(gap, mask)), "loss/num_tokens": float(mask.sum())}


def rollout_metrics(rewards: Any, group_size: int, passed: list[float], tokens: int) -> dict:
    """``rollout/*`` of the global batch (its completion ``tokens`` summed over all rows)."""
    group_std = rewards.reshape(-1, group_size).std(dim=1)  # (B,)
    return {
        "rollout/reward_mean": float(rewards.mean()),
        "rollout/reward_std": float(rewards.std()),
        "rollout/success_rate": float(np.mean(passed)),
        "rollout/frac_groups_zero_std": float((group_std == 0).float().mean()),
        "rollout/completion_tokens_mean": tokens / len(rewards),
    }


def loss_metrics(accelerator: Any, loss_parts: list, mismatch: list) -> dict[str, float]:
    """``loss/*`` and the logprob mismatch, micro-batch parts of every process put together."""
    gaps = [m["gap"] for m in merge_parts(gather_rows(accelerator, mismatch))]
    return {
        "rollout/logprob_mismatch": float(np.mean(gaps)),
        **mean_metrics(merge_parts(gather_rows(accelerator, loss_parts))),
    }


def shared_metrics(metrics: dict[str, float], share: float) -> dict[str, float]:
    """A micro-batch part's metrics, its loss counted as its share of the step's loss."""
    return metrics if share == 1 else {**metrics, "loss/total": metrics["loss/total"] * share}


def mean_metrics(per_micro_batch: list[dict[str, float]]) -> dict[str, float]:
    """Micro-batch metrics averaged (``loss/total`` summed: it is the step's loss)."""
    keys = per_micro_batch[0]
    summed = {"loss/total", "loss/num_tokens"}
    return {
        k: float((np.sum if k in summed else np.mean)([m[k] for m in per_micro_batch]))
        for k in keys
    }
