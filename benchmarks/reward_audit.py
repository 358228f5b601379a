"""Reward audit: scripted policies over both data sets, both envs, shaped and binary rewards.

The reward's first line is that credit flows only from the agent's actions. This audit checks it
from the outside: cheap tricks (answer at once, dump what is in view, echo the request, a random
call, a constant search) must earn nothing, partially correct calls must rank between them and the
ground truth, and the shaped return must order the policies as binary success does.

Run ``python -m benchmarks.reward_audit`` (``--limit N`` conversations per data set for a quick
run, ``--seed``). It prints, per data set and env, one row per policy (shaped return, binary
success, share of turns that called the expected tool, mean shaped reward of the turns that did
not, whether the policy ever made a correct call), then the targets (pass/fail each), the data's
own leaks, and last one JSON line with everything. Seeded and deterministic. The exit status is
0 when every target holds, 1 otherwise.

Targets (issue #18), per configuration (data set, env, reward mode):
    - replay earns exactly 1 on every episode;
    - every policy that makes no correct call averages <= 0.05, and so do the five cheap tricks
      (random, answer "", dump what is in view, echo the request, a random schema-valid call)
      even where they hit a correct call by chance;
    - turns on which the expected tool was not called average <= 0.05, for every policy;
    - per (data set, env): Spearman's rho of shaped return against binary success >= 0.9, over
      the policies whose binary success differs (policies of equal binary success count as one
      point, at their mean shaped return).

A policy *makes no correct call* when no call of the expected tool matched any expected argument
value (``reward_components`` ``arguments == 0`` on every turn): a partly right call earns partial
credit by design (``0.26 * arguments`` and more), so only calls without a single right value are
held to the bound. The tables count both the fully correct calls (``tool == 1`` and
``arguments == 1``) and the calls with argument credit (``arguments > 0``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from agents.rollout import Trajectory, collect_rollouts, scored_turns
from benchmarks.audit_policies import AuditPolicy, audit_policies
from crm_gym.data.conversation import Conversation
from crm_gym.envs.tasks import TaskSource
from crm_gym.envs.vector import make_vec
from crm_gym.registration import plays_whole_conversations
from crm_gym.scoring import RewardConfig
from crm_gym.scoring.reward import WEIGHTS

REPO = Path(__file__).resolve().parents[1]
PUBLIC_DATA = REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"
ENV_IDS = ("ArcCrm-v1", "ArcCrmConversation-v1")
MODES = ("shaped", "binary")
BOUND = 0.05
"""What a policy without a correct call, random, or a turn without the expected tool may average."""
MIN_SPEARMAN = 0.9
TERMS = tuple(name.removesuffix("_weight") for name in WEIGHTS)
"""The shaped reward's terms (tool, arguments, execution, state, response), weights' order."""
EXACT = 1e-9
"""Replay's return may differ from 1 by float rounding of the per-turn division, no more."""


@dataclass(frozen=True)
class Cell:
    """One policy's run in one configuration (data set, env, reward mode)."""

    data: str
    env: str
    mode: str
    policy: str
    episodes: int
    mean_return: float
    min_return: float
    max_return: float
    turns: int
    tool_share: float
    no_tool_turns: int
    no_tool_reward: float | None
    passed_share: float
    correct_calls: int
    credited_calls: int
    pay: dict[str, float]
    """Mean pay of each reward term per turn (shaped mode; see ``component_pay``)."""
    return_terms: dict[str, float] = field(default_factory=dict)
    """Each term's mean per episode before its weight (``return_terms``): prices any weights."""


# ---- running ------------------------------------------------------------------------------------
def plan(env_id: str, conversations: Sequence[Conversation]) -> list[dict[str, Any]]:
    """One episode per turn (``ArcCrm``) or per conversation (``ArcCrmConversation``)."""
    if plays_whole_conversations(env_id):
        return [{"task_id": c.conversation_id} for c in conversations]
    return [{"task_id": f"{c.conversation_id}#{t.turn_id}"} for c in conversations for t in c.turns]


def unweighted_terms(turn: dict[str, float]) -> dict[str, float]:
    """The five terms of the shaped reward before their weights, and the penalty, on one turn.

    ``tool`` t, ``arguments`` a, then ``execution``, ``state`` and ``response`` scaled by ``a``
    (the reply term is the response F1 when the reply states facts, else ``x``): the turn's shaped
    reward is each term times its weight (``TERMS`` order), plus ``penalty``.
    """
    a = turn["arguments"]
    return {
        "tool": turn["tool"],
        "arguments": a,
        "execution": a * turn["execution"],
        "state": a * turn["state"],
        "response": a * turn.get("response", turn["execution"]),
        "penalty": turn["penalty"],
    }


def component_pay(turn: dict[str, float], config: RewardConfig) -> dict[str, float]:
    """What each term of the shaped reward paid on one turn (docs/rewards.md's formula)."""
    terms = unweighted_terms(turn)
    weights = dict(zip(TERMS, config.weights, strict=True))
    return {name: weights.get(name, 1.0) * value for name, value in terms.items()}


def return_terms(trajectories: list[Trajectory]) -> dict[str, float]:
    """Each unweighted term's mean per episode of its mean per turn (``Cell.return_terms``).

    An episode's shaped return is its turns' mean reward (``ArcCrmConversation-v1`` pays each turn
    divided by the number of turns), so the mean return under any weights ``w`` is
    ``sum(w[k] * terms[k]) + terms["penalty"]``: one run prices every weighting.
    """
    names = (*TERMS, "penalty")
    per_episode = []
    for trajectory in trajectories:  # an episode that scored no turn counts as zeros
        turns = [
            unweighted_terms(turn) for turn in scored_turns(step.info for step in trajectory.steps)
        ]
        per_episode.append({name: _mean([turn[name] for turn in turns]) for name in names})
    return {name: _mean([episode[name] for episode in per_episode]) for name in names}


def mean_pay(turns: list[dict[str, float]], config: RewardConfig) -> dict[str, float]:
    """Each term's mean pay over ``turns`` (empty for the binary reward)."""
    if config.mode != "shaped" or not turns:
        return {}
    pays = [component_pay(turn, config) for turn in turns]
    return {name: _mean([pay[name] for pay in pays]) for name in pays[0]}


def summarise(
    key: tuple[str, str, str, str], trajectories: list[Trajectory], config: RewardConfig
) -> Cell:
    """A cell's numbers from its trajectories."""
    returns = [t.total_return for t in trajectories]
    turns = [turn for t in trajectories for turn in scored_turns(step.info for step in t.steps)]
    missed = [turn["total"] for turn in turns if turn["tool"] == 0]
    return Cell(
        *key,
        episodes=len(trajectories),
        mean_return=_mean(returns),
        min_return=min(returns),
        max_return=max(returns),
        turns=len(turns),
        tool_share=_mean([turn["tool"] for turn in turns]),
        no_tool_turns=len(missed),
        no_tool_reward=_mean(missed) if missed else None,
        passed_share=_mean([turn["passed"] for turn in turns]),
        correct_calls=sum(1 for turn in turns if turn["tool"] == 1 and turn["arguments"] == 1),
        credited_calls=sum(1 for turn in turns if turn["tool"] == 1 and turn["arguments"] > 0),
        pay=mean_pay(turns, config),
        return_terms=return_terms(trajectories),
    )


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def run_cells(
    data: str,
    conversations: Sequence[Conversation],
    policies: list[AuditPolicy],
    seed: int,
    num_envs: int,
    penalties: dict[str, float] | None = None,
) -> list[Cell]:
    """Every policy in every env and mode over one data set (``penalties``: RewardConfig fields)."""
    tasks = TaskSource(conversations)  # reference runs built once for every configuration
    cells = []
    for env_id in ENV_IDS:
        options = plan(env_id, conversations)
        for mode in MODES:
            config = RewardConfig(mode=mode, **(penalties or {}))
            envs = make_vec(
                env_id, num_envs, tasks=tasks, expose_reference=True, reward_config=config
            )
            for spec in policies:
                policy = spec.build(seed, conversations)
                trajectories = collect_rollouts(envs, policy, options=options, seed=seed)
                cells.append(summarise((data, env_id, mode, spec.name), trajectories, config))
            envs.close()
    return cells


# ---- targets ------------------------------------------------------------------------------------
def check_targets(cells: list[Cell], tricks: frozenset[str]) -> list[dict[str, Any]]:
    """Each target of each configuration: what it checks, the worst value, pass or fail.

    The bound of 0.05 holds for every policy without a correct call in that configuration and
    for the cheap tricks (``tricks``: random among them) whatever they hit by chance.
    """
    checks = []
    for config, group in _by_config(cells).items():
        checks += _config_checks(config, group, tricks)
    for (data, env), rho in spearman_by_pair(cells).items():
        value = rho["rho"]
        ok = value is None or value >= MIN_SPEARMAN
        checks.append(_check((data, env, "both"), "spearman(shaped, binary) >= 0.9", value, ok))
    return checks


def _by_config(cells: list[Cell]) -> dict[tuple[str, str, str], list[Cell]]:
    groups: dict[tuple[str, str, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.data, cell.env, cell.mode), []).append(cell)
    return groups


def _config_checks(
    config: tuple[str, str, str], group: list[Cell], tricks: frozenset[str]
) -> list[dict[str, Any]]:
    by_name = {cell.policy: cell for cell in group}
    checks = []
    replay = by_name.get("replay")
    if replay is not None:
        worst = max(abs(replay.min_return - 1), abs(replay.max_return - 1))
        checks.append(
            _check(config, "replay == 1 (every episode)", replay.min_return, worst <= EXACT)
        )
    for cell in group:
        why = "trick" if cell.policy in tricks else "no correct call"
        if cell.credited_calls == 0 or cell.policy in tricks:
            target = f"{cell.policy} ({why}) <= 0.05"
            checks.append(_check(config, target, cell.mean_return, cell.mean_return <= BOUND))
    missed = [cell for cell in group if cell.no_tool_reward is not None]
    if missed:
        worst_cell = max(missed, key=lambda cell: cell.no_tool_reward or 0.0)
        worst = worst_cell.no_tool_reward or 0.0
        target = f"turns without the expected tool <= 0.05 (worst: {worst_cell.policy})"
        checks.append(_check(config, target, worst, worst <= BOUND))
    return checks


def _check(config: tuple[str, str, str], target: str, value: float | None, ok: bool) -> dict:
    data, env, mode = config
    return {"data": data, "env": env, "mode": mode, "target": target, "value": value, "pass": ok}


def spearman_by_pair(cells: list[Cell]) -> dict[tuple[str, str], dict[str, Any]]:
    """Spearman's rho of shaped return against binary success, per (data set, env)."""
    pairs: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for cell in cells:
        pairs.setdefault((cell.data, cell.env), {}).setdefault(cell.policy, {})[cell.mode] = (
            cell.mean_return
        )
    result = {}
    for key, policies in pairs.items():
        points = [(p["shaped"], p["binary"]) for p in policies.values() if len(p) == 2]
        result[key] = collapsed_spearman(points)
    return result


def collapsed_spearman(points: list[tuple[float, float]]) -> dict[str, Any]:
    """Rho over (shaped, binary) points; equal binary values are one point at their mean shaped."""
    groups: dict[float, list[float]] = {}
    for shaped, binary in points:
        groups.setdefault(binary, []).append(shaped)
    binary = sorted(groups)
    shaped = [_mean(groups[value]) for value in binary]
    rho = spearman(shaped, binary) if len(binary) >= 2 else None
    return {"rho": rho, "points": len(binary)}


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties; Pearson's r of the ranks)."""
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = _mean(rx), _mean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5 if vx and vy else 0.0


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


# ---- the data's own leaks -----------------------------------------------------------------------
def data_leaks(conversations: Sequence[Conversation]) -> dict[str, Any]:
    """Turns a constant policy can hit (argument-free expected calls), and related lint findings."""
    from crm_gym.data.lint import lint

    turns = [turn for c in conversations for turn in c.turns]
    free = Counter(turn.expected_tool for turn in turns if not turn.expected_args)
    report = lint(conversations)
    return {
        "turns": len(turns),
        "argument_free_turns": sum(free.values()),
        "argument_free_by_tool": dict(sorted(free.items(), key=lambda kv: (-kv[1], kv[0]))),
        "lint_search_without_criteria": report["search_without_criteria"]["count"],
        "lint_underspecified_utterance": report["underspecified_utterance"]["count"],
    }


# ---- printing -----------------------------------------------------------------------------------
_POLICY_HEADER = (
    "| policy | reads reference | shaped return | binary success | expected tool called "
    "| shaped reward, turns without it | correct calls | calls with argument credit |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
)


def table(cells: list[Cell], policies: list[AuditPolicy]) -> str:
    """One Markdown table per (data set, env): a row per policy, shaped and binary side by side."""
    reads = {spec.name: spec.reads_reference for spec in policies}
    runs = {(c.data, c.env, c.mode, c.policy): c for c in cells}
    blocks = []
    for data, env in dict.fromkeys((c.data, c.env) for c in cells):
        lines = [f"### {data}, {env}", "", *_POLICY_HEADER]
        for spec in policies:
            shaped = runs.get((data, env, "shaped", spec.name))
            binary = runs.get((data, env, "binary", spec.name))
            if shaped is not None and binary is not None:
                lines.append(_row(shaped, binary, reads[spec.name]))
        rho = spearman_by_pair(cells).get((data, env), {"rho": None, "points": 0})
        value = "-" if rho["rho"] is None else f"{rho['rho']:.3f}"
        points = rho["points"]
        note = (
            f"Spearman (shaped vs binary, equal binary as one point): {value} over {points} points"
        )
        lines += ["", note]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _row(shaped: Cell, binary: Cell, reads: bool) -> str:
    missed = "-" if shaped.no_tool_reward is None else f"{shaped.no_tool_reward:.3f}"
    return (
        f"| {shaped.policy} | {'yes' if reads else 'no'} | {shaped.mean_return:.3f} | "
        f"{binary.mean_return:.3f} | {shaped.tool_share:.3f} | {missed} ({shaped.no_tool_turns}) "
        f"| {shaped.correct_calls}/{shaped.turns} | {shaped.credited_calls}/{shaped.turns} |"
    )


def pay_table(cells: list[Cell], policies: list[AuditPolicy]) -> str:
    """Per (data set, env): what each term of the shaped reward paid each policy, per turn."""
    terms = ("tool", "arguments", "execution", "state", "response", "penalty")
    runs = {(c.data, c.env, c.policy): c for c in cells if c.mode == "shaped" and c.pay}
    blocks = []
    for data, env in dict.fromkeys((c.data, c.env) for c in cells):
        header = "| policy | " + " | ".join(terms) + " |"
        lines = [f"### {data}, {env}: mean pay per turn", "", header, "|---|" + "---:|" * 6]
        for spec in policies:
            cell = runs.get((data, env, spec.name))
            if cell is not None:
                values = " | ".join(f"{cell.pay[term]:.3f}" for term in terms)
                lines.append(f"| {spec.name} | {values} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def targets_table(checks: list[dict[str, Any]]) -> str:
    """The targets as a Markdown table."""
    lines = ["| data | env | mode | target | value | result |", "|---|---|---|---|---:|---|"]
    for check in checks:
        value = "-" if check["value"] is None else f"{check['value']:.3f}"
        verdict = "pass" if check["pass"] else "FAIL"
        lines.append(
            f"| {check['data']} | {check['env']} | {check['mode']} | "
            f"{check['target']} | {value} | {verdict} |"
        )
    return "\n".join(lines)


def leaks_table(leaks: dict[str, dict[str, Any]]) -> str:
    """The data's leaks, one line per data set."""
    lines = []
    for data, leak in leaks.items():
        tools = ", ".join(
            f"{tool}({{}}) {count}" for tool, count in leak["argument_free_by_tool"].items()
        )
        lines.append(
            f"- {data}: {leak['argument_free_turns']} of {leak['turns']} turns expect an "
            f"argument-free call ({tools or 'none'}); lint: search_without_criteria "
            f"{leak['lint_search_without_criteria']}, underspecified_utterance "
            f"{leak['lint_underspecified_utterance']}"
        )
    return "\n".join(lines)


# ---- entry point --------------------------------------------------------------------------------
def load_data(public: Path, limit: int | None) -> dict[str, Sequence[Conversation]]:
    """The public file and the default generated tasks, each cut to ``limit`` conversations."""
    from crm_gym.data.loading import load_conversations
    from crm_gym.generator import default_tasks

    sets = {"public": load_conversations(public), "generated": default_tasks()}
    return {name: list(conversations)[:limit] for name, conversations in sets.items()}


def audit(public: Path, limit: int | None, seed: int, num_envs: int = 8) -> dict[str, Any]:
    """Run the whole audit and return everything the JSON line holds."""
    policies = audit_policies()
    data = load_data(public, limit)
    cells = [
        cell
        for name, conversations in data.items()
        for cell in run_cells(name, conversations, policies, seed, num_envs)
    ]
    checks = check_targets(cells, frozenset(spec.name for spec in policies if spec.trick))
    return {
        "seed": seed,
        "limit": limit,
        "policies": {
            spec.name: {
                "description": spec.description,
                "reads_reference": spec.reads_reference,
                "trick": spec.trick,
            }
            for spec in policies
        },
        "cells": [asdict(cell) for cell in cells],
        "spearman": {f"{d}/{e}": v for (d, e), v in spearman_by_pair(cells).items()},
        "targets": checks,
        "leaks": {name: data_leaks(conversations) for name, conversations in data.items()},
        "passed": all(check["pass"] for check in checks),
    }


def report(result: dict[str, Any]) -> str:
    """The human-readable part: tables, targets, leaks."""
    policies = audit_policies()
    cells = [Cell(**cell) for cell in result["cells"]]
    sections = {
        "Policies by configuration": table(cells, policies),
        "What each term pays": pay_table(cells, policies),
        "Targets": targets_table(result["targets"]),
        "The data's own leaks": leaks_table(result["leaks"]),
    }
    return "\n\n".join(f"## {title}\n\n{body}" for title, body in sections.items())


def main(argv: list[str] | None = None) -> None:
    """CLI: print the report, then the JSON line; exit 1 when a target fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="conversations per data set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--public", type=Path, default=PUBLIC_DATA, help="the public JSONL file")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be >= 1, got {args.limit}")
    if args.num_envs < 1:
        parser.error(f"--num-envs must be >= 1, got {args.num_envs}")
    if not args.public.is_file():
        parser.error(f"--public: no such file {args.public}")
    result = audit(args.public, args.limit, args.seed, args.num_envs)
    print(report(result))
    print(json.dumps(result, sort_keys=True))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
