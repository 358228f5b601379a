"""The GRPO loop end to end on the tiny model: a step changes the weights, resume is exact, CLI."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

import agents.train
import agents.train_setup
from agents.rollout import collect_rollouts
from agents.train import Args, train

TINY = dict(num_threads=1, max_new_tokens=8, max_env_steps=1, reward_mode="shaped", progress=False)
TINY |= dict(prompts_per_step=2, group_size=4, num_conversations=120, num_eval_tasks=3)


def test_a_step_changes_the_parameters_and_the_loss_is_finite(tmp_path, monkeypatch) -> None:
    # an untrained model earns equal rewards within a group (zero advantage, no update), so the
    # env's rewards are replaced by seeded random ones: the test is about the update, not the env
    rng = np.random.default_rng(0)

    def noisy_rollouts(*args, **kwargs):
        trajectories = collect_rollouts(*args, **kwargs)
        return [replace(t, total_return=float(rng.random())) for t in trajectories]

    monkeypatch.setattr(agents.train, "collect_rollouts", noisy_rollouts)
    args = Args(output_dir=str(tmp_path), steps=2, lr=1e-3, eval_every=2, save_every=2, **TINY)
    summary = train(args)
    rows = [json.loads(line) for line in Path(summary["metrics"]).read_text().splitlines()]
    assert [row["step"] for row in rows] == [1, 2]
    assert all(np.isfinite(row["loss/total"]) and row["loss/grad_norm"] > 0 for row in rows)
    assert all(row["rollout/logprob_mismatch"] < 1e-4 for row in rows)  # sampler == trainer
    before = AutoModelForCausalLM.from_pretrained(tmp_path / "initial").state_dict()
    after = AutoModelForCausalLM.from_pretrained(tmp_path / "checkpoint" / "model").state_dict()
    assert any(not torch.equal(before[name], after[name]) for name in before)
    assert set(summary) >= {"eval_reward_before", "eval_reward_after", "steps", "checkpoint"}


def _metrics(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.startswith("perf/")} for row in rows]


def test_resume_from_a_checkpoint_matches_an_unkilled_run(tmp_path: Path) -> None:
    schedule = dict(steps=4, lr=1e-2, warm_start_steps=5, lr_schedule="linear")
    common = dict(eval_every=2, save_every=2, **schedule, **TINY)
    train(Args(output_dir=str(tmp_path / "straight"), **common))
    train(Args(output_dir=str(tmp_path / "killed"), stop_at_step=2, **common))
    assert len(_metrics(tmp_path / "killed")) == 2
    train(Args(output_dir=str(tmp_path / "killed"), **common))  # resumes at step 2
    straight, resumed = _metrics(tmp_path / "straight"), _metrics(tmp_path / "killed")
    assert [row["step"] for row in resumed] == [1, 2, 3, 4]
    for a, b in zip(straight, resumed, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), (a["step"], key)


def test_cli_train_preset_smoke(tmp_path: Path) -> None:
    small = (
        "--set warm_start_steps=2 --set num_conversations=120 --set num_eval_tasks=3 "
        "--set prompts_per_step=2 --set group_size=2 --set max_new_tokens=4 --set progress=false"
    )
    cli = [sys.executable, "-m", "scripts.cli", "train", "--preset", "cpu-tiny", "--steps", "1"]
    command = [*cli, "--output", str(tmp_path), *small.split()]
    root = Path(__file__).parents[2]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"eval_reward_before", "eval_reward_after", "steps", "seconds", "checkpoint"} <= set(
        summary
    )
    assert summary["steps"] == 1
    assert Path(summary["checkpoint"], "state.pt").is_file()
    assert Path(summary["reward_curve"]).is_file()


def test_build_args_reads_config_files_and_overrides(tmp_path: Path) -> None:
    from scripts.cli import build_parser
    from scripts.train_cmd import build_args

    config = tmp_path / "run.toml"
    config.write_text('steps = 5\nlr = 1e-3\ntask_family = "noarg"\n')
    options = build_parser().parse_args(
        ["train", "--config", str(config), "--seed", "3", "--set", "group_size=4"]
    )
    args = build_args(options)
    assert (args.steps, args.lr, args.seed, args.group_size) == (5, 1e-3, 3, 4)
    assert args.output_dir == "runs/run"
    bad = build_parser().parse_args(["train", "--preset", "cpu-tiny", "--set", "bogus=1"])
    with pytest.raises(ValueError, match="bogus"):
        build_args(bad)


@pytest.mark.parametrize("rank", ["0", "1"])
def test_only_rank_zero_prints_and_plots(rank, tmp_path, monkeypatch, capsys) -> None:
    """Under ``accelerate launch`` every process runs the command; one summary is written."""
    from scripts.cli import build_parser
    from scripts.train_cmd import cmd_train

    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(json.dumps({"step": 1, "rollout/reward_mean": 0.5}) + "\n")
    monkeypatch.setattr(agents.train, "train", lambda args: {"metrics": str(metrics)})
    monkeypatch.setenv("RANK", rank)
    options = build_parser().parse_args(
        ["train", "--preset", "cpu-tiny", "--output", str(tmp_path)]
    )
    assert cmd_train(options) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "reward_curve.png").is_file() == (rank == "0")
    if rank == "0":
        assert json.loads(printed.splitlines()[-1])["metrics"] == str(metrics)
    else:
        assert printed == ""


def test_data_and_base_seeds_fix_the_tasks_and_the_base_model_across_run_seeds(tmp_path) -> None:
    common = dict(steps=2, warm_start_steps=3, eval_every=2, save_every=2, lr=1e-2, **TINY)
    common |= dict(data_seed=5, base_seed=5)
    runs = [
        train(Args(output_dir=str(tmp_path / f"s{seed}"), seed=seed, **common)) for seed in (0, 1)
    ]
    # the same held-out tasks, scored the same before GRPO: one base model for both seeds
    assert runs[0]["eval_tasks_before"] == runs[1]["eval_tasks_before"]
    weights = [
        AutoModelForCausalLM.from_pretrained(tmp_path / f"s{seed}" / "initial").state_dict()
        for seed in (0, 1)
    ]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
    # ...while the RL itself follows the run's seed
    rollouts = [_metrics(tmp_path / f"s{seed}") for seed in (0, 1)]
    sampled = [[r["rollout/completion_tokens_mean"] for r in rows] for rows in rollouts]
    assert sampled[0] != sampled[1]
    # without them, the run's seed decides the base model too
    other = train(Args(output_dir=str(tmp_path / "own"), seed=1, **(common | {"base_seed": None})))
    own = AutoModelForCausalLM.from_pretrained(tmp_path / "own" / "initial").state_dict()
    assert any(not torch.equal(own[name], weights[0][name]) for name in own)
    assert set(other["eval_tasks_before"]["greedy"]) == set(runs[0]["eval_tasks_before"]["greedy"])


def test_multi_turn_episodes_train_on_the_action_tokens_alone(tmp_path, monkeypatch) -> None:
    # whole conversations, one action per turn: the batch interleaves actions and env messages
    batches = []
    pad_batch = agents.train.pad_batch

    def recording_pad_batch(trajectories, *args, **kwargs):
        batch = pad_batch(trajectories, *args, **kwargs)
        batches.append((trajectories, batch))
        return batch

    monkeypatch.setattr(agents.train, "pad_batch", recording_pad_batch)
    conversation = TINY | {"env_id": "ArcCrmConversation-v1"}
    args = Args(output_dir=str(tmp_path), steps=2, eval_every=2, save_every=2, **conversation)
    summary = train(args)
    assert summary["steps"] == 2 and len(batches) == 2
    multi_turn = [t for trajectories, _ in batches for t in trajectories if len(t.steps) > 1]
    assert multi_turn, "some conversation ran for more than one turn"
    for trajectories, batch in batches:
        for row, trajectory in enumerate(trajectories):
            sampled = sum(len(step.completion_ids) for step in trajectory.steps)
            # every sampled token is trained on, and nothing the env wrote in between
            assert int(batch["action_mask"][row].sum()) == sampled
            if len(trajectory.steps) > 1:  # the env's messages are in the row, masked out
                first_prompt = len(trajectory.steps[0].prompt_ids)
                assert int(batch["attention_mask"][row].sum()) > first_prompt + sampled


def test_the_chain_family_trains_on_whole_two_turn_conversations(tmp_path, monkeypatch) -> None:
    from agents.train_data import first_turn, task_sets

    seen: dict[str, list] = {"warm": [], "grpo": []}
    pad_batch, warm_start = agents.train.pad_batch, agents.train_setup.warm_start

    def recording_pad_batch(trajectories, *args, **kwargs):
        seen["grpo"] += trajectories
        return pad_batch(trajectories, *args, **kwargs)

    def recording_warm_start(model, trajectories, **kwargs):
        seen["warm"] += trajectories
        return warm_start(model, trajectories, **kwargs)

    monkeypatch.setattr(agents.train, "pad_batch", recording_pad_batch)
    monkeypatch.setattr(agents.train_setup, "warm_start", recording_warm_start)
    chain = TINY | {
        "env_id": "ArcCrmConversation-v1",
        "task_family": "chain",
        "max_env_steps": 2,
        "num_conversations": 400,
        "warm_start_conversations": 20,
        "warm_start_steps": 2,
        "data_seed": 0,
    }
    args = Args(output_dir=str(tmp_path), steps=1, eval_every=1, save_every=1, **chain)
    summary = train(args)
    train_tasks, held_out = task_sets("chain", 400, TINY["num_eval_tasks"], seed=0)
    assert set(summary["eval_tasks_before"]["greedy"]) == {first_turn(c) for c in held_out}
    # the warm start replays two-turn prefixes of other conversations, each turn to its end
    assert seen["warm"] and all(t.terminated and 2 <= len(t.steps) <= 4 for t in seen["warm"])
    assert any(len(t.steps) == 4 for t in seen["warm"])  # a call and a reply in each turn
    assert not {t.task_id for t in seen["warm"]} & {c.conversation_id for c in held_out}
    # GRPO plays training chains, whole: at most two actions in each of the two turns
    assert {t.task_id for t in seen["grpo"]} <= {c.conversation_id for c in train_tasks}
    assert all(t.terminated and 2 <= len(t.steps) <= 4 for t in seen["grpo"])
