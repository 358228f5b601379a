"""Prompts: every tool listed, the transcript mapped to chat roles, templates rendered."""

from __future__ import annotations

import json

import pytest

from agents.policy import Observation
from agents.prompts import build_messages, continuation_text, system_prompt
from crm_gym.crm.tools import tool_names, tool_schemas
from crm_gym.envs.wrappers.chat import ChatMessages, to_chat

TRANSCRIPT = [
    {"role": "user", "content": "User: How many clients?"},
    {"role": "assistant", "content": '{"name": "summarize_counts", "arguments": {}}'},
    {"role": "tool", "content": "Tool result (summarize_counts): {}", "name": "summarize_counts"},
]


@pytest.mark.parametrize("style", ["full", "compact"])
def test_system_prompt_lists_every_tool(style):
    prompt = system_prompt(style)
    for name in tool_names():
        assert f"{name}(" in prompt or f'"name": "{name}"' in prompt, name
    assert '"name"' in prompt and '"arguments"' in prompt  # says how to call a tool


def test_full_prompt_has_the_schemas_and_compact_is_much_shorter():
    full, compact = system_prompt("full"), system_prompt("compact")
    for schema in tool_schemas():
        assert json.dumps(schema["function"]) in full
    assert len(compact) * 5 < len(full)
    assert "create_new_client(name, email, status)" in compact


def test_unknown_style_raises():
    with pytest.raises(ValueError, match="prompt style"):
        system_prompt("tiny")  # type: ignore[arg-type]


def test_build_messages_puts_the_system_prompt_first_then_the_transcript():
    observation = Observation("Tool result (summarize_counts): {}", {"messages": TRANSCRIPT})
    messages = build_messages(observation, style="compact")
    assert messages[0] == {"role": "system", "content": system_prompt("compact")}
    assert messages[1:] == [{"role": m["role"], "content": m["content"]} for m in TRANSCRIPT]


def test_tool_results_become_user_messages_without_a_tool_role():
    messages = build_messages(Observation("x", {"messages": TRANSCRIPT}), tool_role=False)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]


def test_without_a_transcript_the_observation_text_is_the_user_message():
    messages = build_messages(Observation("User: hi"), style="compact")
    assert messages[1:] == [{"role": "user", "content": "User: hi"}]


def test_text_chat_drops_extra_keys_and_stringifies():
    assert to_chat([{"role": "user", "content": 3, "name": "x"}], openai_tools=False) == [
        {"role": "user", "content": "3"}
    ]


def test_one_converter_keeps_the_env_text_or_uses_openai_tool_calls():
    call = '{"name": "quote_prefixes", "arguments": {}}'
    transcript = [
        {"role": "user", "content": "User: hi"},
        {"role": "assistant", "content": call},
        {"role": "tool", "content": "[]", "name": "quote_prefixes"},
    ]
    text = to_chat(transcript, openai_tools=False, tool_role=False)
    assert [m["content"] for m in text] == ["User: hi", call, "[]"]
    assert [m["role"] for m in text] == ["user", "assistant", "user"]
    openai = to_chat(transcript, tool_role=False)
    assert openai[1]["tool_calls"][0]["function"]["name"] == "quote_prefixes"
    assert openai[2] == {"role": "user", "content": "[]"}
    assert to_chat(transcript)[2]["tool_call_id"] == openai[1]["tool_calls"][0]["id"]


def test_chat_wrapper_and_policies_send_one_system_prompt():
    import gymnasium as gym

    from crm_gym.data.examples import builtin_path

    env = ChatMessages(gym.make("ArcCrm-v1", tasks=str(builtin_path())), tools_in_prompt=True)
    messages, _ = env.reset(seed=0)
    assert messages[0] == {"role": "system", "content": system_prompt("full")}


def test_render_prompt_opens_the_assistant_turn(tiny_path):
    from transformers import AutoTokenizer

    from agents.prompts import render_prompt, supports_tool_role

    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    text = render_prompt(tokenizer, build_messages(Observation("x", {"messages": TRANSCRIPT})))
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>tool\nTool result (summarize_counts): {}<|im_end|>" in text
    assert supports_tool_role(tokenizer)


def test_a_template_without_a_tool_role_is_detected(tiny_path):
    from transformers import AutoTokenizer

    from agents.prompts import supports_tool_role

    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'tool' %}"
        "{{ raise_exception('no tool role') }}{% endif %}{{ m['content'] }}{% endfor %}"
    )
    assert not supports_tool_role(tokenizer)


def test_continuation_is_the_close_the_new_messages_and_the_next_opening(tiny_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    new = [{"role": "tool", "content": "Tool error (x): no"}]
    opened = "<|im_start|>tool\nTool error (x): no<|im_end|>\n<|im_start|>assistant\n"
    assert continuation_text(tokenizer, new) == "<|im_end|>\n" + opened
    assert continuation_text(tokenizer, new, end_text="<|im_end|>") == "\n" + opened
