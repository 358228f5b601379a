"""Trained tiny model: GRPO (cpu-tiny) vs its warm start, SEC vs uniform, over seeds.

```
python -m benchmarks.train_results [--seeds 5] [--steps N] [--out runs/train_results]
```

For seeds ``0..seeds-1`` it runs the ``cpu-tiny`` preset twice (``curriculum="bandit"``, the
preset's SEC, and ``curriculum="uniform"``, same steps), one run at a time, and reads each run's
held-out results per task (``eval_task_rewards_before``: after the warm start, before GRPO;
``eval_task_rewards_after``). The preset fixes ``data_seed`` and ``base_seed`` at 0, so every
run has the same tasks, the same held-out set and the same base model (the tiny model's weights
and its warm start): score matrices are ``(runs, held-out tasks)`` with one task per column,
"before" is one model, and the seeds vary GRPO alone (rollouts, curriculum, sampling).
Statistics are ``benchmarks.report``'s: rliable's stratified bootstrap with numpy's global RNG
seeded per estimate and restored, so the same runs give the same numbers.

Finished runs (``summary.json`` in their directory, made with the settings that ``args.json``
there records) are reused; an interrupted one resumes from its checkpoint. Writes
``<out>/train_results.json``, ``docs/train_curve.png`` and the body of the "Trained tiny model"
section of ``docs/results.md`` (``--no-docs`` skips the docs).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import (
    ReportOptions,
    aggregate_scores,
    interval,
    probability_of_improvement,
)

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("bandit", "uniform")
LABELS = {"bandit": "SEC (softmax bandit)", "uniform": "uniform sampler"}
SECTION = "## Trained tiny model"


def run_one(variant: str, seed: int, steps: int | None, out: Path) -> dict[str, Any]:
    """One ``cpu-tiny`` run (or its saved summary when it already finished)."""
    from agents.presets import PRESETS
    from agents.train import Args, train

    run_dir = out / f"{variant}-s{seed}"
    saved = run_dir / "summary.json"
    values = dict(PRESETS["cpu-tiny"]) | {"seed": seed, "curriculum": variant}
    if steps is not None:
        values["steps"] = steps
    args = Args(**values, output_dir=str(run_dir), progress=False)
    if saved.exists() and _settings(run_dir / "args.json") == _settings(asdict(args)):
        return json.loads(saved.read_text())  # the same settings: reuse the finished run
    summary = train(args)
    saved.write_text(json.dumps(summary, indent=1))
    return summary


def _settings(args: dict[str, Any] | Path) -> dict[str, Any] | None:
    """A run's settings without where it was written (``args.json`` when given a path)."""
    if isinstance(args, Path):
        if not args.exists():
            return None
        args = json.loads(args.read_text())
    return {key: value for key, value in args.items() if key != "output_dir"}


def task_matrix(summaries: list[dict[str, Any]], key: str) -> np.ndarray:
    """``(runs, slots)``: each run's held-out task rewards in its task order."""
    rows = [list(s[key].values()) for s in summaries]
    width = min(map(len, rows))
    return np.array([row[:width] for row in rows], dtype=float)


def mean_ci(name: str, scores: np.ndarray, options: ReportOptions) -> dict[str, Any]:
    """Mean and IQM over (runs, tasks) with stratified-bootstrap CIs."""
    point, ci = interval(("aggregates", name), scores, aggregate_scores, options)
    return {
        "mean": float(point[2]),
        "mean_ci": [float(ci[0, 2]), float(ci[1, 2])],
        "iqm": float(point[0]),
        "iqm_ci": [float(ci[0, 0]), float(ci[1, 0])],
    }


def poi(x_name: str, x: np.ndarray, y_name: str, y: np.ndarray, options: ReportOptions) -> dict:
    """P(X > Y) (ties half) with its CI, as ``crm-gym report`` computes it."""
    point, ci = interval(("poi", x_name, y_name), [x, y], probability_of_improvement, options)
    return {"x": x_name, "y": y_name, "point": float(point[0]),
            "ci": [float(ci[0, 0]), float(ci[1, 0])]}  # fmt: skip


def curves(out: Path, variant: str, seeds: list[int]) -> dict[str, Any]:
    """Rollout reward per step and held-out reward per evaluation, one row per seed."""
    rollout, evals, eval_steps = [], [], []
    for seed in seeds:
        run_dir = out / f"{variant}-s{seed}"
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        summary = json.loads((run_dir / "summary.json").read_text())
        rollout.append([r["rollout/reward_mean"] for r in rows])
        points = [(0, float(np.mean(list(summary["eval_task_rewards_before"].values()))))]
        points += [(r["step"], r["eval/reward_mean"]) for r in rows if "eval/reward_mean" in r]
        eval_steps = [p[0] for p in points]
        evals.append([p[1] for p in points])
    return {"rollout": np.array(rollout), "eval": np.array(evals), "eval_steps": eval_steps}


def smooth(rows: np.ndarray, window: int = 5) -> np.ndarray:
    """Trailing moving average along steps (the first steps average what they have)."""
    cumulative = np.cumsum(rows, axis=1)
    shifted = np.pad(cumulative, ((0, 0), (window, 0)))[:, : rows.shape[1]]
    counts = np.minimum(np.arange(1, rows.shape[1] + 1), window)
    return (cumulative - shifted) / counts


def plot(curve: dict[str, dict[str, Any]], path: Path) -> None:
    """Mean over seeds with +-1 std bands: rollout reward (5-step average), held-out reward.

    Held-out markers sit at step 0 (after the warm start) and at every evaluation.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.4))
    for k, (variant, color) in enumerate(zip(VARIANTS, ("tab:blue", "tab:orange"), strict=True)):
        data = curve[variant]
        rollout = smooth(data["rollout"])
        steps = np.arange(1, rollout.shape[1] + 1)
        mean, std = rollout.mean(axis=0), rollout.std(axis=0)
        axis.plot(steps, mean, color=color, lw=1, label=f"{LABELS[variant]}: rollout (avg 5)")
        axis.fill_between(steps, mean - std, mean + std, color=color, alpha=0.12, lw=0)
        evals = data["eval"]
        x = np.asarray(data["eval_steps"]) + (0.4 if k else -0.4)
        axis.errorbar(x, evals.mean(axis=0), yerr=evals.std(axis=0), fmt="o--", color=color,
                      capsize=3, lw=1.5, label=f"{LABELS[variant]}: held-out")  # fmt: skip
    axis.set_xlabel("GRPO step (0 = after the warm start)")
    axis.set_ylabel("mean reward (binary)")
    axis.set_ylim(-0.02, 1.02)
    axis.legend(fontsize=7, loc="upper left")
    seeds = curve["bandit"]["rollout"].shape[0]
    axis.set_title(f"cpu-tiny, mean of {seeds} seeds, band/bars: +-1 std across seeds",
                   fontsize=9)  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=72)
    plt.close(figure)


def _ci(values: list[float]) -> str:
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def markdown(results: dict[str, Any], command: str) -> str:
    """The body of the "Trained tiny model" section."""
    seeds, per_seed = results["seeds"], results["per_seed"]
    stats, pois = results["stats"], results["poi"]
    lines = [
        "",
        "Made by a script (one run at a time; a run's training took a median of "
        f"{np.median([t for v in VARIANTS for t in results['seconds'][v]]):.0f} s on a shared "
        "2-core CPU):",
        "",
        "```",
        command,
        "```",
        "",
        f"`crm-gym train --preset cpu-tiny --seed S` for S = {', '.join(map(str, seeds))} "
        f"({results['warm_start_steps']} supervised warm-start steps, then "
        f"{results['steps']} GRPO steps, SEC bandit: the preset's default), and the same "
        'with `--set curriculum="uniform"` (the uniform sampler, equal steps). Scores are '
        f"held-out mean rewards (binary reward, {results['eval_samples']} sampled episodes "
        f"per task, {results['num_tasks']} held-out `noarg` tasks, the same in every run). "
        "**before** = the base model: the tiny model after its warm start, before GRPO. The "
        "preset fixes `data_seed` and `base_seed` at 0, so every run, of either curriculum, "
        "starts from the same base model on the same tasks and the same held-out set; the seed "
        "varies GRPO alone (rollout tasks, curriculum, sampling), as seeds do when one "
        f"pretrained model is fine-tuned. Code: commit `{results['commit']}`.",
        "",
        "| seed | before (warm start) | after GRPO, SEC | after GRPO, uniform |",
        "|---|---|---|---|",
    ]
    for row in per_seed:
        lines.append(f"| {row['seed']} | {row['before']:.3f} | {row['after_bandit']:.3f} "
                     f"| {row['after_uniform']:.3f} |")  # fmt: skip
    lines += [
        "",
        "Aggregates over the `(runs=5, tasks)` matrices, 95% stratified-bootstrap CIs "
        f"(rliable, {results['reps']} reps, `benchmarks.report.interval`):",
        "",
        "| policy | mean | 95% CI | IQM | 95% CI |",
        "|---|---|---|---|---|",
    ]
    names = {"before": "warm start (before GRPO)", "bandit": "GRPO, SEC",
             "uniform": "GRPO, uniform"}  # fmt: skip
    for key, label in names.items():
        s = stats[key]
        lines.append(f"| {label} | {s['mean']:.3f} | {_ci(s['mean_ci'])} | {s['iqm']:.3f} "
                     f"| {_ci(s['iqm_ci'])} |")  # fmt: skip
    lines += [
        "",
        "Probability of improvement P(X > Y) (rliable, ties count half), 95% CI:",
        "",
        "| X | Y | P(X > Y) | 95% CI | CI above 0.5 |",
        "|---|---|---|---|---|",
    ]
    for p in pois:
        above = "yes" if p["ci"][0] > 0.5 else "**no**"
        lines.append(f"| {names[p['x']]} | {names[p['y']]} | {p['point']:.3f} | {_ci(p['ci'])} "
                     f"| {above} |")  # fmt: skip
    lines += ["", "![mean reward over GRPO steps, 5 seeds](train_curve.png)", ""]
    lines += [f"{line}" for line in results["notes"]]
    lines.append("")
    return "\n".join(lines)


def notes(results: dict[str, Any]) -> list[str]:
    """What the numbers say, written from them (so the text cannot disagree with the table)."""
    stats, pois = results["stats"], {(p["x"], p["y"]): p for p in results["poi"]}
    gain = pois[("bandit", "before")]
    sec = pois[("bandit", "uniform")]
    up = stats["bandit"]["mean"] > stats["before"]["mean"]
    out = [
        f"- **GRPO vs warm start (SEC)**: mean held-out reward {stats['before']['mean']:.3f} -> "
        f"{stats['bandit']['mean']:.3f} ({'higher' if up else 'not higher'}); the probability "
        f"of improvement is {gain['point']:.3f} with 95% CI {_ci(gain['ci'])}, "
        + ("above 0.5: the requirement holds."
           if gain["ci"][0] > 0.5 else "**not above 0.5: the requirement does not hold here**."),
        f"- **SEC vs uniform at equal steps**: P(SEC > uniform) = {sec['point']:.3f}, 95% CI "
        f"{_ci(sec['ci'])}; "
        + ("SEC is better." if sec["ci"][0] > 0.5 else
           "uniform is better." if sec["ci"][1] < 0.5 else
           "the CI contains 0.5: no difference is shown at this scale."),
        f"- Paired by seed (after - before): SEC improved in {results['improved']['bandit']} "
        f"of {len(results['seeds'])} seeds, uniform in {results['improved']['uniform']}. "
        f"Differences: SEC "
        f"{', '.join(f'{d:+.3f}' for d in results['paired']['bandit'])}; uniform "
        f"{', '.join(f'{d:+.3f}' for d in results['paired']['uniform'])}.",
        f"- Caveats: one base model and one task set ({results['num_tasks']} held-out tasks): "
        "the result says what GRPO's seeds do from this start, not how it varies over base "
        "models; task scores are means of a binary reward over "
        f"{results['eval_samples']} samples, hence many ties; held-out episodes sample at "
        "temperature 1 from the data seed's draws, the same before and after GRPO (common "
        "random numbers).",
    ]  # fmt: skip
    if gain["ci"][0] <= 0.5:
        out.append(
            "- Not tuned to chase the number. What would tighten it: more seeds, more GRPO "
            "steps, more held-out samples per task."
        )
    return out


def replace_section(text: str, body: str) -> str:
    """``text`` with the body of the "Trained tiny model" section replaced (to the next ##)."""
    pattern = re.compile(rf"(^{re.escape(SECTION)}\n)(.*?)(?=^## |\Z)", re.S | re.M)
    if not pattern.search(text):
        raise ValueError(f"no '{SECTION}' section")
    return pattern.sub(lambda m: m.group(1) + body + "\n", text, count=1)


def _commit() -> str:
    import subprocess

    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    """Run (or reuse) the runs, compute the statistics, write the JSON, figure and doc."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps (preset's: 40)")
    parser.add_argument("--out", default="runs/train_results")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap repetitions")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    options = parser.parse_args(argv)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(options.seeds))
    summaries: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for seed in seeds:
        for variant in VARIANTS:
            tick = time.perf_counter()
            summary = run_one(variant, seed, options.steps, out)
            summaries[variant].append(summary)
            print(f"seed {seed} {variant:<7} before {summary['eval_reward_before']:.3f} "
                  f"after {summary['eval_reward_after']:.3f} "
                  f"({time.perf_counter() - tick:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
    before = task_matrix(summaries["bandit"], "eval_task_rewards_before")
    before_uniform = task_matrix(summaries["uniform"], "eval_task_rewards_before")
    same_start = bool(np.array_equal(before, before_uniform))
    after = {v: task_matrix(summaries[v], "eval_task_rewards_after") for v in VARIANTS}
    report_options = ReportOptions(reps=options.reps, seed=0)
    stats = {"before": mean_ci("before", before, report_options)}
    stats |= {v: mean_ci(v, after[v], report_options) for v in VARIANTS}
    pois = [
        poi("bandit", after["bandit"], "before", before, report_options),
        poi("uniform", after["uniform"], "before", before_uniform, report_options),
        poi("bandit", after["bandit"], "uniform", after["uniform"], report_options),
    ]
    from agents.presets import PRESETS

    preset = PRESETS["cpu-tiny"]
    results: dict[str, Any] = {
        "seeds": seeds,
        "commit": _commit(),
        "steps": options.steps or preset["steps"],
        "warm_start_steps": preset["warm_start_steps"],
        "eval_samples": preset["eval_samples"],
        "num_tasks": int(before.shape[1]),
        "reps": options.reps,
        "same_start": same_start,
        "per_seed": [
            {
                "seed": s,
                "before": float(before[i].mean()),
                "after_bandit": float(after["bandit"][i].mean()),
                "after_uniform": float(after["uniform"][i].mean()),
            }
            for i, s in enumerate(seeds)
        ],  # fmt: skip
        "paired": {v: (after[v].mean(axis=1) - before.mean(axis=1)).tolist() for v in VARIANTS},
        "improved": {v: int(np.sum(after[v].mean(axis=1) > before.mean(axis=1))) for v in VARIANTS},
        "stats": stats,
        "poi": pois,
        "seconds": {v: [s["seconds"] for s in summaries[v]] for v in VARIANTS},
    }
    results["notes"] = notes(results)
    (out / "train_results.json").write_text(json.dumps(results, indent=1))
    command = "python -m benchmarks.train_results --seeds " + str(options.seeds)
    if options.steps is not None:
        command += f" --steps {options.steps}"
    body = markdown(results, command)
    if not options.no_docs:
        plot({v: curves(out, v, seeds) for v in VARIANTS}, ROOT / "docs" / "train_curve.png")
        doc = ROOT / "docs" / "results.md"
        doc.write_text(replace_section(doc.read_text(), body))
    print(body)
    print(json.dumps({k: results[k] for k in ("per_seed", "stats", "poi", "same_start")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
