"""Subprocess smoke runs of ``crm-gym replay`` (the installed console script)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CRM_GYM = Path(sys.executable).with_name("crm-gym")
SUMMARY_KEYS = {"conversations", "conversations_passed", "turns", "turns_passed", "failures"}


def crm_gym(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CRM_GYM), *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_replay_json_summary(public_path):
    run = crm_gym("replay", str(public_path), "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert set(summary) == SUMMARY_KEYS
    assert (summary["conversations"], summary["conversations_passed"]) == (400, 400)
    assert (summary["turns"], summary["turns_passed"]) == (1487, 1487)
    assert summary["failures"] == []


def test_replay_strict_upstream_json(public_path):
    run = crm_gym("replay", str(public_path), "--strict-upstream", "--json")
    assert run.returncode == 1
    summary = json.loads(run.stdout)
    assert (summary["conversations_passed"], summary["turns_passed"]) == (376, 1463)
    assert len(summary["failures"]) == 24
    for failure in summary["failures"]:
        assert set(failure) == {"conversation_id", "turn_id", "tool", "error"}
        assert failure["tool"] == "upload_document"
        assert "document_url" in failure["error"]


def test_replay_without_a_path_runs_the_generated_default_tasks():
    run = crm_gym("replay")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "generated default tasks" in run.stdout
    assert re.search(r": (\d+)/\1 conversations, (\d+)/\2 turns passed", run.stdout)


def test_replay_reports_bad_lines_on_stderr_and_goes_on(tmp_path):
    good = {"conversation_id": "ok", "turns": [{"turn_id": 1, "expected_tool": "summarize_counts"}]}
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join([json.dumps(good), "{oops", json.dumps({**good, "conversation_id": "ok2"})])
    )
    run = crm_gym("replay", str(path), "--json")
    assert run.returncode == 0
    assert f"{path}: line 2: not valid JSON" in run.stderr
    summary = json.loads(run.stdout)
    assert (summary["conversations"], summary["conversations_passed"]) == (2, 2)


def test_replay_failures_carry_their_ids(tmp_path):
    bad = {
        "conversation_id": "wrong",
        "turns": [
            {"turn_id": 1, "expected_tool": "quote_details", "expected_args": {"quote_id": "nope"}}
        ],
    }
    path = tmp_path / "failing.jsonl"
    path.write_text(json.dumps(bad) + "\n")
    run = crm_gym("replay", str(path), "--json")
    assert run.returncode == 1
    (failure,) = json.loads(run.stdout)["failures"]
    assert failure == {
        "conversation_id": "wrong",
        "turn_id": 1,
        "tool": "quote_details",
        "error": "Quote not found with ID 'nope'.",
    }


def test_replay_of_a_missing_file_exits_2(tmp_path):
    run = crm_gym("replay", str(tmp_path / "missing.jsonl"))
    assert run.returncode == 2 and "no such file" in run.stderr


@pytest.mark.parametrize("args", [("--help",), ("replay", "--help")])
def test_help(args):
    run = crm_gym(*args)
    assert run.returncode == 0 and "usage: crm-gym" in run.stdout
    if args[0] == "replay":
        assert "--strict-upstream" in run.stdout and "--json" in run.stdout
