"""Which shaped-reward weights meet the reward audit's targets: a sweep over the weights.

A shaped return is linear in the five weights: a turn pays ``w . (t, a, a*x, a*s, a*r')`` plus its
penalty, and an episode's return is the mean of its turns. One run of the audit's policies
therefore prices every weighting (``Cell.return_terms``), and the targets that depend on the
weights can be checked at every point of a grid: Spearman's rho of shaped return against binary
success per (data set, env), and the 0.05 bound on the cheap tricks and on the policies without a
correct call. The other targets do not move with the weights: replay earns 1 under any weights
that sum to 1, a turn without the expected tool earns only its penalty, and binary success is
weight-free.

Why: at the default weights public ``ArcCrm-v1`` misses the rank target (docs/rewards.md,
"Audit"). This measures what meeting it costs. On a turn whose reference reply states facts a
correct call with the right outcome and no reply earns ``1 - w_resp``, so the table is by the
reply's weight ``w_resp``: the best worst-pair rho reachable there, and how many grid points meet
every target. The audit's seed drives its random policies, whose chance passes move the ranks at
the bottom, so ``--seeds`` runs several and a weighting meets the targets only at every seed.

Run ``python -m benchmarks.reward_weights`` (``--limit N`` conversations per data set, ``--seeds``
the audit's seeds, ``--step`` the grid's spacing: every weight a positive multiple of it, the five
summing to 1, ``--side-effect-penalty``). It prints the table, then one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.audit_policies import audit_policies
from benchmarks.reward_audit import (
    BOUND,
    MIN_SPEARMAN,
    PUBLIC_DATA,
    TERMS,
    Cell,
    load_data,
    run_cells,
)
from crm_gym.scoring import RewardConfig, TurnEvidence, turn_reward
from crm_gym.scoring.reward import WEIGHTS

CHUNK = 20_000
"""Grid points ranked at once (a chunk's comparison tensor stays a few MiB)."""
LADDER = (
    ("an unreadable action", TurnEvidence(0, 0, 0, 0, 0.0, 1, 0, False)),
    ("a wrong read-only tool", TurnEvidence(0, 0, 0, 0, 0.0, 0, 0, False)),
    ("the expected tool, no value right", TurnEvidence(1, 0, 0, 0, 0.0, 0, 0, False)),
    (
        "a third of the values, a write that ran",
        TurnEvidence(1, 1 / 3, 1, 0, 0.0, 0, 0, False, True),
    ),
    ("the right call, which failed", TurnEvidence(1, 1, 0, 0, 0.0, 0, 0, False)),
    ("the right call and outcome, no reply", TurnEvidence(1, 1, 1, 1, 0.0, 0, 0, False)),
    ("the same with the reference reply", TurnEvidence(1, 1, 1, 1, 1.0, 0, 0, True)),
)
"""The partial-credit order pinned by tests/envs/test_reward_order.py, on hand-built turns: the
first two at most equal, then strictly increasing (``keeps_order``, under the sweep's penalties).
Issue #18's own rungs hold at any positive weights; the write with a third of its values right
is this repository's extra rung."""


@dataclass(frozen=True)
class Pair:
    """One (data set, env): each policy's unweighted shaped terms and its binary success."""

    data: str
    env: str
    policies: tuple[str, ...]
    terms: np.ndarray
    """(policies, 5) mean unweighted terms per episode, ``TERMS`` order."""
    penalty: np.ndarray
    binary: np.ndarray
    bounded: np.ndarray
    """Policies held to ``BOUND`` in shaped mode: the tricks and those without a correct call."""

    def returns(self, weights: np.ndarray) -> np.ndarray:
        """(points, policies) shaped returns under each row of ``weights``."""
        return weights @ self.terms.T + self.penalty


def pairs_from_cells(cells: list[Cell], tricks: frozenset[str]) -> list[Pair]:
    """Join each policy's shaped and binary cells, per (data set, env)."""
    shaped = {(c.data, c.env, c.policy): c for c in cells if c.mode == "shaped"}
    binary = {(c.data, c.env, c.policy): c.mean_return for c in cells if c.mode == "binary"}
    keys = sorted({(data, env) for data, env, _ in shaped})
    pairs = []
    for data, env in keys:
        names = tuple(p for d, e, p in shaped if (d, e) == (data, env) and (d, e, p) in binary)
        rows = [shaped[data, env, name] for name in names]
        pairs.append(
            Pair(
                data,
                env,
                names,
                np.array([[row.return_terms[t] for t in TERMS] for row in rows]),
                np.array([row.return_terms["penalty"] for row in rows]),
                np.array([binary[data, env, name] for name in names]),
                np.array([row.credited_calls == 0 or row.policy in tricks for row in rows]),
            )
        )
    return pairs


MAX_PARTS = 100
"""The finest grid, step 0.01: 3,764,376 weightings, about 1.2 GB and two minutes a seed."""


def grid_parts(step: float) -> int | None:
    """How many equal parts ``step`` cuts 1 into, or None unless 5 to ``MAX_PARTS`` of them."""
    parts = round(1 / step) if step >= 1 / MAX_PARTS else 0
    return parts if parts >= len(TERMS) and abs(parts * step - 1) <= 1e-9 else None


def weight_grid(step: float) -> np.ndarray:
    """Every 5-vector of positive multiples of ``step`` that sums to 1 (stars and bars)."""
    parts = grid_parts(step)
    if parts is None:
        raise ValueError(f"step must divide 1 into 5 to {MAX_PARTS} equal parts, got {step}")
    cuts = np.array(list(itertools.combinations(range(1, parts), len(TERMS) - 1)))
    bounds = np.column_stack([np.zeros(len(cuts)), cuts, np.full(len(cuts), parts)])
    return np.diff(bounds, axis=1) / parts


def keeps_order(weights: np.ndarray, penalties: dict[str, float] | None = None) -> np.ndarray:
    """Per row of ``weights``: does ``LADDER`` keep its order under them and ``penalties``?"""
    kept = []
    for row in weights:
        config = RewardConfig(
            **dict(zip(WEIGHTS, map(float, row), strict=True)), **(penalties or {})
        )
        rewards = [turn_reward(evidence, config)[0] for _, evidence in LADDER]
        kept.append(rewards[0] <= rewards[1] and all(np.diff(rewards[1:]) > 0))
    return np.array(kept, dtype=bool)


def collapsed_rho(returns: np.ndarray, binary: np.ndarray) -> np.ndarray:
    """``reward_audit.collapsed_spearman`` for every row of ``returns`` at once.

    Policies of equal binary success are one point at their mean shaped return; shaped ties
    take average ranks; binary values are distinct after collapsing, so their ranks are 1..K.
    """
    values, group = np.unique(binary, return_inverse=True)
    if len(values) < 2:
        return np.full(len(returns), np.nan)
    members = np.zeros((len(binary), len(values)))
    members[np.arange(len(binary)), group] = 1
    counts = members.sum(axis=0)  # sum, then divide: equal means tie as the audit's do
    rhos = []
    binary_ranks = np.arange(1, len(values) + 1, dtype=float)
    for start in range(0, len(returns), CHUNK):
        means = returns[start : start + CHUNK] @ members / counts
        below = (means[:, :, None] > means[:, None, :]).sum(axis=2)
        equal = (means[:, :, None] == means[:, None, :]).sum(axis=2)
        rhos.append(_pearson_rows(below + (equal + 1) / 2, binary_ranks))
    return np.concatenate(rhos)


def _pearson_rows(rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=1, keepdims=True)
    target = target - target.mean()
    scale = np.sqrt((rows**2).sum(axis=1) * (target**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, rows @ target / scale, 0.0)


def sweep(
    pairs_by_seed: dict[int, list[Pair]],
    grid: np.ndarray,
    penalties: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Per grid point: the worst rho over pairs and seeds, and which targets hold at every seed.

    ``rhos`` holds each seed's (points, pairs) rhos; ``meets_by_seed`` each seed's own verdict.
    """
    rhos, bounded = {}, {}
    for seed, pairs in pairs_by_seed.items():
        returns = [pair.returns(grid) for pair in pairs]
        rhos[seed] = np.column_stack(
            [collapsed_rho(r, pair.binary) for r, pair in zip(returns, pairs, strict=True)]
        )
        bounded[seed] = np.column_stack(
            [
                (r[:, pair.bounded] <= BOUND).all(axis=1)
                for r, pair in zip(returns, pairs, strict=True)
            ]
        ).all(axis=1)
    worst_by_seed = {seed: np.nanmin(values, axis=1) for seed, values in rhos.items()}
    meets_by_seed = {
        seed: bounded[seed] & (worst_by_seed[seed] >= MIN_SPEARMAN) for seed in pairs_by_seed
    }
    return {
        "rhos": rhos,
        "worst": np.min(np.column_stack(list(worst_by_seed.values())), axis=1),
        "usable": np.logical_and.reduce(list(bounded.values())),
        "meets": np.logical_and.reduce(list(meets_by_seed.values())),
        "meets_by_seed": meets_by_seed,
        "ordered": keeps_order(grid, penalties),
    }


def by_reply_weight(grid: np.ndarray, result: dict[str, np.ndarray], width: float = 0.1) -> list:
    """Per band of ``w_resp``: points, those meeting the targets (and the order too).

    And the best worst-pair rho among the points that keep the bounds and the order.
    """
    reply = grid[:, TERMS.index("response")]
    rows = []
    for low in np.arange(0.0, 1.0, width):
        inside = (reply >= low - 1e-9) & (reply < low + width - 1e-9)
        usable = inside & result["usable"] & result["ordered"]
        row: dict[str, Any] = {
            "w_resp": [round(float(low), 2), round(float(low + width), 2)],
            "points": int(inside.sum()),
            "meets": int((inside & result["meets"]).sum()),
            "meets_in_order": int((inside & result["meets"] & result["ordered"]).sum()),
            "best_worst_rho_in_order": None,
            "weights_at_best": None,
        }
        if usable.any():
            best = int(np.flatnonzero(usable)[np.argmax(result["worst"][usable])])
            row["best_worst_rho_in_order"] = round(float(result["worst"][best]), 3)
            row["weights_at_best"] = [round(float(w), 4) for w in grid[best]]
        rows.append(row)
    return rows


def analyse(
    pairs_by_seed: dict[int, list[Pair]], step: float, penalties: dict[str, float] | None = None
) -> dict[str, Any]:
    """The sweep's findings: the defaults' rhos, the bands, the least reply weight that works.

    A weighting meets the targets when it meets them at every seed. ``penalties``
    (``RewardConfig`` fields) must be those the cells were measured with.
    """
    grid = weight_grid(step)
    result = sweep(pairs_by_seed, grid, penalties)
    defaults = sweep(pairs_by_seed, np.array([RewardConfig().weights]), penalties)
    meets, ordered = result["meets"], result["ordered"]
    reply = grid[:, TERMS.index("response")]
    first = next(iter(pairs_by_seed.values()))
    return {
        "step": step,
        "grid_points": len(grid),
        "seeds": list(pairs_by_seed),
        "pairs": [f"{pair.data}/{pair.env}" for pair in first],
        "default_weights": list(RewardConfig().weights),
        "penalties": penalties or {},
        "default_rhos": {
            str(seed): [round(float(r), 4) for r in rhos[0]]
            for seed, rhos in defaults["rhos"].items()
        },
        "default_keeps_order": bool(defaults["ordered"][0]),
        "points_in_order": int(ordered.sum()),
        "points_meeting_every_target_by_seed": {
            str(seed): int(mask.sum()) for seed, mask in result["meets_by_seed"].items()
        },
        "points_meeting_every_target": int(meets.sum()),
        "points_meeting_every_target_in_order": int((meets & ordered).sum()),
        "least_reply_weight_meeting_every_target": (
            round(float(reply[meets].min()), 4) if meets.any() else None
        ),
        "bands": by_reply_weight(grid, result),
    }


def report(result: dict[str, Any]) -> str:
    """The bands as a markdown table, after the defaults' rhos and the grid's counts."""
    lines = [
        f"default weights {result['default_weights']}, order kept: {result['default_keeps_order']}"
    ]
    for seed, rhos in result["default_rhos"].items():
        pairs = ", ".join(f"{p} {r:.3f}" for p, r in zip(result["pairs"], rhos, strict=True))
        lines.append(f"  seed {seed}: rho {pairs}")
    by_seed = ", ".join(
        f"seed {seed} {count}"
        for seed, count in result["points_meeting_every_target_by_seed"].items()
    )
    lines += [
        f"grid: step {result['step']}, {result['grid_points']} points, "
        f"{result['points_in_order']} keep the order; meeting every target: {by_seed}",
        f"at every seed: {result['points_meeting_every_target']} (least w_resp among them "
        f"{result['least_reply_weight_meeting_every_target']}), of which keep the order: "
        f"{result['points_meeting_every_target_in_order']}",
        "",
        "| w_resp | points | meeting every target | and the order | best worst-pair rho, "
        "order kept | its weights (t, a, x, s, r) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for band in result["bands"]:
        low, high = band["w_resp"]
        rho = band["best_worst_rho_in_order"]
        lines.append(
            f"| [{low:.1f}, {high:.1f}) | {band['points']} | {band['meets']} | "
            f"{band['meets_in_order']} | {'-' if rho is None else f'{rho:.3f}'} | "
            f"{band['weights_at_best'] or '-'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """CLI: run the audit's policies once, sweep the weights, print the table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="conversations per data set")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="the audit's seeds")
    parser.add_argument("--step", type=float, default=0.02, help="the grid's spacing")
    parser.add_argument(
        "--side-effect-penalty",
        type=float,
        default=RewardConfig().side_effect_penalty,
        help="RewardConfig.side_effect_penalty for the audit's runs and the order",
    )
    parser.add_argument("--public", type=Path, default=PUBLIC_DATA, help="the public JSONL file")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be >= 1, got {args.limit}")
    if not args.public.is_file():
        parser.error(f"--public: no such file {args.public}")
    if not grid_parts(args.step):
        parser.error(f"--step must divide 1 into 5 to {MAX_PARTS} equal parts, got {args.step}")
    penalties = {"side_effect_penalty": args.side_effect_penalty}
    try:
        RewardConfig(**penalties)
    except ValueError as error:
        parser.error(str(error))
    policies = audit_policies()
    tricks = frozenset(spec.name for spec in policies if spec.trick)
    data = load_data(args.public, args.limit)
    pairs_by_seed = {}
    for seed in dict.fromkeys(args.seeds):
        cells = [
            cell
            for name, conversations in data.items()
            for cell in run_cells(name, conversations, policies, seed, 8, penalties)
        ]
        pairs_by_seed[seed] = pairs_from_cells(cells, tricks)
    result = analyse(pairs_by_seed, args.step, penalties)
    print(report(result))
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
