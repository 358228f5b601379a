"""Reading JSONL datasets: good files, bad lines with their line numbers, hub names."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from crm_gym.data.conversation import Conversation
from crm_gym.data.examples import builtin_path
from crm_gym.data.loading import (
    LoadProblem,
    iter_conversations,
    load_conversations,
    read_conversations,
)
from crm_gym.errors import DatasetError


def record(conversation_id: str) -> dict:
    return {
        "conversation_id": conversation_id,
        "complexity_level": "simple",
        "turns": [
            {
                "turn_id": 1,
                "user_utterance": "How many records?",
                "expected_tool": "summarize_counts",
            }
        ],
    }


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    lines = [json.dumps(record("a")), "", json.dumps(record("b")), "   "]
    return write_lines(tmp_path / "good.jsonl", lines)


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    lines = [
        json.dumps(record("first")),  # line 1
        '{"conversation_id": "broken", "turns": [',  # line 2: not JSON
        json.dumps([record("in-a-list")]),  # line 3: an array
        json.dumps({"conversation_id": "no-turns", "workflow_category": "General"}),  # line 4
        "",  # line 5: blank, skipped
        json.dumps(record("last")),  # line 6
    ]
    return write_lines(tmp_path / "bad.jsonl", lines)


# ---- good files ----------------------------------------------------------------------------------
def test_load_conversations_reads_every_line_and_skips_blank_ones(good_file):
    conversations = load_conversations(good_file)
    assert [c.conversation_id for c in conversations] == ["a", "b"]
    assert all(isinstance(c, Conversation) for c in conversations)
    assert load_conversations(str(good_file)) == conversations


def test_load_conversations_reads_the_builtin_examples():
    conversations = load_conversations(builtin_path())
    assert 20 <= len(conversations) <= 24
    assert len({c.conversation_id for c in conversations}) == len(conversations)


def test_scenario_lines_are_converted_on_load(tmp_path):
    scenario = {"scenario_id": "SC-1", "expected_tool": "list_clients", "setup_entities": {}}
    (conversation,) = load_conversations(write_lines(tmp_path / "s.jsonl", [json.dumps(scenario)]))
    assert conversation.conversation_id == "SC-1" and conversation.turns[0].turn_id == 1


# ---- bad lines -----------------------------------------------------------------------------------
def test_read_conversations_reports_bad_lines_and_keeps_the_good_ones(bad_file):
    good, bad = read_conversations(bad_file)
    assert [c.conversation_id for c in good] == ["first", "last"]
    assert [problem.line for problem in bad] == [2, 3, 4]
    assert "not valid JSON" in bad[0].message
    assert bad[1].message == "expected a JSON object, got list"
    assert "not a conversation" in bad[2].message and "turns" in bad[2].message
    assert str(bad[0]).startswith("line 2: ")


def test_iter_conversations_yields_in_file_order(bad_file):
    items = list(iter_conversations(bad_file))
    kinds = [type(item).__name__ for item in items]
    assert kinds == ["Conversation", "LoadProblem", "LoadProblem", "LoadProblem", "Conversation"]
    assert isinstance(items[1], LoadProblem) and items[1].line == 2


def test_a_turn_order_problem_names_its_line(tmp_path):
    broken = record("x")
    broken["turns"][0]["turn_id"] = 2
    path = write_lines(tmp_path / "order.jsonl", [json.dumps(record("ok")), json.dumps(broken)])
    _, (problem,) = read_conversations(path)
    assert problem.line == 2 and "turn_id values must be 1..1" in problem.message


def test_load_conversations_raises_naming_the_bad_lines(bad_file):
    with pytest.raises(DatasetError) as caught:
        load_conversations(bad_file)
    message = str(caught.value)
    assert "3 bad line(s)" in message
    for line in (2, 3, 4):
        assert f"line {line}:" in message
    assert str(bad_file) in message


# ---- missing files and hub names -----------------------------------------------------------------
def test_a_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_conversations(tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError):
        load_conversations(str(tmp_path / "missing.jsonl"))
    with pytest.raises(FileNotFoundError):
        read_conversations(tmp_path / "missing.jsonl")


@pytest.mark.skipif(
    importlib.util.find_spec("datasets") is not None, reason="datasets is installed"
)
def test_hub_names_need_the_hf_extra(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # so that the name cannot be a relative path
    with pytest.raises(ImportError, match=r"crm-gym\[hf\]"):
        load_conversations("arc-computer/arc-crm-benchmark")
