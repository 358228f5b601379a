"""Compare policies from their evaluation logs the robust way (rliable; Agarwal et al. 2021).

One log (``benchmarks.records`` JSONL) per algorithm becomes a score matrix ``(num_runs,
num_tasks)``, rliable's input everywhere:

- **tasks**: curriculum arms (``arm``, skill x difficulty) when every record has one, else
  workflow families (``workflow_category``); ``ReportOptions.tasks`` picks one explicitly.
- **runs**: seeds when a log holds several (``seed`` is the run's seed), else attempts
  (``seed=s/attempt=a``); ``ReportOptions.runs`` picks one explicitly.
- **score** of a cell: the mean over the cell's attempts of strict success (``overall_success``)
  or of the shaped return (``shaped_return``).

**Ceilings**: ``ceilings`` holds, per algorithm, the best value each seed metric can reach on
the conversations of its log (``benchmarks.metrics.ceilings``, read from the records' turn
plans): a planned failure turn caps strict success and pass^k, and conversations without a
success-path turn give the reward signal a floor. ``report.md`` prints them under the metrics.

Logs of training checkpoints (records with ``step``) are scored at each algorithm's last step;
every step gives a point of the sample-efficiency curve (IQM with CIs per step).

**Task sets**: algorithms evaluated on different conversations are not compared unless
``ReportOptions.allow_different_tasks`` says so (``ReportError`` names the conversations only
one side has), and logs pooled as the runs of one algorithm (``load_logs``: logs of the same name,
e.g. one per seed, as ``crm-gym eval`` writes them) must hold the same conversations too.

**Missing cells**: only tasks that every run of every algorithm tried are compared; the others
are dropped with a ``UserWarning`` and listed in the report (``dropped_tasks``); no task left
raises ``ReportError``. A checkpoint step lacking one of those tasks is left off the curve.

**Reproducibility**: rliable's bootstrap draws from numpy's global RNG whatever its
``random_state`` says, so every bootstrap runs with the global RNG seeded from
``(options.seed, the estimate's name)`` and restored afterwards: the same logs and options give
identical numbers, and adding an algorithm changes none of the others' intervals.
"""

from __future__ import annotations

import sys
import warnings
import zlib
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence

import numpy as np

from benchmarks.eval_log import META_SUFFIX
from benchmarks.metrics import ceilings, summarize
from benchmarks.records import ConversationRecord, RecordError, check_unique, load_records

REPORT_EXTRA = 'pip install "crm-gym[report]"'
AGGREGATES = ("iqm", "median", "mean", "optimality_gap")
"""Aggregate metrics, in rliable's order of preference; the optimality gap is lower-is-better."""


class ReportError(ValueError):
    """Logs that cannot be compared as asked (no common task, a missing field, ...)."""


@dataclass(frozen=True)
class ReportOptions:
    """How to build the score matrices and the bootstrap."""

    tasks: Literal["auto", "arm", "category"] = "auto"
    score: Literal["success", "reward"] = "success"
    runs: Literal["auto", "seed", "attempt"] = "auto"
    reps: int = 2000
    confidence: float = 0.95
    seed: int = 0
    progress: bool = False
    allow_different_tasks: bool = False

    def __post_init__(self) -> None:
        choices = {"tasks": ("auto", "arm", "category"), "score": ("success", "reward")}
        choices["runs"] = ("auto", "seed", "attempt")
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"ReportOptions.{name} must be one of {allowed}, got {getattr(self, name)!r}"
                )
        if self.reps < 1 or not 0 < self.confidence < 1:
            raise ValueError(
                f"need reps >= 1 and 0 < confidence < 1, got {self.reps}, {self.confidence}"
            )


@dataclass(frozen=True)
class ScoreMatrix:
    """Scores ``(num_runs, num_tasks)``; NaN where a run never tried a task."""

    scores: np.ndarray
    runs: tuple[str, ...]
    tasks: tuple[str, ...]

    def restrict(self, tasks: Sequence[str]) -> ScoreMatrix:
        """The columns of ``tasks``, in that order."""
        columns = [self.tasks.index(task) for task in tasks]
        return ScoreMatrix(self.scores[:, columns], self.runs, tuple(tasks))

    def complete_tasks(self) -> set[str]:
        """The tasks every run tried."""
        return {
            t
            for t, column in zip(self.tasks, self.scores.T, strict=True)
            if not np.isnan(column).any()
        }


# ---------------------------------------------------------------- score matrices


def score_matrix(
    records: Sequence[ConversationRecord], tasks: str, runs: str, score: str
) -> ScoreMatrix:
    """The mean score per (run, task) of one algorithm's records (resolved kinds, no ``auto``)."""
    cells: dict[tuple[tuple[int, ...], str], list[float]] = defaultdict(list)
    for record in records:
        cells[_run_of(record, runs), _task_of(record, tasks)].append(_score_of(record, score))
    run_keys = sorted({run for run, _ in cells})
    task_names = sorted({task for _, task in cells})
    scores = np.full((len(run_keys), len(task_names)), np.nan)
    for (run, task), values in cells.items():
        scores[run_keys.index(run), task_names.index(task)] = np.mean(values)
    return ScoreMatrix(scores, tuple(map(_run_label, run_keys)), tuple(task_names))


def _run_of(record: ConversationRecord, runs: str) -> tuple[int, ...]:
    seed = -1 if record.seed is None else record.seed  # records without a seed: one run
    return (seed, record.attempt) if runs == "attempt" else (seed,)


def _run_label(run: tuple[int, ...]) -> str:
    seed = f"seed={'none' if run[0] == -1 else run[0]}"
    return seed if len(run) == 1 else f"{seed}/attempt={run[1]}"


def _task_of(record: ConversationRecord, tasks: str) -> str:
    value = record.arm if tasks == "arm" else record.workflow_category
    if value is None:
        field = "arm" if tasks == "arm" else "workflow_category"
        raise ReportError(f"record {record.conversation_id!r} has no {field}; choose other tasks")
    return value


def _score_of(record: ConversationRecord, score: str) -> float:
    if score == "success":
        return float(record.overall_success)
    if record.shaped_return is None:
        raise ReportError(f"record {record.conversation_id!r} has no shaped_return; score success")
    return record.shaped_return


def resolve_kinds(
    logs: dict[str, Sequence[ConversationRecord]], options: ReportOptions
) -> tuple[str, str]:
    """The task kind (``arm``, ``category``) and run kind (``seed``, ``attempt``) ``auto`` means."""
    every = [record for records in logs.values() for record in records]
    tasks = options.tasks
    if tasks == "auto":
        tasks = "arm" if all(r.arm is not None for r in every) else "category"
    runs = options.runs
    if runs == "auto":
        several = any(len({r.seed for r in records}) > 1 for records in logs.values())
        runs = "seed" if several else "attempt"
    return tasks, runs


def final_records(records: Sequence[ConversationRecord]) -> list[ConversationRecord]:
    """The records of the last training step (all of them for a fixed policy)."""
    if not records:
        raise ReportError("a log without records")
    check_unique(records)
    steps = {r.step for r in records}
    if None in steps and len(steps) > 1:
        raise ReportError("a log mixes records with and without step")
    last = max(steps, key=lambda s: -1 if s is None else s)
    return [r for r in records if r.step == last]


def align(matrices: dict[str, ScoreMatrix]) -> tuple[dict[str, ScoreMatrix], list[str]]:
    """Restrict every matrix to the tasks complete in all of them; also return the dropped tasks."""
    every = sorted(set().union(*(m.tasks for m in matrices.values())))
    common = sorted(set(every).intersection(*(m.complete_tasks() for m in matrices.values())))
    dropped = [task for task in every if task not in common]
    if not common:
        raise ReportError(f"no task is tried by every run of every algorithm (tasks: {every})")
    if dropped:
        warnings.warn(
            f"tasks not tried by every run of every algorithm, left out: {dropped}", stacklevel=2
        )
    return {name: m.restrict(common) for name, m in matrices.items()}, dropped


# ---------------------------------------------------------------- statistics


def rliable_library() -> Any:
    """``rliable.library``, or an ImportError naming the extra."""
    try:
        from rliable import library
    except ImportError as exc:
        raise ImportError(
            f"the report needs rliable (with pandas<3, arch<8): {REPORT_EXTRA}"
        ) from exc
    return library


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG for the block and restore its state afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def estimate_seed(seed: int, name: str | tuple) -> int:
    """The global-RNG seed of the bootstrap called ``name`` (stable across Python runs)."""
    crc = zlib.crc32(repr(name).encode())
    return int(np.random.SeedSequence([seed, crc]).generate_state(1)[0])


def aggregate_scores(scores: np.ndarray) -> np.ndarray:
    """IQM, median, mean and optimality gap (gamma 1): the values of rliable's ``aggregate_*``.

    rliable's IQM calls ``scipy.stats.trim_mean``, whose overhead (0.6 ms a call) dominates the
    bootstrap; one sort gives the same 25% trimmed mean (tested against rliable).
    """
    flat = np.sort(scores, axis=None)
    cut = int(0.25 * flat.size)
    task_means = np.mean(scores, axis=0)
    gap = 1.0 - np.mean(np.minimum(scores, 1.0))
    return np.array(
        [np.mean(flat[cut : flat.size - cut]), np.median(task_means), np.mean(task_means), gap]
    )


def score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """The share of run-task scores above each tau (rliable's ``score_distributions``)."""
    return np.mean(scores.reshape(-1, 1) > np.asarray(taus).reshape(1, -1), axis=0)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) per task (ties count half), averaged over tasks.

    The value of ``rliable.metrics.probability_of_improvement`` (Mann-Whitney U / (n_x n_y)),
    vectorised (same values, tested): rliable calls scipy once per task, which makes 2,000
    bootstrap reps of one pair of 20 tasks take 50 s instead of 0.5 s.
    """
    greater = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    ties = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return float(np.mean(greater + 0.5 * ties))


def interval(
    name: str | tuple,
    scores: np.ndarray | list[np.ndarray],
    func: Callable[..., Any],
    options: ReportOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """Point estimates ``(m,)`` and stratified-bootstrap CIs ``(2, m)`` of ``func(scores)``."""
    library = rliable_library()
    with seeded_global_rng(estimate_seed(options.seed, name)):
        point, ci = library.get_interval_estimates(
            {name: scores}, func, reps=options.reps, confidence_interval_size=options.confidence
        )
    point, ci = np.atleast_1d(point[name]).astype(float), np.asarray(ci[name], dtype=float)
    return point, ci.reshape(2, -1)


def profile(
    name: str | tuple, scores: np.ndarray, taus: np.ndarray, options: ReportOptions
) -> tuple[np.ndarray, np.ndarray]:
    """The score distribution (share of run-task scores > each tau) and its CIs ``(2, taus)``."""
    library = rliable_library()
    with seeded_global_rng(estimate_seed(options.seed, name)):
        points, cis = library.create_performance_profile(
            {name: scores},
            taus,
            custom_profile_func=score_distribution,
            reps=options.reps,
            confidence_interval_size=options.confidence,
        )
    return np.asarray(points[name], dtype=float), np.asarray(cis[name], dtype=float)


def _progress(items: list[Any], options: ReportOptions) -> Any:
    """A tqdm bar on stderr (shown after 1 s) when tqdm is installed and asked for."""
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, desc="bootstrap", file=sys.stderr, delay=1.0, disable=not options.progress)


# ---------------------------------------------------------------- the report


def build_report(
    logs: dict[str, Sequence[ConversationRecord]],
    options: ReportOptions = ReportOptions(),
    sources: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Every number of the report, as a JSON-ready dict (algorithms ordered by IQM, best first)."""
    if not logs:
        raise ReportError("no logs to compare")
    rliable_library()  # fail early, and import before the progress bar starts
    tasks, runs = resolve_kinds(logs, options)
    finals = {name: final_records(records) for name, records in logs.items()}
    if not options.allow_different_tasks:
        check_same_tasks({name: _ids(records) for name, records in finals.items()}, sources)
    matrices, dropped = align(
        {n: score_matrix(r, tasks, runs, options.score) for n, r in finals.items()}
    )
    scores = {name: m.scores for name, m in matrices.items()}
    if any(s.shape[0] < 2 for s in scores.values()):
        warnings.warn(
            "an algorithm has a single run: its bootstrap CIs have zero width", stacklevel=2
        )
    order = sorted(scores, key=lambda n: (-aggregate_scores(scores[n])[0], list(scores).index(n)))
    common = list(matrices[order[0]].tasks)
    taus = _taus(scores, options.score)
    jobs = _jobs(order, scores) + _step_jobs(logs, order, common, (tasks, runs, options.score))
    results = {key: _estimate(key, data, taus, options) for key, data in _progress(jobs, options)}
    settings = {**asdict(options), "tasks": tasks, "runs": runs}
    del settings["progress"]  # not a setting of the numbers: the JSON must not depend on it
    return {
        "format": "crm-gym-report/1",
        "options": settings,
        "algorithms": order,
        "sources": sources or {},
        "tasks": common,
        "dropped_tasks": dropped,
        "runs": {name: list(matrices[name].runs) for name in order},
        "seed_metrics": {name: summarize(finals[name]) for name in order},
        "ceilings": {name: ceilings(finals[name]) for name in order},
        "per_task": {
            name: dict(zip(common, np.mean(scores[name], axis=0).tolist(), strict=True))
            for name in order
        },
        "aggregates": {name: _named(*results["aggregates", name]) for name in order},
        "probability_of_improvement": [
            _poi(key, value) for key, value in results.items() if key[0] == "poi"
        ],
        "performance_profiles": _profiles(order, taus, results),
        "sample_efficiency": _curves(order, results),
    }


def _taus(scores: dict[str, np.ndarray], score: str) -> np.ndarray:
    if score == "success":
        return np.linspace(0.0, 1.0, 51)
    low = min(0.0, min(float(s.min()) for s in scores.values()))
    return np.linspace(low, max(1.0, max(float(s.max()) for s in scores.values())), 51)


def _jobs(order: list[str], scores: dict[str, np.ndarray]) -> list[tuple[tuple, Any]]:
    """``(key, data)`` of every bootstrap of the final scores; ``key[0]`` is its kind."""
    jobs = [((kind, n), scores[n]) for n in order for kind in ("aggregates", "profile")]
    pairs = combinations(order, 2)
    return jobs + [(("poi", x, y), [scores[x], scores[y]]) for x, y in pairs]


def _step_jobs(
    logs: dict[str, Sequence[ConversationRecord]],
    order: list[str],
    common: list[str],
    kinds: tuple[str, str, str],
) -> list[tuple[tuple, Any]]:
    """``(key, scores)`` of every checkpoint step of every algorithm (two steps or more)."""
    jobs = []
    for name in order:
        by_step: dict[int, list[ConversationRecord]] = defaultdict(list)
        for record in (r for r in logs[name] if r.step is not None):
            by_step[record.step].append(record)
        for step in sorted(by_step) if len(by_step) > 1 else []:
            matrix = score_matrix(by_step[step], *kinds)
            if set(common) <= matrix.complete_tasks():
                jobs.append((("steps", name, step), matrix.restrict(common).scores))
            else:
                warnings.warn(
                    f"{name} step {step} lacks a compared task: not on the curve", stacklevel=3
                )
    return jobs


def _estimate(
    key: tuple, data: Any, taus: np.ndarray, options: ReportOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Run the bootstrap of one job (its kind is ``key[0]``)."""
    if key[0] == "profile":
        return profile(key, data, taus, options)
    func = probability_of_improvement if key[0] == "poi" else aggregate_scores
    return interval(key, data, func, options)


def _named(point: np.ndarray, ci: np.ndarray) -> dict[str, dict[str, Any]]:
    return {
        m: {"point": float(point[i]), "ci": [float(ci[0, i]), float(ci[1, i])]}
        for i, m in enumerate(AGGREGATES)
    }


def _poi(key: tuple, result: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    _, x, y = key
    point, ci = result
    return {"x": x, "y": y, "point": float(point[0]), "ci": [float(ci[0, 0]), float(ci[1, 0])]}


def _profiles(order: list[str], taus: np.ndarray, results: dict[str, Any]) -> dict[str, Any]:
    curves = {}
    for name in order:
        points, cis = results["profile", name]
        curves[name] = {
            "profile": points.tolist(),
            "ci_low": cis[0].tolist(),
            "ci_high": cis[1].tolist(),
        }
    return {"taus": taus.tolist(), "curves": curves}


def _curves(order: list[str], results: dict[str, Any]) -> dict[str, Any] | None:
    curves = {}
    for name in order:
        steps = sorted(key[2] for key in results if key[:2] == ("steps", name))
        if steps:
            named = [_named(*results["steps", name, step]) for step in steps]
            curves[name] = {"steps": steps, **{m: [n[m] for n in named] for m in AGGREGATES}}
    return curves or None


def _ids(records: Sequence[ConversationRecord]) -> frozenset[str]:
    return frozenset(r.conversation_id for r in records)


def check_same_tasks(task_sets: dict[str, frozenset[str]], sources: dict | None = None) -> None:
    """Raise ``ReportError`` unless every log (or algorithm) holds the same conversations."""
    (first, ids), *others = list(task_sets.items())
    for name, other in others:
        if other != ids:
            only = sorted(ids - other)[:3] or sorted(other - ids)[:3]
            where = {n: (sources or {}).get(n, n) for n in (first, name)}
            raise ReportError(
                f"{where[first]} and {where[name]} hold different task sets ({len(ids)} and "
                f"{len(other)} conversations; e.g. {only} in only one): pass "
                "--allow-different-tasks to compare the tasks they share"
            )


def read_log(path: str | Path) -> list[ConversationRecord]:
    """One evaluation log's records; ``RecordError`` for anything that is not one."""
    path = Path(path)
    if path.is_dir():
        raise RecordError(f"{path}: a directory, not an evaluation log (JSONL)")
    if path.name.endswith(META_SUFFIX):
        raise RecordError(f"{path}: the meta file of an evaluation log; pass the log itself")
    try:
        return load_records(path)
    except UnicodeDecodeError:
        raise RecordError(f"{path}: not an evaluation log (not UTF-8 text)") from None


def load_logs(
    paths: Sequence[str | Path],
    names: Sequence[str] | None = None,
    allow_different_tasks: bool = False,
    sources: dict[str, str] | None = None,
) -> dict[str, list[ConversationRecord]]:
    """The records of each algorithm: ``names``, else a log's single policy, else its file stem.

    Logs of the same name are pooled as the runs of one algorithm (``crm-gym eval`` writes one
    log per seed); they must hold the same conversations unless ``allow_different_tasks``.
    ``sources``, when given, is filled with each algorithm's log paths (comma-separated).
    """
    if names is not None and len(names) != len(paths):
        raise ReportError(f"{len(names)} names for {len(paths)} logs")
    seen = [Path(p).resolve() for p in paths]
    twice = [str(p) for i, p in enumerate(paths) if seen[i] in seen[:i]]
    if twice:
        raise ReportError(f"log given twice: {twice[0]}")
    logs: dict[str, list[ConversationRecord]] = {}
    pooled: dict[str, dict[str, frozenset[str]]] = defaultdict(dict)
    for index, path in enumerate(paths):
        records = read_log(path)
        name = names[index] if names else _policy_name(records, path)
        logs.setdefault(name, []).extend(records)
        pooled[name][str(path)] = _ids(final_records(records))
    for name, task_sets in pooled.items():
        if not allow_different_tasks:
            check_same_tasks(task_sets)
        if sources is not None:
            sources[name] = ", ".join(task_sets)
    return logs


def _policy_name(records: Sequence[ConversationRecord], path: str | Path) -> str:
    policies = {r.policy for r in records}
    return Path(path).stem if len(policies) > 1 or None in policies else str(policies.pop())
