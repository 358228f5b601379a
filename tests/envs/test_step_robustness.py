"""``step`` never raises on agent text, on every store, and changes nothing before it could fail.

The stores are the memory store, SQLite in memory and PostgreSQL (``$CRM_GYM_TEST_PG_DSN``, else
a throwaway cluster from the server binaries here; skipped without one unless
``CRM_GYM_TEST_PG_REQUIRED=1``). The property test plays actions of ``benchmarks.fuzz_corpus``
through ``benchmarks.fuzz_actions.fuzz_env``, which checks every step (see its module docstring).
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any, Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz_actions import crm_problems, fuzz_env, read_tables
from benchmarks.postgres import ClusterUnavailable, throwaway_cluster
from crm_gym.actions import MAX_JSON_DEPTH, format_tool_call, to_json
from crm_gym.crm.store import MemoryStore, Store, make_store
from crm_gym.envs import ConversationEnv, CrmEnv
from crm_gym.envs.base import CrmEnvBase
from tests.envs.support import ACME, DEAL, hand_made

STORES = ("memory", "sqlite", "postgresql")
ENVS = (CrmEnv, ConversationEnv)
DIGITS = sys.get_int_max_str_digits()


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    """A PostgreSQL DSN for this module (skips, or fails when required, without a server)."""
    configured = os.environ.get("CRM_GYM_TEST_PG_DSN")
    if configured:
        yield configured
        return
    try:
        with throwaway_cluster() as dsn:
            yield dsn
    except ClusterUnavailable as exc:
        if os.environ.get("CRM_GYM_TEST_PG_REQUIRED") == "1":
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")


@pytest.fixture(scope="module", params=STORES)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """One store of each kind for the module (every env reset restores it)."""
    name = request.param
    opened = make_store(request.getfixturevalue("pg_dsn") if name == "postgresql" else name)
    yield opened
    if not isinstance(opened, MemoryStore):
        opened.close()  # type: ignore[attr-defined]


@pytest.fixture(params=ENVS, ids=lambda cls: cls.__name__)
def env(request: pytest.FixtureRequest, store: Store) -> CrmEnvBase:
    """A fresh env on the module's store, reset to the one-turn create-client task."""
    made = request.param(hand_made(), max_steps=20, expose_reference=True, store=store)
    made.reset(seed=0, options={"task_id": "HAND-new-client"})
    return made


def step_and_check(env: CrmEnvBase, action: Any) -> str:
    """One step that must not end the turn; the CRM must be unchanged unless a write succeeded."""
    before = read_tables(env.api.store)
    steps, messages = env._scorer.steps, len(env._messages)
    observation, reward, terminated, truncated, _ = env.step(action)
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert env._scorer.steps == steps + 1 and len(env._messages) == messages + 2
    after = read_tables(env.api.store)
    assert crm_problems(after, env.api.store) == []
    if not observation.startswith("Tool result ("):
        assert after == before, observation
    return observation


# ---- targeted values ----------------------------------------------------------------------------
def test_an_integer_past_the_digit_limit_is_one_malformed_step(env):
    call = '{"name": "create_new_client", "arguments": {"name": ' + "9" * 5_000 + "}}"
    observation = step_and_check(env, call)
    assert (
        observation == f"Action error: The tool call holds an integer of more than {DIGITS} digits."
    )
    assert env._scorer.malformed_actions == 1


def deep(depth: int) -> Any:
    value: Any = "Acme"
    for _ in range(depth):
        value = {"name": value}
    return value


NEW_DEAL = {"name": "Deal", "client_id": ACME, "stage": "Qualification"}
WEIRD_ARGUMENTS = [
    ("create_new_opportunity", {**NEW_DEAL, "amount": int("9" * (DIGITS - 1))}),
    ("create_new_opportunity", {**NEW_DEAL, "amount": -(10**400), "probability": 10**300}),
    ("create_new_opportunity", {**NEW_DEAL, "amount": math.nan}),
    ("modify_opportunity", {"opportunity_id": DEAL, "updates": {"amount": math.inf}}),
    ("modify_opportunity", {"opportunity_id": DEAL, "updates": {"probability": -math.inf}}),
    ("modify_opportunity", {"opportunity_id": DEAL, "updates": {"amount": 1e308 * 10}}),
    ("modify_opportunity", {"opportunity_id": DEAL, "updates": deep(MAX_JSON_DEPTH - 3)}),
    ("client_search", {"criteria": deep(MAX_JSON_DEPTH - 3)}),
    ("client_search", {"name": int("1" * DIGITS)}),
    ("create_new_client", {"name": "\ud800\x00", "email": "a\x00@b.example", "status": "Active"}),
    (
        "create_new_client",
        {"name": "A", "email": "ü@ü.example", "status": "Active", "industry": int("1" * DIGITS)},
    ),
    ("compare_quotes", {"quote_ids": [int("1" * DIGITS), math.nan, None, [], {}]}),
    ("opportunity_search", {"amount": math.nan, "probability": math.inf}),
    ("add_note", {"entity_type": "Client", "entity_id": ACME, "content": deep(40)}),
]


@pytest.mark.parametrize(("name", "arguments"), WEIRD_ARGUMENTS, ids=lambda v: str(v)[:30])
def test_weird_values_reach_the_tools_without_an_exception(env, name, arguments):
    text = to_json({"name": name, "arguments": arguments})  # NaN and Infinity as JSON writes them
    observation = step_and_check(env, text)
    assert observation.startswith((f"Tool result ({name}): ", f"Tool error ({name}): "))


def test_a_non_text_action_whose_repr_fails_is_a_malformed_step(env):
    observation = step_and_check(env, 10**5_000)
    assert observation == "Action error: An action must be text, got int."
    assert env._messages[-2]["content"] == "<int>"


def test_nothing_changes_before_a_tool_call_that_raises(env, monkeypatch):
    def broken(*args: Any) -> None:
        raise RuntimeError("a bug in a tool")

    monkeypatch.setattr("crm_gym.envs.base.call_tool", broken)
    scorer, messages = env._scorer, list(env._messages)
    with pytest.raises(RuntimeError, match="a bug in a tool"):
        env.step(format_tool_call("list_clients", {}))
    assert env._scorer is scorer and scorer.steps == 0 and scorer.calls == []
    assert env._messages == messages


# ---- fuzzed actions -----------------------------------------------------------------------------
SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(
    max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=SLOW_OK
)
@given(seed=st.integers(0, 2**32 - 1))
def test_fuzzed_actions_never_raise_and_keep_the_crm_consistent(env, seed):
    tally = fuzz_env(env, 40, np.random.default_rng(seed))
    assert (tally.exceptions, tally.violations) == (0, 0), tally.examples
    low, high = env.reward_config.bounds
    assert tally.actions == 40 and low <= tally.reward_min <= tally.reward_max <= high
