"""Observation -> chat messages -> prompt text: the one place every backend builds its prompts.

The system prompt says how to act (a JSON tool call, or plain text to answer) and lists the 38
tools of ``tool_schemas()``: in full (their JSON schemas, for real models) or compactly (one
``name(required arguments)`` line per tool, for tiny models with short contexts). The
transcript comes from ``info["messages"]``, the env's record of the conversation so far.

Example:
    >>> from agents.policy import Observation
    >>> transcript = [{"role": "user", "content": "Hi", "turn_id": 1}]
    >>> observation = Observation("User: Hi", {"messages": transcript})
    >>> [m["role"] for m in build_messages(observation, style="compact")]
    ['system', 'user']
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal, Sequence

from agents.policy import Observation
from crm_gym.crm.tools import tool_schemas

PromptStyle = Literal["full", "compact"]

INSTRUCTIONS = (
    "You are an assistant that works a CRM through tools. To call a tool, reply with only a JSON "
    'object: {"name": "<tool name>", "arguments": {<arguments>}}. You will see its result and may '
    "call more tools. When the user's request is handled, reply to the user in plain text (no "
    "JSON): that ends your turn. Ids are UUIDs; use the ones the user or earlier results gave."
)
COMPACT_INSTRUCTIONS = (
    'CRM agent. Call a tool: {"name": ..., "arguments": {...}}. Answer in plain text when done.'
)
_MARK = "\u2063ACTION\u2063"
"""A placeholder assistant message whose end marks where a completion stops in the template."""


@lru_cache(maxsize=2)
def system_prompt(style: PromptStyle = "full") -> str:
    """The system prompt: instructions and the tool catalogue in the given style."""
    if style == "full":
        tools = [json.dumps(schema["function"], ensure_ascii=False) for schema in tool_schemas()]
        return f"{INSTRUCTIONS}\n\nTools:\n" + "\n".join(tools)
    if style == "compact":
        return f"{COMPACT_INSTRUCTIONS}\nTools:\n" + "\n".join(map(_signature, tool_schemas()))
    raise ValueError(f"prompt style must be 'full' or 'compact', got {style!r}")


def _signature(schema: dict[str, Any]) -> str:
    """``name(required arguments)`` for one tool."""
    function = schema["function"]
    return f"{function['name']}({', '.join(function['parameters'].get('required', []))})"


def chat_messages(
    transcript: Sequence[dict[str, Any]], *, tool_role: bool = True
) -> list[dict[str, str]]:
    """Transcript entries as chat messages (tool results as ``user`` without ``tool_role``)."""
    messages = []
    for entry in transcript:
        role = entry["role"]
        if role == "tool" and not tool_role:
            role = "user"
        messages.append({"role": role, "content": str(entry["content"])})
    return messages


def build_messages(
    observation: Observation,
    style: PromptStyle = "full",
    *,
    tool_role: bool = True,
    guidelines: Sequence[str] | None = None,
) -> list[dict[str, str]]:
    """The system prompt, then the transcript so far (``info["messages"]``, else the text).

    ``guidelines`` (default: ``info["guidelines"]``, which ``agents.memory.MemoryPolicy`` sets)
    are appended to the system prompt as a "Guidelines from similar tasks" block, cut to
    ``MAX_GUIDELINE_CHARS`` (``fit_guidelines``); none leaves the prompt unchanged.
    """
    transcript = observation.info.get("messages") or [{"role": "user", "content": observation.text}]
    if guidelines is None:
        guidelines = observation.info.get("guidelines") or ()
    content = system_prompt(style) + guideline_block(guidelines)
    system = {"role": "system", "content": content}
    return [system, *chat_messages(transcript, tool_role=tool_role)]


MAX_GUIDELINE_CHARS = 1200
"""Budget of the guideline block: about 300 tokens at 4 characters a token."""
GUIDELINE_HEADER = "\n\nGuidelines from similar tasks:"


def fit_guidelines(guidelines: Sequence[str], max_chars: int = MAX_GUIDELINE_CHARS) -> list[str]:
    """The leading guidelines whose lines fit in ``max_chars`` (best first; one is never cut).

    Example:
        >>> fit_guidelines(["a" * 10, "b" * 10], max_chars=50)
        ['aaaaaaaaaa']
    """
    kept, used = [], len(GUIDELINE_HEADER)
    for guideline in guidelines:
        used += len(guideline) + 3  # "\n- " before each
        if used > max_chars:
            break
        kept.append(guideline)
    return kept


def guideline_block(guidelines: Sequence[str], max_chars: int = MAX_GUIDELINE_CHARS) -> str:
    """The system prompt's guideline block ("" without guidelines)."""
    kept = fit_guidelines(guidelines, max_chars)
    return GUIDELINE_HEADER + "".join(f"\n- {g}" for g in kept) if kept else ""


def render_prompt(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    """The prompt text: the tokenizer's chat template with the assistant turn opened."""
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)


def supports_tool_role(tokenizer: Any) -> bool:
    """Whether the chat template renders a ``tool`` message (some raise, some drop it)."""
    from jinja2 import TemplateError

    messages = [{"role": "user", "content": "u"}, {"role": "tool", "content": _MARK}]
    try:
        return _MARK in render_prompt(tokenizer, messages)
    except TemplateError:
        return False


def continuation_text(
    tokenizer: Any, messages: Sequence[dict[str, str]], end_text: str | None = None
) -> str:
    """The template text after an assistant message, through the next generation prompt.

    Renders a placeholder assistant message followed by ``messages`` and keeps what follows the
    placeholder: the close of the assistant message, ``messages``, and the opening of the next
    assistant turn. When the completion already ended with ``end_text`` (its end-of-turn token),
    that prefix is dropped. Only the text after the placeholder is used, so templates that
    render earlier messages differently once later ones follow (Qwen3's thinking blocks) work.
    """
    placeholder = [{"role": "user", "content": "u"}, {"role": "assistant", "content": _MARK}]
    text = render_prompt(tokenizer, [*placeholder, *messages])
    tail = text[text.rindex(_MARK) + len(_MARK) :]
    if end_text and tail.startswith(end_text):
        tail = tail[len(end_text) :]
    return tail
