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
    "You are a CRM assistant. To use a tool, reply with one JSON object "
    '{"name": <tool>, "arguments": {...}} (or an assistant message with tool_calls); '
    "when the request is done, answer the user in plain text."
)
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
        ...     "name": "quote_prefixes", "arguments": "{}"}}]}
        >>> messages, *_ = env.step(call)
        >>> [m["role"] for m in messages], messages[2]["tool_calls"][0]["function"]["name"]
        (['system', 'user', 'assistant', 'tool'], 'quote_prefixes')
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
        if not self.tools_in_prompt:
            return self.system_prompt
        lines = [json.dumps(schema["function"], ensure_ascii=False) for schema in tool_schemas()]
        return self.system_prompt + "\n\nTools (JSON schemas):\n" + "\n".join(lines)


def action_text(action: Any) -> Any:
    """The text the env reads for an action: text as is, a message dict converted.

    Example:
        >>> action_text({"name": "quote_details", "arguments": {"quote_id": "q1"}})
        '{"name": "quote_details", "arguments": {"quote_id": "q1"}}'
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


def to_chat(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The env's transcript as OpenAI-style chat messages (fresh dicts)."""
    chat: list[dict[str, Any]] = []
    call_id = None
    for number, message in enumerate(messages):
        role, content = message["role"], message["content"]
        if role == "assistant":
            parsed = parse_action(content)
            if isinstance(parsed, ToolCall):
                call_id = f"call_{number}"
                chat.append(_tool_call_message(call_id, parsed))
                continue
        elif role == "tool":
            chat.append(
                {
                    "role": "tool",
                    "tool_call_id": call_id,
                    "name": message.get("name"),
                    "content": content,
                }
            )
            continue
        chat.append({"role": role, "content": content})
    return chat


def _tool_call_message(call_id: str, call: ToolCall) -> dict[str, Any]:
    arguments = json.dumps(call.arguments, ensure_ascii=False, default=str)
    function = {"name": call.name, "arguments": arguments}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }
