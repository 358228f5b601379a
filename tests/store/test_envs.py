"""``store=`` on the envs: the same episodes, observations and rewards on every store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crm_gym.crm.store.sql import SqlStore
from crm_gym.data import load_conversations
from crm_gym.data.examples import builtin_path
from crm_gym.envs import ConversationEnv, CrmEnv
from crm_gym.errors import StoreError

CONVERSATIONS = load_conversations(builtin_path())[:6]


def spec_of(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if backend == "postgresql":
        return request.getfixturevalue("pg_dsn")
    return "sqlite" if backend == "sqlite" else f"sqlite:///{tmp_path}/env.db"


def play(env: Any, task_id: str) -> list[tuple[str, float, bool]]:
    """Follow the reference calls and replies of every turn; the transcript and rewards."""
    observation, info = env.reset(options={"task_id": task_id})
    trace = [(observation, 0.0, False)]
    done = False
    while not done:
        reference = info["reference"]
        call = {"name": reference["expected_tool"], "arguments": reference["expected_arguments"]}
        for action in (json.dumps(call), reference["expected_response"] or "Done."):
            observation, reward, terminated, truncated, info = env.step(action)
            trace.append((observation, reward, terminated))
            done = terminated or truncated
            if done or "reference" not in info or action != json.dumps(call):
                break
    return trace


@pytest.mark.parametrize("backend", ["sqlite", "sqlite-file", "postgresql"])
@pytest.mark.parametrize("env_class", [CrmEnv, ConversationEnv])
def test_envs_behave_the_same_on_sql_stores(
    env_class: type, backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    sql = env_class(
        tasks=CONVERSATIONS, expose_reference=True, store=spec_of(backend, request, tmp_path)
    )
    memory = env_class(tasks=CONVERSATIONS, expose_reference=True)
    assert isinstance(sql.api.store, SqlStore)
    for conversation in CONVERSATIONS:
        task = conversation.conversation_id
        if env_class is CrmEnv:
            task += f"#{conversation.turns[-1].turn_id}"
        assert play(sql, task) == play(memory, task)
    sql.api.store.close()


def test_envs_refuse_strict_upstream_on_sql_stores() -> None:
    with pytest.raises(StoreError, match="strict_upstream=True needs the memory store"):
        CrmEnv(tasks=CONVERSATIONS, strict_upstream=True, store="sqlite")
    assert CrmEnv(tasks=CONVERSATIONS, strict_upstream=True, store="memory").api.strict_upstream
