"""Synthetic evaluation logs: Bernoulli strict successes with known rates per arm."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.records import ConversationRecord, TurnRecord

ARMS = ("crud-easy", "crud-hard", "analytics-easy", "policy-hard")


def record(conversation_id: str, ok: bool, **fields) -> ConversationRecord:
    """A one-turn attempt that succeeded or failed, with our fields."""
    turn = TurnRecord(
        turn_id=1,
        expect_success=True,
        tool_success=ok,
        response_success=ok,
        success=ok,
        verification="exact_match" if ok else "failed",
        reward=float(ok),
        reward_components={"tool": float(ok)},
    )
    return ConversationRecord(
        conversation_id=conversation_id,
        overall_success=ok,
        turns_executed=1,
        failed_at_turn=None if ok else 1,
        per_turn_results=[turn],
        reward_signal=float(ok),
        **fields,
    )


def synthetic_log(
    policy: str,
    rates: dict[str, float],
    rng: np.random.Generator,
    seeds: int = 5,
    attempts: int = 2,
    per_arm: int = 3,
    step: int | None = None,
) -> list[ConversationRecord]:
    """Attempts at ``per_arm`` conversations of every arm, succeeding with the arm's rate."""
    records = []
    for seed in range(seeds):
        for attempt in range(attempts):
            for index, (arm, rate) in enumerate(rates.items()):
                for j in range(per_arm):
                    ok = bool(rng.random() < rate)
                    records.append(
                        record(
                            f"{arm}-{j}",
                            ok,
                            policy=policy,
                            seed=seed,
                            attempt=attempt,
                            arm=arm,
                            workflow_category=f"family-{index % 2}",
                            shaped_return=0.2 + 0.7 * ok,
                            step=step,
                        )
                    )
    return records


def write_log(path: Path, records: list[ConversationRecord]) -> Path:
    """Write records as JSONL, one per line."""
    path.write_text("".join(r.model_dump_json() + "\n" for r in records))
    return path
