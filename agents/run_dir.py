"""A run directory belongs to one configuration: ``args.json``, ``metrics.jsonl``, checkpoints.

The layout (what ``crm-gym eval --policy RUN_DIR`` reads): ``args.json`` (the run's ``Args``),
``metrics.jsonl`` (one row per GRPO step), ``tiny-model/`` (the ``"tiny"`` base model),
``initial/`` (the policy GRPO started from; with LoRA the base the adapters sit on),
``checkpoint/`` (``agents.checkpoint``),
``reward_curve.png`` and ``tensorboard/``.

Resuming compares the call's ``Args`` with ``args.json`` and refuses any difference outside
``RESUMABLE``, so that one directory never mixes two configurations, and ``args.json`` is only
rewritten once the call is accepted. ``metrics.jsonl`` keeps every row up to the checkpoint's
step and is rewritten atomically, so no kill empties it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from agents.checkpoint import checkpoint_step
from agents.train_args import Args
from crm_gym.errors import CheckpointError, RunDirError

# what a resume may change: the length of the run (``steps``: extend it, as Trainer's
# ``max_steps`` does; a decaying LR schedule then stretches to the new length), where and how it
# is written and shown, and resources that leave the updates' math alone (``micro_batch_size``:
# the GRPO normalisers make accumulation exact). Everything else is the run's identity.
_LENGTH = {"steps", "stop_at_step"}
_OUTPUT = {"output_dir", "resume", "progress", "tensorboard", "eval_every", "save_every"}
_RESOURCES = {"num_threads", "micro_batch_size", "vllm_gpu_memory_utilization"}
RESUMABLE = frozenset(_LENGTH | _OUTPUT | _RESOURCES)
# what a run made from its configuration (removed by ``resume=False``; its presence makes a resume
# check the configuration: ``args.json`` alone, from a call that failed at once, binds nothing)
_RUN_FILES = (
    "checkpoint",
    "checkpoint.new",
    "checkpoint.old",
    "tiny-model",
    "initial",
    "tensorboard",
)


def check_resume(out: Path, args: Args) -> None:
    """Refuse to resume ``out`` with another configuration or with fewer steps than it ran.

    Raises:
        RunDirError: naming the fields that differ, with both values.
    """
    if not args.resume:
        return
    made = any((out / name).exists() for name in _RUN_FILES) or _has_rows(out / "metrics.jsonl")
    stored = read_args(out) if made else None
    # compared as args.json holds them (a tuple is a JSON list)
    current = json.loads(json.dumps(asdict(args)))
    differ = {} if stored is None else _differences(stored, current)
    if differ:
        was = ", ".join(f"{name}={old!r}" for name, (old, _) in differ.items())
        now = ", ".join(f"{name}={new!r}" for name, (_, new) in differ.items())
        raise RunDirError(
            f"run dir {out} was made with {was}; this call has {now} "
            "(use a new --output dir, or --no-resume to start over)"
        )
    done = checkpoint_step(out / "checkpoint")
    if done is not None and done > args.steps:
        raise RunDirError(
            f"run dir {out} has a checkpoint at step {done}; this call has steps={args.steps} "
            f"(ask for {done} or more, or use a new --output dir)"
        )


def _differences(stored: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{field: (stored, current)}`` of the identity fields that differ (absent: the default)."""
    defaults = json.loads(json.dumps({field.name: field.default for field in fields(Args)}))
    pairs = {name: (stored.get(name, defaults[name]), value) for name, value in current.items()}
    return {
        name: pair for name, pair in pairs.items() if name not in RESUMABLE and pair[0] != pair[1]
    }


def _has_rows(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def read_args(out: Path) -> dict[str, Any] | None:
    """The stored ``args.json`` of ``out`` (None when there is none)."""
    path = out / "args.json"
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not JSON ({exc})") from None
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path}: not a JSON object of training options")
    return stored


def write_args(out: Path, args: Args) -> None:
    """Record the run's ``Args`` (atomically: a reader never sees half a file)."""
    replace_text(out / "args.json", json.dumps(asdict(args), indent=2))


def clear_run(out: Path) -> None:
    """Start over (``resume=False``): drop what the previous run made (metrics are rewritten)."""
    for name in _RUN_FILES:
        if (out / name).exists():
            shutil.rmtree(out / name)


def replace_text(path: Path, text: str) -> None:
    """Write ``path`` through a synced temporary file and a rename: old or new, never empty."""
    partial = path.with_name(path.name + ".tmp")
    with partial.open("w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def metrics_up_to(path: Path, last_step: int) -> str:
    """The rows of ``metrics.jsonl`` up to ``last_step`` (the checkpoint's), as text.

    A last line without its newline is the row a kill cut short, of a step past the checkpoint:
    it is dropped. Any other unreadable line, or rows that stop before ``last_step``, raise
    ``CheckpointError`` naming the file and line: resuming would leave a hole in the curve.
    """
    if last_step == 0:
        return ""
    if not path.is_file():
        raise CheckpointError(f"{path}: missing, the checkpoint is at step {last_step}")
    *lines, tail = path.read_text().split("\n")
    kept, seen = [], 0
    for number, line in enumerate(lines, start=1):
        try:
            step = int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{path} line {number}: not a metrics row ({exc})") from None
        seen = max(seen, step)
        if step <= last_step:
            kept.append(line + "\n")
    if seen < last_step:
        cut = f" (line {len(lines) + 1} is cut short)" if tail else ""
        raise CheckpointError(
            f"{path}: rows stop at step {seen}{cut}, the checkpoint is at step {last_step}"
        )
    return "".join(kept)


class MetricsLog:
    """``metrics.jsonl`` (rows past the resumed step dropped) and, optionally, TensorBoard.

    Only the main process writes (``main=False``: every call is a no-op).
    """

    def __init__(self, out: Path, start_step: int, tensorboard: bool, main: bool = True):
        self.path = out / "metrics.jsonl"
        self.main = main
        if not main:
            return
        replace_text(self.path, metrics_up_to(self.path, start_step))
        self.file = self.path.open("a")
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out / "tensorboard"))

    def write(self, metrics: dict[str, float]) -> None:
        """Append one step's row (flushed: a kill loses at most the row being written)."""
        if not self.main:
            return
        self.file.write(json.dumps(metrics) + "\n")
        self.file.flush()
        if self.writer is not None:
            for key, value in metrics.items():
                if key != "step":
                    self.writer.add_scalar(key, value, metrics["step"])

    def sync(self) -> None:
        """Put the rows on disk before a checkpoint says their steps are done."""
        if self.main:
            os.fsync(self.file.fileno())

    def close(self) -> None:
        if not self.main:
            return
        self.file.close()
        if self.writer is not None:
            self.writer.close()
