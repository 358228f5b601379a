"""``crm-gym rescore``: other harnesses' logs replayed on our CRM and scored as ``eval`` scores.

Fixtures (tests/evaluation/fixtures/): ``rescore_tasks.jsonl`` holds four conversations of
evaluation_400 (one creates an opportunity that later turns name by id; one uploads a document
with ``document_url``, which upstream's mock rejects); ``upstream_results.jsonl`` is upstream's
result records of an agent that made the ground-truth calls, with upstream's own ids for the
created opportunity; ``atlas_sessions.jsonl`` is an Atlas log with a turn that made no call and a
conversation the tasks lack.
"""

import argparse
import copy
import json
from pathlib import Path

import pytest

from agents.baselines import ReplayPolicy
from benchmarks.evaluate import evaluate
from benchmarks.foreign_logs import parse_record, read_log
from benchmarks.records import load_records
from benchmarks.rescore import rescore
from crm_gym.data import load_conversations
from crm_gym.errors import LogError
from crm_gym.generator import generate
from scripts.rescore_cmd import add_rescore_arguments, cmd_rescore

FIXTURES = Path(__file__).parent / "fixtures"
TASKS = FIXTURES / "rescore_tasks.jsonl"
UPSTREAM = FIXTURES / "upstream_results.jsonl"
ATLAS = FIXTURES / "atlas_sessions.jsonl"
CHAIN = "SKEL-CREATE NEW OPPORTUNITY_medium_0_1_3760b460"  # turn 3 views turn 2's new deal
MODIFY = "SKEL-MODIFY OPPORTUNITY_simple_0_55a88765"
UPLOAD = "SKEL-UPLOAD DOCUMENT_simple_0_c22ae826"


@pytest.fixture(scope="module")
def tasks():
    return load_conversations(TASKS)


def upstream_rows() -> list[dict]:
    return [json.loads(line) for line in UPSTREAM.read_text().splitlines()]


def rescored(rows: list[dict], tasks, **kwargs):
    logged = [parse_record(row, f"log:{number}") for number, row in enumerate(rows, start=1)]
    return rescore(logged, tasks, policy_name="gpt-4.1", **kwargs)


def by_id(records) -> dict:
    return {record.conversation_id: record for record in records}


def turn_successes(record) -> list[bool]:
    return [turn.success for turn in record.per_turn_results]


# ---- scoring -------------------------------------------------------------------------------------
def test_upstream_log_of_the_ground_truth_passes_every_turn(tasks):
    result = rescore(read_log(UPSTREAM), tasks, policy_name="gpt-4.1")
    records = by_id(result.records)
    assert set(records) == {c.conversation_id for c in tasks}
    assert all(
        turn.verification == "exact_match" for r in records.values() for turn in r.per_turn_results
    )
    assert all(r.overall_success and r.reward_signal == 1.0 for r in records.values())
    assert result.summary()["turns_passed"] == result.summary()["turns"] == 7
    assert result.unscorable == [] and result.not_in_log == [] and result.not_in_tasks == []
    chain = records[CHAIN]
    assert chain.tokens.prompt_tokens == 3100 and chain.metadata["agent"]["provider"] == "openai"
    assert chain.rescored_from == f"{UPSTREAM}:3" and chain.unscorable_turns == []


def test_rescored_records_score_as_eval_scores_the_ground_truth(tasks):
    ours = by_id(rescore(read_log(UPSTREAM), tasks, policy_name="gpt-4.1").records)
    theirs = by_id(
        evaluate(tasks, ReplayPolicy(), policy_name="replay", expose_reference=True, progress=False)
    )
    for conversation_id, record in theirs.items():
        mine = ours[conversation_id]
        assert mine.shaped_return == pytest.approx(record.shaped_return)
        for a, b in zip(mine.per_turn_results, record.per_turn_results, strict=True):
            assert (a.turn_id, a.verification, a.success) == (b.turn_id, b.verification, b.success)
            assert a.reward_components == b.reward_components


def test_eval_logs_of_generated_tasks_rescore_to_themselves(tmp_path):
    """Eval's records are upstream-format records: rescoring them reproduces every turn,
    planned-failure turns included."""
    conversations = list(generate(30, 0))
    log = tmp_path / "eval.jsonl"
    replay = dict(policy_name="replay", expose_reference=True, progress=False)
    evaluate(conversations, ReplayPolicy(), output=log, **replay)
    theirs = load_records(log)
    ours = rescore(read_log(log), conversations, policy_name="replay").records
    assert any(not t.expect_success for r in ours for t in r.per_turn_results)
    for a, b in zip(ours, theirs, strict=True):
        assert a.conversation_id == b.conversation_id and a.reward_signal == b.reward_signal
        assert a.per_turn_results == b.per_turn_results


def test_a_wrong_argument_fails_exactly_that_turn(tasks):
    rows = upstream_rows()
    chain = next(row for row in rows if row["conversation_id"] == CHAIN)
    chain["per_turn_results"][3]["arguments"] = {"criteria": {"stage": "Negotiation"}}
    record = by_id(rescored(rows, tasks).records)[CHAIN]
    assert turn_successes(record) == [True, True, True, False]
    wrong = record.per_turn_results[3]
    assert wrong.verification == "failed" and wrong.matches_expected_arguments is False
    assert wrong.arguments == {"criteria": {"stage": "Negotiation"}}
    assert (
        not record.overall_success and record.reward_signal == 0.75 and record.failed_at_turn == 4
    )


@pytest.mark.parametrize(
    ("dropped", "passes"),
    [
        ((), True),
        (("result",), True),
        (("expected_arguments",), True),
        (("result", "expected_arguments"), False),
    ],
)
def test_created_ids_are_translated_from_results_or_expected_arguments(tasks, dropped, passes):
    rows = [row for row in upstream_rows() if row["conversation_id"] == CHAIN]
    for turn in rows[0]["per_turn_results"]:
        for key in dropped:
            turn.pop(key, None)
    record = rescored(rows, tasks).records[0]
    # turn 3 names the opportunity that turn 2 created, by the id upstream's run gave it
    assert turn_successes(record) == [True, True, passes, True]
    shown = record.per_turn_results[2].arguments["opportunity_id"]
    assert (shown != "266ea3fc-5eef-45f4-844d-7aed05758f9e") is passes


def test_strict_upstream_reaches_the_crm(tasks):
    rows = [row for row in upstream_rows() if row["conversation_id"] == UPLOAD]
    assert turn_successes(rescored(rows, tasks).records[0]) == [True]
    strict = rescored(rows, tasks, strict_upstream=True).records[0].per_turn_results[0]
    assert not strict.success and "document_url" in strict.error


def test_atlas_log_turn_without_call_is_named_and_scored_as_no_call(tasks):
    result = rescore(read_log(ATLAS), tasks, policy_name="atlas")
    records = by_id(result.records)
    assert turn_successes(records[CHAIN]) == [True, True, True, True]
    assert records[CHAIN].tokens is None and records[CHAIN].cost_usd is None
    silent = records[MODIFY]
    assert silent.unscorable_turns == [1] and silent.per_turn_results[0].tool_name is None
    assert silent.per_turn_results[0].agent_response_text.startswith("Which stage")
    assert turn_successes(silent) == [False]
    assert result.unscorable == [f"{MODIFY}/1"]
    assert result.not_in_tasks == ["SKEL-NOT-IN-THE-TASKS_0"]
    assert sorted(result.not_in_log) == sorted(
        c.conversation_id for c in tasks if c.conversation_id not in (CHAIN, MODIFY)
    )


def test_turns_missing_from_a_record_are_unscorable_and_extra_turns_unknown(tasks):
    rows = [row for row in upstream_rows() if row["conversation_id"] == CHAIN]
    turns = rows[0]["per_turn_results"]
    rows[0]["per_turn_results"] = turns[:2] + [dict(turns[3], turn_id=9)]
    result = rescored(rows, tasks)
    assert result.unscorable == [f"{CHAIN}/3", f"{CHAIN}/4"]
    assert result.unknown_turns == [f"{CHAIN}/9"]
    assert turn_successes(result.records[0]) == [True, True, False, False]


def test_records_of_one_conversation_are_its_attempts(tasks):
    row = next(row for row in upstream_rows() if row["conversation_id"] == MODIFY)
    second = copy.deepcopy(row)
    second["per_turn_results"][0]["tool_name"] = None
    result = rescored([row, second], tasks)
    assert [(r.attempt, r.overall_success) for r in result.records] == [(0, True), (1, False)]
    assert result.unscorable == [f"{MODIFY}#1/1"]


# ---- reading logs --------------------------------------------------------------------------------
def test_turn_entries_accept_the_documented_variants():
    turns = [
        {"tool": "client_search", "arguments": '{"criteria": {"name": "A"}}', "response": "ok"},
        {"turn_id": "2", "tool_name": "quote_details", "arguments": None},
        {"turn_id": 2, "tool_name": "quote_details", "arguments": "not json"},
        {"turn_id": 3, "tool_name": "", "response_text": "no call"},
    ]
    record = parse_record({"final_payload": {"conversation_id": "c", "turn_results": turns}})
    assert record.conversation_id == "c" and sorted(record.turns) == [1, 2, 3]
    first, second, third = (record.turns[i] for i in (1, 2, 3))
    assert (first.calls[0].arguments, first.reply) == ({"criteria": {"name": "A"}}, "ok")
    assert [call.arguments for call in second.calls] == [{}, "not json"]
    assert third.calls == [] and third.reply == "no call"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"conversation_id": "c"}', "neither per_turn_results"),
        ('{"per_turn_results": []}', "no conversation_id"),
        ('{"conversation_id": "c", "per_turn_results": {}}', "must be a list, got dict"),
        ('{"conversation_id": "c", "per_turn_results": [{"turn_id": 0}]}', "got 0"),
        ('{"conversation_id": "c", "per_turn_results": [3]}', "turn result 1 is not an object"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path, line, message):
    path = tmp_path / "log.jsonl"
    path.write_text(UPSTREAM.read_text().splitlines()[0] + "\n\n" + line + "\n")
    with pytest.raises(LogError, match=f"^{path}:3: .*{message}"):
        read_log(path)


# ---- the command ---------------------------------------------------------------------------------
def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="crm-gym rescore")
    add_rescore_arguments(parser)
    return cmd_rescore(parser.parse_args(argv))


def test_cli_writes_records_and_names_what_it_could_not_score(tmp_path, capsys):
    out = tmp_path / "rescored.jsonl"
    out.write_text("stale\n")
    assert run(str(ATLAS), "--tasks", str(TASKS), "-o", str(out)) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["unscorable"] == [f"{MODIFY}/1"] and summary["turns_passed"] == 4
    assert f"unscorable: 1 turns (no call recorded): {MODIFY}/1" in captured.err
    assert "not in --tasks: 1 conversations of the log (skipped): SKEL-NOT-IN" in captured.err
    records = load_records(out)  # overwritten, not appended
    assert [r.policy for r in records] == ["atlas_sessions"] * 2  # no model in the log: its stem


@pytest.mark.filterwarnings("ignore:an algorithm has a single run")
def test_report_reads_the_rescored_log(tmp_path, capsys):
    pytest.importorskip("rliable", reason='needs the report extra: pip install "crm-gym[report]"')
    from scripts.cli import main

    out = tmp_path / "rescored.jsonl"
    assert main(["rescore", str(UPSTREAM), "--tasks", str(TASKS), "-o", str(out)]) == 0
    folder = tmp_path / "report"
    assert main(["report", str(out), "-o", str(folder), "--reps", "20", "--no-progress"]) == 0
    report = json.loads((folder / "report.json").read_text())
    assert "gpt-4.1" in json.dumps(report)
    assert "| gpt-4.1 | 4 | 1.000 |" in (folder / "report.md").read_text()


@pytest.mark.parametrize(
    ("log", "tasks", "message"),
    [
        ("missing.jsonl", str(TASKS), "no such file: missing.jsonl"),
        (str(UPSTREAM), "missing-tasks.jsonl", "no such task file: missing-tasks.jsonl"),
        ("bad.jsonl", str(TASKS), "bad.jsonl:2: not JSON"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, log, tasks, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.jsonl").write_text(UPSTREAM.read_text().splitlines()[0] + "\n{oops\n")
    assert run(log, "--tasks", tasks, "-o", "out.jsonl") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("crm-gym rescore: ") and message in err
    assert not (tmp_path / "out.jsonl").exists()
