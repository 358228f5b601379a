"""ChatMessages: OpenAI-style message observations, text or message-dict actions."""

from __future__ import annotations

import json

import pytest

from crm_gym.actions import format_tool_call
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import tool_names
from crm_gym.data.examples import builtin_path
from crm_gym.envs import CrmEnv
from crm_gym.envs.wrappers import ChatMessages
from crm_gym.envs.wrappers.chat import SYSTEM_PROMPT, MessageList, action_text, to_chat

TASK = {"task_id": "BUILTIN-09-unknown-quote#2"}
OPPORTUNITY = "d6c5c2bb-199f-5e3e-9cb1-c38bfce59342"
CALL = format_tool_call("quote_search", {"opportunity_id": OPPORTUNITY})


def make(**kwargs) -> ChatMessages:
    return ChatMessages(CrmEnv(tasks=str(builtin_path())), **kwargs)


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")
def test_gymnasium_check_env():
    from gymnasium.utils.env_checker import check_env

    check_env(make(), skip_render_check=True)


def test_reset_gives_system_then_user():
    messages, info = make().reset(seed=0, options={"task_id": "BUILTIN-09-unknown-quote#1"})
    assert messages == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "Open quote d9b86191-b67d-549a-a9be-e51cbb82737c."},
    ]
    assert len(info["tools"]) == len(TOOL_SPECS)


def test_tool_call_becomes_tool_calls_and_a_matching_tool_message():
    env = make()
    env.reset(seed=0, options=TASK)
    messages, reward, terminated, truncated, _ = env.step(CALL)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    call, result = messages[2], messages[3]
    assert call["content"] is None
    assert call["tool_calls"][0]["type"] == "function"
    arguments = json.dumps({"opportunity_id": OPPORTUNITY})
    assert call["tool_calls"][0]["function"] == {"name": "quote_search", "arguments": arguments}
    assert result["tool_call_id"] == call["tool_calls"][0]["id"]
    assert result["name"] == "quote_search" and result["content"].startswith(
        "Tool result (quote_search)"
    )
    assert (reward, terminated, truncated) == (0.0, False, False)


def test_answer_is_plain_assistant_text_and_ends_the_episode():
    env = make()
    env.reset(seed=0, options=TASK)
    env.step(CALL)
    messages, _, terminated, _, info = env.step("There are two quotes.")
    assert messages[-1] == {"role": "assistant", "content": "There are two quotes."}
    assert terminated and "reward_components" in info


def test_message_dict_actions_match_text_actions():
    text_env, dict_env = make(), make()
    text_env.reset(seed=0, options=TASK)
    dict_env.reset(seed=0, options=TASK)
    function = {"name": "quote_search", "arguments": json.dumps({"opportunity_id": OPPORTUNITY})}
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "x", "type": "function", "function": function}],
    }
    assert text_env.step(CALL)[0] == dict_env.step(message)[0]
    answer = {"role": "assistant", "content": "Done."}
    assert text_env.step("Done.")[1] == dict_env.step(answer)[1]


def test_unreadable_message_dict_is_an_action_error():
    env = make()
    env.reset(seed=0, options=TASK)
    messages, *_ = env.step({"role": "assistant", "tool_calls": [{"oops": 1}]})
    assert messages[-1]["role"] == "user" and messages[-1]["content"].startswith("Action error:")


def test_system_prompt_options():
    messages, _ = make(system_prompt=None).reset(seed=0, options=TASK)
    assert [m["role"] for m in messages] == ["user"]
    messages, _ = make(tools_in_prompt=True).reset(seed=0, options=TASK)
    assert all(f'"name": "{name}"' in messages[0]["content"] for name in tool_names())
    with pytest.raises(ValueError, match="tools_in_prompt"):
        make(system_prompt=None, tools_in_prompt=True)


def test_observations_are_fresh_and_in_the_space():
    env = make()
    first, _ = env.reset(seed=0, options=TASK)
    first[1]["content"] = "changed"
    second, *_ = env.step(CALL)
    assert second[1]["content"] != "changed"
    assert env.observation_space.contains(second)
    assert env.observation_space == MessageList()
    assert env.observation_space.contains(env.observation_space.sample())


def test_earlier_turn_context_stays_in_the_user_message():
    messages, _ = make(system_prompt=None).reset(seed=0, options=TASK)
    assert messages[0]["content"].startswith("Earlier in this conversation:")
    assert messages[0]["content"].endswith(
        f"User: Then list the quotes on opportunity {OPPORTUNITY}."
    )


def test_helpers():
    assert action_text("plain") == "plain"
    assert action_text({"answer": "42"}) == "42"
    assert to_chat([{"role": "assistant", "content": "<think>x</think>Hi"}]) == [
        {"role": "assistant", "content": "<think>x</think>Hi"}
    ]
