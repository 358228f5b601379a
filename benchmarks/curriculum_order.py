"""Does the order of the curriculum matter? Easy-to-hard vs hard-to-easy, then SEC and uniform.

```
python -m benchmarks.curriculum_order --seeds 5 [--preset cpu-args] [--out DIR] [--jobs 2]
```

Issue #19 asks for the curriculum claim to be tested where order matters: hard arms learnable
only after easy ones are. This runs the evidence preset's GRPO from the same warm-started base
model (``benchmarks.train_results``: ``<out>/base``, trained there if missing) with two fixed
orders of the same arms, each arm an equal share of the steps (``agents.train_setup``:
``easy_to_hard``, ``hard_to_easy``), next to the SEC and uniform runs of the evidence run (reused
from ``<out>``, trained if missing). If easy-first beats hard-first, on the hard arms above all,
order matters in this setting, and SEC vs uniform there says whether the bandit finds the order.
Greedy held-out success per difficulty, probability of improvement with stratified-bootstrap CIs
(``benchmarks.train_stats``). Finished runs are reused. Writes ``<out>/curriculum_order.json``
and the "Curriculum order" section of ``docs/results.md`` (``--no-docs``: only ``<out>``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import ReportOptions
from benchmarks.train_report import add_section, replace_section
from benchmarks.train_results import (
    ROOT,
    base_run,
    grpo_settings,
    held_out_tasks,
    log,
    preset_fields,
    run_all,
)
from benchmarks.train_stats import by_group, mean_ci, poi, task_matrix
from curricula.arms import DEFAULT_DIFFICULTIES

ORDERS = ("easy_to_hard", "hard_to_easy")
VARIANTS = (*ORDERS, "bandit", "uniform")
LABELS = {
    "warm_start": "warm start",
    "easy_to_hard": "easy to hard",
    "hard_to_easy": "hard to easy",
    "bandit": "SEC",
    "uniform": "uniform",
}
SECTION = "## Curriculum order"


def collect(options: argparse.Namespace) -> dict[str, Any]:
    """The base model's summary and each variant's per-seed summaries (run or reused)."""
    out = Path(options.out)
    base_args, base = base_run(options.fields, out)
    planned = [(v, s) for s in range(options.seeds) for v in VARIANTS]
    all_args = [grpo_settings(options.fields, out / "base", out, v, s, None) for v, s in planned]
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for (variant, seed), summary in zip(planned, run_all(all_args, options.jobs), strict=True):
        runs[variant].append(summary)
        log(f"seed {seed} {variant:<12} greedy {summary['eval_greedy_success_after']:.3f}")
    return {"base_args": base_args, "base": base, "runs": runs}


def analyse(raw: dict[str, Any], options: argparse.Namespace) -> dict[str, Any]:
    """Greedy held-out success per difficulty and the probabilities of improvement."""
    tasks, arms, _, _ = held_out_tasks(raw["base_args"])
    difficulty = [arm.rsplit("-", 1)[-1] for arm in arms]
    hard = [j for j, name in enumerate(difficulty) if name == "hard"]
    stats = ReportOptions(reps=options.reps, seed=0)
    greedy = {
        v: task_matrix([r["eval_tasks_after"]["greedy"] for r in runs], tasks)
        for v, runs in raw["runs"].items()
    }
    greedy["warm_start"] = task_matrix(
        [raw["base"]["eval_tasks_before"]["greedy"]] * options.seeds, tasks
    )
    pairs = (("easy_to_hard", "hard_to_easy"), ("bandit", "uniform"), ("easy_to_hard", "uniform"))
    return {
        "preset": options.preset,
        "seeds": options.seeds,
        "num_tasks": len(tasks),
        "hard_tasks": len(hard),
        "greedy": {v: mean_ci(v, m, stats) for v, m in greedy.items()},
        "per_difficulty": by_group(greedy, difficulty),
        "poi": {f"{x}>{y}": poi(f"{x}>{y}", greedy[x], greedy[y], stats) for x, y in pairs},
        "poi_hard": {
            f"{x}>{y}": poi(f"{x}>{y} hard", greedy[x][:, hard], greedy[y][:, hard], stats)
            for x, y in pairs
        }
        if hard
        else {},
    }


def verdict(p: dict[str, Any]) -> str:
    """Above, below or no difference, read from the CI of P(X > Y)."""
    lo, hi = p["ci"]
    if lo > 0.5:
        return "better"
    return "worse" if hi < 0.5 else "no difference shown"


def markdown(results: dict[str, Any], command: str) -> str:
    """The body of the "Curriculum order" section; every verdict computed from a CI."""
    order = ("warm_start", *VARIANTS)
    lines = [
        "",
        "Made by one command (finished runs of the evidence run are reused):",
        "",
        f"```\n{command}\n```",
        "",
        f"The evidence preset (`{results['preset']}`), its warm-started base model and its "
        f"{results['num_tasks']} held-out tasks ({results['hard_tasks']} on hard arms), "
        f"{results['seeds']} seeds per curriculum; easy to hard and hard to easy give each arm "
        "an equal share of the steps, one arm a step, in opposite orders. Greedy held-out "
        "success per difficulty of the call:",
        "",
        "| difficulty | tasks | " + " | ".join(LABELS[v] for v in order) + " |",
        "|---" * (len(order) + 2) + "|",
    ]
    rank = {name: i for i, name in enumerate(DEFAULT_DIFFICULTIES)}
    for group, row in sorted(results["per_difficulty"].items(), key=lambda g: rank[g[0]]):
        cells = " | ".join(f"{row[v]:.3f}" for v in order)
        lines.append(f"| {group} | {int(row['n'])} | {cells} |")
    lines += ["", "| X vs Y (greedy) | P(X > Y), all tasks | hard tasks | verdict (all) |"]
    lines.append("|---|---|---|---|")
    for key, p in results["poi"].items():
        x, y = key.split(">")
        hard = results["poi_hard"].get(key)
        hard_cell = f"{hard['p']:.3f} [{hard['ci'][0]:.3f}, {hard['ci'][1]:.3f}]" if hard else "-"
        lines.append(
            f"| {LABELS[x]} vs {LABELS[y]} | {p['p']:.3f} [{p['ci'][0]:.3f}, {p['ci'][1]:.3f}] "
            f"| {hard_cell} | {verdict(p)} |"
        )
    lines += ["", *reading(results), ""]
    return "\n".join(lines)


def reading(results: dict[str, Any]) -> list[str]:
    """What the table says about order, computed from its CIs."""
    order = results["poi"]["easy_to_hard>hard_to_easy"]
    hard = results["poi_hard"].get("easy_to_hard>hard_to_easy")
    hard_means = results["per_difficulty"].get("hard", {})
    matters = verdict(order) != "no difference shown" or (
        hard is not None and verdict(hard) != "no difference shown"
    )
    first = (
        "- **Order matters here**: easy to hard and hard to easy differ (CI excludes 0.5)."
        if matters
        else "- **No order effect shown**: easy to hard vs hard to easy, P = "
        f"{order['p']:.3f} (CI contains 0.5)"
        + (f"; on hard arms P = {hard['p']:.3f}" if hard else "")
        + ". This setting is not one where order matters, so it cannot test whether SEC "
        "finds a good order."
    )
    solved = max((hard_means.get(v, 0.0) for v in VARIANTS), default=0.0)
    return [
        first,
        f"- Hard arms: the best curriculum reaches {solved:.3f} greedy success on them "
        + (
            "(none learns them in this budget, whatever the order)."
            if solved == 0
            else "(see the table for which)."
        ),
        f"- SEC vs uniform: {verdict(results['poi']['bandit>uniform'])}.",
    ]


def write_docs(results: dict[str, Any], command: str, docs: Path) -> None:
    """The section of ``docs/results.md``, added after the trained-model sections if missing."""
    doc = docs / "results.md"
    text = doc.read_text()
    if f"\n{SECTION}\n" not in text:
        text = add_section(text, SECTION)
    doc.write_text(replace_section(text, markdown(results, command), SECTION))


def main(argv: list[str] | None = None) -> int:
    """Run (or reuse) every curriculum's runs, print the JSON line, write the doc section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--preset", default="cpu-args")
    parser.add_argument("--out", default="runs/train_results")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap repetitions")
    parser.add_argument("--jobs", type=int, default=1, help="GRPO runs at once")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    options = parser.parse_args(argv)
    options.fields = preset_fields(options.preset, options.set)
    results = analyse(collect(options), options)
    command = "python -m benchmarks.curriculum_order " + " ".join(argv or sys.argv[1:])
    (Path(options.out) / "curriculum_order.json").write_text(json.dumps(results, indent=1))
    if not options.no_docs:
        write_docs(results, command, ROOT / "docs")
    print(json.dumps({"poi": results["poi"], "poi_hard": results["poi_hard"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
