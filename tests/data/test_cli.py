"""Subprocess smoke runs of ``crm-gym replay`` (the installed console script)."""

from __future__ import annotations

import gzip
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


# ---- files that are not datasets: one line on stderr, exit 2, never a traceback -----------------
GOOD = {"conversation_id": "ok", "turns": [{"turn_id": 1, "expected_tool": "summarize_counts"}]}

BAD_FILES = {
    "utf16": (json.dumps(GOOD).encode("utf-16"), "the file is UTF-16; convert it to UTF-8"),
    "latin1": ('{"conversation_id": "é"}\n'.encode("latin-1"), "no conversation in the file"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "no conversation in the file"),
    "bigint": (b'{"turn_id": ' + b"9" * 5000 + b"}", "no conversation in the file"),
    "list": (b"[]\n", "no conversation in the file (all 1 line(s) are bad)"),
    "empty": (b"", "no conversation in the file (it is empty)"),
    "gzip-cut": (gzip.compress(json.dumps(GOOD).encode() * 40)[:60], "unreadable at line 1"),
}


def assert_one_line_error(run: subprocess.CompletedProcess[str], path: Path, expected: str):
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    last = run.stderr.splitlines()[-1]
    assert last.startswith(f"crm-gym {run.args[1]}: {path}: ") and expected in last


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_replay_of_a_file_without_conversations_exits_2(tmp_path, case):
    content, expected = BAD_FILES[case]
    path = tmp_path / f"{case}.jsonl"
    path.write_bytes(content)
    assert_one_line_error(crm_gym("replay", str(path)), path, expected)


@pytest.mark.parametrize("command", ["replay", "lint", "datastats"])
def test_a_directory_exits_2(tmp_path, command):
    assert_one_line_error(crm_gym(command, str(tmp_path)), tmp_path, "is a directory")


@pytest.mark.parametrize("command", ["lint", "datastats"])
def test_lint_and_datastats_of_non_objects_exit_2(tmp_path, command):
    path = tmp_path / "list.jsonl"
    path.write_text("[]\n[1]\n")
    run = crm_gym(command, str(path))
    assert f"{path}: line 2: expected a JSON object, got list" in run.stderr
    assert_one_line_error(run, path, "all 2 line(s) are bad")


def test_replay_keeps_the_first_conversation_after_a_bom_and_reads_gzip(tmp_path):
    second = {**GOOD, "conversation_id": "ok2"}
    text = json.dumps(GOOD) + "\n" + json.dumps(second) + "\n"
    bom = tmp_path / "bom.jsonl"
    bom.write_text(text, encoding="utf-8-sig")
    packed = tmp_path / "tasks.jsonl.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (bom, packed):
        run = crm_gym("replay", str(path), "--json")
        assert run.returncode == 0 and run.stderr == ""
        assert json.loads(run.stdout)["conversations_passed"] == 2


def test_replay_reports_a_duplicate_id_with_both_lines(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text("\n".join(json.dumps(GOOD) for _ in range(2)) + "\n")
    run = crm_gym("replay", str(path), "--json")
    assert f"{path}: line 2: duplicate conversation_id 'ok' (first on line 1)" in run.stderr
    assert json.loads(run.stdout)["conversations"] == 1


def test_replay_strict_upstream_skips_and_names_what_upstreams_schema_rejects(
    tmp_path, public_path
):
    lines = public_path.read_text(encoding="utf-8").splitlines()[:2]
    broken = json.loads(lines[0])
    broken["complexity_level"] = "complex" if len(broken["turns"]) < 7 else "simple"
    broken["chain_id"] = None
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(broken) + "\n" + lines[1] + "\n", encoding="utf-8")
    loose = crm_gym("replay", str(path), "--json")
    assert loose.returncode == 0 and json.loads(loose.stdout)["conversations"] == 2
    strict = crm_gym("replay", str(path), "--strict-upstream", "--json")
    assert strict.returncode == 1
    assert json.loads(strict.stdout)["conversations"] == 1
    assert f"{broken['conversation_id']}: upstream rejects it:" in strict.stderr
