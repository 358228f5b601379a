"""The rliable report: known orderings, CI coverage, reproducibility, missing cells, plots."""

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("rliable", reason='needs the report extra: pip install "crm-gym[report]"')
plt_image = pytest.importorskip("matplotlib.image")

from rliable import metrics as rl_metrics  # noqa: E402
from rliable.library import score_distributions  # noqa: E402
from scipy import stats  # noqa: E402

from benchmarks.plots import write_report  # noqa: E402
from benchmarks.records import RecordError  # noqa: E402
from benchmarks.report import (  # noqa: E402
    ReportError,
    ReportOptions,
    aggregate_scores,
    build_report,
    interval,
    load_logs,
    probability_of_improvement,
    score_distribution,
)
from tests.evaluation.synthetic import ARMS, synthetic_log, write_log  # noqa: E402

GOOD = dict(zip(ARMS, (0.9, 0.8, 0.85, 0.7), strict=True))
BAD = dict(zip(ARMS, (0.4, 0.2, 0.3, 0.1), strict=True))
FAST = ReportOptions(reps=300)


@pytest.fixture(scope="module")
def logs():
    rng = np.random.default_rng(0)
    return {"bad": synthetic_log("bad", BAD, rng), "good": synthetic_log("good", GOOD, rng)}


@pytest.fixture(scope="module")
def report(logs):
    return build_report(logs, FAST)


def test_vectorised_statistics_equal_rliable():
    rng = np.random.default_rng(1)
    for shape in [(5, 7), (4, 20), (1, 3)]:
        x, y = rng.beta(2, 2, shape), rng.beta(2, 3, (shape[0] + 2, shape[1]))
        binary = (x > 0.5).astype(float)  # ties, and a task where both are equal
        assert probability_of_improvement(x, y) == pytest.approx(
            rl_metrics.probability_of_improvement(x, y), abs=1e-12
        )
        assert probability_of_improvement(binary, binary) == 0.5
        expected = [
            rl_metrics.aggregate_iqm(x),
            rl_metrics.aggregate_median(x),
            rl_metrics.aggregate_mean(x),
            rl_metrics.aggregate_optimality_gap(x),
        ]
        np.testing.assert_allclose(aggregate_scores(x), expected, rtol=1e-12)
        taus = np.linspace(0, 1, 11)
        np.testing.assert_array_equal(score_distribution(x, taus), score_distributions(x, taus))


def test_known_ordering(report):
    assert report["algorithms"] == ["good", "bad"]  # by IQM, although "bad" was given first
    good, bad = report["aggregates"]["good"], report["aggregates"]["bad"]
    for metric in ("iqm", "median", "mean"):
        assert good[metric]["ci"][0] > bad[metric]["ci"][1], metric
    assert good["optimality_gap"]["ci"][1] < bad["optimality_gap"]["ci"][0]
    true_means = {"good": np.mean(list(GOOD.values())), "bad": np.mean(list(BAD.values()))}
    for name, true_mean in true_means.items():
        low, high = report["aggregates"][name]["mean"]["ci"]
        assert low <= true_mean <= high
    (pair,) = report["probability_of_improvement"]
    assert (pair["x"], pair["y"]) == ("good", "bad")
    assert pair["ci"][0] > 0.5 and pair["ci"][0] <= pair["point"] <= pair["ci"][1]
    assert report["tasks"] == sorted(ARMS) and report["options"]["runs"] == "seed"
    assert [len(r) for r in report["runs"].values()] == [5, 5]
    assert report["seed_metrics"]["good"]["metrics/strict_success"] > 0.7
    assert report["sample_efficiency"] is None


def test_ci_of_the_mean_covers_the_true_mean():
    # 40 experiments of 20 runs x 5 tasks, task j's scores ~ Beta(a_j, b_j): the 95% CI of the
    # mean (of task means) should cover the true mean about 37 times (a percentile bootstrap
    # of few runs covers a little less than 95%: 92% with 10 runs, measured on 300 experiments);
    # the IQM's CI likewise. At least 32 (80%) is 3.5 standard deviations below 37.4.
    rng = np.random.default_rng(0)
    a, b = np.array([2.0, 5.0, 1.0, 3.0, 8.0]), np.array([5.0, 2.0, 1.0, 3.0, 1.0])
    true_mean = np.mean(a / (a + b))
    quartiles = stats.beta.ppf([0.25, 0.75], 2, 5)
    true_iqm = stats.beta.expect(args=(2, 5), lb=quartiles[0], ub=quartiles[1], conditional=True)
    covered_mean = covered_iqm = 0
    for trial in range(40):
        options = ReportOptions(reps=200, seed=trial)
        _, ci = interval(f"mean/{trial}", rng.beta(a, b, (20, 5)), aggregate_scores, options)
        covered_mean += ci[0, 2] <= true_mean <= ci[1, 2]
        _, ci = interval(f"iqm/{trial}", rng.beta(2, 5, (20, 5)), aggregate_scores, options)
        covered_iqm += ci[0, 0] <= true_iqm <= ci[1, 0]
    assert covered_mean >= 32 and covered_iqm >= 32, (covered_mean, covered_iqm)


def test_reproducible_and_global_rng_restored(logs, report):
    np.random.seed(123)
    before = np.random.get_state()
    again = build_report(logs, ReportOptions(reps=300, progress=True))
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    assert json.dumps(again) == json.dumps(report)
    other_seed = build_report(logs, ReportOptions(reps=300, seed=1))
    assert other_seed["aggregates"] != report["aggregates"]


def test_adding_an_algorithm_leaves_the_others_intervals_alone(logs, report):
    rng = np.random.default_rng(5)
    three = {**logs, "mid": synthetic_log("mid", dict.fromkeys(ARMS, 0.5), rng)}
    bigger = build_report(three, FAST)
    assert bigger["algorithms"] == ["good", "mid", "bad"]
    assert bigger["aggregates"]["good"] == report["aggregates"]["good"]
    assert [(p["x"], p["y"]) for p in bigger["probability_of_improvement"]] == [
        ("good", "mid"),
        ("good", "bad"),
        ("mid", "bad"),
    ]


@pytest.mark.filterwarnings("ignore:pass\\^")  # unequal attempts once a run's cells are gone
def test_missing_task_is_dropped_with_a_warning(logs):
    partial = {"good": logs["good"], "bad": [r for r in logs["bad"] if r.arm != "crud-hard"]}
    with pytest.raises(ReportError, match="different task sets.*crud-hard"):
        build_report(partial, FAST)  # other conversations: refused unless asked
    with pytest.warns(UserWarning, match="crud-hard"):
        report = build_report(partial, replace(FAST, allow_different_tasks=True))
    assert report["dropped_tasks"] == ["crud-hard"] and "crud-hard" not in report["tasks"]
    one_run_short = [r for r in logs["bad"] if not (r.seed == 0 and r.arm == "policy-hard")]
    with pytest.warns(UserWarning, match="policy-hard"):
        report = build_report({"good": logs["good"], "bad": one_run_short}, FAST)
    assert report["dropped_tasks"] == ["policy-hard"]
    disjoint = {"good": logs["good"], "bad": [r for r in logs["bad"] if r.arm == "crud-easy"]}
    disjoint["good"] = [r for r in logs["good"] if r.arm != "crud-easy"]
    with pytest.raises(ReportError, match="no task"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_report(disjoint, replace(FAST, allow_different_tasks=True))


def test_task_run_and_score_choices(logs):
    report = build_report(logs, ReportOptions(reps=100, tasks="category", score="reward"))
    assert report["tasks"] == ["family-0", "family-1"]
    good_rate = np.mean([GOOD[a] for a in ARMS[0::2]])  # family-0: crud-easy, analytics-easy
    assert report["per_task"]["good"]["family-0"] == pytest.approx(0.2 + 0.7 * good_rate, abs=0.1)
    one_seed = {name: [r for r in records if r.seed == 0] for name, records in logs.items()}
    report = build_report(one_seed, ReportOptions(reps=100))
    assert report["options"]["runs"] == "attempt"
    assert report["runs"]["good"] == ["seed=0/attempt=0", "seed=0/attempt=1"]
    no_reward = {
        name: [r.model_copy(update={"shaped_return": None}) for r in recs]
        for name, recs in logs.items()
    }
    with pytest.raises(ReportError, match="shaped_return"):
        build_report(no_reward, ReportOptions(reps=100, score="reward"))
    no_arm = {
        name: [r.model_copy(update={"arm": None}) for r in recs] for name, recs in logs.items()
    }
    assert build_report(no_arm, ReportOptions(reps=100))["options"]["tasks"] == "category"
    with pytest.raises(ReportError, match="has no arm"):
        build_report(no_arm, ReportOptions(reps=100, tasks="arm"))
    with pytest.raises(ValueError, match="ReportOptions.score"):
        ReportOptions(score="accuracy")


def test_sample_efficiency_from_checkpoints():
    rng = np.random.default_rng(3)
    logs = {}
    for name, slope in (("fast", 0.3), ("slow", 0.1)):
        logs[name] = [
            record
            for step in range(4)
            for record in synthetic_log(
                name, dict.fromkeys(ARMS, 0.1 + slope * step), rng, step=step * 100
            )
        ]
    report = build_report(logs, ReportOptions(reps=200))
    curves = report["sample_efficiency"]
    assert list(curves) == ["fast", "slow"] and curves["fast"]["steps"] == [0, 100, 200, 300]
    fast_mean = [entry["point"] for entry in curves["fast"]["mean"]]
    assert fast_mean[-1] > fast_mean[0] + 0.5
    assert report["aggregates"]["fast"]["mean"]["point"] == fast_mean[-1]  # the last step
    assert report["seed_metrics"]["fast"]["metrics/num_conversations"] == 5 * 2 * 4 * 3


def _check_png(path):
    image = plt_image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50, path
    assert np.ptp(image[..., :3]) > 0.5, f"{path} is one colour"


def test_report_files_and_plots(logs, tmp_path):
    rng = np.random.default_rng(4)
    checkpoints = {
        name: [r for step in (0, 1) for r in synthetic_log(name, rates, rng, seeds=3, step=step)]
        for name, rates in (("good", GOOD), ("bad", BAD))
    }
    written = write_report(build_report(checkpoints, FAST), tmp_path)
    names = sorted(path.name for path in written)
    assert names == [
        "interval_estimates.png",
        "performance_profiles.png",
        "probability_of_improvement.png",
        "report.json",
        "report.md",
        "sample_efficiency.png",
    ]
    for path in written:
        if path.suffix == ".png":
            _check_png(path)
    markdown = (tmp_path / "report.md").read_text()
    assert "| good | 3 |" in markdown and "![sample_efficiency](sample_efficiency.png)" in markdown
    assert json.loads((tmp_path / "report.json").read_text())["algorithms"] == ["good", "bad"]


def test_single_algorithm_has_no_improvement_plot(logs, tmp_path):
    written = write_report(build_report({"good": logs["good"]}, FAST), tmp_path)
    assert {p.name for p in written} == {
        "report.json",
        "report.md",
        "interval_estimates.png",
        "performance_profiles.png",
    }


def test_logs_of_one_name_pool_as_runs_and_need_one_task_set(tmp_path):
    rng = np.random.default_rng(4)
    seeds = [synthetic_log("grpo", GOOD, rng, seeds=1) for _ in range(2)]
    paths = []
    for seed, records in enumerate(seeds):  # crm-gym eval writes one log per seed
        records = [r.model_copy(update={"seed": seed}) for r in records]
        paths.append(write_log(tmp_path / f"grpo-{seed}.jsonl", records))
    sources: dict[str, str] = {}
    logs = load_logs(paths, sources=sources)
    assert list(logs) == ["grpo"] and {r.seed for r in logs["grpo"]} == {0, 1}
    assert sources["grpo"] == f"{paths[0]}, {paths[1]}"
    short = [r.model_copy(update={"seed": 2}) for r in seeds[0] if r.arm != "crud-easy"]
    paths.append(write_log(tmp_path / "grpo-2.jsonl", short))
    with pytest.raises(ReportError, match="different task sets"):
        load_logs(paths)
    assert {r.seed for r in load_logs(paths, allow_different_tasks=True)["grpo"]} == {0, 1, 2}


def test_directories_meta_files_and_other_files_are_clear_errors(tmp_path):
    log = write_log(tmp_path / "a.jsonl", synthetic_log("a", GOOD, np.random.default_rng(0)))
    meta = tmp_path / "a.jsonl.meta.json"
    meta.write_text("{}")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"conversation_id": "C-1", "turns": []}\n')
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(256)))
    cases = {
        tmp_path: "a directory",
        meta: "meta file",
        tasks: "tasks.jsonl:1: not an evaluation record",
        binary: "not UTF-8",
    }
    for path, message in cases.items():
        with pytest.raises(RecordError, match=message):
            load_logs([log, path])
    with pytest.raises(ReportError, match="given twice"):
        load_logs([log, log])
