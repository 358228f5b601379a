"""Statistics of the evidence run (``benchmarks.train_results``): score matrices, CIs, PoI, arms.

A score matrix is ``(runs, held-out tasks)`` of success rates, one column per task in one fixed
order. The warm start is one model (every run starts from it), so its matrix repeats one row per
seed: paired with a GRPO matrix row by row, the probability of improvement compares tasks of the
same seed. Estimates are ``benchmarks.report``'s: rliable's stratified bootstrap over tasks
within runs, numpy's global RNG seeded per estimate and restored (the same runs give the same
numbers).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from benchmarks.report import (
    ReportOptions,
    aggregate_scores,
    interval,
    probability_of_improvement,
)


def task_matrix(per_run: Sequence[dict[str, float]], tasks: Sequence[str]) -> np.ndarray:
    """``(runs, tasks)``: each run's per-task score, columns in ``tasks``' order.

    Raises:
        ValueError: a run that scored a different task set (the runs would not be comparable).
    """
    for scores in per_run:
        if set(scores) != set(tasks):
            missing, extra = set(tasks) - set(scores), set(scores) - set(tasks)
            raise ValueError(
                f"a run scored other tasks: missing {sorted(missing)[:3]}, "
                f"extra {sorted(extra)[:3]}"
            )
    return np.array([[scores[task] for task in tasks] for scores in per_run], dtype=float)


def mean_ci(name: str, scores: np.ndarray, options: ReportOptions) -> dict[str, Any]:
    """Mean and IQM over a ``(runs, tasks)`` matrix, each with its 95% stratified-bootstrap CI."""
    point, ci = interval(("aggregates", name), scores, aggregate_scores, options)
    return {
        "mean": float(point[2]),
        "ci": [float(ci[0, 2]), float(ci[1, 2])],
        "iqm": float(point[0]),
        "iqm_ci": [float(ci[0, 0]), float(ci[1, 0])],
    }


def poi(name: str, x: np.ndarray, y: np.ndarray, options: ReportOptions) -> dict[str, Any]:
    """P(X > Y) over tasks (ties count half) with its 95% CI: ``{"p", "ci": [lo, hi]}``."""
    point, ci = interval(("poi", name), [x, y], probability_of_improvement, options)
    return {"p": float(point[0]), "ci": [float(ci[0, 0]), float(ci[1, 0])]}


def by_group(matrices: dict[str, np.ndarray], groups: Sequence[str]) -> dict[str, dict[str, float]]:
    """Mean score of each policy per group of columns (an arm or a skill): group -> policy -> mean.

    ``groups[j]`` names column ``j``'s group; each entry also counts the group's tasks (``n``).
    """
    table: dict[str, dict[str, float]] = {}
    for group in sorted(set(groups)):
        columns = [j for j, g in enumerate(groups) if g == group]
        row: dict[str, float] = {"n": float(len(columns))}
        for name, matrix in matrices.items():
            row[name] = float(matrix[:, columns].mean())
        table[group] = row
    return table


def paired_by_seed(after: np.ndarray, before: np.ndarray) -> list[float]:
    """Each run's mean score after minus before (one value per seed)."""
    return (after.mean(axis=1) - before.mean(axis=1)).tolist()


def task_gain(after: np.ndarray, before: np.ndarray, reps: int, seed: int = 0) -> dict[str, Any]:
    """The mean per-task gain (mean over runs, after minus before) with a CI over *tasks*.

    rliable's stratified bootstrap resamples runs within each task: its intervals measure the
    seed-to-seed spread on these tasks, not which tasks were drawn. This one resamples the
    tasks (95% percentile interval), and counts the tasks that got better and worse.
    """
    gains = after.mean(axis=0) - before.mean(axis=0)
    rng = np.random.default_rng(seed)
    means = gains[rng.integers(0, len(gains), size=(reps, len(gains)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "mean": float(gains.mean()),
        "ci": [float(low), float(high)],
        "improved": int((gains > 0).sum()),
        "worse": int((gains < 0).sum()),
        "tasks": len(gains),
    }


def arm_shares(rows: Sequence[dict[str, Any]], arms: Sequence[str]) -> dict[str, float]:
    """Mean sampling probability of each arm over a run's steps (``curriculum/p/<arm>``)."""
    shares = {}
    for arm in arms:
        values = [row[f"curriculum/p/{arm}"] for row in rows if f"curriculum/p/{arm}" in row]
        shares[arm] = float(np.mean(values)) if values else float("nan")
    return shares
