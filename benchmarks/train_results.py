"""The learning evidence: GRPO (SEC and uniform) vs its warm start and policy-free baselines.

```
python -m benchmarks.train_results --seeds 5 [--preset cpu-args] [--steps N] [--out DIR] [--jobs 2]
```

1. **Base model**: the preset's tiny model and supervised warm start, once (``base/``, a run of
   0 GRPO steps, seed 0): every GRPO run starts from its ``initial/`` weights, as RL fine-tuning
   starts from one pretrained model.
2. **GRPO**: for seeds ``0..seeds-1``, the preset with the SEC bandit (its default) and with the
   uniform sampler, equal steps; the seed varies GRPO alone (rollouts, curriculum, sampling).
3. **Baselines** on the same held-out tasks under the same env settings
   (``benchmarks.train_baselines``): the ceiling (reference actions), random, best constant.
4. **Reproducibility**: seed 0 with SEC again on 2 CPU threads: another summation order, as
   another CPU has, so the gap says how far the numbers move across machines.

Scores are held-out success rates per task, greedy (temperature 0, one episode) and sampled
(the training temperature, ``eval_samples`` episodes), ``(runs, tasks)`` matrices; statistics
are ``benchmarks.train_stats``'s (rliable IQM, stratified-bootstrap CIs, probability of
improvement). Finished runs (``summary.json`` beside an ``args.json`` of the same settings) are
reused. Writes ``<out>/train_results.json``, ``docs/results.json``, ``docs/train_curve.png`` and
the "Trained tiny model" section of ``docs/results.md`` (``--no-docs``: only ``<out>``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import ReportOptions
from benchmarks.train_stats import (
    arm_shares,
    by_group,
    mean_ci,
    paired_by_seed,
    poi,
    task_gain,
    task_matrix,
)

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("bandit", "uniform")
MODES = ("greedy", "sampled")


def settings(preset: str | dict[str, Any], **changes: Any) -> Any:
    """The ``Args`` of a preset (a name, or its fields) with ``changes`` (``output_dir``...)."""
    from agents.presets import PRESETS
    from agents.train import Args

    fields = PRESETS[preset] if isinstance(preset, str) else preset
    return Args(**(dict(fields) | {"progress": False} | changes))


def base_run(preset: str | dict[str, Any], out: Path) -> tuple[Any, dict[str, Any]]:
    """The warm-started base model every GRPO run starts from: ``<out>/base``, 0 GRPO steps."""
    args = settings(preset, steps=0, seed=0, output_dir=str(out / "base"))
    return args, train_or_reuse(args)


def train_or_reuse(args: Any) -> dict[str, Any]:
    """A run's summary: reused when its directory holds one made with the same settings."""
    from agents.train import train

    run_dir = Path(args.output_dir)
    saved = run_dir / "summary.json"
    if saved.exists() and _settings(run_dir / "args.json") == _settings(asdict(args)):
        return json.loads(saved.read_text())
    summary = train(args)
    saved.write_text(json.dumps(summary, indent=1))
    return summary


def _settings(args: dict[str, Any] | Path) -> dict[str, Any] | None:
    """A run's settings without where it was written (``args.json`` when given a path)."""
    if isinstance(args, Path):
        if not args.exists():
            return None
        args = json.loads(args.read_text())
    plain = json.loads(json.dumps(args))  # as args.json holds it: tuples are lists there
    return {key: value for key, value in plain.items() if key not in ("output_dir", "progress")}


def grpo_settings(
    preset: str | dict[str, Any],
    base: Path,
    out: Path,
    variant: str,
    seed: int,
    steps: int | None,
    threads: int | None = None,
) -> Any:
    """A GRPO run from the base model: no warm start, the seed and curriculum given."""
    changes: dict[str, Any] = {
        "model": str(base / "initial"),
        "warm_start_steps": 0,
        "warm_start_conversations": 0,
        "seed": seed,
        "curriculum": variant,
    }
    if steps is not None:
        changes["steps"] = steps
    name = f"{variant}-s{seed}"
    if threads is not None:
        changes["num_threads"], name = threads, f"{name}-threads{threads}"
    return settings(preset, output_dir=str(out / name), **changes)


def held_out_tasks(args: Any) -> tuple[list[str], list[str], list[str], list[str]]:
    """The held-out task ids, their arms, skills and outcomes, in the evaluation's order.

    The outcome says what the task's reference does: every call succeeds, or one is a request
    the CRM refuses (an unknown id, an invalid stage...) answered by the expected error.
    """
    from agents.train_data import first_turn, run_tasks, task_arm
    from crm_gym.registration import plays_whole_conversations

    held_out = run_tasks(args)[1]
    whole = plays_whole_conversations(args.env_id)
    outcomes = [_outcome(c.turns if whole else c.turns[:1]) for c in held_out]
    arms = [task_arm(args.task_family, c) for c in held_out]
    return [first_turn(c) for c in held_out], arms, [str(c.skill) for c in held_out], outcomes


def _outcome(turns: list[Any]) -> str:
    return "success" if all(turn.expect_success for turn in turns) else "expected error"


def curve(run_dir: Path, summary: dict[str, Any]) -> dict[str, list[float]]:
    """Held-out success at step 0 (the base model) and at every evaluation, greedy and sampled."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evaluated = [r for r in rows if "eval/greedy_success_rate" in r]
    return {
        "steps": [0, *(r["step"] for r in evaluated)],
        "greedy": [
            summary["eval_greedy_success_before"],
            *(r["eval/greedy_success_rate"] for r in evaluated),
        ],
        "sampled": [summary["eval_success_before"], *(r["eval/success_rate"] for r in evaluated)],
        "rollout": [r["rollout/success_rate"] for r in rows],
    }


def collect(options: argparse.Namespace) -> dict[str, Any]:
    """Run (or reuse) the base, the GRPO runs, the baselines; return every raw result."""
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    preset = options.fields
    base_args, base = base_run(preset, out)
    log(
        f"base model: greedy {base['eval_greedy_success_before']:.3f} "
        f"sampled {base['eval_success_before']:.3f}"
    )
    planned = [(seed, variant) for seed in range(options.seeds) for variant in VARIANTS]
    all_args = [grpo_settings(preset, out / "base", out, v, s, options.steps) for s, v in planned]
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for (seed, variant), args, summary in zip(
        planned, all_args, run_all(all_args, options.jobs), strict=True
    ):
        run_dir = Path(args.output_dir)
        runs[variant].append(
            {"summary": summary, "curve": curve(run_dir, summary), "arm_rows": _rows(run_dir)}
        )
        log(
            f"seed {seed} {variant:<7} greedy {summary['eval_greedy_success_after']:.3f} "
            f"sampled {summary['eval_success_after']:.3f} ({summary['seconds']:.0f} s)"
        )
    threads = None
    if options.threads_check:
        args = grpo_settings(preset, out / "base", out, "bandit", 0, options.steps, 2)
        threads = train_or_reuse(args)
    return {"base_args": base_args, "base": base, "runs": runs, "threads": threads}


def run_all(all_args: list[Any], jobs: int) -> Iterator[dict[str, Any]]:
    """Each run's summary, in order; ``jobs`` runs at once in fresh processes.

    Every run sets its own thread count (``num_threads``), so a run gives the same numbers
    alone or beside others on the same machine, only later.
    """
    if jobs <= 1:
        yield from map(train_or_reuse, all_args)
        return
    context = multiprocessing.get_context("spawn")  # no forked torch state in the workers
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        yield from pool.map(train_or_reuse, all_args)


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def baselines(args: Any) -> dict[str, Any]:
    """Ceiling, random and best constant on the run's held-out tasks and env settings."""
    from benchmarks.train_baselines import best_constant, held_out_ceiling, random_success

    constant = best_constant(args)
    return {
        "ceiling": held_out_ceiling(args),
        "random": random_success(args, samples=args.eval_samples),
        "best_constant": constant,
    }


def analyse(raw: dict[str, Any], options: argparse.Namespace) -> dict[str, Any]:
    """The results: every named number of docs/results.json, from the raw runs."""
    args, base, runs = raw["base_args"], raw["base"], raw["runs"]
    tasks, arms, skills, outcomes = held_out_tasks(args)
    seeds = list(range(options.seeds))
    stats_options = ReportOptions(reps=options.reps, seed=0)
    reference = baselines(args)
    matrices: dict[str, np.ndarray] = {}
    for mode in MODES:
        matrices[f"warm_start_{mode}"] = task_matrix(
            [base["eval_tasks_before"][mode]] * len(seeds), tasks
        )
        for variant, name in (("bandit", "grpo"), ("uniform", "uniform")):
            per_run = [r["summary"]["eval_tasks_after"][mode] for r in runs[variant]]
            matrices[f"{name}_{mode}"] = task_matrix(per_run, tasks)
    constant = np.array([[reference["best_constant"]["per_task"][t] for t in tasks]] * len(seeds))
    results: dict[str, Any] = {
        "preset": options.preset,
        "seeds": seeds,
        "num_tasks": len(tasks),
        "reps": options.reps,
        "ceiling": reference["ceiling"],
        "random": reference["random"],
        "best_constant": {
            "mean": reference["best_constant"]["success"],
            "action": reference["best_constant"]["action"],
            "candidates": reference["best_constant"]["candidates"],
        },
    }
    results |= {name: mean_ci(name, m, stats_options) for name, m in matrices.items()}
    results |= _pois(matrices, constant, stats_options)
    greedy = {k.removesuffix("_greedy"): v for k, v in matrices.items() if k.endswith("_greedy")}
    results["per_arm"] = by_group(greedy | {"best_constant": constant}, arms)
    results["per_skill"] = by_group(greedy | {"best_constant": constant}, skills)
    results["per_outcome"] = by_group(greedy | {"best_constant": constant}, outcomes)
    results["arm_shares"] = {
        variant: _mean_shares([arm_shares(r["arm_rows"], sorted(set(arms))) for r in runs[v]])
        for v, variant in (("bandit", "grpo"), ("uniform", "uniform"))
    }
    results["task_gain"] = {
        name: task_gain(matrices[f"{name}_greedy"], matrices["warm_start_greedy"], options.reps)
        for name in ("grpo", "uniform")
    }
    results["paired_greedy"] = {
        "grpo": paired_by_seed(matrices["grpo_greedy"], matrices["warm_start_greedy"]),
        "uniform": paired_by_seed(matrices["uniform_greedy"], matrices["warm_start_greedy"]),
    }
    results["curves"] = {v: [r["curve"] for r in runs[v]] for v in VARIANTS}
    results["reproducibility"] = _reproducibility(runs["bandit"][0]["summary"], raw["threads"])
    results["seconds"] = {
        "base": base["seconds"],
        **{v: [r["summary"]["seconds"] for r in runs[v]] for v in VARIANTS},
    }
    results["settings"] = {key: getattr(args, key) for key in _REPORTED}
    results["settings"]["steps"] = runs["bandit"][0]["summary"]["steps"]  # the base ran 0
    return results


_REPORTED = (
    "env_id",
    "task_family",
    "num_conversations",
    "num_eval_tasks",
    "eval_samples",
    "steps",
    "warm_start_steps",
    "warm_start_conversations",
    "tiny_hidden_size",
    "tiny_num_layers",
    "reward_mode",
    "max_env_steps",
    "prompts_per_step",
    "group_size",
    "lr",
    "temperature",
)


def _pois(
    matrices: dict[str, np.ndarray], constant: np.ndarray, options: ReportOptions
) -> dict[str, Any]:
    """The probabilities of improvement the issue names, greedy unless the key says sampled."""
    m = matrices
    return {
        "poi_grpo_vs_warm_start": poi(
            "grpo>warm", m["grpo_greedy"], m["warm_start_greedy"], options
        ),
        "poi_grpo_vs_best_constant": poi("grpo>constant", m["grpo_greedy"], constant, options),
        "poi_sec_vs_uniform": poi("sec>uniform", m["grpo_greedy"], m["uniform_greedy"], options),
        "poi_uniform_vs_warm_start": poi(
            "uniform>warm", m["uniform_greedy"], m["warm_start_greedy"], options
        ),
        "poi_grpo_vs_warm_start_sampled": poi(
            "grpo>warm sampled", m["grpo_sampled"], m["warm_start_sampled"], options
        ),
    }


def _mean_shares(per_run: list[dict[str, float]]) -> dict[str, float]:
    return {arm: float(np.mean([run[arm] for run in per_run])) for arm in per_run[0]}


def _reproducibility(single: dict[str, Any], threads: dict[str, Any] | None) -> dict[str, Any]:
    """Seed 0 with SEC on 1 and on 2 threads: the same run in another summation order."""
    if threads is None:
        return {}
    keys = ("eval_greedy_success_after", "eval_success_after")
    return {
        "one_thread": {k: single[k] for k in keys},
        "two_threads": {k: threads[k] for k in keys},
        "max_abs_gap": max(abs(single[k] - threads[k]) for k in keys),
    }


def preset_fields(name: str, changes: list[str]) -> dict[str, Any]:
    """The preset's fields with the ``--set`` changes applied."""
    from agents.presets import PRESETS
    from agents.train_args import parse_set

    return dict(PRESETS[name]) | dict(map(parse_set, changes))


def log(message: str) -> None:
    """Progress on stderr (stdout ends with the JSON line)."""
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run (or reuse) everything, write the JSON files, the figure and the doc section."""
    from benchmarks.train_report import write_docs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--preset", default="cpu-args")
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps (the preset's)")
    parser.add_argument("--out", default="runs/train_results")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap repetitions")
    parser.add_argument(
        "--jobs", type=int, default=1, help="GRPO runs at once (one per core: the same numbers)"
    )
    parser.add_argument(
        "--no-threads-check",
        dest="threads_check",
        action="store_false",
        help="skip the 2-thread rerun of seed 0",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a preset field (smaller runs; the docs say so)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    options = parser.parse_args(argv)
    options.fields = preset_fields(options.preset, options.set)
    results = analyse(collect(options), options)
    results["command"] = "python -m benchmarks.train_results " + " ".join(argv or sys.argv[1:])
    text = json.dumps(results, indent=1)
    (Path(options.out) / "train_results.json").write_text(text)
    if not options.no_docs:
        write_docs(results, ROOT / "docs")
    keys = (
        "ceiling",
        "random",
        "best_constant",
        "warm_start_greedy",
        "grpo_greedy",
        "uniform_greedy",
        "poi_grpo_vs_warm_start",
        "poi_sec_vs_uniform",
    )
    print(json.dumps({key: results[key] for key in keys}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
