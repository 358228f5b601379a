"""Reading JSONL datasets: good files, bad lines with their line numbers, hub names."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
import types
from pathlib import Path

import gymnasium as gym
import pytest

import crm_gym  # noqa: F401 (registers the envs)
from crm_gym.data.conversation import Conversation
from crm_gym.data.examples import builtin_path
from crm_gym.data.loading import (
    MAX_DEPTH,
    LoadProblem,
    good_conversations,
    is_hub_name,
    iter_conversations,
    load_conversations,
    read_conversations,
)
from crm_gym.errors import DataFileError, DataFileNotFoundError, DatasetError


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
    assert isinstance(caught.value, DataFileError)
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


# ---- encodings and compression -------------------------------------------------------------------
def lines_of(*ids: str) -> str:
    return "".join(json.dumps(record(i)) + "\n" for i in ids)


def test_a_utf8_bom_keeps_the_first_conversation(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_text(lines_of("first", "second"), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [c.conversation_id for c in load_conversations(path)] == ["first", "second"]


@pytest.mark.parametrize(
    ("encoding", "named"), [("utf-16", "UTF-16"), ("utf-32", "UTF-32"), ("utf-16-le", "NUL")]
)
def test_wide_encodings_are_refused_naming_the_encoding(tmp_path, encoding, named):
    path = tmp_path / "wide.jsonl"
    path.write_text(lines_of("a"), encoding=encoding)
    with pytest.raises(DataFileError, match=named) as caught:
        read_conversations(path)
    assert str(path) in str(caught.value) and "UTF-8" in str(caught.value)


def test_invalid_utf8_is_a_bad_line_with_its_number(tmp_path):
    path = tmp_path / "latin1.jsonl"
    broken = json.dumps(record("café"), ensure_ascii=False).encode("latin-1")
    path.write_bytes(lines_of("a").encode() + broken + b"\n" + lines_of("b").encode())
    good, (problem,) = read_conversations(path)
    assert [c.conversation_id for c in good] == ["a", "b"]
    assert problem.line == 2 and problem.message.startswith("not valid UTF-8 (byte 0xe9")


@pytest.mark.parametrize("name", ["tasks.jsonl.gz", "tasks.jsonl"])
def test_gzip_files_are_read_whatever_their_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(lines_of("a", "b").encode("utf-8-sig")))
    assert [c.conversation_id for c in load_conversations(path)] == ["a", "b"]


def test_a_truncated_gzip_is_a_data_file_error(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(lines_of(*map(str, range(50))).encode())[:200])
    with pytest.raises(DataFileError, match=r"cut\.jsonl\.gz: unreadable at line \d+"):
        read_conversations(path)


# ---- values that break parsers -------------------------------------------------------------------
def test_100k_deep_nesting_is_a_bad_line(tmp_path):
    path = write_lines(tmp_path / "deep.jsonl", ["[" * 100_000 + "]" * 100_000, lines_of("a")])
    good, (problem,) = read_conversations(path)
    assert [c.conversation_id for c in good] == ["a"]
    assert problem == LoadProblem(1, "not valid JSON (nested too deeply to parse)")


@pytest.mark.parametrize(("depth", "refused"), [(MAX_DEPTH, False), (MAX_DEPTH + 1, True)])
def test_nesting_that_parses_but_would_overflow_later_is_refused(tmp_path, depth, refused):
    deep = record("deep")
    # record > turns > turn > expected_args: 4 levels, then the nested lists
    deep["turns"][0]["expected_args"] = {"x": json.loads("[" * (depth - 4) + "]" * (depth - 4))}
    good, bad = read_conversations(write_lines(tmp_path / "d.jsonl", [json.dumps(deep)]))
    assert (len(good), len(bad)) == ((0, 1) if refused else (1, 0))
    if refused:
        assert bad[0].message == f"nested deeper than {MAX_DEPTH} levels"


def test_a_5000_digit_integer_is_a_bad_line(tmp_path):
    huge = json.dumps(record("huge")).replace('"turn_id": 1', '"turn_id": ' + "9" * 5000)
    good, (problem,) = read_conversations(write_lines(tmp_path / "i.jsonl", [huge]))
    assert good == [] and problem.line == 1
    assert "4300 digits" in problem.message and "set_int_max_str_digits" not in problem.message


# ---- files that are not datasets -----------------------------------------------------------------
def test_a_directory_is_a_data_file_error(tmp_path):
    with pytest.raises(DataFileError, match="is a directory"):
        load_conversations(tmp_path)
    with pytest.raises(DataFileError, match="is a directory"):
        read_conversations(str(tmp_path))


@pytest.mark.parametrize("content", ["[]\n", "[]\n{}\n3\n", "", "\n  \n"])
def test_a_file_without_any_conversation_is_an_error(tmp_path, content):
    path = tmp_path / "none.jsonl"
    path.write_text(content)
    with pytest.raises(DataFileError, match="none.jsonl: ") as caught:
        load_conversations(path)
    if content.strip():
        assert "line 1: expected a JSON object, got list" in str(caught.value)
    else:
        assert "no conversation in the file (it is empty)" in str(caught.value)


def test_good_conversations_streams_reports_and_refuses_a_file_of_bad_lines(tmp_path):
    reported: list[LoadProblem] = []
    mixed = write_lines(tmp_path / "mixed.jsonl", ["[]", json.dumps(record("a"))])
    assert [c.conversation_id for c in good_conversations(mixed, reported.append)] == ["a"]
    assert reported == [LoadProblem(1, "expected a JSON object, got list")]
    only_bad = write_lines(tmp_path / "bad.jsonl", ["[]", "{}"])
    with pytest.raises(
        DataFileError, match=r"bad.jsonl: no conversation .*all 2 line\(s\) are bad"
    ):
        list(good_conversations(only_bad, reported.append))


def test_duplicate_ids_are_refused_naming_both_lines(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text(lines_of("a", "b", "c", "b"))
    good, (problem,) = read_conversations(path)
    assert [c.conversation_id for c in good] == ["a", "b", "c"]
    assert problem == LoadProblem(4, "duplicate conversation_id 'b' (first on line 2)")
    with pytest.raises(DataFileError, match="line 4: duplicate conversation_id 'b' .*line 2"):
        load_conversations(path)


# ---- local paths versus hub names ----------------------------------------------------------------
@pytest.fixture
def fake_hub(monkeypatch):
    """A ``datasets`` module that records what it was asked (nothing loads from the hub)."""
    calls: list[str] = []
    rows: dict[str, list[dict]] = {}

    def load_dataset(name: str, split: str) -> list[dict]:
        calls.append(name)
        if name not in rows:
            raise FileNotFoundError(f"Dataset '{name}' doesn't exist on the Hub")
        return rows[name]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    return calls, rows


@pytest.mark.parametrize(
    "source", ["tasks", "./tasks", "../tasks", "data/tasks", "data/tasks.jsonl", "a/b/c", "/no/x"]
)
def test_a_missing_local_path_is_no_such_file_not_a_hub_name(
    tmp_path, monkeypatch, fake_hub, source
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()  # so data/tasks is a missing file in an existing folder
    with pytest.raises(DataFileNotFoundError, match=f"no such file: {source}") as caught:
        load_conversations(source)
    assert isinstance(caught.value, FileNotFoundError)
    assert fake_hub[0] == []  # the hub was never asked


@pytest.mark.parametrize(
    ("source", "hub"),
    [
        ("arc-computer/arc-crm-benchmark", True),
        ("owner/name.v2", True),
        ("owner/tasks.jsonl", False),
        ("owner/tasks.JSONL.GZ", False),
        ("./name", False),
        ("~/name", False),
        ("owner/", False),
        ("owner/-name", False),
        ("a/b/c", False),
        ("C:\\data\\x", False),
        ("name", False),
    ],
)
def test_the_hub_name_rule(tmp_path, monkeypatch, source, hub):
    monkeypatch.chdir(tmp_path)
    assert is_hub_name(source) is hub


def test_an_existing_owner_folder_makes_a_path_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_hub_name("data/tasks")
    (tmp_path / "data").mkdir()
    assert not is_hub_name("data/tasks")


def test_a_missing_hub_dataset_is_no_such_file(tmp_path, monkeypatch, fake_hub):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataFileNotFoundError, match="no such file or Hugging Face dataset: o/n"):
        load_conversations("o/n")
    assert fake_hub[0] == ["o/n"]


def test_hub_rows_get_the_checks_of_file_lines(tmp_path, monkeypatch, fake_hub):
    monkeypatch.chdir(tmp_path)
    as_string = {**record("a"), "turns": json.dumps(record("a")["turns"])}
    fake_hub[1]["o/good"] = [as_string, record("b")]
    assert [c.conversation_id for c in load_conversations("o/good")] == ["a", "b"]
    fake_hub[1]["o/dup"] = [record("a"), record("a")]
    with pytest.raises(DataFileError, match="o/dup .*line 2: duplicate conversation_id 'a'"):
        load_conversations("o/dup")


# ---- the env's task source -----------------------------------------------------------------------
def test_gym_make_with_a_bad_task_file_raises_a_data_file_error(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", ["[]"])
    with pytest.raises(DataFileError, match=r"bad.jsonl: 1 bad line\(s\): line 1: expected"):
        gym.make("ArcCrm-v1", tasks=str(path))
    with pytest.raises(DataFileNotFoundError, match="no such file"):
        gym.make("ArcCrm-v1", tasks=tmp_path / "missing.jsonl")


def test_gym_make_refuses_repeated_conversation_ids():
    twice = [Conversation.from_record(record("a")), Conversation.from_record(record("a"))]
    with pytest.raises(DatasetError, match=r"duplicate conversation_id 'a' \(tasks 0 and 1\)"):
        gym.make("ArcCrm-v1", tasks=twice)


def test_a_scenario_with_non_object_setup_entities_is_read_not_a_traceback(tmp_path):
    scenario = {"scenario_id": "SC-2", "expected_tool": "list_clients", "setup_entities": 5}
    (conversation,) = load_conversations(write_lines(tmp_path / "s.jsonl", [json.dumps(scenario)]))
    assert conversation.initial_entities == {"seed_data": 5} and conversation.seed_data == {}
