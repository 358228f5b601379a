"""Every info is plain data: ``json.dumps`` takes it as it is, and vector envs stack it.

Issue #20: infos held a ``Record`` mapping (``json.dumps`` refused it with ``expose_reference``)
and user messages a ``"User: "`` prefix that consumers stripped again.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import numpy as np
import pytest

from crm_gym import make_vec
from crm_gym.actions import format_tool_call
from crm_gym.envs import ConversationEnv, CrmEnv
from crm_gym.envs.base import CrmEnvBase
from crm_gym.envs.readonly import ReadOnlyDict, ReadOnlyList
from tests.envs.support import hand_made

FIND = format_tool_call("opportunity_search", {"criteria": {"stage": "Qualification"}})
MISSING = format_tool_call("quote_details", {"quote_id": "nope"})
PLAIN = (dict, list, str, int, float, bool, type(None))
KINDS = {"reset", "tool ok", "tool error", "malformed", "answer", "end"}


def assert_plain(value: Any, path: str = "info") -> None:
    """Only exact JSON types (the shared ``tools`` may be their read-only subclasses)."""
    shared = path.startswith("info['tools']") and type(value) in (ReadOnlyDict, ReadOnlyList)
    assert type(value) in PLAIN or shared, f"{path} is a {type(value).__name__}"
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{path} has the key {key!r}"
            assert_plain(item, f"{path}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_plain(item, f"{path}[{index}]")


def labelled_infos(env: CrmEnvBase) -> Iterator[tuple[str, dict[str, Any]]]:
    """One episode that takes every kind of step: each info with what the step was."""
    conversation = isinstance(env, ConversationEnv)
    _, info = env.reset(seed=0, options={"task_id": "HAND-deal" if conversation else "HAND-deal#2"})
    yield "reset", info
    for kind, action in [("tool ok", FIND), ("tool error", MISSING), ("malformed", "{broken")]:
        yield kind, env.step(action)[-1]
    ended = False
    while not ended:  # the conversation answers turn 1, then ends on turn 2's answer
        _, _, terminated, truncated, info = env.step("One deal.")
        ended = terminated or truncated
        yield "end" if ended else "answer", info


# strict_upstream needs the memory store (the SQL stores refuse upstream's duplicate writes)
@pytest.mark.parametrize(
    "strict_upstream, store", [(False, "memory"), (False, "sqlite"), (True, "memory")]
)
@pytest.mark.parametrize("expose_reference", [False, True], ids=["hidden", "reference"])
@pytest.mark.parametrize("env_class", [CrmEnv, ConversationEnv], ids=lambda c: c.__name__)
def test_every_info_dumps_and_round_trips(env_class, expose_reference, strict_upstream, store):
    env = env_class(
        hand_made(),
        expose_reference=expose_reference,
        strict_upstream=strict_upstream,
        store=None if store == "memory" else store,
    )
    try:
        seen = set()
        for kind, info in labelled_infos(env):
            seen.add(kind)
            assert_plain(info)
            assert json.loads(json.dumps(info)) == info, kind
            assert ("reference" in info) == expose_reference
        assert seen == KINDS - ({"answer"} if env_class is CrmEnv else set())
    finally:
        env.close()


@pytest.mark.parametrize("env_class", [CrmEnv, ConversationEnv], ids=lambda c: c.__name__)
def test_user_requests_hold_their_text_and_turn_id(env_class):
    env = env_class(hand_made())
    conversation = env_class is ConversationEnv
    observation, info = env.reset(
        options={"task_id": "HAND-deal" if conversation else "HAND-deal#1"}
    )
    [request] = info["messages"]
    assert request == {"role": "user", "content": observation.removeprefix("User: "), "turn_id": 1}
    assert not request["content"].startswith("User:")  # the role says who speaks
    _, _, _, _, info = env.step("{broken")
    assert info["messages"][-1]["role"] == "user" and "turn_id" not in info["messages"][-1]
    if conversation:
        _, _, _, _, info = env.step("One deal.")
        assert info["messages"][-1]["turn_id"] == 2 == info["turn_id"]


def test_infos_own_their_messages_and_reference():
    env = ConversationEnv(hand_made(), expose_reference=True)
    _, info = env.reset(options={"task_id": "HAND-deal"})
    expected = json.loads(json.dumps(info["reference"]))
    info["messages"][0]["content"] = "tampered"
    info["reference"]["expected_arguments"]["criteria"] = "tampered"
    _, _, _, _, again = env.step(FIND)
    assert again["messages"][0]["content"] == "Which Acme deals are in Qualification?"
    assert again["reference"] == expected and "tampered" not in json.dumps(again)
    assert "tampered" not in env.render()


def _json_default(value: Any) -> Any:
    """Numpy arrays and scalars of stacked infos as lists and Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


@pytest.mark.parametrize("env_id", ["ArcCrm-v1", "ArcCrmConversation-v1"])
def test_vector_env_stacks_mixed_steps_and_its_infos_dump(env_id):
    """Four envs on different tasks, each doing something else in every step (a malformed
    action, a failing call, a list, a record, an answer that ends or moves on)."""
    envs = make_vec(env_id, 4, tasks=hand_made(), expose_reference=True, max_steps=3)
    create = format_tool_call(
        "create_new_client", {"name": "Initech", "email": "it@initech.example", "status": "Active"}
    )
    steps = [
        ["{broken", MISSING, FIND, create],
        [create, "Done.", MISSING, "{broken"],
        [FIND, "{broken", "Done.", MISSING],
        ["Done.", create, "{broken", FIND],
    ]
    try:
        _, infos = envs.reset(seed=0)
        json.dumps(infos, default=_json_default)
        finals = 0
        for actions in steps:
            _, _, _, _, infos = envs.step(actions)
            back = json.loads(json.dumps(infos, default=_json_default))
            assert set(back) == set(infos)
            if "tool_result" in infos:  # only when some env called a tool
                assert back["tool_result"]["name"] == infos["tool_result"]["name"].tolist()
            for index in np.flatnonzero(infos["_reference"]):
                reference = infos["reference"][index]
                assert type(reference) is dict and back["reference"][index] == reference
            ended = infos.get("final_info", {})
            for index in np.flatnonzero(ended.get("_reference", [])):  # kept whole there too
                finals += 1
                assert type(ended["reference"][index]) is dict
        assert finals or env_id == "ArcCrmConversation-v1"  # single turns end on an answer
    finally:
        envs.close()
