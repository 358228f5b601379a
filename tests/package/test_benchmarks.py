"""Smoke run of the CRM speed benchmark: it runs, and its last line is the promised JSON.

No timing assertions: absolute speed varies on shared machines; ``docs/performance.md`` reports it.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

ALWAYS = (
    "mixed_calls_per_s",
    "mixed_calls_per_s_registry",
    "create_client_per_s_0",
    "create_client_per_s_5000",
    "create_client_flatness",
)
NEEDS_DATA = ("resets_per_s", "resets_per_s_snapshot", "replay_turns_per_s")
COMPARED = ALWAYS[:-1] + NEEDS_DATA


def test_crm_speed_quick_prints_json_last():
    command = [sys.executable, "-m", "benchmarks.speed.crm", "--quick"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    measured = ALWAYS if results["skipped"] else ALWAYS + NEEDS_DATA
    for key in measured:
        assert results[key] > 0, key
    for key in (k for k in COMPARED if k in measured):
        assert results[f"{key}_strict"] > 0, key
        assert results[f"{key}_vs_strict"] > 0, key
    assert results["mixed_calls_per_s_vs_upstream_ref_min"] > 0
    assert results["create_client_per_s_5000_vs_upstream_ref_min"] > 0
    if not results["skipped"]:
        assert results["replay_turns_per_s_vs_upstream_ref_max"] > 0
        assert results["replay_conversations_passed"] == results["replay_conversations"]


def test_crm_speed_skips_data_workloads_without_data(tmp_path):
    command = [sys.executable, "-m", "benchmarks.speed.crm", "--quick"]
    command += ["--data", str(tmp_path / "absent.jsonl")]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["skipped"] and "resets_per_s" not in results
    assert all(results[key] > 0 for key in ALWAYS)
