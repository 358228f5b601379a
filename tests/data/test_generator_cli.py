"""Subprocess smoke runs of ``crm-gym generate`` and ``crm-gym datastats``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
