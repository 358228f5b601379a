"""Smoke run of the env speed benchmark: it runs, and its last line is the promised JSON.

No timing assertions: absolute speed varies on shared machines; ``docs/performance.md`` reports it.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

RATES = (
    "crm_env_steps_per_s_replay",
    "crm_env_steps_per_s_malformed",
    "conversation_env_steps_per_s_replay",
    "conversation_env_steps_per_s_malformed",
    "crm_env_resets_per_s",
    "conversation_env_resets_per_s",
    "replay_env_turns_per_s",
    "replay_env_turns_per_s_cold",
    "replay_bare_turns_per_s",
    "replay_env_vs_bare",
    "plain_loop_steps_per_s",
    "sync_vector_steps_per_s",
    "sync_vector_vs_plain_loop",
)


def run_quick(*extra: str) -> dict:
    command = [sys.executable, "-m", "benchmarks.speed.envs", "--quick", *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_env_speed_quick_prints_json_last():
    results = run_quick()
    for key in RATES:
        assert results[key] > 0, key
    for size in results["vector_sizes"]:
        for key in ("sync_steps_per_s", "async_steps_per_s", "async_vs_sync"):
            assert results[f"{key}_{size}"] > 0, (key, size)
    if not results["skipped"]:
        assert results["replay_conversations"] == 400
        assert results["replay_env_turns_per_s_vs_upstream_ref"] > 0
        assert isinstance(results["replay_env_meets_goal"], bool)


def test_env_speed_falls_back_to_the_builtin_examples_without_data(tmp_path):
    results = run_quick("--data", str(tmp_path / "absent.jsonl"))
    assert results["tasks"] == "built-in examples" and results["skipped"]
    assert "replay_env_meets_goal" not in results
    assert all(results[key] > 0 for key in RATES)
