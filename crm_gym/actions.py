"""Parse one text action of an agent into a tool call, a final answer, or an error.

Accepted forms (all may follow a ``<think>...</think>`` block, which is dropped):

- a JSON object ``{"name": ..., "arguments": {...}}`` (also ``tool``/``tool_name`` and
  ``args``/``parameters``; arguments may be a JSON string, as OpenAI sends them);
- the ``<tool>{...}</tool>`` form of the crm-01-4b model card (and ``<tool_call>...</tool_call>``);
- an OpenAI-style assistant message with ``tool_calls`` (the first call is used);
- any of these inside a fenced code block;
- a JSON object ``{"answer": ...}`` (or ``final_answer``/``response``), or plain text: the
  final answer to the user.

``parse_action`` never raises on model output: text that tries to be a tool call and fails is an
``ActionError`` whose message tells the agent what to fix (bad JSON, an integer past Python's
4,300-digit limit, nesting past ``MAX_JSON_DEPTH``, text past ``MAX_ACTION_CHARS``). Its time is
linear in the text: tags, fences and think blocks are found with ``str.find``, not with
backtracking regexes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

MAX_ACTION_CHARS = 200_000
"""Longer text is refused before any parsing (an ``ActionError``, decided in constant time)."""
MAX_JSON_DEPTH = 64
"""Deeper JSON is refused: the scorer and the tools recurse into arguments, and Python's
recursion limit is shared by the whole call stack, so depth is capped well below it."""

_TAGS = (("<tool>", "</tool>"), ("<tool_call>", "</tool_call>"))
_FENCE = "```"
_FENCE_LANGUAGES = ("json", "JSON", "tool")
_NAME_KEYS = ("name", "tool", "tool_name")
_ARGUMENT_KEYS = ("arguments", "args", "parameters")
_ANSWER_KEYS = ("answer", "final_answer", "response")
_NEEDS_FUNCTION = 'Each entry of "tool_calls" needs a "function" object.'


@dataclass(frozen=True)
class ToolCall:
    """The agent calls a tool."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FinalAnswer:
    """The agent answers the user and ends its turn."""

    text: str


@dataclass(frozen=True)
class ActionError:
    """Text that tried to be a tool call and could not be read; ``message`` says why."""

    message: str


Action = ToolCall | FinalAnswer | ActionError


def parse_action(text: Any) -> Action:
    """Read one action from model output (never raises; time linear in the text's length).

    Example:
        >>> parse_action('<tool>{"name": "list_quotes", "arguments": {}}</tool>')
        ToolCall(name='list_quotes', arguments={})
        >>> parse_action("All done: the quote was sent.")
        FinalAnswer(text='All done: the quote was sent.')
        >>> parse_action('{"name": "list_quotes", "arguments": [1]}').message
        'Tool arguments must be a JSON object, got list.'
    """
    if not isinstance(text, str):
        return ActionError(f"An action must be text, got {type(text).__name__}.")
    if len(text) > MAX_ACTION_CHARS:
        return ActionError(
            f"The action is too long ({len(text)} characters; at most {MAX_ACTION_CHARS})."
        )
    stripped = text.strip()
    if stripped[:1] == "{":
        # a whole JSON object is that object, even when one of its strings holds "<tool>" (a
        # note about tags); only text that is no JSON object is searched for tags
        action = _from_json_text(stripped)
        if not isinstance(action, ActionError) or "<tool" not in text:
            return action
    elif "<" not in text and "`" not in text:
        return FinalAnswer(stripped)
    return _parse_text(text)


def _parse_text(text: str) -> Action:
    """Any form: a think block, tags, a fence, a bare object, or the answer.

    Every step is a bounded number of ``str.find``/``strip`` scans, so parsing is linear in the
    text; the regexes this replaces backtracked (cubic time on ``<tool>`` and spaces).
    """
    body = _strip_thinking(text)
    if body is None:
        return ActionError("The <think> block is not closed with </think>.")
    tagged = _tagged(body) if "<tool" in body else None
    if tagged is not None:
        return _from_json_text(tagged)
    stripped = body.strip()
    fenced = _fenced(stripped)
    if fenced is not None:
        return _from_json_text(fenced)
    if stripped.startswith("{"):
        return _from_json_text(stripped)
    if "<tool" in stripped:
        return ActionError("A <tool> block must be closed with </tool> and hold one JSON object.")
    return FinalAnswer(stripped)


def _strip_thinking(text: str) -> str | None:
    """The text after a leading ``<think>...</think>`` block; None when that block is not closed."""
    body = text.lstrip()
    if not body.startswith("<think>"):
        return text
    end = body.find("</think>", len("<think>"))
    if end < 0:
        return None
    return body[end + len("</think>") :].lstrip()


def _tagged(body: str) -> str | None:
    """The stripped inside of the first ``<tool>``/``<tool_call>`` block that is closed.

    The leftmost opening tag with its own closing tag after it wins (the first closing tag ends
    the block). Only the first opening of each kind can win: a later one has fewer closing tags
    after it. So four ``find`` calls decide what a regex search would.
    """
    best: tuple[int, str] | None = None
    for opening, closing in _TAGS:
        start = body.find(opening)
        if start < 0 or (best is not None and start > best[0]):
            continue
        end = body.find(closing, start + len(opening))
        if end >= 0:
            best = (start, body[start + len(opening) : end])
    return None if best is None else best[1].strip()


def _fenced(stripped: str) -> str | None:
    """What a text that is one fenced block holds after the fence and its language.

    ``stripped`` has no surrounding whitespace; the block is the whole text, from an opening
    ```` ``` ```` (optionally ``json``/``JSON``/``tool``) to a closing ```` ``` ```` at the end.
    """
    fence = len(_FENCE)
    if len(stripped) < 2 * fence or not stripped.startswith(_FENCE):
        return None
    if not stripped.endswith(_FENCE):
        return None
    start = fence + 4 if stripped[fence : fence + 4] in _FENCE_LANGUAGES else fence
    return stripped[start:-fence].lstrip()


def _from_json_text(text: str) -> Action:
    value = _load(text, "The tool call", with_place=True)
    if isinstance(value, ActionError):
        return value
    if not isinstance(value, dict):
        return ActionError(f"A tool call must be a JSON object, got {type(value).__name__}.")
    return from_message(value)


def _load(text: str, subject: str, with_place: bool = False) -> Any:
    """The JSON value of ``text``, or an ``ActionError`` that says why it cannot be read.

    ``json`` raises ``JSONDecodeError`` on bad syntax, ``RecursionError`` on deep nesting, and a
    plain ``ValueError`` for an integer of more digits than ``sys.get_int_max_str_digits()``.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        place = f" (line {exc.lineno}, column {exc.colno})" if with_place else ""
        return ActionError(f"{subject} is not valid JSON: {exc.msg}{place}.")
    except RecursionError:
        return ActionError(f"{subject} is nested too deeply (at most {MAX_JSON_DEPTH} levels).")
    except ValueError:  # only the integer-digits limit: JSONDecodeError is caught above
        limit = sys.get_int_max_str_digits()
        return ActionError(f"{subject} holds an integer of more than {limit} digits.")
    if _deeper_than(value, text, MAX_JSON_DEPTH):
        return ActionError(f"{subject} is nested too deeply (at most {MAX_JSON_DEPTH} levels).")
    return value


def _deeper_than(value: Any, text: str, limit: int) -> bool:
    """Whether ``value`` (decoded from ``text``) nests lists and objects over ``limit`` deep.

    Depth cannot exceed the number of opening brackets in the text, so the usual small call is
    decided by two ``str.count`` calls; otherwise an explicit stack walks the containers once.
    """
    if text.count("{") + text.count("[") <= limit:
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def from_message(message: dict[str, Any]) -> Action:
    """Read an action from an already-decoded object (a tool call or an OpenAI message).

    A loop rather than recursion through ``tool_calls``/``function`` wrappers, so any nesting
    depth is read without touching the recursion limit.
    """
    while True:
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            if not calls:
                return _without_calls(message)
            first = calls[0]
            if not isinstance(first, dict) or not isinstance(first.get("function"), dict):
                return ActionError(_NEEDS_FUNCTION)
            message = first["function"]
        elif isinstance(message.get("function"), dict):
            message = message["function"]
        else:
            return _from_call(message)


def _from_call(message: dict[str, Any]) -> Action:
    """A tool call (a name and arguments) or an answer object."""
    name_key = _first_key(message, _NAME_KEYS)
    if name_key is None:
        answer_key = _first_key(message, _ANSWER_KEYS)
        if answer_key is not None and isinstance(message[answer_key], str):
            return FinalAnswer(message[answer_key].strip())
        return ActionError('A tool call needs a "name" (the tool) and "arguments" (an object).')
    name = message[name_key]
    if not isinstance(name, str) or not name.strip():
        return ActionError("The tool name must be a non-empty string.")
    return _with_arguments(name.strip(), message)


def _first_key(message: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:  # a loop, not next() over a generator: this runs on every tool call
        if key in message:
            return key
    return None


def _with_arguments(name: str, message: dict[str, Any]) -> Action:
    key = _first_key(message, _ARGUMENT_KEYS)
    arguments = message.get(key, {}) if key else {}
    if isinstance(arguments, str):
        arguments = _load(arguments, "The arguments string") if arguments.strip() else {}
        if isinstance(arguments, ActionError):
            return arguments
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return ActionError(f"Tool arguments must be a JSON object, got {type(arguments).__name__}.")
    return ToolCall(name, arguments)


def _without_calls(message: dict[str, Any]) -> Action:
    """An OpenAI message with an empty ``tool_calls``: its content is the answer."""
    content = message.get("content")
    if isinstance(content, str):
        return FinalAnswer(content.strip())
    return ActionError("Empty tool_calls.")


def format_tool_call(name: str, arguments: dict[str, Any]) -> str:
    """The canonical text of a tool call (what the replay policy writes).

    Example:
        >>> format_tool_call("list_quotes", {})
        '{"name": "list_quotes", "arguments": {}}'
    """
    return to_json({"name": name, "arguments": arguments})


def to_json(value: Any) -> str:
    """Compact, readable JSON (dates and other values as text), for actions and tool results.

    The text of ``json.dumps(value, ensure_ascii=False, default=str)``, from one encoder.
    """
    return _ENCODER.encode(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
