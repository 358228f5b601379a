"""Two policies compared on whole conversations, from their ``crm-gym eval`` logs (one per seed).

The score of a (run, conversation) cell is the share of its attempts in which every turn passed
(``benchmarks.turn_stages.conversation_passed``: the env's "passed" on each turn, an expected
failure included, so the ceiling is 1.0 where the reference actions pass). ``crm-gym report``
scores upstream's strict success instead, which no conversation with a planned failure turn can
reach. As in ``benchmarks.train_results``: a log given once for Y (the warm start, one model) is
paired with every X run; P(X > Y) over conversations (ties half) with rliable's stratified
bootstrap CI, and the mean per-conversation gain with a CI that resamples conversations.

    E=runs/chain_eval
    python -m benchmarks.conversation_poi --x $E/uniform-s*-indist-greedy.jsonl \
        --y $E/base-indist-greedy.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from benchmarks.records import load_records
from benchmarks.report import ReportOptions
from benchmarks.train_stats import poi, task_gain, task_matrix
from benchmarks.turn_stages import conversation_passed


def per_conversation(path: str) -> dict[str, float]:
    """A log's share of attempts passed per conversation (``#k`` attempt suffixes pooled)."""
    attempts: dict[str, list[bool]] = defaultdict(list)
    for record in load_records(path):
        attempts[record.conversation_id.split("#")[0]].append(conversation_passed(record))
    return {conversation: float(np.mean(passed)) for conversation, passed in attempts.items()}


def compare(x_logs: Sequence[str], y_logs: Sequence[str], reps: int = 2000) -> dict[str, Any]:
    """X against Y: each side's mean and per-run successes, P(X > Y) and the per-task gain."""
    x_runs = [per_conversation(path) for path in x_logs]
    y_runs = [per_conversation(path) for path in y_logs]
    if len(y_runs) == 1:
        y_runs = y_runs * len(x_runs)  # one model: paired with every X run
    if len(y_runs) != len(x_runs):
        raise ValueError(f"{len(x_logs)} X logs and {len(y_logs)} Y logs: give one Y or as many")
    tasks = sorted(x_runs[0])
    x, y = task_matrix(x_runs, tasks), task_matrix(y_runs, tasks)
    options = ReportOptions(reps=reps)
    return {
        "tasks": len(tasks),
        "x": {"mean": float(x.mean()), "per_run": x.sum(axis=1).tolist()},
        "y": {"mean": float(y.mean()), "per_run": y.sum(axis=1).tolist()},
        "poi": poi("x>y", x, y, options),
        "gain": task_gain(x, y, reps),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the comparison as a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x", nargs="+", required=True, help="X's logs, one per seed")
    parser.add_argument("--y", nargs="+", required=True, help="Y's logs: one, or one per seed")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap replications")
    options = parser.parse_args(argv)
    print(json.dumps(compare(options.x, options.y, options.reps)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
