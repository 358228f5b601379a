"""``benchmarks.turn_stages``: each turn position's stages, and whole conversations passed."""

from __future__ import annotations

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
