"""Generated data through the dataset linter: nothing to report beyond what a flag asked for.

The linter judges generated conversations (they carry an ``episode_seed``) by crm-gym's default
rules, reads every written number and date form, knows the ids the episode creates, and accepts
the empty searches and unknown ids the generator declares (``expected_hits: 0``, a "not found"
expected error); see the ``crm_gym.data.lint`` docstring. So default data, which has 0-hit
searches and unknown-id failures, must come out with every finding at zero.
"""

from __future__ import annotations

from collections import Counter

import pytest

from crm_gym.generator import generate

lint_module = pytest.importorskip("crm_gym.data.lint")


def nonzero(report):
    return {name: entry["count"] for name, entry in report.items() if entry["count"]}


def test_lint_reports_nothing_on_default_generated_data():
    conversations = [*generate(300, seed=21), *generate(300, seed=22)]
    report = lint_module.lint(conversations)
    assert nonzero(report) == {}, {
        name: entry["examples"][:2] for name, entry in report.items() if entry["count"]
    }
    turns = [turn for conversation in conversations for turn in conversation.turns]
    hits = Counter(
        min(turn.model_extra["expected_hits"], 2)
        for turn in turns
        if "expected_hits" in turn.model_extra
    )
    categories = Counter(turn.failure_category for turn in turns if not turn.expect_success)
    assert hits[0] and hits[1] and hits[2]  # the clean data does have empty searches...
    assert categories["unknown_id"] > 50  # ...and unknown ids


def test_lint_counts_exactly_what_a_flag_asks_for():
    assert nonzero(lint_module.lint(list(generate(80, seed=23, empty_searches=1.0)))) == {}
    conversations = list(generate(120, seed=24, underspecified=0.5))
    flagged = sum(
        t.model_extra.get("underspecified", False) for c in conversations for t in c.turns
    )
    report = nonzero(lint_module.lint(conversations))
    assert set(report) == {"underspecified_utterance"}
    assert 0 < report["underspecified_utterance"] <= flagged
