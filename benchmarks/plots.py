"""The report's pages from a ``build_report`` dict: PNG figures (``rliable.plot_utils``), Markdown.

``write_report`` writes them with ``report.json``. This module imports ``benchmarks.report`` (the
numbers); ``benchmarks.report`` never imports it back.

Matplotlib runs on the Agg backend (files only) unless pyplot was imported before with another
backend, which is then left alone. Every figure is closed after it is saved.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks.report import AGGREGATES, REPORT_EXTRA

PAIR = "\x1f"
"""Joins the two names of a pair for rliable's improvement plot, which splits them again."""
METRIC_TITLES = {
    "iqm": "IQM",
    "median": "Median",
    "mean": "Mean",
    "optimality_gap": "Optimality Gap",
}


def write_report(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and the PNG plots into ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(report, out)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(
        render_markdown(report, [p.name for p in plots]), encoding="utf-8"
    )
    return [out / "report.json", out / "report.md", *plots]


def write_plots(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Save the interval, improvement, profile and (with checkpoints) sample-efficiency PNGs.

    The improvement plot needs two algorithms and the sample-efficiency plot checkpoint logs;
    each is left out otherwise.
    """
    plt, plot_utils = _plotting()
    score = "Strict success" if report["options"]["score"] == "success" else "Shaped return"
    colors = dict(zip(report["algorithms"], _palette(plt, len(report["algorithms"])), strict=True))
    figures = {"interval_estimates.png": _intervals(report, plot_utils, score, colors)}
    if report["probability_of_improvement"]:
        figures["probability_of_improvement.png"] = _improvement(report, plot_utils)
    figures["performance_profiles.png"] = _profiles(report, plot_utils, score, colors)
    if report["sample_efficiency"]:
        figures["sample_efficiency.png"] = _sample_efficiency(report, plot_utils, score, colors)
    paths = []
    for name, figure in figures.items():
        figure.savefig(out_dir / name, dpi=100, bbox_inches="tight")
        plt.close(figure)
        paths.append(out_dir / name)
    return paths


def _plotting() -> tuple[Any, Any]:
    """``matplotlib.pyplot`` (Agg unless already set up) and ``rliable.plot_utils``."""
    try:
        import matplotlib

        if "matplotlib.pyplot" not in sys.modules:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from rliable import plot_utils
    except ImportError as exc:
        raise ImportError(
            f"the report's plots need matplotlib and rliable: {REPORT_EXTRA}"
        ) from exc
    return plt, plot_utils


def _palette(plt: Any, count: int) -> list[Any]:
    """One colour per algorithm, the same in every figure."""
    return [plt.get_cmap("tab10")(i % 10) for i in range(count)]


def _intervals(report: dict[str, Any], plot_utils: Any, score: str, colors: dict[str, Any]) -> Any:
    order = report["algorithms"]
    aggregates = report["aggregates"]
    points = {name: np.array([aggregates[name][m]["point"] for m in AGGREGATES]) for name in order}
    cis = {name: np.array([aggregates[name][m]["ci"] for m in AGGREGATES]).T for name in order}
    titles = [METRIC_TITLES[m] for m in AGGREGATES]
    # rliable draws the first algorithm at the bottom: reverse so the best one is on top.
    height = max(0.6 * len(order), 1.2)  # inches; the x label goes 0.5 inch below the axes
    figure, _ = plot_utils.plot_interval_estimates(
        points,
        cis,
        metric_names=titles,
        algorithms=order[::-1],
        colors=colors,
        xlabel=score,
        row_height=height / len(order),
        xlabel_y_coordinate=-0.55 / height,
        wspace=0.25,
    )
    return figure


def _improvement(report: dict[str, Any], plot_utils: Any) -> Any:
    pairs = report["probability_of_improvement"]
    keys = [f"{p['x']}{PAIR}{p['y']}" for p in pairs]
    points = {key: p["point"] for key, p in zip(keys, pairs, strict=True)}
    cis = {key: np.array(p["ci"]) for key, p in zip(keys, pairs, strict=True)}
    ax = plot_utils.plot_probability_of_improvement(
        points, cis, pair_separator=PAIR, figsize=(5, 0.6 + 0.5 * len(pairs))
    )
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    return ax.figure


def _profiles(report: dict[str, Any], plot_utils: Any, score: str, colors: dict[str, Any]) -> Any:
    data = report["performance_profiles"]
    curves = data["curves"]
    profiles = {name: np.array(curve["profile"]) for name, curve in curves.items()}
    cis = {name: np.array([curve["ci_low"], curve["ci_high"]]) for name, curve in curves.items()}
    ax = plot_utils.plot_performance_profiles(
        profiles,
        np.array(data["taus"]),
        performance_profile_cis=cis,
        colors=colors,
        figsize=(7, 4.5),
        xlabel=rf"{score} ($\tau$)",
        ylabel=r"Fraction of run-task scores $> \tau$",
        legend=True,
    )
    return ax.figure


def _sample_efficiency(
    report: dict[str, Any], plot_utils: Any, score: str, colors: dict[str, Any]
) -> Any:
    plt, _ = _plotting()
    figure, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in report["sample_efficiency"].items():
        points = {name: np.array([entry["point"] for entry in curve["iqm"]])}
        cis = {name: np.array([entry["ci"] for entry in curve["iqm"]]).T}
        plot_utils.plot_sample_efficiency_curve(
            curve["steps"],
            points,
            cis,
            ax=ax,
            colors=colors,
            xlabel="Training step",
            ylabel=f"IQM {score}",
        )
    ax.legend(fontsize="large")
    return figure


def render_markdown(report: dict[str, Any], plots: Sequence[str] = ()) -> str:
    """The report as Markdown: setup, aggregates, improvement, seed metrics, tasks, curves."""
    sections = [_setup(report), _aggregate_table(report), _poi_table(report), _seed_table(report)]
    sections += [_task_table(report), _curve_table(report)]
    sections.append("## Plots\n\n" + "\n".join(f"![{Path(p).stem}]({p})" for p in plots))
    return "\n\n".join(s for s in sections if s) + "\n"


def _setup(report: dict[str, Any]) -> str:
    options = report["options"]
    score = "strict success" if options["score"] == "success" else "shaped return"
    task_kind = "curriculum arm" if options["tasks"] == "arm" else "workflow category"
    runs = ", ".join(f"{name} {len(r)}" for name, r in report["runs"].items())
    lines = [
        "# Evaluation report",
        "",
        f"- Algorithms, best IQM first: {', '.join(report['algorithms'])}",
        f"- Score per (run, task): mean {score} over the cell's attempts",
        f"- Tasks ({task_kind}, {len(report['tasks'])}): {', '.join(report['tasks'])}",
        f"- Runs ({options['runs']}s): {runs}",
        f"- Intervals: stratified bootstrap (rliable), {options['reps']} reps, "
        f"{options['confidence']:.0%} CIs, seed {options['seed']}",
    ]
    for name, path in report["sources"].items():
        lines.append(f"- Log of {name}: `{path}`")
    if report["dropped_tasks"]:
        lines.append(f"- Left out (not tried by every run): {', '.join(report['dropped_tasks'])}")
    return "\n".join(lines)


def _cell(entry: dict[str, Any]) -> str:
    return f"{entry['point']:.3f} [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _aggregate_table(report: dict[str, Any]) -> str:
    header = ["algorithm", "runs", "IQM", "median", "mean", "optimality gap (lower is better)"]
    rows = [
        [
            name,
            len(report["runs"][name]),
            *(_cell(report["aggregates"][name][m]) for m in AGGREGATES),
        ]
        for name in report["algorithms"]
    ]
    return "## Aggregate scores\n\n" + _table(header, rows)


def _poi_table(report: dict[str, Any]) -> str:
    rows = [[p["x"], p["y"], _cell(p)] for p in report["probability_of_improvement"]]
    return (
        "## Probability of improvement\n\n" + _table(["X", "Y", "P(X > Y)"], rows) if rows else ""
    )


def _seed_table(report: dict[str, Any]) -> str:
    metrics = report["seed_metrics"]
    max_k = min(sum(key.startswith("metrics/pass_hat_") for key in m) for m in metrics.values())
    ks = sorted({k for k in (1, 2, 4, 8, 16, 32) if k < max_k} | {max_k})  # all k in the JSON
    keys = ["strict_success", "turn_level_success", "capability", "reward_signal", "shaped_return"]
    keys += [f"pass_hat_{k}" for k in ks] + [f"pass_at_{max_k}"]
    rows = []
    for name in report["algorithms"]:
        values = [metrics[name].get(f"metrics/{key}") for key in keys]
        rows.append(
            [name, metrics[name]["metrics/num_conversations"], *(_number(v) for v in values)]
        )
    rows += _ceiling_rows(report, keys)
    header = [
        "algorithm",
        "conversations",
        *(key.replace("_hat_", "^").replace("_at_", "@").replace("_", " ") for key in keys),
    ]
    title = "## Seed metrics (docs/arc-format.md, Scoring), last step\n\n"
    return title + _table(header, rows) + _ceiling_note(report)


def _ceiling_rows(report: dict[str, Any], keys: Sequence[str]) -> list[list[Any]]:
    """A perfect agent's values on each log's conversations (one row when the logs agree)."""
    tops = report.get("ceilings") or {}
    distinct = {json.dumps(top, sort_keys=True): name for name, top in tops.items()}
    rows = []
    for name in distinct.values():
        top = tops[name]
        label = "ceiling (perfect agent)" if len(distinct) == 1 else f"ceiling of {name}'s tasks"
        ceiling_keys = [re.sub(r"pass_(hat|at)_\d+", "pass_hat_k", key) for key in keys]
        rows.append([label, "", *(_number(top.get(f"ceiling/{key}")) for key in ceiling_keys)])
    return rows


def _ceiling_note(report: dict[str, Any]) -> str:
    tops = list((report.get("ceilings") or {}).values())
    if not tops:
        return ""
    planned = max(top["share/planned_failure"] for top in tops)
    floor = max(top["floor/reward_signal"] for top in tops)
    capped = report["options"]["score"] == "success" and planned > 0
    return (
        f"\n\nCeilings come from the data, not the agent: {planned:.0%} of the conversations plan "
        "a failure turn, which is never a strict success, and a conversation without a "
        f"success-path turn scores reward signal 1.0 whatever the agent does ({floor:.0%}: the "
        "reward signal of an agent that does nothing). Read each number against its ceiling"
        + (" (the aggregate scores above share strict success's)." if capped else ".")
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _task_table(report: dict[str, Any]) -> str:
    rows = [
        [task, *(_number(report["per_task"][n][task]) for n in report["algorithms"])]
        for task in report["tasks"]
    ]
    return "## Mean score per task\n\n" + _table(["task", *report["algorithms"]], rows)


def _curve_table(report: dict[str, Any]) -> str:
    curves = report["sample_efficiency"] or {}
    rows = [
        [name, step, _cell(curve["iqm"][i]), _cell(curve["mean"][i])]
        for name, curve in curves.items()
        for i, step in enumerate(curve["steps"])
    ]
    return (
        "## Sample efficiency\n\n" + _table(["algorithm", "step", "IQM", "mean"], rows)
        if rows
        else ""
    )
