"""Candidate tool calls for a discrete policy, filled from what the transcript shows.

The context of a step is read from the env's ``info["messages"]``: the current user request, the
ids it names (a UUID takes the kind of the nearest entity word before it: "quote 3f2c..."), the
ids in tool results (``"quote_id": "..."`` keys, newest result first) and the enum values the
request mentions ("stage Negotiation", "status Draft"). Each tool gets ``per_tool`` fixed slots;
slot ``j`` fills the tool's parameters with the ``j``-th choice of ids. A slot whose required
parameters cannot be filled is invalid (``None``).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Sequence

from crm_gym.actions import format_tool_call
from crm_gym.crm.entities import ENTITY_TYPES, UUID_PATTERN
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import MODIFY_TOOLS, SEARCH_TOOLS

KINDS = ("client", "contact", "opportunity", "quote", "contract", "company", "document", "note")
"""Entity kinds, as they appear in ``<kind>_id`` parameters."""

_KEYED_ID = re.compile(rf'"({"|".join(KINDS)})_id":\s*"({UUID_PATTERN})"')
_WORD_OR_ID = re.compile(rf"(?P<id>{UUID_PATTERN})|(?P<word>{'|'.join(KINDS)}|deal)", re.IGNORECASE)
_REQUEST = re.compile(r"(?:^|\n)User: ")
MAX_ANSWER_CHARS = 2_000


@dataclass(frozen=True)
class Context:
    """What the candidates are filled from."""

    request: str
    ids: dict[str, list[str]] = field(default_factory=dict)
    """Kind -> ids, the request's first, then tool results' newest first."""
    last_result: str = ""
    """The last tool message's text (the final-answer candidate repeats it)."""


def read_context(messages: Sequence[dict[str, Any]]) -> Context:
    """The context of the current step, from the env's ``info["messages"]``.

    Example:
        >>> context = read_context([{"role": "user", "turn_id": 1, "content": "Show quote "
        ...                          "0b8f4f9e-1b2c-4d3e-8f9a-0123456789ab please"}])
        >>> context.ids["quote"]
        ['0b8f4f9e-1b2c-4d3e-8f9a-0123456789ab']
    """
    request = current_request(messages)
    ids: dict[str, list[str]] = {}
    for kind, value in request_ids(request):
        _add(ids, kind, value)
    tool_texts = [m["content"] for m in messages if m.get("role") == "tool"]
    opening = messages[0]["content"] if messages else ""
    for text in [*reversed(tool_texts), opening]:
        for kind, value in _KEYED_ID.findall(text):
            _add(ids, kind, value)
    return Context(request, ids, tool_texts[-1] if tool_texts else "")


def current_request(messages: Sequence[dict[str, Any]]) -> str:
    """The text of the latest user request (without the earlier-turn context).

    The env's request messages carry a ``turn_id`` and hold the request itself, or, for a
    later turn of ``CrmEnv``, the earlier turns as context with ``User: `` before each request.
    """
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content") or ""
        starts = [m.end() for m in _REQUEST.finditer(content)]
        if starts:
            return content[starts[-1] :].strip()
        if "turn_id" in message:
            return content.strip()
    return ""


def request_ids(text: str) -> list[tuple[str, str]]:
    """``(kind, id)`` for each UUID in ``text``, its kind from the nearest entity word before it.

    Example:
        >>> request_ids("Show deal 0b8f4f9e-1b2c-4d3e-8f9a-0123456789ab")[0][0]
        'opportunity'
    """
    found, kind = [], None
    for match in _WORD_OR_ID.finditer(text):
        if match["word"]:
            word = match["word"].lower()
            kind = "opportunity" if word == "deal" else word
        else:
            found.append((kind or "any", match["id"].lower()))
    return found


def _add(ids: dict[str, list[str]], kind: str, value: str) -> None:
    bucket = ids.setdefault(kind, [])
    if value not in bucket:
        bucket.append(value)


# ---- filling ------------------------------------------------------------------------------------
def candidates(context: Context, tools: Sequence[str], per_tool: int) -> list[str | None]:
    """Slot 0 is the final answer; then ``per_tool`` slots per tool, ``None`` when invalid."""
    slots: list[str | None] = [final_answer(context)]
    for name in tools:
        fillings = tool_fillings(name, context, per_tool)
        slots += [format_tool_call(name, f) if f is not None else None for f in fillings]
    return slots


def final_answer(context: Context) -> str:
    """An answer that reports the last tool result (or says nothing was found)."""
    if not context.last_result:
        return "I could not find anything to report."
    return f"Here is what I found. {context.last_result[:MAX_ANSWER_CHARS]}"


def tool_fillings(name: str, context: Context, per_tool: int) -> list[dict[str, Any] | None]:
    """``per_tool`` argument dicts for one tool (``None`` where it cannot be filled)."""
    spec = TOOL_SPECS[name]
    if name in SEARCH_TOOLS:
        criteria = {**_request_id_fields(name, context), **mentions(spec.entity, context.request)}
        first: dict[str, Any] | None = {"criteria": criteria} if criteria else {}
        return [first] + [None] * (per_tool - 1)
    if "quote_ids" in spec.required:
        quotes = _ids_of(context, "quote")
        first = {"quote_ids": quotes} if len(quotes) >= 2 else None
        return [first] + [None] * (per_tool - 1)
    return [_by_id(name, context, j) for j in range(per_tool)]


def _by_id(name: str, context: Context, j: int) -> dict[str, Any] | None:
    """Tools whose required parameters are one id (details, delete, modify, ...), or none."""
    spec = TOOL_SPECS[name]
    arguments: dict[str, Any] = {}
    for param in spec.required:
        kind = param[: -len("_id")] if param.endswith("_id") else None
        choices = _ids_of(context, kind) if kind in KINDS else []
        if len(choices) <= j:
            return None
        arguments[param] = choices[j]
    if not spec.required and j > 0:
        return None
    if name in MODIFY_TOOLS:
        updates = mentions(spec.entity, context.request)
        if not updates:
            return None
        arguments["updates"] = updates
    return arguments


def _ids_of(context: Context, kind: str | None) -> list[str]:
    """Ids of one kind, then ids of unknown kind named in the request."""
    known = context.ids.get(kind or "", [])
    return known + [value for value in context.ids.get("any", []) if value not in known]


def _request_id_fields(name: str, context: Context) -> dict[str, str]:
    """Id criteria of a search, from the ids the request names (not from earlier results)."""
    spec = TOOL_SPECS[name]
    found = dict(reversed(request_ids(context.request)))
    return {f"{kind}_id": value for kind, value in found.items() if f"{kind}_id" in spec.params}


def mentions(entity: str | None, text: str) -> dict[str, str]:
    """Enum fields of ``entity`` whose value ``text`` names, e.g. ``{"stage": "Negotiation"}``.

    Example:
        >>> mentions("Opportunity", "find deals in stage negotiation")
        {'stage': 'Negotiation'}
    """
    found = {}
    for name, values in enum_fields(entity).items():
        for value in values:
            if re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text, re.IGNORECASE):
                found[name] = value
                break
    return found


@cache
def enum_fields(entity: str | None) -> dict[str, tuple[str, ...]]:
    """The ``Literal`` fields of an entity model and their values (longest first)."""
    model = ENTITY_TYPES.get(entity) if entity else None
    if model is None:
        return {}
    fields = {}
    for name, info in model.model_fields.items():
        values = _literal_values(info.annotation)
        if values and name not in ("entity_type",):
            fields[name] = tuple(sorted(values, key=len, reverse=True))
    return fields


def _literal_values(annotation: Any) -> tuple[str, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(value) for value in typing.get_args(annotation))
    for argument in typing.get_args(annotation):
        values = _literal_values(argument)
        if values:
            return values
    return ()
