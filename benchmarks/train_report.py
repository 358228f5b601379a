"""The evidence run's outputs: ``docs/results.json``, ``docs/train_curve.png`` and its section.

Every sentence with a number is written from ``benchmarks.train_results``' results, so the text
cannot disagree with the tables; the verdicts (above 0.5 or not) are computed, not typed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from crm_gym.registration import plays_whole_conversations

SECTION = "## Trained tiny model"
LABELS = {"bandit": "GRPO + SEC", "uniform": "GRPO + uniform"}
ROWS = (
    ("random", "random (RandomPolicy, sampled)"),
    ("best_constant", "best constant action"),
    ("warm_start_sampled", "warm start, sampled"),
    ("warm_start_greedy", "warm start, greedy"),
    ("uniform_sampled", "GRPO + uniform, sampled"),
    ("uniform_greedy", "GRPO + uniform, greedy"),
    ("grpo_sampled", "GRPO + SEC, sampled"),
    ("grpo_greedy", "GRPO + SEC, greedy"),
    ("ceiling", "ceiling (reference actions)"),
)


EVIDENCE_PRESET = "cpu-args"
"""The preset of the single-turn evidence: its files keep the plain names."""
TASKS = {
    "args": "first requests whose call must copy values from the request (ids, names, amounts, "
    "stages, dates, file names) and that the reference call passes on its own (one action, no "
    "reply).",
    "chain": "the first two turns of conversations whose second request acts on what the first "
    "turn's call returned (the id of the client just found, the deal just created; the second "
    "request never states it), each turn played with two actions (the call, then a reply "
    "stating what the result holds): passing needs all four right.",
}
"""What a task of each family is, for the section's first paragraph."""


def doc_names(preset: str) -> tuple[str, str, str]:
    """(section heading, results JSON file, figure file) of a preset's evidence run."""
    if preset == EVIDENCE_PRESET:
        return SECTION, "results.json", "train_curve.png"
    return f"{SECTION}, `{preset}`", f"results-{preset}.json", f"train_curve-{preset}.png"


def write_docs(results: dict[str, Any], docs: Path) -> None:
    """The results JSON, the figure, and the preset's section of ``results.md`` (in place).

    A preset's first run adds its section after the other "Trained tiny model" sections.
    """
    section, data, figure = doc_names(results["preset"])
    (docs / data).write_text(json.dumps(results, indent=1) + "\n")
    plot(results, docs / figure)
    doc = docs / "results.md"
    body = markdown(results, figure)
    text = doc.read_text()
    if f"\n{section}\n" not in text:
        text = add_section(text, section)
    doc.write_text(replace_section(text, body, section))


def add_section(text: str, section: str) -> str:
    """``text`` with an empty ``section`` after the last "Trained tiny model" section."""
    starts = [m.start() for m in re.finditer(rf"^{re.escape(SECTION)}", text, re.M)]
    if not starts:
        raise ValueError(f"no '{SECTION}' section")
    following = re.compile(r"^## ", re.M).search(text, starts[-1] + 1)
    cut = following.start() if following else len(text)
    return f"{text[:cut].rstrip()}\n\n{section}\n\n{text[cut:]}"


def _cell(value: Any) -> tuple[str, str, str]:
    """(mean, 95% CI, IQM) cells of a number or a ``{"mean", "ci", "iqm"}`` estimate."""
    if isinstance(value, dict) and "ci" in value:
        lo, hi = value["ci"]
        iqm = f"{value['iqm']:.3f}" if "iqm" in value else ""
        return f"{value['mean']:.3f}", f"[{lo:.3f}, {hi:.3f}]", iqm
    number = value["mean"] if isinstance(value, dict) else value
    return f"{number:.3f}", "(exact)", ""


def _poi_line(label: str, p: dict[str, Any]) -> str:
    lo, hi = p["ci"]
    verdict = "yes" if lo > 0.5 else "**no**"
    return f"| {label} | {p['p']:.3f} | [{lo:.3f}, {hi:.3f}] | {verdict} |"


def markdown(results: dict[str, Any], figure: str = "train_curve.png") -> str:
    """The body of a "Trained tiny model" section (``figure``: its curve's file in docs/)."""
    s = results["settings"]
    seeds = len(results["seeds"])
    warmed = "the first two turns" if s["task_family"] == "chain" else "the first requests"
    lines = [
        "",
        f"Made by one command (about {_minutes(results)} minutes on this shared 2-core CPU):",
        "",
        "```",
        results["command"].strip(),
        "```",
        "",
        f"**Tasks** (`{s['task_family']}` family, preset `{results['preset']}`): "
        f"{TASKS.get(s['task_family'], '')} {results['num_tasks']} held-out tasks come from the "
        "generator's held-out side (request patterns and company, person and owner names never "
        "used in training or in the warm start, `crm_gym.generator.holdout`), balanced across "
        f"the curriculum's arms. **Model**: the offline tiny Qwen3 (hidden "
        f"{s['tiny_hidden_size']}, {s['tiny_num_layers']} layers), warm-started with "
        f"{s['warm_start_steps']} supervised steps on {warmed} of "
        f"{s['warm_start_conversations']} other training-side conversations, then {s['steps']} "
        f"GRPO steps ({s['prompts_per_step']} tasks x "
        f"{s['group_size']} samples a step, {s['reward_mode']} reward, lr {s['lr']}) on the "
        "training tasks, with the SEC bandit and with the uniform sampler, "
        f"{seeds} seeds each, all from the same warm-started model. **Scores**: held-out "
        "success (the env's `passed`), greedy = one episode at temperature 0, sampled = "
        f"{s['eval_samples']} episodes at temperature {s['temperature']}. "
        f"**Ceiling**: the reference actions under the evaluation's env settings score "
        f"{results['ceiling']:.3f}.",
        "",
        "| policy | mean success | 95% CI | IQM |",
        "|---|---|---|---|",
    ]
    for key, label in ROWS:
        mean, ci, iqm = _cell(results[key])
        lines.append(f"| {label} | {mean} | {ci} | {iqm} |")
    constant = results["best_constant"]
    lines += [
        "",
        f"The best constant action is the best of {constant['candidates']} candidates (every "
        "training task's reference call, every tool with `{}`, the answer `Done.`) scored on "
        f"the held-out set itself: `{constant['action'][:120]}`. CIs: rliable's stratified "
        f"bootstrap ({results['reps']:,} reps), which resamples runs within each task: they "
        "measure the seed-to-seed spread on these tasks (the warm start and the baselines are "
        "one policy each: zero width), not which tasks were drawn; the task-resampled interval "
        "of the gain follows the next table. The IQM drops the top and bottom quarter of the "
        "run-task scores: with most held-out tasks at 0 it is 0 and says little here.",
        "",
        "Probability of improvement P(X > Y) over held-out tasks (ties half), greedy unless said:",
        "",
        "| X vs Y | P(X > Y) | 95% CI | CI above 0.5 |",
        "|---|---|---|---|",
        _poi_line("GRPO + SEC vs warm start", results["poi_grpo_vs_warm_start"]),
        _poi_line("GRPO + SEC vs best constant", results["poi_grpo_vs_best_constant"]),
        _poi_line("GRPO + SEC vs GRPO + uniform", results["poi_sec_vs_uniform"]),
        _poi_line("GRPO + uniform vs warm start", results["poi_uniform_vs_warm_start"]),
        _poi_line("GRPO + SEC vs warm start, sampled", results["poi_grpo_vs_warm_start_sampled"]),
        "",
        *[
            _gain_line(LABELS[v], results["task_gain"][k])
            for v, k in (("bandit", "grpo"), ("uniform", "uniform"))
        ],
        "",
        *_group_table("arm (skill-difficulty of the call)", results["per_arm"], results),
        *_group_table("skill", results["per_skill"], None),
        *_group_table("outcome (what the reference call does)", results["per_outcome"], None),
        f"![held-out success over GRPO steps]({figure})",
        "",
        *notes(results),
        "",
    ]
    return "\n".join(lines)


def _task_verdict(gain: dict[str, Any]) -> str:
    """Whether the gain survives resampling the tasks, and how small the effect is."""
    lo, hi = gain["ci"]
    holds = "excludes 0" if lo > 0 else "includes 0: the tasks drawn could explain it"
    return (
        f" Resampling tasks too, the mean gain's CI [{lo:+.3f}, {hi:+.3f}] {holds}; the "
        f"effect is {gain['improved']} of {gain['tasks']} held-out tasks solved more often "
        f"and {gain['worse']} less often."
    )


def _gain_line(label: str, gain: dict[str, Any]) -> str:
    lo, hi = gain["ci"]
    return (
        f"- {label} vs warm start, greedy, resampling the {gain['tasks']} tasks: mean gain "
        f"{gain['mean']:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}]; {gain['improved']} tasks "
        f"better (mean over seeds), {gain['worse']} worse."
    )


def _minutes(results: dict[str, Any]) -> int:
    seconds = results["seconds"]
    total = seconds["base"] + sum(sum(seconds[v]) for v in ("bandit", "uniform"))
    return round(total / 60)


def _group_table(
    kind: str, table: dict[str, dict[str, float]], results: dict[str, Any] | None
) -> list[str]:
    """Greedy held-out success per arm or skill (and SEC's mean sampling share per arm)."""
    share = results is not None
    head = f"| {kind} | tasks | best constant | warm start | GRPO + uniform | GRPO + SEC |"
    lines = [
        f"Greedy held-out success per {kind.split(' ')[0]}:",
        "",
        head + (" SEC's share of samples |" if share else ""),
        "|---" * (7 if share else 6) + "|",
    ]
    for group, row in table.items():
        cells = [f"{row[k]:.3f}" for k in ("best_constant", "warm_start", "uniform", "grpo")]
        line = f"| {group} | {int(row['n'])} | " + " | ".join(cells) + " |"
        if share and results is not None:
            value = results["arm_shares"]["grpo"].get(group, float("nan"))
            line += " - |" if np.isnan(value) else f" {value:.3f} |"
        lines.append(line)
    return [*lines, ""]


def notes(results: dict[str, Any]) -> list[str]:
    """What the numbers say, each verdict computed from them."""
    gain, sec = results["poi_grpo_vs_warm_start"], results["poi_sec_vs_uniform"]
    constant = results["poi_grpo_vs_best_constant"]
    paired = results["paired_greedy"]
    reproducibility = results["reproducibility"]
    goal = gain["ci"][0] > 0.5 and constant["ci"][0] > 0.5
    out = [
        f"- **GRPO vs its warm start (greedy)**: {results['warm_start_greedy']['mean']:.3f} -> "
        f"{results['grpo_greedy']['mean']:.3f}; per seed "
        f"{', '.join(f'{d:+.3f}' for d in paired['grpo'])} (SEC), "
        f"{', '.join(f'{d:+.3f}' for d in paired['uniform'])} (uniform). "
        + (
            f"The {goal_name(results)} goal holds: the PoI CIs against the warm start and the "
            "best constant are above 0.5."
            if goal
            else "**The goal does not hold**: a PoI CI against the warm start or "
            "the best constant reaches 0.5 or below."
        )
        + _task_verdict(results["task_gain"]["grpo"]),
        "- **SEC vs uniform**: "
        + (
            "SEC is better (CI above 0.5)."
            if sec["ci"][0] > 0.5
            else "uniform is better (CI below 0.5)."
            if sec["ci"][1] < 0.5
            else f"no difference shown (P = {sec['p']:.3f}, CI contains 0.5): a null result."
        ),
        *arm_notes(results),
    ]
    if reproducibility:
        out.append(
            "- **Reproducibility**: deterministic on one machine (the same command gives the "
            "same numbers). Seed 0 rerun on 2 threads (another summation order, as another CPU "
            "has) moves the held-out success by up to "
            f"{reproducibility['max_abs_gap']:.3f}: expect about that across machines."
        )
    out.append(outcome_note(results["per_outcome"]))
    out.append(
        "- **What this does not show**: one base model and one task set; held-out tasks differ "
        "in phrasing patterns and names, not in tools or argument kinds (every tool was seen "
        "in training); GRPO is compared with stopping the warm start, not with spending the "
        "same compute on more supervised steps (the warm start was still improving when it "
        "stopped), so 'RL beats more imitation' is not claimed; the tokenizer was trained on "
        "60 generated conversations of both sides (it has merges for held-out names, whose "
        "tokens the warm start never shows the model); a tiny model, so nothing here predicts "
        "a pretrained LLM's curve."
    )
    return out


def goal_name(results: dict[str, Any]) -> str:
    """Which of issue #19's goals a run tests: whole conversations, or single requests."""
    env_id = results.get("settings", {}).get("env_id", "")
    return "multi-turn" if plays_whole_conversations(env_id) else "single-turn"


def outcome_note(table: dict[str, dict[str, float]]) -> str:
    """How many held-out tasks are refused requests, and what success on them means."""
    refused = int(table.get("expected error", {}).get("n", 0))
    total = int(sum(row["n"] for row in table.values()))
    return (
        f"- **What the tasks ask**: {refused} of {total} held-out tasks are requests the CRM "
        "refuses (an unknown id, an invalid stage, a missing field...): passing one is the "
        "call with the request's values, answered by the expected error, not a change made; "
        f"{total - refused} ask for calls that succeed (per-outcome table above)."
    )


def arm_notes(results: dict[str, Any]) -> list[str]:
    """Per-arm comparison of the curricula, counted from the per-arm table."""
    rows = results["per_arm"]
    better = [arm for arm, row in rows.items() if row["grpo"] > row["uniform"]]
    worse = [arm for arm, row in rows.items() if row["grpo"] < row["uniform"]]
    shares = results["arm_shares"]["grpo"]
    ranked = sorted((arm for arm in shares if not np.isnan(shares[arm])), key=shares.get)
    return [
        f"- **Per arm** (greedy, means over seeds): SEC above uniform on {len(better)} of "
        f"{len(rows)} arms, below on {len(worse)}. SEC sampled `{ranked[-1]}` most "
        f"({shares[ranked[-1]]:.3f} of its draws on average) and `{ranked[0]}` least "
        f"({shares[ranked[0]]:.3f}); uniform gives each arm {1 / len(ranked):.3f}. Whether "
        "easy arms must come first is not shown by this: it would need hard arms that uniform "
        "sampling fails to learn and SEC learns."
    ]


def replace_section(text: str, body: str, section: str = SECTION) -> str:
    """``text`` with the body of ``section`` replaced (to the next ##)."""
    pattern = re.compile(rf"(^{re.escape(section)}\n)(.*?)(?=^## |\Z)", re.S | re.M)
    if not pattern.search(text):
        raise ValueError(f"no '{section}' section")
    return pattern.sub(lambda m: m.group(1) + body + "\n", text, count=1)


def plot(results: dict[str, Any], path: Path) -> None:
    """Held-out success over GRPO steps, greedy (solid) and sampled (dashed), step 0 included.

    Mean over seeds with +-1 std bands; horizontal lines: ceiling, best constant, random.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    for variant, color in (("bandit", "tab:blue"), ("uniform", "tab:orange")):
        runs = results["curves"][variant]
        steps = np.asarray(runs[0]["steps"])
        for mode, style in (("greedy", "o-"), ("sampled", "s--")):
            values = np.array([run[mode] for run in runs])
            mean, std = values.mean(axis=0), values.std(axis=0)
            axis.plot(
                steps, mean, style, color=color, lw=1.4, ms=4, label=f"{LABELS[variant]}, {mode}"
            )
            axis.fill_between(steps, mean - std, mean + std, color=color, alpha=0.1, lw=0)
    for key, label, style in (("ceiling", "ceiling", ":"), ("random", "random", "-.")):
        axis.axhline(results[key], color="gray", ls=style, lw=1, label=label)
    axis.axhline(
        results["best_constant"]["mean"], color="black", ls="-.", lw=1, label="best constant"
    )
    axis.set_xlabel("GRPO step (0 = the warm-started model)")
    axis.set_ylabel("held-out success")
    axis.set_ylim(-0.02, 1.02)
    axis.legend(fontsize=6.5, loc="upper left", ncol=2)
    axis.set_title(
        f"{results['preset']}: {len(results['seeds'])} seeds, mean +-1 std; "
        f"{results['num_tasks']} held-out tasks",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=72)
    plt.close(figure)
