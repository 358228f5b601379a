"""Data parallel GRPO over ``accelerate`` processes: who rolls out what, and what is gathered.

With W processes (``accelerate launch --num_processes W``) every process draws the step's arms
and tasks from the same seeds, then rolls out only its share of the prompt slots: process r
takes slots ``[r P/W, (r+1) P/W)`` with their whole groups (``shard_rows``). Its env and
sampling seeds are those the same slots get in a one-process run (``collect_rollouts``'s
``first_episode``, ``SamplingParams.first_row`` through ``ShardedPolicy``), so W = 1 and W = 2
sample the same completions. Rewards, arms and per-row token counts are gathered in slot order
(``gather_rows``): advantages, the curriculum update and the rollout metrics are computed on the
global batch, identically on every process.

The loss. The micro-batches are the one-process run's (``micro_batch_size`` rows of the global
batch), cut at the shard's edges (``micro_batches``). ``num_items_in_batch`` (``dapo``) and
``num_accumulation_steps`` count the global batch; a part of a micro-batch that another process
shares is weighted by its share of the micro-batch's rows (``grpo``, ``dr_grpo``) or tokens
(``bnpo``); and the loss is multiplied by W because DDP averages the processes' gradients, as
transformers' Trainer does with ``num_items_in_batch``. The processes' summed gradient is then the
one-process gradient of the same global batch, for every ``loss_type``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from agents.policy import Observation, Sample, SamplingParams

T = TypeVar("T")


def shard_rows(num_prompts: int, group_size: int, accelerator: Any) -> slice:
    """This process's rows of the step's batch: whole groups of its share of the prompt slots."""
    world = accelerator.num_processes
    if num_prompts % world:
        raise ValueError(
            f"prompts_per_step={num_prompts} must be divisible by the number of processes "
            f"({world}): each process rolls out whole GRPO groups of an equal share of the slots"
        )
    per_process = num_prompts // world * group_size
    start = accelerator.process_index * per_process
    return slice(start, start + per_process)


def gather_rows(accelerator: Any, values: Sequence[T]) -> list[T]:
    """Every process's ``values`` concatenated in process order (its own alone: unchanged)."""
    if accelerator.num_processes == 1:
        return list(values)
    from accelerate.utils import gather_object

    return gather_object(list(values))


def on_main(accelerator: Any, compute: Callable[[], T]) -> T:
    """``compute()`` on the main process only, its result sent to every process."""
    if accelerator.num_processes == 1:
        return compute()
    from accelerate.utils import broadcast_object_list

    result = [compute() if accelerator.is_main_process else None]
    return broadcast_object_list(result)[0]


class ShardedPolicy:
    """A policy whose rows learn where they sit in the batch of all processes' rows.

    Each call gathers the other processes' row counts, so this shard's rows are seeded as rows
    ``first_row, first_row + 1, ...`` of the one-process call (``SamplingParams.first_row``).
    A process whose episodes are done must keep answering with ``finish`` until all are done.
    """

    def __init__(self, policy: Any, accelerator: Any):
        self.policy, self.accelerator = policy, accelerator

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """Sample as the inner policy, seeded as these rows are in the gathered batch."""
        counts = gather_rows(self.accelerator, [len(observations)])
        first = sum(counts[: self.accelerator.process_index])
        return self.policy.act(
            observations, n, replace(sampling or SamplingParams(), first_row=first)
        )

    def encode_continuation(self, completion_ids: Sequence[int], messages: Sequence[dict]) -> list:
        """The inner policy's continuation tokens."""
        return self.policy.encode_continuation(completion_ids, messages)

    def finish(self) -> None:
        """Answer the other processes' calls with 0 rows until no process has rows left."""
        while any(gather_rows(self.accelerator, [0])):
            pass


def rollout_policy(policy: Any, accelerator: Any) -> Any:
    """The policy rollouts call: ``policy`` itself on one process, else a ``ShardedPolicy``."""
    return policy if accelerator.num_processes == 1 else ShardedPolicy(policy, accelerator)


def finish_rollouts(policy: Any) -> None:
    """Wait for the other processes' rollouts (a no-op on one process)."""
    if isinstance(policy, ShardedPolicy):
        policy.finish()


@dataclass(frozen=True)
class MicroBatch:
    """One backward pass: a global micro-batch, or this process's part of it."""

    index: int  # the global micro-batch it belongs to
    rows: slice  # its rows in this process's batch
    share: float  # its part of the global micro-batch's normaliser (1 when whole)
    scale: float  # multiplies the loss: ``share`` times the processes DDP averages over


def micro_batches(
    rows: slice, size: int, row_tokens: Sequence[int], loss_type: str, num_processes: int
) -> list[MicroBatch]:
    """The global batch's micro-batches of ``size`` rows, cut to this process's ``rows``.

    ``row_tokens``: completion tokens of every row of the global batch (gathered).
    """
    total, parts = len(row_tokens), []
    for index, start in enumerate(range(0, total, size)):
        stop = min(start + size, total)
        low, high = max(start, rows.start), min(stop, rows.stop)
        if low >= high:
            continue
        share = _share(
            loss_type,
            high - low,
            stop - start,
            sum(row_tokens[low:high]),
            sum(row_tokens[start:stop]),
        )
        local = slice(low - rows.start, high - rows.start)
        parts.append(MicroBatch(index, local, share, share * num_processes))
    return parts


def _share(loss_type: str, rows: int, total_rows: int, tokens: int, total_tokens: int) -> float:
    """The fraction of its micro-batch's normaliser a part's own normaliser is (see module)."""
    if loss_type == "dapo":  # already divided by the global token count
        return 1.0
    if loss_type == "bnpo":  # a token mean (counts clamped to 1, as ``masked_mean`` does)
        return max(tokens, 1) / max(total_tokens, 1)
    return rows / total_rows  # grpo: a row mean; dr_grpo: divided by the row count


def merge_parts(parts: Sequence[tuple[Any, dict[str, float]]]) -> list[dict[str, float]]:
    """Metrics per global micro-batch, in order, from its parts on every process.

    ``loss/total`` and ``loss/num_tokens`` add up; the others are token means, so parts are
    weighted by their ``loss/num_tokens``. A micro-batch of one part keeps its values.
    """
    grouped: dict[Any, list[dict[str, float]]] = {}
    for key, metrics in parts:
        grouped.setdefault(key, []).append(metrics)
    return [group[0] if len(group) == 1 else _merge(group) for group in grouped.values()]


def _merge(group: list[dict[str, float]]) -> dict[str, float]:
    tokens = np.array([m["loss/num_tokens"] for m in group], dtype=np.float64)
    weights = tokens / tokens.sum() if tokens.sum() else np.full(len(group), 1 / len(group))
    merged = {}
    for key in group[0]:
        values = np.array([m[key] for m in group], dtype=np.float64)
        summed = key in ("loss/total", "loss/num_tokens")
        merged[key] = float(values.sum() if summed else (values * weights).sum())
    return merged
