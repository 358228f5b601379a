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


def test_profile_shares_count_inclusive_and_own_samples_under_a_function():
    from benchmarks.speed.profile_shares import shares

    raw = [
        "<module> (<string>:1);main (a/run.py:3);work (a/job.py:9);leaf (a/job.py:20) 6",
        "<module> (<string>:1);main (a/run.py:3);leaf (a/job.py:21) 3",
        "<module> (<string>:1);import_all (a/boot.py:2) 5",
        "",
    ]
    inclusive, own, total = shares(raw, under="main")
    assert total == 9  # the start-up sample is left out
    assert inclusive["main run.py"] == 9 and inclusive["work job.py"] == 6
    assert own == {"leaf job.py": 9}
    assert shares(raw)[2] == 14
