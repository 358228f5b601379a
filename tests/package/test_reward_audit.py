"""The reward audit: its bounds hold on a slice of both data sets, and its pieces compute right.

The bounds asserted here hold at any size (issue #18): replay earns exactly 1, a policy that makes
no correct call (no expected argument value right on any turn) and each cheap trick earn at most
0.05 on average, and so do the turns on which the expected tool was not called. The Spearman
target needs the whole data (``docs/rewards.md``, "Audit").
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agents.policy import Observation
from benchmarks.audit_policies import (
    EmptySearchEcho,
    ExpectedToolHalfArguments,
    ExpectedToolWrongValues,
    everything_in_view,
    most_frequent_tool,
    regex_arguments,
    schemas,
)
from benchmarks.reward_audit import BOUND, collapsed_spearman, spearman
from tests.envs.support import conversation, require_public_data

LIMIT = "20"
ACME = "0a5e8c1e-1111-4111-8111-000000000001"


@pytest.fixture(scope="module")
def audit() -> tuple[int, list[str], dict]:
    """One run of the audit on 20 conversations per data set: exit code, lines, JSON."""
    public = require_public_data()
    command = [sys.executable, "-m", "benchmarks.reward_audit", "--limit", LIMIT, "--seed", "0"]
    command += ["--public", str(public)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    lines = done.stdout.strip().splitlines()
    return done.returncode, lines, json.loads(lines[-1])


def test_the_json_line_comes_last_and_covers_every_configuration(audit):
    code, lines, result = audit
    configs = {(c["data"], c["env"], c["mode"]) for c in result["cells"]}
    assert len(configs) == 8
    assert len(result["cells"]) == 8 * len(result["policies"])
    assert result["limit"] == int(LIMIT) and code == (0 if result["passed"] else 1)
    assert "| policy | reads reference |" in "\n".join(lines[:-1])
    assert result["policies"]["expected_empty"]["reads_reference"]
    assert not result["policies"]["frequent_regex"]["reads_reference"]


def test_replay_earns_exactly_one_everywhere(audit):
    replays = [c for c in audit[2]["cells"] if c["policy"] == "replay"]
    assert len(replays) == 8
    for cell in replays:
        assert cell["min_return"] == pytest.approx(1.0, abs=1e-9), cell
        assert cell["max_return"] == pytest.approx(1.0, abs=1e-9), cell


def test_policies_without_a_correct_call_earn_at_most_the_bound(audit):
    tricks = {name for name, spec in audit[2]["policies"].items() if spec["trick"]}
    cells = [c for c in audit[2]["cells"] if c["credited_calls"] == 0 or c["policy"] in tricks]
    assert tricks == {"random", "answer_empty", "dump_view", "echo_request", "random_call"}
    assert tricks <= {c["policy"] for c in cells}
    for cell in cells:
        assert cell["mean_return"] <= BOUND, cell


def test_turns_without_the_expected_tool_earn_at_most_the_bound(audit):
    missed = [c for c in audit[2]["cells"] if c["no_tool_reward"] is not None]
    assert missed
    for cell in missed:
        assert cell["no_tool_reward"] <= BOUND, cell


def test_the_leaks_count_argument_free_turns(audit):
    leaks = audit[2]["leaks"]
    for leak in leaks.values():
        assert leak["argument_free_turns"] == sum(leak["argument_free_by_tool"].values())
        assert 0 <= leak["argument_free_turns"] <= leak["turns"]


def test_spearman_matches_hand_computed_values():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([3, 2, 1], [10, 20, 30]) == pytest.approx(-1.0)
    # one swap in four: 1 - 6 * 2 / (4 * 15) = 0.8
    assert spearman([1, 3, 2, 4], [1, 2, 3, 4]) == pytest.approx(0.8)


def test_equal_binary_success_is_one_point():
    points = [(0.0, 0.0), (0.04, 0.0), (0.5, 0.2), (1.0, 1.0)]
    assert collapsed_spearman(points) == {"rho": pytest.approx(1.0), "points": 3}
    assert collapsed_spearman([(0.3, 0.0), (0.1, 0.0)]) == {"rho": None, "points": 1}


def test_regex_arguments_copy_what_the_request_states():
    text = f"Create a quote for opportunity {ACME} worth $5,000 in status Draft"
    arguments = regex_arguments(schemas()["create_quote"], text)
    assert arguments == {"opportunity_id": ACME, "amount": 5000, "status": "Draft"}


def test_the_dump_holds_ids_numbers_and_names():
    dump = everything_in_view(f"Acme Corp has id {ACME} and 12 deals; mail a@b.example")
    assert dump.split(", ") == [ACME, "a@b.example", "12", "Acme Corp"]


def test_partial_calls_keep_the_tool_and_spoil_or_drop_values():
    reference = {
        "expected_tool": "opportunity_search",
        "expected_response": None,
        "expected_arguments": {"criteria": {"stage": "Won", "amount": 5}},
    }
    observation = Observation(
        "User: hi", {"messages": [{"role": "user", "content": "User: hi"}], "reference": reference}
    )
    half = json.loads(ExpectedToolHalfArguments().action(observation))
    wrong = json.loads(ExpectedToolWrongValues().action(observation))
    assert half == {"name": "opportunity_search", "arguments": {"criteria": {"stage": "Won"}}}
    assert wrong["arguments"] == {"criteria": {"stage": "Won (other)", "amount": 12}}


def test_the_empty_search_names_the_requested_entity_and_the_frequent_tool_is_counted():
    message = {"role": "user", "content": "User: list the contacts of Acme"}
    call = json.loads(EmptySearchEcho().action(Observation("", {"messages": [message]})))
    assert call == {"name": "contact_search", "arguments": {}}
    search = {"expected_tool": "client_search", "expected_args": {}}
    quote = {"expected_tool": "quote_details", "expected_args": {}}
    data = [conversation("c1", search, quote, search)]
    assert most_frequent_tool(data) == "client_search"


def test_the_terms_pay_what_the_turns_earn(audit):
    single = [c for c in audit[2]["cells"] if c["env"] == "ArcCrm-v1" and c["mode"] == "shaped"]
    assert single and all(set(c["pay"]) >= {"tool", "arguments", "penalty"} for c in single)
    for cell in single:  # one turn per episode: the mean pay sums to the mean return
        assert sum(cell["pay"].values()) == pytest.approx(cell["mean_return"], abs=1e-9), cell
    replay = next(c for c in single if c["policy"] == "replay")
    assert replay["pay"]["tool"] == pytest.approx(0.04) and replay["pay"]["penalty"] == 0


@pytest.mark.parametrize(
    ("module", "arguments", "named"),
    [
        ("reward_audit", ["--limit", "0"], "--limit"),
        ("reward_audit", ["--public", "absent.jsonl"], "--public"),
        ("reward_weights", ["--step", "0.3"], "--step"),
        ("reward_weights", ["--side-effect-penalty", "-1"], "side_effect_penalty"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(module, arguments, named):
    command = [sys.executable, "-m", f"benchmarks.{module}", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and named in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr and done.stdout == ""
