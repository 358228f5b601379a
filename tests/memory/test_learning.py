"""The five learning metrics on hand-made records, and the protocol's smoke run."""

from __future__ import annotations

import pytest

import benchmarks.outcomes
from benchmarks.learning import METRICS, learning_metrics, metric_matrix
from benchmarks.records import ConversationRecord
from benchmarks.report import ReportOptions


def _record(seed, cid, arm, split, reward, memory):
    return ConversationRecord(
        conversation_id=cid,
        overall_success=False,
        turns_executed=1,
        per_turn_results=[],
        reward_signal=0.0,
        seed=seed,
        arm=arm,
        shaped_return=reward,
        split=split,
        memory=memory,
    )


def _logs(delta):
    guided, unguided = [], []
    cue = {
        "calls": 2,
        "retrieved": 4,
        "injected": 3,
        "calls_with_cue": 1,
        "prompt_tokens": 110,
        "completion_tokens": 10,
    }
    none = {
        "calls": 2,
        "retrieved": 0,
        "injected": 0,
        "calls_with_cue": 0,
        "prompt_tokens": 100,
        "completion_tokens": 10,
    }
    for seed in range(3):
        for index, (arm, split) in enumerate([("a", "in"), ("b", "in"), ("c", "transfer")]):
            cid = f"{seed}-{index}"
            guided.append(_record(seed, cid, arm, split, 0.5 + delta, cue))
            unguided.append(_record(seed, cid, arm, split, 0.5, none))
    return guided, unguided


def test_metrics_have_the_hand_computed_values():
    results = learning_metrics(*_logs(0.25), ReportOptions(reps=50))
    assert list(results) == list(METRICS)
    assert results["cue_hit_rate"]["mean"] == pytest.approx(1.0)
    assert results["adoption_rate"]["mean"] == pytest.approx(0.75)
    assert results["reward_delta"]["mean"] == pytest.approx(0.25)
    assert results["token_delta"]["mean"] == pytest.approx(10.0)
    assert results["transfer"]["mean"] == pytest.approx(0.25)
    assert results["reward_delta"]["tasks"] == 2 and results["transfer"]["tasks"] == 1
    low, high = results["reward_delta"]["ci"]
    assert low <= 0.25 <= high


def test_no_effect_gives_a_ci_covering_zero():
    results = learning_metrics(*_logs(0.0), ReportOptions(reps=50))
    low, high = results["reward_delta"]["ci"]
    assert low <= 0.0 <= high


def test_arms_without_a_value_in_some_seed_are_dropped():
    cells = {(0, "a"): [1], (1, "a"): [1], (0, "b"): [1]}
    assert metric_matrix(cells, lambda pairs: 1.0).shape == (2, 1)


@pytest.mark.filterwarnings("ignore::UserWarning")  # tiny streams: some arms lack a seed
def test_the_protocol_runs_end_to_end(tmp_path, monkeypatch):
    from benchmarks.memory_protocol import main

    # the records' provider lookup imports litellm for unknown policy names (slow offline)
    monkeypatch.setattr(benchmarks.outcomes, "_provider", lambda policy: "baseline")
    args = [
        "--policy",
        "hint-following",
        "--out",
        str(tmp_path),
        "--seeds",
        "2",
        "--train-tasks",
        "8",
        "--eval-tasks",
        "6",
        "--checkpoint-every",
        "4",
        "--reps",
        "20",
    ]
    assert main(args) == 0
    assert (tmp_path / "learning.json").exists()
    assert (tmp_path / "report" / "report.json").exists()
    assert (tmp_path / "memory_0.jsonl").exists()
