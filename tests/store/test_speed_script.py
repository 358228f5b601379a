"""Smoke run of the store speed benchmark: it runs every store and its last line is the JSON."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_store_speed_quick_prints_json_last(pg_dsn: str) -> None:
    command = [sys.executable, "-m", "benchmarks.speed.stores", "--quick", "--pg-dsn", pg_dsn]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["stores"] == ["memory", "sqlite", "sqlite-file", "postgresql"]
    for store in results["stores"]:
        assert results[f"{store}_calls_per_s"] > 0 and results[f"{store}_resets_per_s"] > 0
        assert results[f"{store}_calls_vs_memory"] > 0
