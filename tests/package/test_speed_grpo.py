"""Smoke run of the GRPO step-time benchmark: it runs, and its last line is the promised JSON.

No timing assertions: absolute speed varies on shared machines; ``docs/performance.md`` reports it.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PHASES = ("generation_s", "scoring_s", "grpo_fwd_bwd_s", "optimizer_s", "bare_fwd_bwd_s")


def test_grpo_speed_quick_prints_json_last():
    command = [sys.executable, "-m", "benchmarks.speed.grpo", "--quick", "--repeats", "1"]
    command.append("--no-trl")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for key in PHASES + ("step_s", "ratio_grpo_fwd_bwd_opt_vs_bare", "ratio_grpo_fwd_bwd_vs_bare"):
        assert results[key] > 0, key
    assert results["completions"] == 32 and results["completion_tokens"] > 0
    assert isinstance(results["within_goal"], bool)
    assert results["trl"].startswith("skipped")


TRL_KEYS = ("step_s", "generation_s", "reward_s", "rollout_s", "train_side_s", "completion_tokens")
TRL_RATIOS = ("ratio_step_trl_vs_ours", "ratio_step_per_completion_token_trl_vs_ours")


def test_grpo_speed_quick_measures_trl_on_the_same_batch():
    pytest.importorskip("trl")
    command = [sys.executable, "-m", "benchmarks.speed.grpo", "--quick", "--repeats", "1"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    trl = json.loads(done.stdout.strip().splitlines()[-1])["trl"]
    for key in TRL_KEYS + TRL_RATIOS:
        assert trl[key] > 0, key
    assert trl["prompts_match"] and trl["torch_threads"] == [1] and trl["steps_timed"] == 1
