"""``crm-gym eval --policy RUN_DIR``: evaluate what ``crm-gym train`` wrote, as the run did.

A run directory holds ``args.json`` (the run's ``agents.train.Args``), ``metrics.jsonl`` (the
held-out evaluations, ``eval/reward_mean`` and ``eval/success_rate``) and the trained model
(``final/`` or ``checkpoint/model``, with the step in ``checkpoint/state.pt``). ``TrainedRun``
rebuilds the run's held-out evaluation from them: the same held-out tasks (the first turn of
each held-out conversation), env and reward settings, sampling, samples per task (attempts) and
seeds (``episode_seed(eval seed, task, sample)``, the rule both sides use), so the harness's
records give the numbers the run reported at that step (``run_numbers``): the greedy ones
exactly, the sampled ones up to a token that batch-dependent float rounding flips (the harness
batches attempts apart, the run all at once; docs/evaluation.md, "Seeds").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from agents.policy import SamplingParams
from agents.policy_spec import model_dir
from benchmarks.evaluate import EnvSettings
from benchmarks.records import ConversationRecord
from benchmarks.turn_stages import conversation_passed
from crm_gym.data.conversation import Conversation
from crm_gym.errors import PolicySpecError
from crm_gym.scoring import RewardConfig

REPORTED = ("eval/reward_mean", "eval/success_rate")
REPORTED_GREEDY = ("eval/greedy_reward_mean", "eval/greedy_success_rate")
"""The same numbers of the run's greedy evaluation (one episode per task at temperature 0)."""


@dataclass(frozen=True)
class TrainedRun:
    """A ``crm-gym train`` output directory, read."""

    path: Path
    args: Any  # agents.train.Args
    model: Path
    step: int | None

    @classmethod
    def read(cls, path: str | Path) -> TrainedRun:
        """Read ``args.json`` and find the trained model and its step."""
        from agents.train import Args

        path = Path(path)
        try:
            values = json.loads((path / "args.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PolicySpecError(f"{path / 'args.json'}: unreadable: {exc}") from None
        known = {f.name for f in fields(Args)}
        args = Args(**{key: value for key, value in values.items() if key in known})
        model = model_dir(path)
        return cls(path, args, model, _step(path, model))

    def tasks(self) -> list[Conversation]:
        """The run's held-out conversations (its evaluation runs their first turns)."""
        from agents.train_data import task_sets

        args = self.args
        sets = task_sets(
            args.task_family, args.num_conversations, args.num_eval_tasks, self.data_seed
        )
        return sets[1]

    @property
    def data_seed(self) -> int:
        """The seed of the run's task set and held-out evaluation."""
        from agents.train_data import run_data_seed

        return run_data_seed(self.args)

    def env(self, strict_upstream: bool = False) -> EnvSettings:
        """The run's env: its id, actions per turn and reward mode."""
        args, reward = self.args, RewardConfig(mode=self.args.reward_mode)
        return EnvSettings(
            args.env_id, args.max_env_steps, reward, strict_upstream, first_turn_ids=True
        )

    def sampling(self) -> SamplingParams:
        """The held-out evaluation's sampling; its ``seed`` is the base of the episode seeds."""
        from agents.train_setup import eval_sampling  # the trainer's own rule, kept in one place

        return eval_sampling(self.args)

    def reported(self, keys: Sequence[str] = REPORTED) -> dict[str, float] | None:
        """The held-out numbers the run logged at the model's step (None: none at that step).

        ``keys``: ``REPORTED`` (sampled at the run's temperature) or ``REPORTED_GREEDY``.
        """
        metrics = self.path / "metrics.jsonl"
        if self.step is None or not metrics.is_file():
            return None
        for line in metrics.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("step") == self.step and all(key in row for key in keys):
                return {key: float(row[key]) for key in keys}
        return None


def _step(path: Path, model: Path) -> int | None:
    """The model's step: its ``state.pt``'s, 0 for ``initial/``, else the last one logged."""
    if model == path / "initial":
        return 0
    state = path / "checkpoint" / "state.pt"
    if model == path / "checkpoint" / "model" and state.is_file():
        import torch

        # our own file (RNG states pickle); mmap: the optimizer state is not read
        return int(torch.load(state, weights_only=False, mmap=True, map_location="cpu")["step"])
    metrics = path / "metrics.jsonl"
    if not metrics.is_file():
        return None
    steps = [json.loads(line).get("step") for line in metrics.read_text().splitlines()]
    return max((s for s in steps if isinstance(s, int)), default=None)


def run_numbers(records: Sequence[ConversationRecord], order: Sequence[str]) -> dict[str, float]:
    """``eval/reward_mean`` (mean return) and ``eval/success_rate`` (every turn passed).

    ``order``: the held-out conversation ids in the run's order; the records are averaged in
    the trainer's order (task by task, sample by sample), so the floats are its floats.
    """
    if not records:
        raise ValueError("no records")
    rank = {cid: i for i, cid in enumerate(order)}
    records = sorted(records, key=lambda r: (rank[r.conversation_id.split("#")[0]], r.attempt))
    returns = np.array([r.shaped_return or 0.0 for r in records])
    passed = [float(conversation_passed(r)) for r in records]
    # numpy's means, as the trainer computes them (the same floats, to the last bit)
    return {"eval/reward_mean": float(returns.mean()), "eval/success_rate": float(np.mean(passed))}
