"""Lint and datastats read catalogue facts, not tool names (issue #20): each fact is checked
against what the CRM does, and the derived tables against the ones they replaced."""

from dataclasses import replace

import pytest

from crm_gym.crm.tool_catalogue import LISTING_TOOLS, TOOL_SPECS
from crm_gym.crm.tools import call_tool
from crm_gym.data import Conversation
from crm_gym.data.datastats import CLIENT_MAKERS, DataStats
from crm_gym.data.lint import FINDINGS, build_context, lint
from crm_gym.data.lint_rules import SEARCHES, Hit, check_tool_and_arguments, result_fields
from crm_gym.data.templates import reference_payload
from tests.crm.world import build_world, resolve

ID_ARGUMENTS = {
    "opportunity_id": "$opp",
    "quote_id": "$quote",
    "client_id": "$acme",
    "contact_id": "$contact",
    "quote_ids": ["$quote", "$quote2"],
}
"""A value in ``tests.crm.world``'s CRM for each id parameter a tool may require."""


def called(name: str, **extra: object) -> object:
    """The payload of ``name`` called on a fresh world with its required ids (and ``extra``)."""
    api, ids = build_world()
    arguments = {key: ID_ARGUMENTS[key] for key in TOOL_SPECS[name].required}
    outcome = call_tool(api, name, resolve({**arguments, **extra}, ids))
    assert outcome.ok, (name, outcome.error)
    return outcome.payload


def conversation(*turns: dict, seed: dict | None = None) -> Conversation:
    record = {
        "conversation_id": "c1",
        "turns": [{"turn_id": n, "user_utterance": ".", **t} for n, t in enumerate(turns, 1)],
        "initial_entities": {"seed_data": seed or {}},
    }
    return Conversation.from_record(record)


# ---- reply_fields: what {{turn_N.KEY}} may read of a reply that is no record ------------------
NOT_RECORDS = [
    name for name, spec in TOOL_SPECS.items() if not spec.result_kind and name not in LISTING_TOOLS
]


def test_the_replies_that_are_no_record_are_the_summaries_deletes_and_prefixes() -> None:
    assert len(NOT_RECORDS) == 6
    assert all(set(TOOL_SPECS[name].required) <= set(ID_ARGUMENTS) for name in NOT_RECORDS)


@pytest.mark.parametrize("name", NOT_RECORDS)
def test_reply_fields_are_the_keys_of_the_crm_reply(name: str) -> None:
    payload = reference_payload(called(name))
    assert set(payload) == set(TOOL_SPECS[name].reply_fields) == result_fields(name)


@pytest.mark.parametrize("name", ["compare_quotes", "quote_details", "cancel_quote"])
def test_a_record_reply_has_its_entity_fields(name: str) -> None:
    assert set(reference_payload(called(name))) == result_fields(name)


def test_listings_and_unknown_tools_have_no_known_fields() -> None:
    assert {result_fields(name) for name in LISTING_TOOLS} == {None}
    assert result_fields("find_deals") is None


@pytest.mark.parametrize(("field", "bad"), [("quotes", 0), ("total_count", 1)])
def test_a_template_may_read_only_the_keys_of_a_summary(field: str, bad: int) -> None:
    args = {"entity_type": "Client", "entity_id": "x", "content": f"{{{{turn_1.{field}}}}}"}
    report = lint(
        [
            conversation(
                {"expected_tool": "summarize_counts", "expected_args": {}},
                {
                    "expected_tool": "add_note",
                    "expected_args": args,
                    "references_previous_turns": [1],
                },
            )
        ]
    )
    assert report["bad_template_reference"]["count"] == bad
    if bad:
        reason = "reads 'total_count', which summarize_counts results do not have"
        assert report["bad_template_reference"]["examples"][0].endswith(reason)


# ---- aliases: argument names the CRM reads as another parameter ------------------------------
ALIASED = [(name, a, t) for name, spec in TOOL_SPECS.items() for a, t in spec.aliases.items()]


def test_each_alias_has_its_finding_and_none_other() -> None:
    aliases = {f"{alias}_argument" for _, alias, _ in ALIASED}
    assert aliases == {"document_url_argument"}
    assert aliases == {name for name in FINDINGS if name.endswith("_argument")} - {
        "unknown_argument"
    }
    assert FINDINGS["document_url_argument"][1] == (
        "upload_document with document_url (alias of file_url)"
    )


@pytest.mark.parametrize(("name", "alias", "target"), ALIASED)
def test_the_crm_reads_each_alias_as_its_parameter(name: str, alias: str, target: str) -> None:
    api, ids = build_world()
    url = "https://example.com/brief.pdf"
    arguments = {"entity_type": "Client", "entity_id": ids["acme"], "file_name": "brief.pdf"}
    assert set(TOOL_SPECS[name].required) <= set(arguments)
    outcome = call_tool(api, name, {**arguments, alias: url})
    assert outcome.ok and str(outcome.payload[target]) == url
    strict, strict_ids = build_world(strict_upstream=True)
    arguments["entity_id"] = strict_ids["acme"]
    assert not call_tool(strict, name, {**arguments, alias: url}).ok


def test_an_alias_on_any_row_is_flagged_and_not_unknown(monkeypatch) -> None:
    spec = replace(TOOL_SPECS["add_note"], aliases={"text": "content"})
    monkeypatch.setitem(TOOL_SPECS, "add_note", spec)
    args = {"entity_type": "Client", "entity_id": "x", "content": "Hi", "text": "Hi", "mood": 1}
    note = conversation({"expected_tool": "add_note", "expected_args": args, "user_utterance": "."})
    hits = list(check_tool_and_arguments(build_context(note), note.turns[0]))
    assert hits == [
        Hit("text_argument", "text (not a Note field; alias of content)", 1),
        Hit("unknown_argument", "add_note does not accept mood", 1, kind="add_note"),
    ]


# ---- derived tables equal the ones they replaced ----------------------------------------------
def test_searches_are_the_record_searches() -> None:
    assert set(SEARCHES) == {name for name in TOOL_SPECS if name.endswith("_search")}


def test_client_names_come_from_the_tools_that_make_clients() -> None:
    assert CLIENT_MAKERS == {"create_new_client", "ensure_client"}
    stats = DataStats()
    stats.add(
        conversation(
            {"expected_tool": "ensure_client", "expected_args": {"name": "Zed"}},
            {"expected_tool": "create_new_client", "expected_args": {"name": "Yak"}},
            {"expected_tool": "create_new_opportunity", "expected_args": {"name": "Deal"}},
            {"expected_tool": "company_search", "expected_args": {"name": "Initech"}},
        )
    )
    assert stats.report()["distinct_client_names"] == 2
