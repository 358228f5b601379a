"""The seed's conversation metrics (SPEC-arc.md 4.3) and pass^k / pass@k, from evaluation records.

- **strict success**: the share of conversation attempts with ``overall_success``.
- **turn-level success**: the share of all turns (every attempt, every turn, expected-failure
  turns included) with ``tool_success``; responses are ignored.
- **capability**: the share of attempts with at least one tool-successful turn.
- **reward signal**: the mean of the records' ``reward_signal``; **shaped return**: the mean of
  their ``shaped_return`` (the env's mean turn reward).
- **pass^k** (tau-bench, Yao et al. 2024): tasks are conversation ids, and a task with ``n``
  attempts of which ``c`` were strict successes scores ``C(c, k) / C(n, k)``, the unbiased
  estimate of the chance that ``k`` independent tries all succeed; pass^k is the mean over tasks.
  **pass@k** = mean of ``1 - C(n - c, k) / C(n, k)`` (at least one of ``k`` tries succeeds).

A task needs ``n >= k``. ``pass_hat_k``/``pass_at_k`` raise ``ValueError`` when a task has fewer
attempts; ``summarize`` reports every ``k`` up to the largest ``n`` and, for a ``k`` above some
task's ``n``, leaves those tasks out with a ``UserWarning`` (they would bias pass^k towards the
tasks that were tried more often). With equal ``n`` everywhere pass^1 equals strict success.

**Ceilings** (``ceilings``): the data caps some metrics below 1 for any agent. A conversation
that plans a failure turn is never a strict success (upstream's rule), so strict success and
pass^k cannot exceed the share of conversations without one (0.15 on the default generated
tasks, where 85% plan a failure turn; 1.0 on the public 400, which plans none). The reward
signal is 1.0 for a conversation without a success-path turn whatever the agent does, so its
floor is their share (0.04 on the default generated tasks). Turn-level success and capability
reach 1.0. Read a capped number against its ceiling:

    python -m benchmarks.metrics --ceilings ../shared/arc/evaluation_400.jsonl
    python -m benchmarks.metrics --ceilings generated      # or generated:N[:SEED]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections import Counter
from math import comb
from typing import Any, Iterable, Sequence

from benchmarks.records import ConversationRecord, as_records, check_unique
from crm_gym.data.conversation import Conversation

Outcome = tuple[int, int]
"""``(n, c)``: attempts at one task and how many were strict successes."""


def strict_success(records: Sequence[ConversationRecord]) -> float:
    """The share of attempts with ``overall_success``."""
    return sum(r.overall_success for r in records) / _count(records)


def turn_level_success(records: Sequence[ConversationRecord]) -> float:
    """The share of all turns with ``tool_success``."""
    turns = [turn for r in records for turn in r.per_turn_results]
    if not turns:
        raise ValueError("turn-level success of records without turns")
    return sum(turn.tool_success for turn in turns) / len(turns)


def capability(records: Sequence[ConversationRecord]) -> float:
    """The share of attempts with at least one tool-successful turn."""
    return sum(any(t.tool_success for t in r.per_turn_results) for r in records) / _count(records)


def task_outcomes(records: Iterable[ConversationRecord]) -> dict[str, Outcome]:
    """``(attempts, strict successes)`` per conversation id, in order of first appearance."""
    attempts: Counter[str] = Counter()
    successes: Counter[str] = Counter()
    for record in records:
        attempts[record.conversation_id] += 1
        successes[record.conversation_id] += record.overall_success
    return {task: (n, successes[task]) for task, n in attempts.items()}


def pass_hat_k(outcomes: Iterable[Outcome], k: int) -> float:
    """pass^k: the mean over tasks of ``C(c, k) / C(n, k)``.

    Example:
        >>> round(pass_hat_k([(4, 4), (4, 2), (4, 0)], 2), 4)  # (1 + 1/6 + 0) / 3
        0.3889
    """
    return _mean_over_tasks(outcomes, k, lambda n, c: comb(c, k) / comb(n, k))


def pass_at_k(outcomes: Iterable[Outcome], k: int) -> float:
    """pass@k: the mean over tasks of ``1 - C(n - c, k) / C(n, k)``.

    Example:
        >>> round(pass_at_k([(4, 4), (4, 2), (4, 0)], 2), 4)  # (1 + 5/6 + 0) / 3
        0.6111
    """
    return _mean_over_tasks(outcomes, k, lambda n, c: 1 - comb(n - c, k) / comb(n, k))


def summarize(records: Iterable[ConversationRecord | dict[str, Any]]) -> dict[str, float]:
    """Every metric of one policy's records, keyed ``metrics/...`` and ``perf/...``.

    Raises:
        ValueError: no records, records of several policies or training steps (filter first),
            or two records for the same attempt.
    """
    records = as_records(records)
    _check_one_run(records)
    outcomes = task_outcomes(records)
    summary: dict[str, float] = {
        "metrics/num_conversations": len(records),
        "metrics/num_turns": sum(len(r.per_turn_results) for r in records),
        "metrics/num_tasks": len(outcomes),
        "metrics/strict_success": strict_success(records),
        "metrics/turn_level_success": turn_level_success(records),
        "metrics/capability": capability(records),
        "metrics/reward_signal": _mean(records, "reward_signal"),
    }
    optional = {
        "metrics/shaped_return": _mean(records, "shaped_return"),
        "perf/tokens_mean": _mean([r.tokens for r in records], "total_tokens"),
        "perf/cost_usd_mean": _mean(records, "cost_usd"),
        "perf/latency_s_mean": _mean(records, "latency_s"),
    }
    summary.update({key: value for key, value in optional.items() if value is not None})
    for k in range(1, max(n for n, _ in outcomes.values()) + 1):
        kept = _tasks_with_enough_attempts(outcomes, k)
        summary[f"metrics/pass_hat_{k}"] = pass_hat_k(kept, k)
        summary[f"metrics/pass_at_{k}"] = pass_at_k(kept, k)
    return summary


def _tasks_with_enough_attempts(outcomes: dict[str, Outcome], k: int) -> list[Outcome]:
    kept = [(n, c) for n, c in outcomes.values() if n >= k]
    if len(kept) < len(outcomes):
        warnings.warn(
            f"pass^{k}: {len(outcomes) - len(kept)} of {len(outcomes)} tasks have fewer than "
            f"{k} attempts and are left out",
            UserWarning,
            stacklevel=3,
        )
    return kept


def _mean_over_tasks(outcomes: Iterable[Outcome], k: int, score: Any) -> float:
    outcomes = list(outcomes)
    if k < 1 or not outcomes:
        raise ValueError(f"pass^k needs k >= 1 and at least one task, got k={k}, {outcomes}")
    short = [(n, c) for n, c in outcomes if n < k or not 0 <= c <= n]
    if short:
        raise ValueError(
            f"pass^{k} needs 0 <= c <= n and n >= {k} attempts per task, got {short[:5]}"
        )
    return sum(score(n, c) for n, c in outcomes) / len(outcomes)


def _mean(items: Sequence[Any], field: str) -> float | None:
    """The mean of ``field`` over the items that carry it (``None`` when none does)."""
    values = [getattr(item, field) for item in items if item is not None]
    values = [v for v in values if v is not None]
    if not values:
        return None
    if len(values) < len(items):
        warnings.warn(
            f"{field} missing in {len(items) - len(values)} of {len(items)} records; "
            f"the mean is over the {len(values)} that have it",
            UserWarning,
            stacklevel=3,
        )
    return sum(values) / len(values)


def _count(records: Sequence[ConversationRecord]) -> int:
    if not records:
        raise ValueError("no records")
    return len(records)


def _check_one_run(records: Sequence[ConversationRecord]) -> None:
    _count(records)
    for field in ("policy", "step"):
        values = {getattr(r, field) for r in records}
        if len(values) > 1:
            raise ValueError(
                f"records of several {field} values {sorted(values, key=str)}: summarize each apart"
            )
    check_unique(records)


# ---- ceilings: the best each metric can be on a task set ----------------------------------------
Plan = tuple[str, tuple[bool, ...], bool]
"""``(task id, expect_success of each turn, runnable)`` of one conversation or attempt."""


def ceilings(items: Iterable[Conversation | ConversationRecord]) -> dict[str, float]:
    """The values a perfect agent reaches on these conversations (or attempts' records).

    ``ceiling/...``: the best value of each metric; ``floor/reward_signal``: what an agent that
    does nothing gets (conversations without a success-path turn score 1.0). A record that never
    ran (``pre_execution_error``) counts as a failed attempt even for a perfect agent.

    Example:
        >>> from crm_gym.generator import generate
        >>> ceilings(generate(20, 0))["ceiling/turn_level_success"]
        1.0
    """
    plans = [_plan(item) for item in items]
    if not plans:
        raise ValueError("ceilings of no conversations")
    strict = [ran and all(turns) for _, turns, ran in plans]
    by_task: dict[str, list[bool]] = {}
    for (task, _, _), ok in zip(plans, strict, strict=True):
        by_task.setdefault(task, []).append(ok)
    turns = sum(len(t) for _, t, _ in plans)
    return {
        "ceiling/strict_success": _share(strict),
        "ceiling/pass_hat_k": _share([all(oks) for oks in by_task.values()]),
        "ceiling/turn_level_success": sum(len(t) for _, t, ran in plans if ran) / turns,
        "ceiling/capability": _share([ran for _, _, ran in plans]),
        "ceiling/reward_signal": _share([ran for _, _, ran in plans]),
        "floor/reward_signal": _share([ran and not any(t) for _, t, ran in plans]),
        "share/planned_failure": _share([not all(t) for _, t, _ in plans]),
    }


def _plan(item: Conversation | ConversationRecord) -> Plan:
    if isinstance(item, ConversationRecord):
        turns = item.per_turn_results
        ran = all(t.verification != "pre_execution_error" for t in turns)
        return item.conversation_id, tuple(t.expect_success for t in turns), ran
    return item.conversation_id, tuple(t.expect_success for t in item.turns), True


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.metrics --ceilings TASKS``: a task set's ceilings as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metrics", description=main.__doc__)
    parser.add_argument(
        "--ceilings",
        required=True,
        metavar="TASKS",
        help="a JSONL task file or generated[:N[:SEED]] (as crm-gym eval --tasks)",
    )
    args = parser.parse_args(argv)
    from benchmarks.task_sets import load_tasks

    try:
        conversations = load_tasks(args.ceilings)
    except (ValueError, OSError) as exc:
        print(f"python -m benchmarks.metrics: --ceilings {args.ceilings}: {exc}", file=sys.stderr)
        return 2
    result = {
        "tasks": args.ceilings,
        "conversations": len(conversations),
        **ceilings(conversations),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
