"""Smoke runs of the before/after tools: the repository against itself, short workloads."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_compare_runs_both_sides_and_prints_json_last():
    sides = ["--before", str(REPO), "--after", str(REPO)]
    sizes = ["--work", "env-replay", "--rounds", "2", "--repeats", "1"]
    command = [sys.executable, "-m", "benchmarks.speed.compare", *sides, *sizes]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["before"]) == len(result["after"]) == 2
    assert min(result["before"] + result["after"]) > 0
    assert result["ratio"] == result["after_median"] / result["before_median"]


def test_trace_of_the_same_code_is_the_same():
    sides = ["--before", str(REPO), "--after", str(REPO), "--quick"]
    command = [sys.executable, "-m", "benchmarks.speed.trace", *sides]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["same"] and len(result["before"]) == 64
