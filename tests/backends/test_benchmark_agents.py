"""Smoke run of the agent speed benchmark: it runs, and its last line is the promised JSON.

No timing assertions: absolute speed varies on shared machines; ``docs/performance.md`` reports it.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_agent_speed_quick_prints_json_last():
    pytest.importorskip(
        "transformers", reason='needs the train extra: pip install "crm-gym[train]"'
    )
    command = [sys.executable, "-m", "benchmarks.speed.agents", "--quick", "--threads", "1"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for size in results["batch_sizes"]:
        assert results[f"hf_tokens_per_s_batch_{size}_threads_1"] > 0
    for key in (
        "rollout_steps_per_s_replay",
        "rollout_steps_per_s_random",
        "rollout_steps_per_s_tiny_threads_1",
    ):
        assert results[key] > 0, key
    assert results["prompt_tokens"] > 0 and results["threads"] == [1]
