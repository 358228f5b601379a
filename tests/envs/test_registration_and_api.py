"""The Gymnasium contract of every registered env (after Gymnasium's tests/envs/test_envs.py).

``check_env`` on the raw and on the made env, a same-seed determinism rollout, a pickle
round-trip mid-episode, ``crm_gym:`` auto-import in a fresh interpreter, and the API details
the envs promise: options, errors, rendering and what ``info`` holds.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import warnings
from typing import Any

import gymnasium as gym
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env, data_equivalence

import crm_gym
from crm_gym.actions import format_tool_call
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import tool_schemas
from crm_gym.data.examples import builtin_path
from crm_gym.envs import ConversationEnv, CrmEnv, Unicode
from crm_gym.registration import ENV_IDS as REGISTERED
from tests.envs.support import DEAL, ENV_IDS, REPO

CHECK_ENV_IGNORE_WARNINGS = (
    "No render fps was declared",  # text envs have no frame rate
    "is different from the unwrapped version",  # said when we check gym.make's env on purpose
)

COUNTS = format_tool_call("summarize_counts", {})
FIND = format_tool_call("opportunity_search", {"criteria": {"stage": "Qualification"}})
ACTIONS = [
    COUNTS,
    "{not json",
    FIND,
    "There is one deal in Qualification.",
    '<tool>{"name": "client_search", "arguments": {"name": "Acme"}}</tool>',
    format_tool_call("no_such_tool", {}),
    "Done.",
    FIND,
    "All set.",
    COUNTS,
    "Finished.",
]
"""A fixed action sequence: tool calls, a malformed action, an unknown tool and answers."""

REFERENCE_KEYS = {
    "expected_tool",
    "expected_arguments",
    "expected_response",
    "expect_success",
    "expected_error_substring",
}


def make(env_id: str, tasks: Any, **kwargs: Any) -> gym.Env:
    return gym.make(env_id, tasks=tasks, **kwargs)


def rollout(env: gym.Env, seed: int | None, actions: list[str]) -> list[tuple]:
    """Every (obs, info) and step result of ``actions``, resetting whenever an episode ends."""
    obs, info = env.reset(seed=seed)
    trace: list[tuple] = [(obs, info)]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        trace.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            trace.append(env.reset())
    return trace


def assert_checked(check: Any, env: gym.Env) -> None:
    """``check(env)`` passes and warns nothing beyond the ignored warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(env)
    unexpected = [str(w.message) for w in caught]
    unexpected = [m for m in unexpected if not any(s in m for s in CHECK_ENV_IGNORE_WARNINGS)]
    assert unexpected == []


# ---- registration and check_env ------------------------------------------------------------------
def test_both_ids_are_registered_with_string_entry_points():
    assert set(REGISTERED) == set(ENV_IDS)
    for env_id in ENV_IDS:
        assert isinstance(gym.spec(env_id).entry_point, str)
    assert gym.spec("ArcCrm-v1").entry_point == "crm_gym.envs.crm_env:CrmEnv"
    crm_gym.registration.register_envs()  # idempotent


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_on_the_raw_env(env_id, tasks):
    assert_checked(check_env, make(env_id, tasks).unwrapped)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_on_the_made_env(env_id, tasks):
    assert_checked(check_env, make(env_id, tasks))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_on_the_builtin_examples(env_id):
    assert_checked(check_env, make(env_id, str(builtin_path())).unwrapped)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_without_tasks_uses_the_default_task_set(env_id):
    env = gym.make(env_id)  # crm_gym.generator.default_tasks()
    obs, info = env.reset(seed=0)
    assert obs.startswith(("User: ", "Earlier in this conversation")) and info["task_id"]
    assert len(env.unwrapped.tasks) > 0


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_with_the_crm_gym_prefix_imports_the_package_in_a_fresh_interpreter(env_id):
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'crm_gym' not in sys.modules\n"
        f"env = gym.make('crm_gym:{env_id}', tasks=sys.argv[1])\n"
        "obs, info = env.reset(seed=0)\n"
        "assert isinstance(obs, str) and 'crm_gym' in sys.modules\n"
        "print(type(env.unwrapped).__name__)\n"
    )
    command = [sys.executable, "-c", code, str(builtin_path())]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    expected = {"ArcCrm-v1": "CrmEnv", "ArcCrmConversation-v1": "ConversationEnv"}[env_id]
    assert done.stdout.strip() == expected


# ---- determinism and pickling --------------------------------------------------------------------
@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_same_rollout(env_id, seed, tasks):
    first = rollout(make(env_id, tasks), seed, ACTIONS)
    second = rollout(make(env_id, tasks), seed, ACTIONS)
    assert data_equivalence(first, second)
    again = make(env_id, tasks)  # reset(seed) restarts the same stream on a used env too
    rollout(again, 123, ACTIONS[:3])
    assert data_equivalence(rollout(again, seed, ACTIONS), first)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickled_env_continues_identically(env_id, tasks):
    env = make(env_id, tasks)
    env.reset(
        seed=3, options={"task_id": "HAND-mixed#2" if env_id == "ArcCrm-v1" else "HAND-mixed"}
    )
    env.step(COUNTS)
    clone = pickle.loads(pickle.dumps(env))
    assert data_equivalence(play(env, ACTIONS[2:]), play(clone, ACTIONS[2:]))


def play(env: gym.Env, actions: list[str]) -> list[tuple]:
    """Step ``actions`` from where ``env`` is; episodes that end restart from the env's RNG."""
    trace: list[tuple] = []
    for action in actions:
        trace.append(env.step(action))
        if trace[-1][2] or trace[-1][3]:
            trace.append(env.reset())
    return trace


# ---- spaces and errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observations_are_in_the_observation_space(env_id, tasks):
    env = make(env_id, tasks)
    assert isinstance(env.observation_space, Unicode) and isinstance(env.action_space, Unicode)
    for step in rollout(env, 0, ACTIONS):
        assert step[0] in env.observation_space
        if len(step) == 5:
            assert type(step[1]) is float and type(step[2]) is bool and type(step[3]) is bool


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_before_reset_and_after_the_end_raises_reset_needed(env_id, tasks):
    env = make(env_id, tasks).unwrapped
    with pytest.raises(ResetNeeded):
        env.step("Hello.")
    env.reset(seed=0, options={"task_id": "HAND-new-client"})
    _, _, terminated, _, _ = env.step("Nothing to do.")
    assert terminated
    with pytest.raises(ResetNeeded):
        env.step("Hello again.")


@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes")
@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize(
    "kwargs",
    [{"max_steps": 0}, {"render_mode": "rgb_array"}, {"tasks": []}],
)
def test_bad_constructor_arguments_raise(env_id, kwargs, tasks):
    with pytest.raises(ValueError):
        gym.make(env_id, **{"tasks": tasks, **kwargs})


def test_conversation_env_rejects_unknown_utterance_modes(tasks):
    with pytest.raises(ValueError, match="utterances"):
        ConversationEnv(tasks, utterances="cleaned")


# ---- options -------------------------------------------------------------------------------------
def test_crm_env_task_id_picks_the_conversation_and_turn(tasks):
    env = CrmEnv(tasks)
    obs, info = env.reset(seed=0, options={"task_id": "HAND-deal#2"})
    assert info["task_id"] == "HAND-deal#2"
    assert obs.startswith("Earlier in this conversation:\nUser: Which Acme deals")
    assert obs.endswith(f"User: Move {DEAL} to Negotiation at 70%.")  # templates filled
    obs, info = env.reset(seed=0, options={"task_id": "HAND-deal#1"})
    assert obs == "User: Which Acme deals are in Qualification?"


def test_crm_env_task_id_without_a_turn_draws_a_turn_of_that_conversation(tasks):
    env = CrmEnv(tasks)
    seen = {env.reset(seed=s, options={"task_id": "HAND-mixed"})[1]["task_id"] for s in range(30)}
    assert seen == {f"HAND-mixed#{turn}" for turn in range(1, 5)}


def test_conversation_env_task_id_picks_the_conversation(tasks):
    env = ConversationEnv(tasks)
    obs, info = env.reset(seed=5, options={"task_id": "HAND-deal"})
    assert (info["task_id"], info["turn_id"]) == ("HAND-deal", 1)
    assert obs == "User: Which Acme deals are in Qualification?"


@pytest.mark.parametrize("env_cls", [CrmEnv, ConversationEnv])
def test_arm_option_draws_from_that_arm(env_cls, tasks):
    env = env_cls(tasks)
    assert set(env.tasks.arms) == {"unlabelled"}  # hand-made tasks carry no skill labels
    ids = {
        env.reset(seed=s, options={"arm": "unlabelled"})[1]["task_id"].split("#")[0]
        for s in range(30)
    }
    assert ids == {c.conversation_id for c in tasks}
    with pytest.raises(KeyError, match="no-such-arm"):
        env.reset(options={"arm": "no-such-arm"})


@pytest.mark.parametrize("env_cls", [CrmEnv, ConversationEnv])
@pytest.mark.parametrize("task_id", ["HAND-nope", "HAND-nope#1", ""])
def test_unknown_task_ids_raise_key_error(env_cls, task_id, tasks):
    with pytest.raises(KeyError, match="unknown task"):
        env_cls(tasks).reset(options={"task_id": task_id})


@pytest.mark.parametrize("task_id", ["HAND-deal#0", "HAND-deal#3", "HAND-deal#x", "HAND-deal#"])
def test_crm_env_rejects_turns_the_conversation_lacks(task_id, tasks):
    with pytest.raises(KeyError, match="unknown task"):
        CrmEnv(tasks).reset(options={"task_id": task_id})


@pytest.mark.parametrize("env_cls", [CrmEnv, ConversationEnv])
def test_without_options_the_seed_picks_the_task(env_cls, tasks):
    env = env_cls(tasks)
    picks = [env.reset(seed=s)[1]["task_id"] for s in range(40)]
    assert picks == [env.reset(seed=s)[1]["task_id"] for s in range(40)]
    assert len({p.split("#")[0] for p in picks}) == len(tasks)


# ---- rendering -----------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*No render fps")  # text envs have no frame rate
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_render_ansi_returns_the_transcript(env_id, tasks):
    env = make(env_id, tasks, render_mode="ansi")
    env.reset(seed=0, options={"task_id": "HAND-deal#1" if env_id == "ArcCrm-v1" else "HAND-deal"})
    env.step(FIND)
    env.step("{broken")
    text = env.render()
    lines = text.splitlines()
    assert lines[0] == "[user] Which Acme deals are in Qualification?"  # the role says who
    assert lines[1] == f"[assistant] {FIND}"
    assert lines[2].startswith('[tool] Tool result (opportunity_search): [{"opportunity_id": ')
    assert lines[3] == "[assistant] {broken"
    assert lines[4].startswith("[user] Action error: The tool call is not valid JSON")


def test_render_human_prints_the_transcript(tasks, capsys):
    env = CrmEnv(tasks, render_mode="human")
    env.reset(seed=0, options={"task_id": "HAND-new-client#1"})
    assert env.render() is None
    assert capsys.readouterr().out == "[user] Add Globex as a prospect, email ops@globex.example.\n"


# ---- info ----------------------------------------------------------------------------------------
def all_infos(env: gym.Env) -> list[dict[str, Any]]:
    return [step[-1] for step in rollout(env, 0, ACTIONS)]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reference_is_hidden_by_default(env_id, tasks):
    assert all("reference" not in info for info in all_infos(make(env_id, tasks)))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_expose_reference_puts_the_reference_in_every_info_of_a_running_turn(env_id, tasks):
    env = make(env_id, tasks, expose_reference=True)
    _, info = env.reset(
        seed=0, options={"task_id": "HAND-deal#2" if env_id == "ArcCrm-v1" else "HAND-deal"}
    )
    if env_id == "ArcCrmConversation-v1":
        assert info["reference"]["expected_tool"] == "opportunity_search"
        _, _, _, _, info = env.step(FIND)
        assert set(info["reference"]) == REFERENCE_KEYS
        _, _, _, _, info = env.step("One deal.")  # the next turn's reference arrives with it
    assert set(info["reference"]) == REFERENCE_KEYS
    assert info["reference"]["expected_tool"] == "modify_opportunity"
    assert info["reference"]["expected_arguments"] == {
        "opportunity_id": DEAL,
        "updates": {"stage": "Negotiation", "probability": 70},
    }
    assert info["reference"]["expect_success"] is True
    assert info["reference"]["expected_error_substring"] is None


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_info_holds_tools_messages_tool_results_and_reward_components(env_id, tasks):
    env = make(env_id, tasks)
    _, info = env.reset(
        seed=0, options={"task_id": "HAND-deal#1" if env_id == "ArcCrm-v1" else "HAND-deal"}
    )
    assert len(info["tools"]) == len(TOOL_SPECS)
    assert {tool["function"]["name"] for tool in info["tools"]} == set(TOOL_SPECS)
    assert info["messages"] == [  # plain content: the role and turn_id say what it is
        {"role": "user", "content": "Which Acme deals are in Qualification?", "turn_id": 1}
    ]
    _, _, _, _, info = env.step(FIND)
    result = info["tool_result"]
    assert (result["name"], result["ok"], result["error"]) == ("opportunity_search", True, None)
    assert json.loads(result["payload"])[0]["opportunity_id"] == DEAL  # JSON text, vector-safe
    assert (
        info["messages"][-1]["role"] == "tool"
        and info["messages"][-1]["name"] == "opportunity_search"
    )
    assert "tools" not in info and "reward_components" not in info
    _, _, _, _, info = env.step("{broken")
    assert "tool_result" not in info  # only after a tool call
    _, _, _, _, info = env.step(format_tool_call("quote_details", {"quote_id": "nope"}))
    assert info["tool_result"] == {
        "name": "quote_details",
        "ok": False,
        "payload": "null",
        "error": "Quote not found with ID 'nope'.",
    }
    _, _, _, _, info = env.step("One deal.")
    keys = {"tool", "arguments", "execution", "state", "penalty", "passed", "total"}
    assert set(info["reward_components"]) >= keys


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_infos_share_no_mutable_objects(env_id, tasks):
    env = make(env_id, tasks).unwrapped
    _, info = env.reset(
        seed=0, options={"task_id": "HAND-deal#1" if env_id == "ArcCrm-v1" else "HAND-deal"}
    )
    with pytest.raises(TypeError, match="read-only"):  # shared by every reset, so read-only
        info["tools"][0]["function"]["name"] = "tampered"
    info["messages"][0]["content"] = "tampered"  # plain dicts, each info's own
    info["messages"].clear()  # each info's list is its own
    _, _, _, _, step_info = env.step(FIND)
    step_info["messages"].clear()
    step_info["tool_result"]["name"] = "tampered"
    assert "tampered" not in env.render()
    _, _, _, _, again = env.step(FIND)
    assert again["tool_result"]["name"] == "opportunity_search" and len(again["messages"]) == 5
    assert env.reset(seed=0)[1]["tools"] == tool_schemas()


def test_crm_env_turn_id_option_picks_the_turn(tasks):
    env = CrmEnv(tasks)
    _, info = env.reset(seed=0, options={"task_id": "HAND-deal", "turn_id": 2})
    assert info["task_id"] == "HAND-deal#2"
    with pytest.raises(KeyError, match="unknown task 'HAND-deal#3'"):
        env.reset(options={"task_id": "HAND-deal", "turn_id": 3})


def test_conversation_env_names_the_scored_turn(tasks):
    env = make("ArcCrmConversation-v1", tasks)
    _, info = env.reset(seed=0, options={"task_id": "HAND-deal"})
    scored = []
    terminated = False
    while not terminated:
        _, _, terminated, _, info = env.step("Nothing to do.")
        scored.append((info["scored_turn_id"], info["turn_id"]))
    turns = len(scored)
    assert [s for s, _ in scored] == list(range(1, turns + 1))
    assert [t for _, t in scored] == [min(k + 1, turns) for k in range(1, turns + 1)]


@pytest.mark.parametrize(
    "old, new", [("ArcCrm-v0", "ArcCrm-v1"), ("ArcCrmConversation-v0", "ArcCrmConversation-v1")]
)
def test_the_v0_ids_name_their_successor(old, new):
    """v1 changed the reward (issue #18): gymnasium refuses v0 and names v1."""
    from gymnasium.error import DeprecatedEnv

    with pytest.warns(DeprecationWarning), pytest.raises(DeprecatedEnv, match=new):
        gym.make(old)
