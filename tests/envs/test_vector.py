"""``make_vec``: sync and async vectors of text envs, with SAME_STEP autoreset.

Gymnasium 1.4's SAME_STEP autoreset puts a finished env's last observation and info under
``info["final_obs"]`` and ``info["final_info"]`` (masks ``_final_obs``/``_final_info``) and
returns the next episode's first observation in its place. Vector infos stack every key into an
array with a ``_key`` mask, and dict values key by key (``info["tool_result"]["name"][i]``).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from crm_gym import make_vec
from crm_gym.actions import format_tool_call
from crm_gym.crm.tool_catalogue import TOOL_SPECS

COUNTS = format_tool_call("summarize_counts", {})
MODES = ["sync", "async"]


def trajectory(envs: gym.vector.VectorEnv, steps: list[list[str]]) -> list[tuple]:
    trace: list[tuple] = [envs.reset(seed=0)]
    for actions in steps:
        trace.append(envs.step(actions))
    return trace


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("env_id", ["ArcCrm-v1", "ArcCrmConversation-v1"])
def test_reset_and_step_with_text_actions(mode, env_id, tasks):
    envs = make_vec(env_id, 2, mode=mode, tasks=tasks)
    try:
        assert isinstance(envs, SyncVectorEnv if mode == "sync" else AsyncVectorEnv)
        assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
        observations, infos = envs.reset(seed=0)
        assert isinstance(observations, tuple) and len(observations) == 2
        assert all(
            isinstance(obs, str) and obs.startswith(("User: ", "Earlier")) for obs in observations
        )
        assert len(infos["tools"][0]) == len(TOOL_SPECS)
        assert infos["_tools"].tolist() == [True, True]
        observations, rewards, terminated, truncated, infos = envs.step([COUNTS, "{broken"])
        assert observations[0].startswith("Tool result (summarize_counts): ")
        assert observations[1].startswith("Action error: The tool call is not valid JSON")
        assert rewards.tolist() == [0.0, 0.0] and rewards.dtype == np.float64
        assert terminated.tolist() == [False, False] and truncated.tolist() == [False, False]
        # Gymnasium stacks dict-valued infos key by key: info["tool_result"]["name"][i]
        assert infos["tool_result"]["name"][0] == "summarize_counts"
        assert infos["tool_result"]["ok"][0]
    finally:
        envs.close()


@pytest.mark.parametrize("mode", MODES)
def test_same_step_autoreset_returns_the_next_tasks_first_observation(mode, tasks):
    envs = make_vec("ArcCrm-v1", 2, mode=mode, tasks=tasks, max_steps=1)
    single = gym.make("ArcCrm-v1", tasks=tasks, max_steps=1)
    try:
        first, _ = envs.reset(seed=0)
        assert single.reset(seed=0)[0] == first[0]
        last_tool, *_ = single.step(COUNTS)
        next_first, next_info = single.reset()
        observations, rewards, terminated, truncated, infos = envs.step([COUNTS, COUNTS])
        assert truncated.tolist() == [True, True] and terminated.tolist() == [False, False]
        assert infos["_final_obs"].tolist() == [True, True]
        assert infos["final_obs"][0] == last_tool  # the finished episode's last observation
        assert observations[0] == next_first  # the next task, in the same step
        assert infos["task_id"][0] == next_info["task_id"]
        final_rewards = infos["final_info"]["reward_components"]["total"]
        assert rewards.tolist() == final_rewards.tolist()
    finally:
        envs.close()


@pytest.mark.parametrize("mode", MODES)
def test_only_finished_envs_are_reset(mode, tasks):
    envs = make_vec("ArcCrmConversation-v1", 2, mode=mode, tasks=tasks)
    try:
        envs.reset(seed=0, options={"task_id": "HAND-new-client"})
        observations, _, terminated, _, infos = envs.step(["Done.", COUNTS])
        assert terminated.tolist() == [True, False]
        assert infos["_final_obs"].tolist() == [True, False]
        assert infos["final_obs"][0] == ""  # an answer ends the turn with an empty observation
        assert observations[0].startswith("User: ")
        assert observations[1].startswith("Tool result (summarize_counts): ")
    finally:
        envs.close()


def test_async_without_shared_memory_returns_fresh_strings_equal_to_sync(tasks):
    steps = [[COUNTS, "{broken"], ["Done.", COUNTS], ["é — ünïcödé", "Fine."], [COUNTS, COUNTS]]
    sync = make_vec("ArcCrmConversation-v1", 2, tasks=tasks)
    asynchronous = make_vec("ArcCrmConversation-v1", 2, mode="async", tasks=tasks)
    try:
        expected, actual = trajectory(sync, steps), trajectory(asynchronous, steps)
        assert data_equivalence(expected, actual)
        observations = [step[0] for step in actual]
        assert all(
            a != b for a, b in zip(observations, observations[1:], strict=False)
        )  # not stale
    finally:
        sync.close()
        asynchronous.close()


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"num_envs": 0}, "num_envs"), ({"mode": "threads"}, "mode")]
)
def test_make_vec_rejects_bad_arguments(kwargs, message, tasks):
    with pytest.raises(ValueError, match=message):
        make_vec("ArcCrm-v1", **{"num_envs": 2, **kwargs}, tasks=tasks)


def test_make_vec_passes_env_arguments(tasks):
    envs = make_vec("ArcCrm-v1", 2, tasks=tasks, expose_reference=True)
    try:
        _, infos = envs.reset(seed=0)
        assert infos["_reference"].tolist() == [True, True]
    finally:
        envs.close()


@pytest.mark.parametrize("mode", MODES)
def test_envs_doing_different_things_in_one_step_stack_their_infos(mode, tasks):
    """A malformed action, an error, a search (a list) and a create (a record) in one step.

    Gymnasium recurses into dict-valued infos, so an info value that is None or a list in one env
    and a dict in the next crashed ``step``; ``tool_result`` is absent without a call and its
    payload is JSON text.
    """
    initech = {"name": "Initech", "email": "it@initech.example", "status": "Active"}
    create = format_tool_call("create_new_client", initech)
    missing_quote = format_tool_call("quote_details", {"quote_id": "nope"})
    listing = format_tool_call("list_clients", {})
    actions = [["{broken", missing_quote, listing, create], [create, listing, "{broken", COUNTS]]
    envs = make_vec("ArcCrm-v1", 4, mode=mode, tasks=tasks)
    try:
        envs.reset(seed=0)
        for step in actions:
            _, _, _, _, infos = envs.step(step)
            called = [not a.startswith("{broken") for a in step]
            assert infos["_tool_result"].tolist() == called
        assert infos["tool_result"]["name"][3] == "summarize_counts"
        assert infos["tool_result"]["payload"][3].startswith('{"clients": ')
    finally:
        envs.close()


@pytest.mark.parametrize("mode", MODES)
def test_each_envs_reference_is_kept_whole(mode):
    """Vector envs split dict infos key by key, coercing to the first env's dtype (an int
    probability would truncate a later env's 62.5 amount); the reference is one object per env."""
    from crm_gym.generator import generate

    conversations = list(generate(6, seed=3))
    envs = make_vec(
        "ArcCrmConversation-v1", 3, mode=mode, tasks=conversations, expose_reference=True
    )
    try:
        _, infos = envs.reset(seed=0)
        for index in range(3):
            single = gym.make("ArcCrmConversation-v1", tasks=conversations, expose_reference=True)
            task_id = infos["task_id"][index]
            _, info = single.reset(options={"task_id": task_id})
            assert dict(infos["reference"][index]) == dict(info["reference"])
    finally:
        envs.close()


def test_sync_envs_share_one_task_source_and_build_each_reference_once(tasks, monkeypatch):
    import crm_gym.envs.tasks as task_module

    built: list[str] = []
    build = task_module.build_reference

    def counting_build(conversation, *args, **kwargs):
        built.append(conversation.conversation_id)
        return build(conversation, *args, **kwargs)

    monkeypatch.setattr(task_module, "build_reference", counting_build)
    envs = make_vec("ArcCrmConversation-v1", 3, tasks=tasks)
    try:
        sources = {id(env.unwrapped.tasks) for env in envs.envs}
        assert len(sources) == 1
        task = tasks[0].conversation_id
        envs.reset(seed=0, options={"task_id": task})  # three envs, one task
        assert built == [task]
    finally:
        envs.close()
