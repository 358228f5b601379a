"""Property tests: any text an agent writes leaves both envs working and the CRM consistent.

Three actions in four are tool calls drawn by ``tests/crm``'s ``tool_call()`` (real tool names,
valid, near-miss or wild arguments, ids of the live CRM) in every accepted wrapper; the rest are
random text (unicode included), JSON-like calls from a regex, real tool names with random JSON
arguments, random JSON, 100 KB strings, SQL- and NUL-laden strings, integers of 4,000 and 5,000
digits, NaN and infinities, nesting past the cap, and the texts that made the old regexes
backtrack. After
every step: the observation is a ``str`` in the observation space, the reward lies within
``RewardConfig().bounds`` (for ``ConversationEnv``, those bounds over the number of turns, and
the return within the bounds), and the CRM's invariants hold (foreign keys resolve; client
emails are unique case-insensitively).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_gym.actions import format_tool_call
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.data.examples import builtin_path
from crm_gym.data.loading import load_conversations
from crm_gym.envs import ConversationEnv, CrmEnv
from crm_gym.scoring import RewardConfig
from tests.crm.test_invariants import (
    assert_emails_unique,
    assert_references_resolve,
    materialize,
    tool_call,
)
from tests.envs.support import ACME, ACME_EMAIL, DEAL, hand_made

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TASKS = hand_made() + load_conversations(builtin_path())
TOOL_NAMES = sorted(TOOL_SPECS)
NASTY = [
    "'; DROP TABLE clients; --",
    "Robert'); DELETE FROM opportunities WHERE ('1'='1",
    "\x00",
    "a\x00b",
    '{"name": "\x00client_search"}',
    "x" * 100_000,
    "é" * 50_000,
    "{" * 100_000,
    '{"name": "list_clients", "arguments": {"pad": "' + "y" * 100_000 + '"}}',
    "<think>" + "z" * 100_000 + "</think>Done.",
    "\ud800",  # a lone surrogate, as JSON can carry
    "null",
    "NaN",
    '{"name": "create_quote", "arguments": {"amount": ' + "9" * 5_000 + "}}",  # > 4,300 digits
    '{"name": "create_quote", "arguments": {"amount": ' + "9" * 4_000 + "}}",  # reaches the tool
    '{"name": "opportunity_search", "arguments": {"amount": NaN, "probability": -Infinity}}',
    '{"name": "client_search", "arguments": {"criteria": ' + '{"a": ' * 70 + "1" + "}" * 71,
    "<tool>" + " " * 100_000,  # cubic for the old regexes
    "```" + "\n" * 40_000 + "x",  # quadratic for the old regexes
]
IDS = [ACME, DEAL, ACME.upper(), f" {DEAL} ", "00000000-0000-4000-8000-000000000000", ""]
EMAILS = [ACME_EMAIL, ACME_EMAIL.upper(), "new@globex.example", "bad"]
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars | st.sampled_from(IDS + EMAILS + NASTY[:5]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=9), inner),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=4)
WRAPS = ["{}", "<tool>{}</tool>", "```json\n{}\n```", "<think>.</think>{}", "<tool_call>{}"]


@dataclass(frozen=True)
class Recipe:
    """A tool call whose ``Ref`` placeholders become ids of the live CRM when it is played."""

    name: Any
    arguments: Any
    wrap: str

    def text(self, api: Any) -> str:
        call = format_tool_call(self.name, materialize(self.arguments, api))
        return self.wrap.replace("{}", call, 1)


# tool_call() (tests/crm) draws real tool names with valid, near-miss or wild arguments
recipes = st.builds(
    lambda call, wrap: Recipe(call[0], call[1], wrap), tool_call(), st.sampled_from(WRAPS)
)


JSON_LIKE = (
    r'\{"(name|tool)": "(' + "|".join(TOOL_NAMES) + r'|[a-z_]{0,12})", '
    r'"arguments": \{("[a-z_]{1,12}": '
    r'("[^"\\]{0,20}"|-?[0-9]{1,7}|null|true|\[\]|\{\})(, )?){0,4}\}\}'
)
noise = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.from_regex(JSON_LIKE, fullmatch=True),
    st.builds(format_tool_call, st.sampled_from(TOOL_NAMES), json_objects),
    st.sampled_from(NASTY),
    json_values.map(json.dumps),
)
actions = st.integers(0, 3).flatmap(lambda i: noise if i == 0 else recipes)  # 3 in 4 are calls


def check_crm(env) -> None:
    assert_references_resolve(env.api)
    assert_emails_unique(env.api)


def run(env, seed: int, steps: list[str | Recipe], per_turn: bool) -> None:
    """Play ``steps`` (resetting at episode ends) and check every step."""
    low, high = RewardConfig().bounds
    env.reset(seed=seed)
    total = 0.0
    for step in steps:
        action = step.text(env.api) if isinstance(step, Recipe) else step
        turns = len(env._conversation.turns) if per_turn else 1
        obs, reward, terminated, truncated, info = env.step(action)
        assert isinstance(obs, str) and obs in env.observation_space
        assert type(reward) is float and low / turns - 1e-9 <= reward <= high / turns + 1e-9
        assert type(terminated) is bool and type(truncated) is bool
        total += reward
        check_crm(env)
        if terminated or truncated:
            assert low - 1e-9 <= total <= high + 1e-9
            assert "reward_components" in info
            obs, _ = env.reset()
            assert obs in env.observation_space
            total = 0.0


CRM_ENV = CrmEnv(TASKS, max_steps=4)
CONVERSATION_ENV = ConversationEnv(TASKS, max_steps=3)
SMALL_OBSERVATIONS = CrmEnv(TASKS, max_steps=3, max_observation_chars=120)


@SETTINGS
@given(seed=st.integers(0, 2**16), steps=st.lists(actions, min_size=1, max_size=10))
def test_crm_env_survives_any_actions(seed, steps):
    run(CRM_ENV, seed, steps, per_turn=False)


@SETTINGS
@given(seed=st.integers(0, 2**16), steps=st.lists(actions, min_size=1, max_size=12))
def test_conversation_env_survives_any_actions(seed, steps):
    run(CONVERSATION_ENV, seed, steps, per_turn=True)


@settings(SETTINGS, max_examples=20)
@given(seed=st.integers(0, 2**16), steps=st.lists(actions, min_size=1, max_size=6))
def test_truncated_observations_stay_in_the_space(seed, steps):
    run(SMALL_OBSERVATIONS, seed, steps, per_turn=False)


@pytest.mark.parametrize("limit", [0, 1, 10, 16, 17, 40])
def test_observations_fit_any_limit(limit):
    env = CrmEnv(TASKS, max_observation_chars=limit)
    obs, _ = env.reset(seed=0, options={"task_id": "HAND-deal#2"})
    assert len(obs) <= limit and obs in env.observation_space
    obs, *_ = env.step(format_tool_call("list_opportunities", {}))
    assert len(obs) <= limit and obs in env.observation_space


@pytest.mark.parametrize("action", [None, 5, b"bytes", {"name": "list_clients"}, ["x"]])
@pytest.mark.parametrize("env_cls", [CrmEnv, ConversationEnv])
def test_non_text_actions_are_malformed_actions(env_cls, action):
    env = env_cls(TASKS)
    env.reset(seed=0, options={"task_id": "HAND-new-client"})
    obs, reward, terminated, truncated, info = env.step(action)
    assert obs.startswith("Action error: An action must be text, got ")
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["messages"][-2]["content"] == repr(action)


@pytest.mark.parametrize("env_cls", [CrmEnv, ConversationEnv])
def test_sql_in_arguments_is_just_text(env_cls):
    env = env_cls(TASKS)
    env.reset(seed=0, options={"task_id": "HAND-new-client"})
    drop = "'; DROP TABLE clients; --"
    obs, *_ = env.step(format_tool_call("client_search", {"name": drop}))
    assert obs == "Tool result (client_search): []"
    client = {"name": drop, "email": "x@y.example", "status": "Active"}
    obs, *_ = env.step(format_tool_call("create_new_client", client))
    assert obs.startswith("Tool result (create_new_client): ")
    assert len(list(env.api.store.items("Client"))) == 2
    check_crm(env)
