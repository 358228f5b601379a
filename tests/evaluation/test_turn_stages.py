"""Whole conversations in eval logs: where they fail (turn_stages), X vs Y (conversation_poi)."""

from __future__ import annotations

import pytest

from benchmarks.conversation_poi import compare, per_conversation
from benchmarks.records import ConversationRecord
from benchmarks.turn_stages import conversation_passed, stage_rows, table


def _turn(turn_id: int, tool: bool, call: bool, reply: bool, passed: bool, expect=True) -> dict:
    return {
        "turn_id": turn_id,
        "expect_success": expect,
        "matches_expected_tool": tool,
        "tool_success": call,
        "response_success": reply,
        "success": passed and expect,
        "verification": "exact_match",
        "reward_components": {"passed": float(passed)},
    }


def _record(conversation_id: str, *turns: dict) -> ConversationRecord:
    return ConversationRecord.model_validate(
        {
            "conversation_id": conversation_id,
            "overall_success": False,
            "turns_executed": len(turns),
            "per_turn_results": list(turns),
            "reward_signal": 0.0,
        }
    )


RECORDS = [
    # right call, reply missing its facts; turn 2 fails as planned: only the last turn passes
    _record("A", _turn(1, True, True, False, False), _turn(2, True, True, False, True, False)),
    _record("B", _turn(1, True, True, True, True), _turn(2, True, True, True, True)),
    _record("C", _turn(1, False, False, False, False)),  # cut short after one turn
]


def test_stage_rows_count_each_stage_per_turn_position() -> None:
    assert stage_rows(RECORDS) == [(1, 3, 2, 2, 1, 1), (2, 2, 2, 2, 1, 2)]


def test_a_conversation_passes_only_when_every_turn_passes() -> None:
    assert [conversation_passed(r) for r in RECORDS] == [False, True, False]
    assert not conversation_passed(_record("D"))  # no turn scored


def test_table_names_the_file_and_its_conversations_passed(tmp_path) -> None:
    path = tmp_path / "greedy.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in RECORDS))
    lines = table([path]).splitlines()
    assert lines[2] == "| greedy | 1 | 3 | 2 | 2 | 1 | 1 | 1/3 |"
    assert lines[3] == "| greedy | 2 | 2 | 2 | 2 | 1 | 2 |  |"


def _log(tmp_path, name: str, passed: dict[str, list[bool]]) -> str:
    """A log whose conversation ``c`` has one attempt per entry of ``passed[c]``."""
    records = [
        _record(f"{c}#{k}" if k else c, _turn(1, True, ok, ok, ok)).model_copy(
            update={"attempt": k}
        )
        for c, outcomes in passed.items()
        for k, ok in enumerate(outcomes)
    ]
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in records))
    return str(path)


def test_conversation_poi_pairs_one_warm_start_with_every_run(tmp_path) -> None:
    warm = _log(tmp_path, "warm", {"A": [False, False], "B": [True, True], "C": [False, False]})
    runs = [
        _log(tmp_path, "s0", {"A": [True, True], "B": [True, True], "C": [False, False]}),
        _log(tmp_path, "s1", {"A": [True, False], "B": [True, True], "C": [False, False]}),
    ]
    assert per_conversation(runs[1]) == {"A": 0.5, "B": 1.0, "C": 0.0}
    result = compare(runs, [warm], reps=200)
    assert result["x"]["per_run"] == [2.0, 1.5] and result["y"]["per_run"] == [1.0, 1.0]
    # A improves in both runs (X wins), B and C tie (half each): (1 + 0.5 + 0.5) / 3
    assert result["poi"]["p"] == pytest.approx(2 / 3)
    assert result["gain"]["improved"] == 1 and result["gain"]["worse"] == 0
    with pytest.raises(ValueError, match="give one Y or as many"):
        compare(runs, [warm, warm, warm])
