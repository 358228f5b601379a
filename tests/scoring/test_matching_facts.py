"""Matching rules and reply facts: the argument score, recall, precision and F1 of an answer."""

from __future__ import annotations

import json

import pytest

from crm_gym.data.conversation import Turn
from crm_gym.scoring.facts import (
    ResponseScore,
    id_fields,
    id_map,
    reply_facts,
    response_score,
    unstated_ids,
)
from crm_gym.scoring.matching import argument_score, arguments_match


# ---- argument_score ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expected", "actual", "score"),
    [
        ({}, {"anything": 1}, 1.0),
        ({"a": 1, "b": "x"}, {"a": 1, "b": "x", "extra": 3}, 1.0),
        ({"a": 1, "b": "x"}, {}, 0.0),
        ({"a": 1, "b": "x"}, {"a": "1.0"}, 0.5),  # a numeric string matches; b is missing
        ({"amount": 120000}, {"amount": "120000"}, 1.0),
        ({"amount": 120000}, {"amount": "120,000"}, 0.0),
        ({"name": "Acme"}, {"name": "  Acme "}, 1.0),  # trimmed
        ({"name": "Acme"}, {"name": "acme"}, 0.0),  # case-sensitive
        ({"note": None}, {"note": None}, 1.0),
        ({"note": None}, {}, 0.0),
        # criteria entries count one by one; other keys one each
        (
            {"criteria": {"stage": "Qualification", "client_id": "c1"}, "limit": 5},
            {"criteria": {"stage": "Qualification"}, "limit": "5"},
            2 / 3,
        ),
        (
            {"criteria": {"stage": "Qualification", "client_id": "c1"}},
            {"criteria": {"client_id": "c1", "stage": "Qualification", "owner": "x"}},
            1.0,
        ),
        ({"criteria": {"stage": "Qualification", "client_id": "c1"}}, {"criteria": "stage"}, 0.0),
        ({"criteria": {"stage": "Qualification", "client_id": "c1"}}, {"stage": "Proposal"}, 0.0),
        # a nested dict other than criteria is one value, matched as a whole
        (
            {"opportunity_id": "o1", "updates": {"stage": "Negotiation", "probability": 70}},
            {"opportunity_id": "o1", "updates": {"stage": "Negotiation"}},
            0.5,
        ),
        (
            {"updates": {"stage": "Negotiation", "probability": 70}},
            {"updates": {"stage": "Negotiation", "probability": "70"}},
            1.0,
        ),
        ({"quote_ids": ["q1", "q2"]}, {"quote_ids": ["q2", "q1"]}, 0.0),
        ({"criteria": "raw text"}, {"criteria": "raw text"}, 1.0),
    ],
)
def test_argument_score(expected, actual, score):
    assert argument_score(expected, actual) == pytest.approx(score)


def test_a_full_argument_score_is_exactly_an_argument_match():
    cases = [
        ({"a": 1, "b": {"c": "x"}}, {"a": "1", "b": {"c": " x "}}),
        ({"a": 1, "b": {"c": "x"}}, {"a": 1, "b": {"c": "y"}}),
        ({"criteria": {"k": "v"}}, {"criteria": {"k": "v", "z": 1}}),
        ({"ids": ["a", "b"]}, {"ids": ["b", "a"]}),
    ]
    for expected, actual in cases:
        assert (argument_score(expected, actual) == 1.0) == arguments_match(expected, actual)[0]


# ---- response_score: recall, precision and F1 ----------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "facts", "id_map", "recall"),
    [
        ("Created our-9 for ACME.", ("ref-1", "Acme"), {"ref-1": "our-9"}, 1.0),
        ("Created ref-1 for Acme.", ("ref-1", "Acme"), {"ref-1": "our-9"}, 0.5),  # ids are mapped
        ("The deal is worth $120,000.", ("120000.0",), {}, 1.0),
        ("The deal is worth 120,000.00 dollars.", ("120000.0",), {}, 1.0),
        ("The deal is worth $12,000.", ("120000.0",), {}, 0.0),
        ("Probability is now 70%.", ("70.0",), {}, 1.0),
        ("Balance -5 left.", ("-5.0",), {}, 1.0),
        ("It is 1.2e5.", ("120000.0",), {}, 0.0),
        ("The Q4 deal.", ("4.0",), {}, 0.0),  # digits inside a word are no number
        ("Acme, Negotiation, 70", ("Acme", "Negotiation", "70.0", "Q4 Deal"), {}, 0.75),
        ("", ("Acme",), {}, 0.0),
    ],
)
def test_recall_is_the_share_of_facts_stated(answer, facts, id_map, recall):
    score = response_score(answer, facts, id_map)
    assert score == ResponseScore(recall, 1.0)  # no payloads: no claims, precision 1


def test_no_facts_no_score():
    assert response_score("anything", (), {}, [{"name": "Acme"}]) is None


DEAL_PAYLOAD = {
    "opportunity_id": "o-1",
    "name": "Q4 Deal",
    "stage": "Negotiation",
    "amount": 120000.0,
    "probability": 70.0,
    "owner": "Dana",
    "notes": None,
    "won": False,
}
DEAL_FACTS = ("Q4 Deal", "Negotiation")


@pytest.mark.parametrize(
    ("answer", "recall", "precision"),
    [
        ("Q4 Deal is now in Negotiation.", 1.0, 1.0),
        ("Q4 Deal is now in Negotiation at 70%.", 1.0, 2 / 3),  # 70 is in the payload, no fact
        ("Q4 Deal (o-1, Dana) is now in Negotiation at 70%, $120,000.", 1.0, 2 / 6),
        ("Done, as you asked: the Q4 Deal.", 0.5, 1.0),
        ("Moved to negotiation at 70% for Dana.", 0.5, 1 / 3),
        ("I could not do that.", 0.0, 1.0),
    ],
)
def test_precision_is_the_share_of_claims_from_the_agents_results_that_are_facts(
    answer, recall, precision
):
    score = response_score(answer, DEAL_FACTS, {}, [DEAL_PAYLOAD])
    assert score is not None
    assert (score.recall, score.precision) == (pytest.approx(recall), pytest.approx(precision))


def test_f1_and_passing():
    assert ResponseScore(1.0, 1.0).f1 == 1.0 and ResponseScore(0.0, 0.0).f1 == 0.0
    assert ResponseScore(1.0, 0.5).f1 == pytest.approx(2 / 3)
    assert ResponseScore(0.5, 1.0).f1 == pytest.approx(2 / 3)
    assert ResponseScore(1.0, 0.5).passes and not ResponseScore(1.0, 0.49).passes
    assert not ResponseScore(0.99, 1.0).passes


def test_a_dump_of_the_results_states_every_fact_but_loses_precision():
    dump = json.dumps(DEAL_PAYLOAD)
    score = response_score(dump, DEAL_FACTS, {}, [DEAL_PAYLOAD])
    assert score is not None and score.recall == 1.0
    assert score.precision == pytest.approx(2 / 6)  # o-1, name, stage, amount, probability, Dana
    assert score.f1 < 1.0 and not score.passes


def test_claims_come_from_every_successful_payload_of_the_turn():
    other = [{"client_id": "c-7", "name": "Globex", "industry": "Energy"}]
    score = response_score(
        "Q4 Deal is in Negotiation; Globex is in Energy.", DEAL_FACTS, {}, [DEAL_PAYLOAD, other]
    )
    assert score == ResponseScore(1.0, 0.5)


def test_claims_compare_with_facts_after_the_id_map_and_as_numbers():
    payload = {"client_id": "our-9", "amount": 120000}
    score = response_score(
        "our-9: $120,000.00", ("ref-1", "120000.0"), {"ref-1": "our-9"}, [payload]
    )
    assert score == ResponseScore(1.0, 1.0)


def test_the_reference_reply_is_exact_against_the_reference_payload():
    """The rule that finds facts is the rule that finds claims: the ground truth scores 1."""
    turn = Turn.model_validate(
        {
            "turn_id": 1,
            "expected_tool": "modify_opportunity",
            "expected_response": {"text": "Q4 Deal (o-1) is in Negotiation at 70% for $120,000."},
        }
    )
    facts = reply_facts(turn, DEAL_PAYLOAD, None)
    assert facts == ("o-1", "Q4 Deal", "Negotiation", "120000.0", "70.0")
    assert response_score(turn.expected_response.text, facts, {}, [DEAL_PAYLOAD]).f1 == 1.0


def test_reply_facts_are_payload_values_that_the_expected_reply_states():
    turn = Turn.model_validate(
        {
            "turn_id": 1,
            "expected_tool": "create_new_client",
            "expected_response": {"text": "Globex (a Prospect, 1 of 1) is in; id c-1 noted. True."},
        }
    )
    payload = {
        "client_id": "c-1",
        "name": "Globex",
        "status": "Prospect",
        "email": "x@y.example",
        "count": 1,
        "industry": None,
        "flag": True,
    }
    assert reply_facts(turn, payload, None) == ("c-1", "Globex", "Prospect")  # "1" is too short
    assert reply_facts(turn, [payload, {"name": "Globex"}], None) == ("c-1", "Globex", "Prospect")
    no_reply = Turn.model_validate({"turn_id": 1, "expected_tool": "list_clients"})
    assert reply_facts(no_reply, payload, None) == ()


def test_reply_facts_of_a_failure_turn_include_the_expected_error_text():
    turn = Turn.model_validate(
        {
            "turn_id": 1,
            "expected_tool": "create_new_client",
            "expect_success": False,
            "expected_error_substring": "already exists",
            "expected_response": {"text": "A client already exists with that email."},
        }
    )
    assert reply_facts(turn, None, "Client already exists with email 'x'.") == ("already exists",)
    assert reply_facts(turn, None, None) == ()


def test_id_map_reads_this_runs_ids_from_the_same_fields():
    reference = (("client_id", "ref-1"), ("owner_id", "ref-2"))
    assert id_map(reference, {"client_id": "our-9", "owner_id": 3}) == {"ref-1": "our-9"}
    assert id_map(reference, None) == {} and id_map((), {"client_id": "x"}) == {}


def test_ids_the_reference_reply_does_not_state_are_neutral_claims():
    """Upstream's replies state another run's ids: this run's id there is no wrong claim."""
    reference = {"opportunity_id": "theirs-1", "name": "Q4 Deal", "stage": "Negotiation"}
    fields = id_fields(reference)
    assert fields == (("opportunity_id", "theirs-1"),)
    ours = {"opportunity_id": "o-1", "name": "Q4 Deal", "stage": "Negotiation"}
    neutral = unstated_ids(fields, DEAL_FACTS, ours)
    assert neutral == frozenset({"o-1"})
    answer = "Q4 Deal (o-1) is in Negotiation."
    assert response_score(answer, DEAL_FACTS, {}, [ours], neutral) == ResponseScore(1.0, 1.0)
    assert response_score(answer, DEAL_FACTS, {}, [ours]) == ResponseScore(1.0, 2 / 3)
    # a reply that states the reference id makes it a fact, and this run's id maps onto it
    facts = ("theirs-1", *DEAL_FACTS)
    assert unstated_ids(fields, facts, ours) == frozenset()
    mapped = id_map(fields, ours)
    assert response_score(answer, facts, mapped, [ours]) == ResponseScore(1.0, 1.0)
    assert id_fields([ours]) == (("opportunity_id", "o-1"),) and id_fields(None) == ()
