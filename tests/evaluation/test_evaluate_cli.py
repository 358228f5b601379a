"""``crm-gym eval``: task sources, arms, appending runs, exit codes."""

from __future__ import annotations

import pytest

from benchmarks.records import check_unique, load_records
from crm_gym.data.generator import generate
from crm_gym.envs.tasks import arm_of
from scripts.cli import main
from scripts.eval_cmd import load_tasks


def test_eval_replay_on_generated_tasks(tmp_path, capsys):
    log = tmp_path / "replay.jsonl"
    argv = [
        "eval",
        "--policy",
        "replay",
        "--tasks",
        "generated:5:1",
        "--attempts",
        "2",
        "-o",
        str(log),
        "--no-progress",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "turn_level_success   1.0000" in out and "10 records of seed 0" in out
    assert main(argv) == 0  # a rerun finds everything done and adds nothing
    records = load_records(log)
    assert len(records) == 10 and {r.policy for r in records} == {"replay"}


def test_eval_random_seeds_append_to_one_log(tmp_path):
    log = tmp_path / "random.jsonl"
    for seed in range(3):
        argv = [
            "eval",
            "--policy",
            "random",
            "--tasks",
            "generated:4:2",
            "--seed",
            str(seed),
            "-o",
            str(log),
            "--no-progress",
            "--num-envs",
            "2",
        ]
        assert main(argv) == 0
    records = load_records(log)
    check_unique(records)
    assert sorted({r.seed for r in records}) == [0, 1, 2] and len(records) == 12


def test_eval_arm_keeps_one_arm():
    arm = arm_of(next(iter(generate(1, 7))))
    tasks = load_tasks("generated:30:7", arm)
    assert tasks and {arm_of(t) for t in tasks} == {arm}


def test_eval_rejects_bad_task_sources(tmp_path, capsys):
    for tasks in ("generated:x", str(tmp_path / "missing.jsonl")):
        assert (
            main(
                [
                    "eval",
                    "--policy",
                    "replay",
                    "--tasks",
                    tasks,
                    "-o",
                    str(tmp_path / "log.jsonl"),
                    "--no-progress",
                ]
            )
            == 2
        )
    assert "crm-gym eval:" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no conversation of arm"):
        load_tasks("generated:3:1", "nope-easy")


@pytest.mark.slow
def test_eval_hf_model_directory(tmp_path, monkeypatch):
    pytest.importorskip(
        "transformers", reason='needs the train extra: pip install "crm-gym[train]"'
    )
    from agents.tiny import build_tiny_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = build_tiny_model(tmp_path / "tiny", seed=0)
    log = tmp_path / "tiny.jsonl"
    argv = ["eval", "--policy", str(model), "--tasks", "generated:1:1", "--max-new-tokens", "4",
            "--step", "5", "-o", str(log), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    records = load_records(log)
    assert len(records) == 1 and {r.step for r in records} == {5}
    assert all(r.tokens.completion_tokens > 0 and r.metadata["agent"]["provider"] == "local"
               for r in records)  # fmt: skip
