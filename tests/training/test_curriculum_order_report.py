"""The curriculum-order benchmark: verdicts read from CIs, and the whole pipeline at a tiny size."""

from __future__ import annotations

import json

import pytest

from benchmarks import curriculum_order


def _p(lo: float, hi: float) -> dict:
    return {"p": (lo + hi) / 2, "ci": [lo, hi]}


def _results(order: dict, hard: dict, hard_means: float) -> dict:
    row = {v: 0.1 for v in ("warm_start", *curriculum_order.VARIANTS)} | {"n": 2.0}
    return {
        "preset": "cpu-args",
        "seeds": 2,
        "num_tasks": 4,
        "hard_tasks": 2,
        "per_difficulty": {
            "easy": row,
            "hard": dict.fromkeys(row, 0.0) | {"n": 2.0, "bandit": hard_means},
        },
        "poi": {
            "easy_to_hard>hard_to_easy": order,
            "bandit>uniform": _p(0.4, 0.6),
            "easy_to_hard>uniform": _p(0.4, 0.6),
        },
        "poi_hard": {"easy_to_hard>hard_to_easy": hard},
    }


def test_no_order_effect_is_said_plainly_when_every_ci_contains_one_half() -> None:
    text = curriculum_order.markdown(_results(_p(0.45, 0.55), _p(0.5, 0.5), 0.0), "cmd")
    assert "**No order effect shown**" in text and "cannot test whether SEC" in text
    assert "none learns them in this budget" in text
    assert "| easy to hard vs hard to easy | 0.500 [0.450, 0.550] | 0.500 [0.500, 0.500] |" in text


def test_an_order_effect_on_hard_arms_is_reported() -> None:
    text = curriculum_order.markdown(_results(_p(0.45, 0.55), _p(0.6, 0.7), 0.2), "cmd")
    assert "**Order matters here**" in text
    assert "reaches 0.200 greedy success" in text
    assert curriculum_order.verdict(_p(0.3, 0.45)) == "worse"


@pytest.mark.slow
def test_the_pipeline_at_a_tiny_size_reuses_its_runs(tmp_path, monkeypatch) -> None:
    argv = ["--seeds", "1", "--reps", "50", "--no-docs", "--out", str(tmp_path)]
    sets = (
        "steps=2 warm_start_steps=2 warm_start_conversations=30 num_conversations=200 "
        "num_eval_tasks=6 eval_samples=1 eval_every=2 tiny_hidden_size=16 tiny_num_layers=1 "
        "max_new_tokens=8"
    )
    argv += [part for field in sets.split() for part in ("--set", field)]
    assert curriculum_order.main(argv) == 0
    results = json.loads((tmp_path / "curriculum_order.json").read_text())
    assert set(results["greedy"]) == {"warm_start", *curriculum_order.VARIANTS}
    assert sum(row["n"] for row in results["per_difficulty"].values()) == 6
    pairs = {"easy_to_hard>hard_to_easy", "bandit>uniform", "easy_to_hard>uniform"}
    assert set(results["poi"]) == pairs
    for order in curriculum_order.ORDERS:  # each order ran with its own fixed curriculum
        assert (
            json.loads((tmp_path / f"{order}-s0" / "args.json").read_text())["curriculum"] == order
        )

    def no_training(args):
        raise AssertionError(f"{args.output_dir} was trained again instead of reused")

    monkeypatch.setattr("agents.train.train", no_training)
    assert curriculum_order.main(argv) == 0
