"""The fuzz benchmark: a tiny run prints the promised JSON, and its checks catch broken states.

No timing assertions: ``docs/performance.md`` reports the full run's figures.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.fuzz_actions import crm_problems, read_tables, step_outcome
from benchmarks.fuzz_corpus import KINDS, ONE_MB, draw
from crm_gym.actions import MAX_ACTION_CHARS, format_tool_call
from tests.crm.world import build_world
from tests.envs.support import REPO

CREATE = format_tool_call("create_new_client", {})
REFERENCE = {"expected_tool": "client_search", "expected_arguments": {"name": "Acme"}}


def fuzz(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchmarks.fuzz_actions", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_a_tiny_run_prints_counts_and_the_json_last():
    done = fuzz("--actions", "300", "--stores", "memory", "--seed", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("memory: 300 actions, 0 exceptions, 0 invariant violations")
    result = json.loads(lines[-1])
    assert (result["actions"], result["exceptions"], result["invariant_violations"]) == (300, 0, 0)
    assert -0.5 <= result["reward_min"] <= result["reward_max"] <= 1.0
    assert -0.5 <= result["return_min"] <= result["return_max"] <= 1.0
    assert sum(result["kinds"].values()) == 300 and set(result["kinds"]) <= set(KINDS)
    assert sum(result["outcomes"].values()) == 300
    assert {"answer", "action_error", "tool_error", "read", "write"} == set(result["outcomes"])
    assert result["stores"]["memory"]["actions"] == 300 and list(result["stores"]) == ["memory"]
    assert 0 < result["slowest_parse_s"] < 60 and result["slowest_parse_kind"] in KINDS
    assert 0 < result["one_mb_parse_s"] and 0 < result["one_mb_scan_s"]
    assert result["seed"] == 3 and result["examples"] == []


@pytest.mark.parametrize("args", [["--stores", "mongodb"], ["--actions", "0"], ["--stores", ","]])
def test_bad_arguments_are_one_usage_error(args):
    done = fuzz(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert "--stores must name some of memory, sqlite, postgresql" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_checks_catch_dangling_references_duplicate_emails_and_nan():
    api, ids = build_world()
    store = api.store
    assert crm_problems(read_tables(store), store) == []
    contact = store.get("Contact", ids["contact"])
    store.replace("Contact", ids["contact"], contact.model_copy(update={"client_id": "nope"}))
    globex = store.get("Client", ids["globex"])
    acme_email = store.get("Client", ids["acme"]).email
    store.replace("Client", ids["globex"], globex.model_copy(update={"email": acme_email.upper()}))
    deal = store.get("Opportunity", ids["opp"])
    store.replace("Opportunity", ids["opp"], deal.model_copy(update={"amount": math.nan}))
    problems = crm_problems(read_tables(store), store)
    assert f"Contact {ids['contact']} client_id='nope' does not resolve" in problems
    assert any(problem.startswith(f"email {acme_email.lower()!r} on ") for problem in problems)
    assert f"Opportunity {ids['opp']} amount=nan" in problems


@pytest.mark.parametrize(
    ("action", "observation", "expected"),
    [
        (CREATE, "Tool result (create_new_client): {}", "write"),
        (CREATE, "Tool error (create_new_client): x", "tool_error"),
        (format_tool_call("client_search", {}), "Tool result (client_search): []", "read"),
        ("Done.", "", "answer"),
        ("<tool>{", "Action error: ...", "action_error"),
    ],
)
def test_steps_are_told_apart_by_what_they_did(action, observation, expected):
    assert step_outcome(action, observation) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_draws_text_within_its_sizes(kind):
    rng = np.random.default_rng(0)
    texts = []
    while len(texts) < 5:
        drawn, text = draw(rng, REFERENCE)
        if drawn == kind:
            texts.append(text)
    assert all(isinstance(text, str) for text in texts)
    limit = ONE_MB if kind == "megabyte" else MAX_ACTION_CHARS
    assert all(len(text) <= limit for text in texts)
