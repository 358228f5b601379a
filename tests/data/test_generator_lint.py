"""Generated data through the dataset linter: nothing to report beyond known disagreements.

The linter judges data by upstream's semantics. Where the issue asks the generator for more than
upstream could express, the linter currently reports it; those findings are listed here with
what they may contain, so any other finding (or a new kind of one) fails the test:

- ``underspecified_utterance``: the linter looks for ``120000``/``120,000`` and ISO dates only,
  while the grammar also writes ``$120k``, ``one hundred twenty thousand dollars``, ``40 percent``
  and ``March 3, 2025`` (``crm_gym.data.language.states_value`` recognises all of them).
- ``response_foreign_ids``/``lookup_response_foreign_ids``: replies show ids created during the
  episode (reproducible through ``episode_seed``), which are neither seeded nor literal arguments.
- ``seed_altered`` and the ``response_*_mismatch`` of companies and notes: the issue asks for
  seeded notes and companies, which upstream's seeding ignores.
"""

from __future__ import annotations

import pytest

from crm_gym.data.generator import generate

lint_module = pytest.importorskip("crm_gym.data.lint")

NUMBERS_AND_DATES = {
    "amount",
    "value",
    "probability",
    "close_date",
    "valid_until",
    "start_date",
    "end_date",
}
KNOWN = {
    "underspecified_utterance": lambda kind: set(kind.split("+")) <= NUMBERS_AND_DATES,
    "response_foreign_ids": lambda kind: True,
    "lookup_response_foreign_ids": lambda kind: True,
    "seed_altered": lambda kind: kind in ("Company", "Note"),
    "response_value_mismatch": lambda kind: kind in ("companies", "notes", "type", "industry"),
    "response_id_mismatch": lambda kind: kind == "absent",
}


def test_lint_reports_nothing_else_on_generated_data():
    report = lint_module.lint(list(generate(120, seed=21)))
    unexpected = {
        name: entry["examples"][:2]
        for name, entry in report.items()
        if entry["count"] and name not in KNOWN
    }
    assert unexpected == {}
    for name, accepts in KNOWN.items():
        strange = [kind for kind in report[name]["breakdown"] if not accepts(kind)]
        assert strange == [], (name, report[name]["examples"][:2])


def test_lint_counts_exactly_what_a_flag_asks_for():
    report = lint_module.lint(list(generate(80, seed=22, empty_searches=1.0)))
    assert report["empty_search_results"]["count"] > 0
    assert report["template_from_empty_search"]["count"] == 0
