"""The dataset linter on the public evaluation set: DATA-arc.md section 4's counts, breakdowns
and examples (``public_path`` of conftest.py skips these when the file is absent)."""

import pytest

from crm_gym.data.lint import lint
from crm_gym.data.loading import load_conversations


@pytest.fixture(scope="module")
def arc_report(public_path):
    """Lint of the public file (``public_path`` of conftest.py skips when it is absent)."""
    return lint(load_conversations(public_path))


DATA_ARC_COUNTS = {
    "unknown_tool": 0,
    "unknown_argument": 0,
    "document_url_argument": 24,
    "invalid_tool_call": 24,
    "unexpected_success_turns": 0,
    "expected_error_mismatch": 0,
    "dangling_literal_id": 0,
    "bad_template_reference": 0,
    "template_from_empty_search": 0,
    "template_from_multi_hit_search": 11,
    "non_turn_placeholders": 21,
    "single_brace_leftovers": 364,
    "utterance_turn_templates": 292,
    "references_previous_turns_mismatch": 431,
    "underspecified_utterance": 656,
    "search_without_criteria": 167,
    "empty_search_results": 77,
    "search_hits_mismatch": 0,
    "null_in_expected_response": 98,
    "response_timestamps": 1192 + 24,  # DATA-arc.md counts created_at/created_date only
    "response_placeholders": 45,
    "boolean_as_money": 8,
    "response_foreign_ids": 384,
    "lookup_response_foreign_ids": 28,
    "response_id_mismatch": 425,
    "response_seeded_id_mismatch": 59,
    "response_value_mismatch": 1,
    "response_emptiness_mismatch": 0,
    "complexity_vs_turn_count": 0,
    "complexity_vs_conversation_id": 9,
    "workflow_category_vs_task": 37 + 34 + 32 + 24 + 21 + 20 + 7,
    "failure_turn_mismatch": 0,
    "duplicate_conversation_id": 0,
    "seed_rejected": 0,
    "seed_altered": 114,
}


def test_evaluation_400_counts(arc_report):
    assert {name: entry["count"] for name, entry in arc_report.items()} == DATA_ARC_COUNTS


def test_evaluation_400_breakdowns(arc_report):
    breakdown = {name: entry["breakdown"] for name, entry in arc_report.items()}
    assert breakdown["single_brace_leftovers"] == {
        "{criteria}": 177,
        "{stage}": 162,
        "{opportunity_id}": 17,
        "{quote_id_1}": 4,
        "{quote_id_2}": 4,
    }
    assert breakdown["non_turn_placeholders"] == {
        "opportunity_name": 10,
        "contact_first": 6,
        "company_name": 5,
    }
    assert breakdown["underspecified_utterance"] == {
        "stage": 174,
        "name": 97,
        "amount+status": 64,
        "amount+stage": 58,
        "first_name": 53,
        "status": 33,
        "email": 32,
        "probability": 28,
        "document_url+file_name": 24,
        "probability+stage": 20,
        "title": 19,
        "email+status": 19,
        "status+value": 18,
        "industry+status": 13,
        "content": 4,
    }
    assert breakdown["empty_search_results"] == {
        "opportunity_search": 56,
        "contact_search": 6,
        "quote_search": 5,
        "contract_search": 5,
        "company_search": 5,
    }
    assert breakdown["response_timestamps"] == {
        "created_at": 795,
        "created_date": 397,
        "uploaded_at": 24,
    }
    assert breakdown["response_id_mismatch"] == {"runtime": 366, "seeded": 59}
    assert breakdown["invalid_tool_call"] == {"upload_document": 24}
    assert breakdown["complexity_vs_conversation_id"] == {"medium -> simple": 9}
    assert breakdown["workflow_category_vs_task"]["MODIFY OPPORTUNITY -> Client Management"] == 37
    assert breakdown["seed_altered"] == {"Quote: version": 114}


def test_evaluation_400_examples(arc_report):
    for entry in arc_report.values():
        assert len(entry["examples"]) == min(entry["count"], 5)
    example = arc_report["template_from_multi_hit_search"]["examples"][0]
    assert example.startswith("SKEL-MODIFY QUOTE_medium_") and "turn 2: " in example
    assert "first of 2 hits of turn 1 (quote_search)" in example
