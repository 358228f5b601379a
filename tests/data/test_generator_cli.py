"""Subprocess smoke runs of ``crm-gym generate`` and ``crm-gym datastats``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CRM_GYM = Path(sys.executable).with_name("crm-gym")


def crm_gym(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CRM_GYM), *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_generate_then_replay_passes_everything(tmp_path):
    out = tmp_path / "tasks.jsonl"
    run = crm_gym("generate", "--n", "50", "--seed", "1", "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert "generate: 50/50" in run.stderr
    assert len(out.read_text().splitlines()) == 50
    replayed = crm_gym("replay", str(out), "--json")
    summary = json.loads(replayed.stdout)
    assert replayed.returncode == 0 and summary["failures"] == []
    assert summary["conversations_passed"] == 50 and summary["turns"] == summary["turns_passed"]


def test_generate_draws_one_side_of_the_held_out_split(tmp_path):
    out = tmp_path / "held_out.jsonl"
    run = crm_gym("generate", "--n", "20", "--seed", "1", "--holdout", "held_out", "-o", str(out))
    assert run.returncode == 0, run.stderr
    ids = [json.loads(line)["conversation_id"] for line in out.read_text().splitlines()]
    assert len(ids) == 20 and all(i.endswith("_held_out") for i in ids)
    replayed = crm_gym("replay", str(out), "--json")
    assert json.loads(replayed.stdout)["conversations_passed"] == 20


def test_generate_stats_and_datastats_agree(tmp_path):
    out = tmp_path / "tasks.jsonl"
    run = crm_gym(
        "generate",
        "--n",
        "30",
        "--seed",
        "2",
        "--failure-share",
        "0.3",
        "--complexity",
        "simple=1,medium=1",
        "-o",
        str(out),
        "--stats",
        "--no-progress",
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["conversations"] == 30 and report["complexity_shares"]["complex"] == 0
    again = crm_gym("datastats", str(out))
    assert json.loads(again.stdout.splitlines()[-1]) == report
    assert "distinct utterance templates" in again.stdout


def test_generate_refuses_a_bad_mix():
    run = crm_gym("generate", "--n", "5", "--complexity", "tiny=1", "--no-progress")
    assert run.returncode == 2 and "weights" in run.stderr


# ---- argument errors: one line naming the argument, exit 2, before any work ---------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--n", "-1"), "argument --n: must be at least 1, got -1"),
        (("--n", "0"), "argument --n: must be at least 1, got 0"),
        (("--n", "ten"), "argument --n: expected a whole number, got 'ten'"),
        (("--n", "5", "--workers", "0"), "argument --workers: must be at least 1, got 0"),
        (("--n", "5", "--workers", "-3"), "argument --workers: must be at least 1, got -3"),
    ],
)
def test_generate_refuses_bad_counts(args, expected):
    run = crm_gym("generate", *args)
    assert run.returncode == 2 and run.stdout == "" and "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1] == f"crm-gym generate: error: {expected}"


def test_generate_refuses_a_directory_as_output(tmp_path):
    run = crm_gym("generate", "--n", "5", "-o", str(tmp_path))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr == f"crm-gym generate: -o {tmp_path}: is a directory, expected a file name\n"


def test_generate_refuses_an_output_in_a_missing_folder_before_any_work(tmp_path):
    target = tmp_path / "missing" / "x.jsonl"
    run = crm_gym("generate", "--n", "5", "-o", str(target))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr == (
        f"crm-gym generate: -o {target}: its folder does not exist (generate creates no folders)\n"
    )
    assert not target.parent.exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_generate_into_head_exits_quietly(workers):
    """``crm-gym generate --n 50 | head -1``: 50 conversations are ~280 kB, past a pipe's buffer."""
    generate = subprocess.Popen(
        [str(CRM_GYM), "generate", "--n", "50", "--workers", workers, "--no-progress"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.run(
        ["head", "-1"], stdin=generate.stdout, capture_output=True, timeout=120, check=True
    )
    generate.stdout.close()  # only head reads the pipe now: generate sees it close
    stderr = generate.stderr.read().decode()
    assert generate.wait(timeout=120) == 0, stderr
    assert stderr == ""
    (line,) = head.stdout.decode().splitlines()
    assert json.loads(line)["conversation_id"]
