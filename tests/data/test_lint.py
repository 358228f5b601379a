"""The dataset linter: one small hand-made conversation per finding, a clean conversation with no
finding, and the ``crm-gym lint`` CLI (the public file's counts: ``test_lint_public.py``)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crm_gym.data import Conversation
from crm_gym.data.lint import FINDINGS, lint
from crm_gym.data.replay import replay

REPO = Path(__file__).resolve().parents[2]

CLIENT = "11111111-1111-4111-8111-111111111111"
OTHER_CLIENT = "12121212-1212-4212-8212-121212121212"
OPP = "22222222-2222-4222-8222-222222222222"
QUOTE = "33333333-3333-4333-8333-333333333333"
NEW = "44444444-4444-4444-8444-444444444444"
FOREIGN = "99999999-9999-4999-8999-999999999999"

ACME = {
    "name": "Acme Corporation",
    "email": "contact@acme.com",
    "status": "Active",
    "industry": "Technology",
}
DEAL = {
    "name": "Q4 Sales Opportunity",
    "client_id": CLIENT,
    "stage": "Qualification",
    "amount": 100000,
    "probability": 50,
}
SEED = {"Client": {CLIENT: ACME}, "Opportunity": {OPP: DEAL}}


# ---- building conversations ------------------------------------------------------------------
def turn(n, tool, args, utterance, response=None, **extra):
    record = dict(turn_id=n, expected_tool=tool, expected_args=args, user_utterance=utterance)
    record.update(extra)
    if response is not None:
        record["expected_response"] = {"text": response}
    return record


def make(*turns, seed=None, **fields):
    record = {
        "conversation_id": "c1",
        "workflow_category": "General",
        "complexity_level": "simple",
        "turns": list(turns),
        "initial_entities": {"seed_data": SEED if seed is None else seed},
        **fields,
    }
    return Conversation.from_record(record)


def find_acme(response=None, **extra):
    return turn(
        1,
        "client_search",
        {"criteria": {"name": "Acme Corporation"}},
        "Find client Acme Corporation",
        response,
        **extra,
    )


def modify_first(client_id="{{turn_1.client_id}}", status="Inactive", **extra):
    extra.setdefault("references_previous_turns", [1])
    return turn(
        2,
        "modify_client",
        {"client_id": client_id, "status": status},
        f"Set that client's status to {status}",
        f"Updated Acme Corporation. Key details: client_id={CLIENT}, status={status}.",
        **extra,
    )


def clean():
    return make(
        find_acme(
            f"Confirmed Acme Corporation is already in the CRM. Key details: "
            f"client_id={CLIENT}, status=Active, industry=Technology."
        ),
        modify_first(),
    )


def found(report):
    return {name: entry["count"] for name, entry in report.items() if entry["count"]}


# ---- the report's shape -------------------------------------------------------------------------
def test_clean_conversation_has_no_finding():
    report = lint([clean()])
    assert list(report) == list(FINDINGS)
    assert found(report) == {}
    for name, entry in report.items():
        assert entry == {"count": 0, "unit": FINDINGS[name][0], "examples": [], "breakdown": {}}


def test_empty_input_reports_every_finding_as_zero():
    report = lint([])
    assert set(report) == set(FINDINGS) and found(report) == {}


def test_examples_name_conversation_and_turn_and_are_capped():
    conversations = [
        make(turn(1, "opportunity_search", {}, "Search for opportunities"), conversation_id=f"c{i}")
        for i in range(8)
    ]
    entry = lint(conversations)["search_without_criteria"]
    assert entry["count"] == 8 and entry["breakdown"] == {"opportunity_search": 8}
    assert entry["examples"] == [f"c{i} turn 1: opportunity_search({{}})" for i in range(5)]


def test_examples_prefer_distinct_conversations():
    search = turn(1, "opportunity_search", {}, "Search for opportunities")
    conversations = [
        make(search, {**search, "turn_id": 2}, conversation_id=f"c{i}") for i in range(3)
    ]
    examples = lint(conversations)["search_without_criteria"]["examples"]
    assert [example.split(":")[0] for example in examples] == [
        "c0 turn 1",
        "c1 turn 1",
        "c2 turn 1",
        "c0 turn 2",
        "c1 turn 2",
    ]


def test_literal_id_created_by_an_earlier_turn_is_not_dangling():
    create = turn(
        1,
        "create_new_client",
        {"name": "Globex", "email": "ops@globex.com", "status": "Prospect", "client_id": NEW},
        "Add client Globex, ops@globex.com, as a Prospect",
    )
    update = turn(
        2,
        "modify_client",
        {"client_id": NEW, "status": "Active"},
        f"Set client {NEW} status to Active",
    )
    assert found(lint([make(create, update)])) == {}


def test_duplicate_conversation_ids():
    report = lint([clean(), clean()])
    assert found(report) == {"duplicate_conversation_id": 1}
    assert report["duplicate_conversation_id"]["examples"] == ["c1: again"]


# ---- one small conversation per finding ----------------------------------------------------------
def upload(args, utterance):
    base = {"entity_type": "Client", "entity_id": CLIENT, "file_name": "brief.pdf"}
    return make(turn(1, "upload_document", {**base, **args}, utterance))


def failing_turn(status, substring):
    return make(
        turn(
            1,
            "modify_client",
            {"client_id": CLIENT, "status": status},
            f"Set client {CLIENT} status to {status}",
            expect_success=False,
            expected_error_substring=substring,
        ),
        contains_failure=True,
        failure_turn=1,
    )


def template_case(template, references):
    return make(find_acme(), modify_first(template, references_previous_turns=references))


def search_then_view(stage):
    view = turn(
        2,
        "view_opportunity_details",
        {"opportunity_id": "{{turn_1.opportunity_id}}"},
        "Show that opportunity",
        references_previous_turns=[1],
    )
    search = turn(
        1,
        "opportunity_search",
        {"criteria": {"stage": stage}},
        f"Find opportunities in stage {stage}",
    )
    return make(search, view)


def two_clients():
    second = {**ACME, "email": "billing@acme.com"}
    return make(find_acme(), modify_first(), seed={"Client": {CLIENT: ACME, NEW: second}})


def labelled(**fields):
    return make(find_acme(), **fields)


# fmt: off
CASES = {
    "unknown_tool": (
        make(turn(1, "find_client", {"name": "Acme Corporation"}, "Find client Acme Corporation")),
        {"unknown_tool": 1}),
    "unknown_argument": (
        make(turn(1, "modify_client", {"client_id": CLIENT, "status": "Active", "colour": "red"},
                  f"Set client {CLIENT} status to Active and colour red")),
        {"unknown_argument": 1, "invalid_tool_call": 1}),
    "document_url_argument": (
        upload({"document_url": "https://example.com/brief.pdf"},
               "Attach brief.pdf from https://example.com/brief.pdf to this client"),
        {"document_url_argument": 1, "invalid_tool_call": 1}),
    "invalid_tool_call": (
        make(turn(1, "modify_client", {"client_id": CLIENT, "status": "Dormant"},
                  f"Set client {CLIENT} status to Dormant")),
        {"invalid_tool_call": 1}),
    "invalid_file_name": (
        upload({"file_name": "brief.xls"}, "Attach brief.xls to this client"),
        {"invalid_tool_call": 1}),
    "unexpected_success_turns": (
        failing_turn("Inactive", "must be one of"), {"unexpected_success_turns": 1}),
    "expected_error_mismatch": (
        failing_turn("Dormant", "not found"), {"expected_error_mismatch": 1}),
    "dangling_literal_id": (
        make(turn(1, "modify_client", {"client_id": FOREIGN, "status": "Active"},
                  f"Set client {FOREIGN} status to Active")),
        {"dangling_literal_id": 1, "invalid_tool_call": 1}),
    "literal_id_of_wrong_type": (
        make(turn(1, "view_opportunity_details", {"opportunity_id": CLIENT},
                  f"Show opportunity {CLIENT}")),
        {"dangling_literal_id": 1, "invalid_tool_call": 1}),
    "template_to_same_turn": (
        template_case("{{turn_2.client_id}}", [1]),
        {"bad_template_reference": 1, "invalid_tool_call": 1,
         "references_previous_turns_mismatch": 1}),
    "template_to_turn_zero": (
        template_case("{{turn_0.client_id}}", [1]),
        {"bad_template_reference": 1, "invalid_tool_call": 1,
         "references_previous_turns_mismatch": 1}),
    "template_to_missing_field": (
        template_case("{{turn_1.contact_id}}", [1]),
        {"bad_template_reference": 1, "invalid_tool_call": 1}),
    "template_from_empty_search": (
        search_then_view("Closed-Won"),
        {"template_from_empty_search": 1, "empty_search_results": 1, "invalid_tool_call": 1}),
    "template_from_multi_hit_search": (two_clients(), {"template_from_multi_hit_search": 1}),
    "non_turn_placeholders": (
        make(turn(1, "contact_search", {"criteria": {"first_name": "{{contact_first}}"}},
                  "Find contacts with first name {{contact_first}}")),
        {"non_turn_placeholders": 1, "empty_search_results": 1}),
    "single_brace_leftovers": (
        make(turn(1, "opportunity_search", {"criteria": {"stage": "Qualification"}},
                  "Show me opportunities matching {criteria} in stage Qualification",
                  "Found {count} deals.")),
        {"single_brace_leftovers": 2}),
    "utterance_turn_templates": (
        make(find_acme(), {**modify_first(),
                           "user_utterance": "Set client {{turn_1.client_id}} status to Inactive"}),
        {"utterance_turn_templates": 1}),
    "references_previous_turns_mismatch": (
        make(find_acme(), modify_first(references_previous_turns=[])),
        {"references_previous_turns_mismatch": 1}),
    "underspecified_utterance": (
        make(turn(1, "modify_client", {"client_id": CLIENT, "status": "Inactive"},
                  f"Update client {CLIENT}")),
        {"underspecified_utterance": 1}),
    "search_without_criteria": (
        make(turn(1, "opportunity_search", {"criteria": {}}, "Search for opportunities")),
        {"search_without_criteria": 1}),
    "empty_search_results": (
        make(turn(1, "client_search", {"criteria": {"name": "Globex"}}, "Find client Globex")),
        {"empty_search_results": 1}),
    "search_hits_mismatch": (make(find_acme(expected_hits=0)), {"search_hits_mismatch": 1}),
    "null_in_expected_response": (
        make(find_acme("Added null to the CRM.")), {"null_in_expected_response": 1}),
    "response_timestamps": (
        make(find_acme("Confirmed Acme. Key details: created_date=2025-11-12T01:45:21+00:00.")),
        {"response_timestamps": 1}),
    "response_placeholders": (
        make(find_acme("Confirmed {{turn_1.name}} is already in the CRM.")),
        {"response_placeholders": 1}),
    "boolean_as_money": (
        make(turn(1, "delete_opportunity", {"opportunity_id": OPP}, f"Delete opportunity {OPP}",
                  "delete_opportunity. Key details: value=$True.")),
        {"boolean_as_money": 1}),
    "foreign_ids_of_a_lookup": (
        make(find_acme(f"Confirmed Acme Corporation. Key details: client_id={FOREIGN}.")),
        {"response_foreign_ids": 1, "lookup_response_foreign_ids": 1, "response_id_mismatch": 1,
         "response_seeded_id_mismatch": 1}),
    "foreign_ids_of_a_create": (
        make(turn(1, "create_new_client",
                  {"name": "Globex", "email": "ops@globex.com", "status": "Prospect"},
                  "Add client Globex, ops@globex.com, as a Prospect",
                  f"Added Globex to the CRM. Key details: client_id={FOREIGN}, status=Prospect.")),
        {"response_foreign_ids": 1, "response_id_mismatch": 1}),
    "response_value_mismatch": (
        make(find_acme(f"Confirmed Acme Corporation. Key details: client_id={CLIENT}, "
                       "status=Inactive, amount=$5.")),
        {"response_value_mismatch": 2}),
    "response_emptiness_mismatch": (
        make(find_acme("No results returned from client search.")),
        {"response_emptiness_mismatch": 1}),
    "complexity_vs_turn_count": (
        labelled(complexity_level="medium"), {"complexity_vs_turn_count": 1}),
    "complexity_vs_conversation_id": (
        labelled(conversation_id="SKEL-CLIENT SEARCH_medium_0_abcdef12"),
        {"complexity_vs_conversation_id": 1}),
    "workflow_category_vs_task": (
        labelled(conversation_id="SKEL-CLIENT SEARCH_simple_0_abcdef12",
                 workflow_category="Quote Management"),
        {"workflow_category_vs_task": 1}),
    "failure_turn_mismatch": (
        labelled(contains_failure=True, failure_turn=1), {"failure_turn_mismatch": 1}),
    "seed_rejected_by_builder": (
        make(find_acme(), seed={"Client": {CLIENT: ACME}, "Opportunity": {
            OPP: {key: value for key, value in DEAL.items() if key != "probability"}}}),
        {"seed_rejected": 1}),
    "seed_rejected_orphan": (
        make(find_acme(), seed={"Client": {CLIENT: ACME}, "Contact": {NEW: {
            "first_name": "John", "last_name": "Doe", "client_id": OTHER_CLIENT}}}),
        {"seed_rejected": 1}),
    "seed_altered": (
        make(find_acme(), seed={
            "Client": {CLIENT: ACME},
            "Opportunity": {OPP: {**DEAL, "stage": "Closed-Won"}},
            "Quote": {QUOTE: {"opportunity_id": OPP, "amount": 1000, "status": "Draft",
                              "version": "1.0"}},
            "Note": {NEW: {"entity_type": "Client", "entity_id": CLIENT, "content": "Hi"}}}),
        {"seed_altered": 3}),
}
"""Case name -> (a conversation, the findings it must trigger and no others)."""
# fmt: on


@pytest.mark.parametrize("case", list(CASES))
def test_each_finding_is_triggered_by_a_small_conversation(case):
    conversation, expected = CASES[case]
    report = lint([conversation])
    assert found(report) == expected
    for name, count in expected.items():
        examples = report[name]["examples"]
        assert len(examples) == count
        assert all(example.startswith(conversation.conversation_id) for example in examples)


def test_every_finding_has_a_triggering_case():
    triggered = {name for _, expected in CASES.values() for name in expected}
    assert triggered | {"duplicate_conversation_id"} == set(FINDINGS)


def test_breakdowns_and_details_of_small_cases():
    report = lint([CASES["underspecified_utterance"][0], CASES["seed_altered"][0]])
    assert report["underspecified_utterance"]["breakdown"] == {"status": 1}
    assert report["seed_altered"]["breakdown"] == {
        "Opportunity: stage": 1,
        "Quote: version": 1,
        "Note": 1,
    }
    details = " ".join(report["seed_altered"]["examples"])
    assert "stage changed 'Closed-Won' -> 'Qualification'" in details
    assert "version dropped ('1.0')" in details and "ignored by upstream" in details
    document = lint([CASES["document_url_argument"][0]])["invalid_tool_call"]["examples"][0]
    assert "upstream rules: 1 validation error for Document / document_url" in document


# ---- what is not a finding (the rules of the lint module docstring) ----------------------------
def unknown_id_turn(literal, substring):
    return make(
        turn(
            1,
            "modify_client",
            {"client_id": literal, "status": "Active"},
            f"Set client {literal} status to Active",
            expect_success=False,
            expected_error_substring=substring,
        ),
        contains_failure=True,
        failure_turn=1,
    )


def test_an_unknown_id_on_purpose_is_not_dangling():
    named = unknown_id_turn(FOREIGN, f"Client not found with ID '{FOREIGN}'.")
    assert found(lint([named])) == {}
    assert found(lint([unknown_id_turn(FOREIGN, "not found")])) == {}
    typo = CLIENT[:-1] + "2"
    assert found(lint([unknown_id_turn(typo, f"Client not found with ID '{typo}'.")])) == {}


def test_the_not_found_exemption_is_checked_by_the_replay():
    other = unknown_id_turn(FOREIGN, f"Client not found with ID '{NEW}'.")
    assert found(lint([other])) == {"dangling_literal_id": 1, "expected_error_mismatch": 1}
    seeded = unknown_id_turn(CLIENT, f"Client not found with ID '{CLIENT}'.")
    assert found(lint([seeded])) == {"unexpected_success_turns": 1}


def test_a_declared_empty_search_is_intended():
    criteria, said = {"criteria": {"name": "Globex"}}, "No results: no clients matched."
    search = turn(1, "client_search", criteria, "Find client Globex", said, expected_hits=0)
    assert found(lint([make(search)])) == {}
    one = find_acme(expected_hits=1)
    assert found(lint([make(one)])) == {}


@pytest.mark.parametrize(
    "said",
    ["$100k", "100k", "$100,000.00", "one hundred thousand dollars", "USD 100,000", "100000"],
)
def test_written_amounts_are_stated(said):
    asked = f"Set the amount of opportunity {OPP} to {said}"
    change = turn(1, "modify_opportunity", {"opportunity_id": OPP, "amount": 100000}, asked)
    assert found(lint([make(change)])) == {}


@pytest.mark.parametrize("said", ["2025-03-03", "March 3, 2025", "3 March 2025", "Mar 3, 2025"])
def test_written_dates_and_percentages_are_stated(said):
    arguments = {"opportunity_id": OPP, "close_date": "2025-03-03", "probability": 40}
    asked = f"Move opportunity {OPP} to close {said} at forty percent"
    change = turn(1, "modify_opportunity", arguments, asked)
    assert found(lint([make(change)])) == {}
    vague = {**change, "user_utterance": f"Move opportunity {OPP} to close {said}"}
    assert found(lint([make(vague)])) == {"underspecified_utterance": 1}


def created_then_shown(**fields):
    """A create turn and a modify turn whose replies show the id the default replay creates."""
    new_client = {"name": "Globex", "email": "ops@globex.com", "status": "Prospect"}
    create = turn(
        1, "create_new_client", new_client, "Add client Globex, ops@globex.com, as a Prospect"
    )
    set_active = {"client_id": "{{turn_1.client_id}}", "status": "Active"}
    asked = "Set that client's status to Active"
    update = turn(2, "modify_client", set_active, asked, references_previous_turns=[1])
    draft = make(create, update, **fields)
    new_id = replay(draft).turns[0].result["client_id"]
    shown = f"client Globex: client_id={new_id}"
    create["expected_response"] = {"text": f"Created {shown}."}
    update["expected_response"] = {"text": f"Updated {shown}, status=Active."}
    return make(create, update, **fields)


def test_ids_the_episode_creates_are_not_foreign():
    report = lint([created_then_shown(episode_seed=7)])
    assert found(report) == {}


def test_crm_gym_data_is_judged_by_default_rules():
    """With an ``episode_seed``: default seeding (notes, companies, every model field) and reply
    values from the default replay; without one, upstream's."""
    quote = {"opportunity_id": OPP, "amount": 1000, "status": "Draft", "version": "1.0"}
    note = {"entity_type": "Client", "entity_id": CLIENT, "content": "Hi"}
    company = {"name": "Initech", "type": "Partner"}
    seed = {**SEED, "Quote": {QUOTE: quote}, "Note": {NEW: note}, "Company": {FOREIGN: company}}
    said = "Record counts: notes=1, companies=1."
    count = turn(1, "summarize_counts", {}, "How many records of each kind do we have?", said)
    upstream = lint([make(count, seed=seed)])
    assert found(upstream) == {"seed_altered": 3, "response_value_mismatch": 2}
    assert found(lint([make(count, seed=seed, episode_seed=3)])) == {}
    odd = {**seed, "Quote": {QUOTE: {**seed["Quote"][QUOTE], "colour": "red"}}}
    report = lint([make(count, seed=odd, episode_seed=3)])
    assert found(report) == {"seed_altered": 1}
    assert report["seed_altered"]["breakdown"] == {"Quote: colour": 1}


# ---- the CLI -------------------------------------------------------------------------------------
def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", "lint", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_lint_json_reports_bad_lines_and_lints_the_rest(tmp_path):
    leftover = make(
        turn(1, "opportunity_search", {}, "Find opportunities in stage {stage}"),
        conversation_id="c2",
    )
    lines = [
        clean().model_dump_json(),
        "{not json",
        json.dumps({"conversation_id": "x"}),
        leftover.model_dump_json(),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = run_cli(str(path), "--json")
    assert out.returncode == 0, out.stderr
    assert "line 2: not valid JSON" in out.stderr
    assert "line 3: not a conversation" in out.stderr
    report = json.loads(out.stdout)
    assert list(report) == list(FINDINGS)
    assert all(
        set(entry) == {"count", "unit", "examples", "breakdown"} for entry in report.values()
    )
    assert found(report) == {"single_brace_leftovers": 1, "search_without_criteria": 1}
    assert report["single_brace_leftovers"]["examples"][0].startswith("c2 turn 1: {stage}")


def test_cli_lint_text_on_evaluation_400(public_path):
    out = run_cli(str(public_path))
    assert out.returncode == 0, out.stderr
    assert "   656  underspecified_utterance" in out.stdout
    assert "e.g. SKEL-" in out.stdout
