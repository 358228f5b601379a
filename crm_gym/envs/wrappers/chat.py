"""``ChatMessages``: observations as OpenAI-style chat messages, for chat-template policies."""

from __future__ import annotations

import json
from typing import Any, Sequence

import gymnasium as gym

from crm_gym.actions import (
    ActionError,
    FinalAnswer,
    ToolCall,
    format_tool_call,
    from_message,
    parse_action,
)
from crm_gym.crm.tools import tool_schemas

SYSTEM_PROMPT = (
    "You are an assistant that works a CRM through tools. To call a tool, reply with only a JSON "
    'object: {"name": "<tool name>", "arguments": {<arguments>}}. You will see its result and may '
    "call more tools. When the user's request is handled, reply to the user in plain text (no "
    "JSON): that ends your turn. Ids are UUIDs; use the ones the user or earlier results gave."
)
"""The one system prompt: ``ChatMessages`` sends it, and ``agents.prompts`` builds on it."""
TOOLS_HEADER = "\n\nTools:\n"


def with_tools(instructions: str) -> str:
    """``instructions`` followed by every tool's JSON schema, one a line (the full prompt)."""
    lines = [json.dumps(schema["function"], ensure_ascii=False) for schema in tool_schemas()]
    return instructions + TOOLS_HEADER + "\n".join(lines)


ROLES = ("system", "user", "assistant", "tool")


class MessageList(gym.Space[list]):
    """Lists of chat messages: dicts with a ``role`` and a ``content`` (text or ``None``).

    Example:
        >>> space = MessageList(seed=0)
        >>> space.contains([{"role": "user", "content": "hi"}]), space.contains("hi")
        (True, False)
    """

    def __init__(self, seed: int | None = None):
        super().__init__(None, None, seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, list) and all(_is_message(message) for message in x)

    def sample(self, mask: Any = None, probability: Any = None) -> list[dict[str, Any]]:
        """One user message of a few random letters."""
        letters = self.np_random.choice(
            list("abcdefghij "), size=int(self.np_random.integers(1, 16))
        )
        return [{"role": "user", "content": "".join(letters)}]

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MessageList)


def _is_message(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") in ROLES
        and (message.get("content") is None or isinstance(message.get("content"), str))
    )


class ChatMessages(gym.Wrapper[list, Any, str, str]):
    """Observations become the whole conversation as chat messages; actions stay text.

    Each observation is a fresh list: an optional system message (``system_prompt``, followed by
    the tool catalogue's JSON schemas with ``tools_in_prompt=True``), then the env's transcript
    (``info["messages"]``) in OpenAI's form: the user's requests, each tool call as an assistant
    message with ``tool_calls`` and its result as a ``tool`` message with the matching
    ``tool_call_id``, other assistant text as is. An action is text, as the env reads it, or an
    assistant message dict (``tool_calls``, or ``{"name", "arguments"}``), converted with
    ``crm_gym.actions.from_message``. Rewards and ``info`` are the env's.

    Example:
        >>> import gymnasium as gym
        >>> from crm_gym.data.examples import builtin_path
        >>> env = ChatMessages(gym.make("ArcCrm-v1", tasks=str(builtin_path())))
        >>> messages, info = env.reset(seed=0)
        >>> [m["role"] for m in messages]
        ['system', 'user']
        >>> call = {"role": "assistant", "tool_calls": [{"type": "function", "function": {
        ...     "name": "list_contacts", "arguments": "{}"}}]}
        >>> messages, *_ = env.step(call)
        >>> [m["role"] for m in messages], messages[2]["tool_calls"][0]["function"]["name"]
        (['system', 'user', 'assistant', 'tool'], 'list_contacts')
    """

    def __init__(
        self,
        env: gym.Env[str, str],
        *,
        system_prompt: str | None = SYSTEM_PROMPT,
        tools_in_prompt: bool = False,
    ):
        super().__init__(env)
        if tools_in_prompt and system_prompt is None:
            raise ValueError("tools_in_prompt=True needs a system_prompt to append the tools to")
        self.system_prompt = system_prompt
        self.tools_in_prompt = tools_in_prompt
        self.observation_space = MessageList()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[list, dict[str, Any]]:
        _, info = self.env.reset(seed=seed, options=options)
        return self._observe(info), info

    def step(self, action: Any) -> tuple[list, float, bool, bool, dict[str, Any]]:
        """Send a text action, or an assistant message converted to the env's text."""
        _, reward, terminated, truncated, info = self.env.step(action_text(action))
        return self._observe(info), reward, terminated, truncated, info

    def _observe(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        chat = to_chat(info.get("messages", []))
        if self.system_prompt is None:
            return chat
        return [{"role": "system", "content": self._system_text()}, *chat]

    def _system_text(self) -> str:
        assert self.system_prompt is not None
        return with_tools(self.system_prompt) if self.tools_in_prompt else self.system_prompt


def action_text(action: Any) -> Any:
    """The text the env reads for an action: text as is, a message dict converted.

    Example:
        >>> action_text({"name": "list_contacts", "arguments": {}})
        '{"name": "list_contacts", "arguments": {}}'
        >>> action_text({"role": "assistant", "content": "All set."})
        'All set.'
    """
    if not isinstance(action, dict):
        return action
    if "content" in action and "tool_calls" not in action and isinstance(action["content"], str):
        return action["content"]
    parsed = from_message(action)
    if isinstance(parsed, ToolCall):
        return format_tool_call(parsed.name, parsed.arguments)
    if isinstance(parsed, FinalAnswer):
        return parsed.text
    assert isinstance(parsed, ActionError)
    return json.dumps(action, ensure_ascii=False, default=str)  # the env reports what is wrong


def to_chat(
    messages: Sequence[dict[str, Any]], *, openai_tools: bool = True, tool_role: bool = True
) -> list[dict[str, Any]]:
    """The env's transcript as chat messages (fresh dicts): the one converter.

    With ``openai_tools`` (``ChatMessages``) a tool call becomes an assistant message with
    ``tool_calls`` and its result a ``tool`` message with the matching ``tool_call_id``; without
    it (the prompts of ``agents.prompts``, where the model writes calls as JSON text) every
    message keeps the env's text as a string. ``tool_role=False`` sends tool results as ``user``
    messages, for chat templates without a tool role; so does a result that answers no call
    (chat APIs reject a ``tool`` message without its call).

    Example:
        >>> transcript = [{"role": "tool", "content": {}, "name": "list_contacts"}]
        >>> to_chat(transcript, openai_tools=False, tool_role=False)
        [{'role': 'user', 'content': '{}'}]
    """
    if not openai_tools:
        return [_as_text(message, tool_role) for message in messages]
    chat: list[dict[str, Any]] = []
    pending = None  # the id of the last tool call, until a tool result answers it
    for number, message in enumerate(messages):
        role, content = message["role"], message["content"]
        parsed = parse_action(content) if role == "assistant" else None
        if isinstance(parsed, ToolCall):
            pending = f"call_{number}"
            chat.append(_tool_call_message(pending, parsed))
            continue
        if role == "tool" and tool_role and pending is not None:
            chat.append(_tool_result(message, pending))
        else:  # a tool result that answers no call is the user's to read
            chat.append({"role": "user" if role == "tool" else role, "content": content})
        pending = None
    return chat


def _as_text(message: dict[str, Any], tool_role: bool) -> dict[str, str]:
    """A message as role and text (a tool result as ``user`` without ``tool_role``)."""
    role = "user" if message["role"] == "tool" and not tool_role else message["role"]
    return {"role": role, "content": str(message["content"])}


def _tool_result(message: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A ``tool`` message answering the call ``call_id``."""
    return {
        "role": "tool",
        "tool_call_id": call_id,
        "name": message.get("name"),
        "content": message["content"],
    }


def _tool_call_message(call_id: str, call: ToolCall) -> dict[str, Any]:
    arguments = json.dumps(call.arguments, ensure_ascii=False, default=str)
    function = {"name": call.name, "arguments": arguments}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }
