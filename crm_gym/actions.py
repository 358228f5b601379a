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
``ActionError`` whose message tells the agent what to fix.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
import re
from dataclasses import dataclass, field
from typing import Any

MAX_ACTION_CHARS = 200_000

_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)
_TAGGED = re.compile(r"<(tool|tool_call)>\s*(.*?)\s*</\1>", re.DOTALL)
_FENCED = re.compile(r"```(?:json|JSON|tool)?\s*\n?(.*?)```", re.DOTALL)
_NAME_KEYS = ("name", "tool", "tool_name")
_ARGUMENT_KEYS = ("arguments", "args", "parameters")
_ANSWER_KEYS = ("answer", "final_answer", "response")


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
    """Read one action from model output (never raises).

    Example:
        >>> parse_action('<tool>{"name": "quote_prefixes", "arguments": {}}</tool>')
        ToolCall(name='quote_prefixes', arguments={})
        >>> parse_action("All done: the quote was sent.")
        FinalAnswer(text='All done: the quote was sent.')
        >>> parse_action('{"name": "client_search", "arguments": [1]}').message
        'Tool arguments must be a JSON object, got list.'
    """
    if not isinstance(text, str):
        return ActionError(f"An action must be text, got {type(text).__name__}.")
    if len(text) > MAX_ACTION_CHARS:
        return ActionError(
            f"The action is too long ({len(text)} characters; at most {MAX_ACTION_CHARS})."
        )
    # the two common cases, decided without the regexes (as _parse_text would decide them):
    # a bare JSON object, and plain text
    if text[:1] == "{" and "<tool" not in text:
        return _from_json_text(text.strip())
    if "<" not in text and "`" not in text and not text.lstrip().startswith("{"):
        return FinalAnswer(text.strip())
    return _parse_text(text)


def _parse_text(text: str) -> Action:
    """Any form: a think block, tags, a fence, a bare object, or the answer."""
    body = _strip_thinking(text)
    if body is None:
        return ActionError("The <think> block is not closed with </think>.")
    tagged = _TAGGED.search(body) if "<tool" in body else None
    if tagged:
        return _from_json_text(tagged[2])
    stripped = body.strip()
    fenced = _FENCED.fullmatch(stripped)
    if fenced:
        return _from_json_text(fenced[1])
    if stripped.startswith("{"):
        return _from_json_text(stripped)
    if "<tool" in stripped:
        return ActionError("A <tool> block must be closed with </tool> and hold one JSON object.")
    return FinalAnswer(stripped)


def _strip_thinking(text: str) -> str | None:
    match = _THINK.match(text)
    if match:
        return text[match.end() :]
    if text.lstrip().startswith("<think>"):
        return None
    return text


def _from_json_text(text: str) -> Action:
    try:
        value = _decode_json(text)
    except json.JSONDecodeError as exc:
        return ActionError(
            f"The tool call is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        )
    except RecursionError:
        return ActionError("The tool call is nested too deeply.")
    if not isinstance(value, dict):
        return ActionError(f"A tool call must be a JSON object, got {type(value).__name__}.")
    return from_message(value)


def from_message(message: dict[str, Any]) -> Action:
    """Read an action from an already-decoded object (a tool call or an OpenAI message)."""
    if isinstance(message.get("tool_calls"), list):
        return _from_openai(message)
    if "function" in message and isinstance(message["function"], dict):
        return from_message(message["function"])
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
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return ActionError(f"The arguments string is not valid JSON: {exc.msg}.")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return ActionError(f"Tool arguments must be a JSON object, got {type(arguments).__name__}.")
    return ToolCall(name, arguments)


def _from_openai(message: dict[str, Any]) -> Action:
    calls = message["tool_calls"]
    if not calls:
        content = message.get("content")
        return (
            FinalAnswer(content.strip())
            if isinstance(content, str)
            else ActionError("Empty tool_calls.")
        )
    first = calls[0]
    if not isinstance(first, dict) or not isinstance(first.get("function"), dict):
        return ActionError('Each entry of "tool_calls" needs a "function" object.')
    return from_message(first["function"])


def format_tool_call(name: str, arguments: dict[str, Any]) -> str:
    """The canonical text of a tool call (what the replay policy writes).

    Example:
        >>> format_tool_call("quote_details", {"quote_id": "q1"})
        '{"name": "quote_details", "arguments": {"quote_id": "q1"}}'
    """
    return to_json({"name": name, "arguments": arguments})


def to_json(value: Any) -> str:
    """Compact, readable JSON (dates and other values as text), for actions and tool results.

    The same text as ``json.dumps(value, ensure_ascii=False, default=str)``, from one C encoder
    built once (``json.dumps`` builds a new one on every call: a third of its time on a record).
    Without the C extension, or for a cyclic value, the standard encoder does the work.
    """
    if _C_ENCODER is not None:
        try:
            return "".join(_C_ENCODER(value, 0))
        except RecursionError:  # a cycle: let the standard encoder say "Circular reference"
            pass
    return _JSON.encode(value)


def _decode_json(text: str) -> Any:
    """``json.loads(text)`` for text without surrounding whitespace, scanning directly.

    Anything the scanner does not read to the end (an error, extra data) goes through
    ``json.loads``, so errors and their messages are the standard ones.
    """
    if _SCANNER is not None:
        try:
            value, end = _SCANNER(text, 0)
        except (StopIteration, json.JSONDecodeError):
            return json.loads(text)
        if end == len(text):
            return value
    return json.loads(text)


_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
_C_ENCODER = (
    None
    if json.encoder.c_make_encoder is None
    else json.encoder.c_make_encoder(
        None, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
)
"""What ``json.dumps(..., ensure_ascii=False, default=str)`` encodes with, without cycle checks."""
_SCANNER = json.scanner.c_make_scanner(json.JSONDecoder()) if json.scanner.c_make_scanner else None
