"""The evidence run: statistics, computed verdicts, and the whole pipeline at a tiny size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import train_results
from benchmarks.train_report import add_section, doc_names, markdown, notes, replace_section
from benchmarks.train_stats import by_group, paired_by_seed, task_matrix

KEYS = (
    "seeds",
    "ceiling",
    "random",
    "best_constant",
    "warm_start_greedy",
    "warm_start_sampled",
    "grpo_greedy",
    "grpo_sampled",
    "uniform_greedy",
    "poi_grpo_vs_warm_start",
    "poi_sec_vs_uniform",
)


def test_task_matrix_orders_columns_by_task_and_refuses_other_task_sets() -> None:
    runs = [{"b": 1.0, "a": 0.0}, {"a": 0.5, "b": 0.25}]
    assert task_matrix(runs, ["a", "b"]).tolist() == [[0.0, 1.0], [0.5, 0.25]]
    with pytest.raises(ValueError, match="missing"):
        task_matrix([{"a": 1.0}], ["a", "b"])


def test_groups_and_paired_differences() -> None:
    after = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    before = np.zeros((2, 3))
    table = by_group({"after": after, "before": before}, ["x", "y", "x"])
    assert table["x"] == {"n": 2.0, "after": 1.0, "before": 0.0}
    assert table["y"] == {"n": 1.0, "after": 0.5, "before": 0.0}
    assert paired_by_seed(after, before) == pytest.approx([2 / 3, 1.0])


def _poi(lo: float, hi: float) -> dict:
    return {"p": (lo + hi) / 2, "ci": [lo, hi]}


@pytest.mark.parametrize(("lo", "holds"), [(0.55, True), (0.45, False)])
def test_the_verdict_is_computed_from_the_confidence_intervals(lo: float, holds: bool) -> None:
    estimate = {"mean": 0.5, "ci": [0.4, 0.6], "iqm": 0.5, "iqm_ci": [0.4, 0.6]}
    results = {
        "poi_grpo_vs_warm_start": _poi(lo, lo + 0.2),
        "poi_grpo_vs_best_constant": _poi(0.6, 0.7),
        "poi_sec_vs_uniform": _poi(0.4, 0.6),
        "warm_start_greedy": estimate,
        "grpo_greedy": estimate,
        "paired_greedy": {"grpo": [0.1], "uniform": [0.0]},
        "reproducibility": {},
        "task_gain": {
            "grpo": {"mean": 0.05, "ci": [-0.01, 0.1], "improved": 3, "worse": 1, "tasks": 20}
        },
        "per_arm": {
            "a-easy": {"n": 2.0, "grpo": 0.5, "uniform": 0.0},
            "a-hard": {"n": 2.0, "grpo": 0.0, "uniform": 0.5},
        },
        "arm_shares": {"grpo": {"a-easy": 0.7, "a-hard": 0.3}},
        "per_outcome": {"expected error": {"n": 3.0}, "success": {"n": 1.0}},
    }
    text = "\n".join(notes(results))
    assert ("The single-turn goal holds" in text) == holds
    assert ("The goal does not hold" in text) == (not holds)
    assert "no difference shown" in text
    assert "[-0.010, +0.100] includes 0" in text  # the task-resampled CI, computed
    assert "SEC above uniform on 1 of 2 arms, below on 1" in text
    assert "SEC sampled `a-easy` most (0.700" in text
    assert "3 of 4 held-out tasks are requests the CRM refuses" in text


def test_replace_section_keeps_the_other_sections() -> None:
    doc = "# R\n\n## Trained tiny model\nold\n\n## Next\nkept\n"
    assert replace_section(doc, "new\n") == "# R\n\n## Trained tiny model\nnew\n\n## Next\nkept\n"
    with pytest.raises(ValueError, match="no '## Trained tiny model' section"):
        replace_section("# R\n", "x")


def test_another_preset_gets_its_own_section_and_files() -> None:
    assert doc_names("cpu-args") == ("## Trained tiny model", "results.json", "train_curve.png")
    section, data, figure = doc_names("cpu-chain")
    assert (data, figure) == ("results-cpu-chain.json", "train_curve-cpu-chain.png")
    doc = "# R\n\n## Trained tiny model\nargs\n\n## Next\nkept\n"
    added = replace_section(add_section(doc, section), "chain\n", section)
    assert added == (
        "# R\n\n## Trained tiny model\nargs\n\n"
        "## Trained tiny model, `cpu-chain`\nchain\n\n## Next\nkept\n"
    )
    assert replace_section(added, "args 2\n").count("args 2") == 1  # the first one only


def _no_training(args):
    raise AssertionError(f"{args.output_dir} was trained again instead of reused")


@pytest.mark.slow
def test_the_whole_pipeline_at_a_tiny_size_writes_every_named_key(tmp_path, monkeypatch) -> None:
    out = tmp_path / "runs"
    argv = [
        "--seeds",
        "1",
        "--steps",
        "1",
        "--reps",
        "50",
        "--no-threads-check",
        "--no-docs",
        "--out",
        str(out),
        "--set",
        "warm_start_steps=2",
        "--set",
        "warm_start_conversations=30",
        "--set",
        "num_conversations=200",
        "--set",
        "num_eval_tasks=6",
        "--set",
        "eval_samples=2",
        "--set",
        "eval_every=1",
        "--set",
        "tiny_hidden_size=32",
        "--set",
        "tiny_num_layers=1",
        "--set",
        "max_new_tokens=16",
    ]
    assert train_results.main(argv) == 0
    results = json.loads((out / "train_results.json").read_text())
    for key in KEYS:
        assert key in results, key
    assert results["ceiling"] == 1.0  # the reference actions pass every held-out task
    assert results["settings"]["steps"] == 1 and results["num_tasks"] == 6
    assert results["curves"]["bandit"][0]["steps"] == [0, 1]  # step 0: the warm-started model
    assert sum(row["n"] for row in results["per_arm"].values()) == 6  # every task in one arm
    assert sum(row["n"] for row in results["per_outcome"].values()) == 6
    assert set(results["per_outcome"]) <= {"success", "expected error"}
    assert "GRPO + SEC, greedy" in markdown(results)
    # a second call reuses the finished runs (same settings): no training, the same numbers
    monkeypatch.setattr("agents.train.train", _no_training)
    assert train_results.main(argv) == 0
    assert (
        json.loads((out / "train_results.json").read_text())["grpo_greedy"]
        == results["grpo_greedy"]
    )


@pytest.mark.slow
def test_runs_side_by_side_give_the_numbers_of_runs_one_after_another(tmp_path) -> None:
    fields = train_results.preset_fields(
        "cpu-tiny",
        "steps=1 warm_start_steps=2 num_conversations=200 num_eval_tasks=3 eval_samples=2 "
        "eval_every=1 tiny_hidden_size=16 tiny_num_layers=1 max_new_tokens=8".split(),
    )

    def planned(folder: str) -> list:
        return [
            train_results.settings(fields, seed=seed, output_dir=str(tmp_path / folder / str(seed)))
            for seed in (0, 1)
        ]

    together = list(train_results.run_all(planned("together"), jobs=2))
    alone = list(train_results.run_all(planned("alone"), jobs=1))
    for key in ("eval_tasks_before", "eval_tasks_after", "eval_reward_after"):
        assert [s[key] for s in together] == [s[key] for s in alone]
    assert together[0]["eval_tasks_after"]  # each run evaluated its held-out tasks
