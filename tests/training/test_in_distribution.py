"""``benchmarks.in_distribution``: new training-side conversations that no run trained on."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from agents.train_data import CHAIN_ENV, passes_with_replay, run_tasks, warm_start_tasks
from agents.train_setup import warm_start_conversations
from benchmarks.in_distribution import (
    baselines,
    in_distribution_tasks,
    requests,
    warm_start_args,
)
from benchmarks.run_eval import TrainedRun
from benchmarks.train_results import settings

SMALL = {"num_conversations": 600, "num_eval_tasks": 8, "warm_start_conversations": 300}


@pytest.fixture(scope="module")
def chain_args():
    return settings("cpu-chain", **SMALL)


def test_the_set_is_new_training_side_conversations_that_pass_with_replay(chain_args) -> None:
    tasks = in_distribution_tasks(chain_args)
    assert len(tasks) == 8
    assert all(c.conversation_id.endswith("_train") for c in tasks)  # seen names and phrasings
    train, held_out = run_tasks(chain_args)
    warm = warm_start_tasks("chain", warm_start_conversations(chain_args))
    trained_on = {requests(c, "chain") for c in [*train, *warm]}
    assert not trained_on & {requests(c, "chain") for c in tasks}
    assert not {c.conversation_id for c in held_out} & {c.conversation_id for c in tasks}
    assert passes_with_replay(tasks, **CHAIN_ENV) == tasks  # its ceiling is 1.0
    floors = baselines(chain_args, tasks)  # what a policy that learned nothing scores
    assert floors["ceiling"] == 8 and floors["candidates"] > 8
    assert 0.0 <= floors["random"] <= 1.0 and 0.0 <= floors["best_constant"] <= 1.0
    # a conversation needs two different calls and replies: no constant action, no random one
    assert floors["random"] == 0.0 and floors["best_constant"] == 0.0


def test_a_grpo_run_excludes_its_base_runs_warm_start(tmp_path, chain_args) -> None:
    base = tmp_path / "base"
    (base / "initial").mkdir(parents=True)
    (base / "initial" / "config.json").write_text("{}")
    (base / "args.json").write_text(json.dumps(asdict(chain_args)))
    grpo = settings("cpu-chain", **SMALL | {"warm_start_conversations": 0})
    grpo_dir = tmp_path / "uniform-s0"
    (grpo_dir / "initial").mkdir(parents=True)
    (grpo_dir / "initial" / "config.json").write_text("{}")
    fields = asdict(grpo) | {"model": str(base / "initial")}
    (grpo_dir / "args.json").write_text(json.dumps(fields))
    assert warm_start_args(TrainedRun.read(grpo_dir)).warm_start_conversations == 300
    # a run that warm-started its own model: its own settings
    assert warm_start_args(TrainedRun.read(base)).warm_start_conversations == 300


def test_an_args_task_is_its_first_request() -> None:
    args = settings("cpu-args", num_conversations=400, num_eval_tasks=8)
    tasks = in_distribution_tasks(args, settings("cpu-args", warm_start_conversations=200))
    train, _ = run_tasks(args)
    assert len(tasks) == 8
    assert not {requests(c, "args") for c in train} & {requests(c, "args") for c in tasks}
    assert all(len(requests(c, "args")) == 1 for c in tasks)


def test_families_without_a_held_out_side_are_refused() -> None:
    with pytest.raises(ValueError, match="already in-distribution"):
        in_distribution_tasks(settings("cpu-tiny"))
