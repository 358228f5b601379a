"""Where conversations fail: each turn position's stages, from ``crm-gym eval`` records.

A conversation passes when every turn passes, and a turn passes in stages: the expected tool,
then its arguments (``tool_success``: the call as expected, replies ignored), then the reply
(``response_success``; an expected-failure turn has no reply to get right), then the env's whole
verdict (``reward_components["passed"]``). One row per records file and turn position counts
each stage, so a 0 conversation success shows which stage stops it.

    python -m benchmarks.turn_stages runs/chain_eval/base-greedy.jsonl runs/chain_eval/*-s0-*.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from agents.rollout import every_turn_passed
from benchmarks.records import ConversationRecord, TurnRecord, load_records

COLUMNS = ("records", "turn", "turns", "expected tool", "call as expected", "reply", "passed")


def turn_passed(turn: TurnRecord) -> bool:
    """The env's verdict on the turn, as the records copy it."""
    return turn.reward_components.get("passed", 0.0) == 1.0


def conversation_passed(record: ConversationRecord) -> bool:
    """Every turn passed (``agents.rollout.Trajectory.passed``, from a record)."""
    return every_turn_passed(turn.reward_components for turn in record.per_turn_results)


def stage_rows(records: Sequence[ConversationRecord]) -> list[tuple[int, ...]]:
    """Per turn position: (turn, turns, expected tool, call as expected, reply, passed)."""
    positions = max((len(r.per_turn_results) for r in records), default=0)
    rows = []
    for index in range(positions):
        turns = [r.per_turn_results[index] for r in records if len(r.per_turn_results) > index]
        rows.append(
            (
                index + 1,
                len(turns),
                sum(bool(t.matches_expected_tool) for t in turns),
                sum(t.tool_success for t in turns),
                sum(t.response_success for t in turns if t.expect_success),
                sum(turn_passed(t) for t in turns),
            )
        )
    return rows


def table(paths: Sequence[str | Path]) -> str:
    """The markdown table of every file's turn stages, and its conversations passed."""
    lines = ["| " + " | ".join(COLUMNS) + " | conversations passed |", "|---" * 8 + "|"]
    for path in paths:
        records = load_records(path)
        passed = f"{sum(map(conversation_passed, records))}/{len(records)}"
        for row in stage_rows(records):
            cells = [Path(path).stem, *map(str, row), passed if row[0] == 1 else ""]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table of the records files named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", help="crm-gym eval JSONL logs")
    print(table(parser.parse_args(argv).records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
