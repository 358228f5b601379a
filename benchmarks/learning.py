"""The five learning metrics of a guideline memory (the Arc benchmark's Atlas loop), with CIs.

Inputs are evaluation records (``benchmarks.records``) of the same episodes run twice, guided
(``MemoryPolicy`` reading the memory) and unguided (the same wrapper with no memory), each record
carrying ``memory`` (``agents.memory.EpisodeStats`` as a dict) and ``split`` (``"in"``: held-out
tasks of families written to memory; ``"transfer"``: families never written). Episodes pair up
by ``(seed, conversation_id)``. Definitions (per episode, then as below):

1. **cue hit rate**: the share of guided in-family episodes in which at least one retrieval
   returned a guideline (``calls_with_cue > 0``).
2. **adoption rate**: of the guidelines retrieved in guided in-family episodes, the share that
   was injected into the prompt (within ``fit_guidelines``'s budget): ``sum(injected) /
   sum(retrieved)``.
3. **reward delta**: guided minus unguided shaped return (``shaped_return``), paired per
   episode, on in-family held-out episodes.
4. **token delta**: guided minus unguided tokens (prompt + completion, the backend's usage or
   the 4-characters-a-token estimate), paired per episode, in-family.
5. **transfer**: the reward delta on the transfer split.

Each is the mean of a ``(runs = seeds, tasks = arms)`` matrix of cell values, with a 95%
stratified-bootstrap CI from rliable through ``benchmarks.report.interval`` (numpy's global RNG
seeded around the call). An arm lacking a cell value in some seed (e.g. no retrieval for the
adoption rate) is left out of that metric.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Sequence

import numpy as np

from benchmarks.records import ConversationRecord
from benchmarks.report import ReportOptions, interval

METRICS = ("cue_hit_rate", "adoption_rate", "reward_delta", "token_delta", "transfer")
Cell = Callable[[list[tuple[ConversationRecord, ConversationRecord]]], float | None]


def _stats(record: ConversationRecord) -> dict[str, Any]:
    return dict(getattr(record, "memory", None) or {})


def _tokens(record: ConversationRecord) -> float:
    stats = _stats(record)
    return float(stats.get("prompt_tokens", 0) + stats.get("completion_tokens", 0))


def pair_records(
    guided: Sequence[ConversationRecord], unguided: Sequence[ConversationRecord], split: str
) -> dict[tuple[int, str], list[tuple[ConversationRecord, ConversationRecord]]]:
    """Guided/unguided pairs of one split, grouped by ``(seed, arm)``."""
    baseline = {(r.seed, r.conversation_id, r.attempt): r for r in unguided}
    cells: dict[tuple[int, str], list] = defaultdict(list)
    for record in guided:
        other = baseline.get((record.seed, record.conversation_id, record.attempt))
        if getattr(record, "split", None) == split and other is not None:
            cells[int(record.seed or 0), str(record.arm)].append((record, other))
    return cells


def _cue(pairs: list) -> float:
    return float(np.mean([_stats(g).get("calls_with_cue", 0) > 0 for g, _ in pairs]))


def _adoption(pairs: list) -> float | None:
    retrieved = sum(_stats(g).get("retrieved", 0) for g, _ in pairs)
    return (
        None if retrieved == 0 else sum(_stats(g).get("injected", 0) for g, _ in pairs) / retrieved
    )


def _reward(pairs: list) -> float:
    return float(np.mean([(g.shaped_return or 0.0) - (u.shaped_return or 0.0) for g, u in pairs]))


def _token(pairs: list) -> float:
    return float(np.mean([_tokens(g) - _tokens(u) for g, u in pairs]))


CELLS: dict[str, tuple[str, Cell]] = {
    "cue_hit_rate": ("in", _cue),
    "adoption_rate": ("in", _adoption),
    "reward_delta": ("in", _reward),
    "token_delta": ("in", _token),
    "transfer": ("transfer", _reward),
}


def metric_matrix(cells: dict[tuple[int, str], list], cell: Cell) -> np.ndarray:
    """``(seeds, arms)`` of cell values; arms missing a value in any seed are dropped."""
    seeds = sorted({seed for seed, _ in cells})
    arms = sorted({arm for _, arm in cells})
    values = {key: cell(pairs) for key, pairs in cells.items()}
    columns = [
        [values.get((seed, arm)) for seed in seeds]
        for arm in arms
        if all(values.get((seed, arm)) is not None for seed in seeds)
    ]
    return np.array(columns, dtype=float).T if columns else np.zeros((len(seeds), 0))


def learning_metrics(
    guided: Sequence[ConversationRecord],
    unguided: Sequence[ConversationRecord],
    options: ReportOptions | None = None,
) -> dict[str, dict[str, Any]]:
    """Each metric's mean, 95% CI and matrix shape (``ci`` None when no cell has a value)."""
    options = options or ReportOptions()
    results = {}
    for name, (split, cell) in CELLS.items():
        scores = metric_matrix(pair_records(guided, unguided, split), cell)
        if scores.size == 0:
            results[name] = {"mean": None, "ci": None, "runs": 0, "tasks": 0}
            continue
        point, ci = interval(("learning", name), scores, _mean, options)
        results[name] = {
            "mean": float(point[0]),
            "ci": [float(ci[0, 0]), float(ci[1, 0])],
            "runs": scores.shape[0],
            "tasks": scores.shape[1],
        }
    return results


def _mean(scores: np.ndarray) -> np.ndarray:
    return np.array([np.mean(scores)])
