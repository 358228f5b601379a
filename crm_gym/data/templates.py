"""``{{turn_N.field}}`` templates and the payloads they read (SPEC-arc.md sections 2.3 and 3.3)."""

from __future__ import annotations

import re
from typing import Any, Mapping

TURN_TEMPLATE = re.compile(r"\{\{turn_(\d+)\.(\w+)\}\}")

Payloads = Mapping[int, Mapping[str, Any]]
"""Turn number -> the reference payload of that turn as executed in this episode."""


def reference_payload(payload: Any) -> dict[str, Any]:
    """What later turns see of a result.

    A record's fields, a list's first element, a summary dict as is, or ``{"value": x}`` for
    scalars (so agents only see a search's first hit).
    """
    if isinstance(payload, dict):
        return payload
    if isinstance(payload, list):
        if not payload:
            return {}
        first = payload[0]
        return first if isinstance(first, dict) else {"value": first}
    return {"value": payload}


def resolve(
    value: Any, payloads: Payloads, current_turn: int, found: set[int] | None = None
) -> Any:
    """Replace every resolvable template in strings nested anywhere in ``value`` (not in keys).

    A template is left verbatim when its turn is not earlier than ``current_turn``, produced no
    payload, an empty one, or one without the field, as upstream's harness did. ``found``, when
    given, collects the turn of every template met (``referenced_turns`` without a second walk).
    """
    if isinstance(value, str):
        return _resolve_text(value, payloads, current_turn, found) if "{{" in value else value
    if isinstance(value, dict):
        return {
            key: (
                (_resolve_text(item, payloads, current_turn, found) if "{{" in item else item)
                if isinstance(item, str)
                else resolve(item, payloads, current_turn, found)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [resolve(item, payloads, current_turn, found) for item in value]
    return value


def _resolve_text(
    text: str, payloads: Payloads, current_turn: int, found: set[int] | None = None
) -> str:
    def substitute(match: re.Match[str]) -> str:
        turn, field = int(match[1]), match[2]
        if found is not None:
            found.add(turn)
        payload = payloads.get(turn) if turn < current_turn else None
        if not payload or field not in payload:
            return match[0]
        return str(payload[field])

    return TURN_TEMPLATE.sub(substitute, text)


def is_plain(args: Mapping[str, Any]) -> bool:
    """True when no value is a container or holds ``{{`` (the common request).

    ``resolve`` of such arguments is a plain copy and they reference no turn, so the scene
    checks this instead of walking them.
    """
    for value in args.values():
        if isinstance(value, str):
            if "{{" in value:
                return False
        elif isinstance(value, (dict, list)):
            return False
    return True


def referenced_turns(value: Any) -> set[int]:
    """Turn numbers that templates anywhere in ``value`` point at."""
    if isinstance(value, str):
        return {int(n) for n, _ in TURN_TEMPLATE.findall(value)} if "{{" in value else set()
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    found: set[int] = set()
    for item in items:
        if isinstance(item, str):  # the common leaf, without a call
            if "{{" in item:
                found.update(int(n) for n, _ in TURN_TEMPLATE.findall(item))
        elif isinstance(item, (dict, list)):
            found |= referenced_turns(item)
    return found
