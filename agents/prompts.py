"""Observation -> chat messages -> prompt text: the one place every backend builds its prompts.

The system prompt says how to act (a JSON tool call, or plain text to answer) and lists the 38
tools of ``tool_schemas()``: in full (``crm_gym.envs.wrappers.chat.SYSTEM_PROMPT`` and the JSON
schemas, the prompt ``ChatMessages`` sends too, for real models) or compactly (one
``name(required arguments)`` line per tool, for tiny models with short contexts). The
transcript comes from ``info["messages"]``, the env's record of the conversation so far, through
the one converter, ``crm_gym.envs.wrappers.chat.to_chat``.

Example:
    >>> from agents.policy import Observation
    >>> transcript = [{"role": "user", "content": "Hi", "turn_id": 1}]
    >>> observation = Observation("User: Hi", {"messages": transcript})
    >>> [m["role"] for m in build_messages(observation, style="compact")]
    ['system', 'user']
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, Sequence

from agents.policy import Observation
from crm_gym.crm.tools import tool_schemas
from crm_gym.envs.wrappers.chat import SYSTEM_PROMPT, to_chat, with_tools

PromptStyle = Literal["full", "compact", "minimal"]

COMPACT_INSTRUCTIONS = (
    'CRM agent. Call a tool: {"name": ..., "arguments": {...}}. Answer in plain text when done.'
)
_MARK = "\u2063ACTION\u2063"
"""A placeholder assistant message whose end marks where a completion stops in the template."""


@lru_cache(maxsize=3)
def system_prompt(style: PromptStyle = "full") -> str:
    """The system prompt: instructions and the tool catalogue in the given style."""
    if style == "full":
        return with_tools(SYSTEM_PROMPT)
    if style == "compact":
        return f"{COMPACT_INSTRUCTIONS}\nTools:\n" + "\n".join(map(_signature, tool_schemas()))
    if style == "minimal":  # no catalogue: a model trained here learns the tools from its data
        return COMPACT_INSTRUCTIONS
    raise ValueError(f"prompt style must be 'full', 'compact' or 'minimal', got {style!r}")


def _signature(schema: dict[str, Any]) -> str:
    """``name(required arguments)`` for one tool."""
    function = schema["function"]
    return f"{function['name']}({', '.join(function['parameters'].get('required', []))})"


def build_messages(
    observation: Observation,
    style: PromptStyle = "full",
    *,
    tool_role: bool = True,
    openai_tools: bool = False,
    guidelines: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The system prompt, then the transcript so far (``info["messages"]``, else the text).

    The transcript goes through ``to_chat``: as the env's text (the default; models that write
    calls as JSON text), or with ``openai_tools`` as ``tool_calls`` messages (chat APIs).

    ``guidelines`` (default: ``info["guidelines"]``, which ``agents.memory.MemoryPolicy`` sets)
    are appended to the system prompt as a "Guidelines from similar tasks" block, cut to
    ``MAX_GUIDELINE_CHARS`` (``fit_guidelines``); none leaves the prompt unchanged.
    """
    transcript = observation.info.get("messages") or [{"role": "user", "content": observation.text}]
    if guidelines is None:
        guidelines = observation.info.get("guidelines") or ()
    content = system_prompt(style) + guideline_block(guidelines)
    system = {"role": "system", "content": content}
    return [system, *to_chat(transcript, openai_tools=openai_tools, tool_role=tool_role)]


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
