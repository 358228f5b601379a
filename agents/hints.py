"""Scripted policies that do (or do not) follow memory guidelines: the memory metrics' controls.

``HintFollowingPolicy`` reads the first guideline of the form ``"... call <tool> with <keys>."``
(``agents.memory.success_guideline``) from ``info["guidelines"]`` and calls that tool, filling
the named keys from values it finds in the request (ids, quoted text, enum members, emails,
phones, dates, numbers). Without such a guideline it calls a random tool with random arguments
(``agents.baselines.random_arguments``). After a tool result it answers with that result, so
the reply states its facts. ``HintIgnoringPolicy`` is the same policy that never reads
guidelines: memory cannot help it, so its guided-minus-unguided reward delta must be about 0.

Example:
    >>> from agents.policy import Observation
    >>> info = {"messages": [{"role": "user", "content": "User: Show quote 'Q-12' details."}],
    ...         "guidelines": ["For requests like 'x', call quote_details with quote_id."]}
    >>> [[sample]] = HintFollowingPolicy().act([Observation("", info)])
    >>> sample.text.startswith('{"name": "quote_details"')
    True
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from agents.baselines import SeededPolicy, random_arguments
from agents.policy import Observation
from crm_gym.actions import format_tool_call
from crm_gym.crm.tools import tool_schemas

_CALL = re.compile(r"call (\w+) with ([\w, ]+)\.")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_PHONE = re.compile(r"\+?\d[\d-]{7,}\d")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"\$?(\d[\d,]*(?:\.\d+)?)(k|m)?\b", re.IGNORECASE)


def guided_tool(guidelines: Sequence[str]) -> tuple[str, list[str]] | None:
    """The tool and argument keys of the first ``call <tool> with <keys>`` guideline."""
    for guideline in guidelines:
        match = _CALL.search(guideline)
        if match:
            keys = [k.strip() for k in match.group(2).split(",")]
            return match.group(1), [k for k in keys if k and k != "no arguments"]
    return None


def extract_arguments(
    keys: Sequence[str], schema: dict[str, Any], request: str, context_ids: Sequence[str]
) -> dict[str, Any]:
    """Values for ``keys`` found in ``request`` (ids fall back to the transcript's latest)."""
    properties = schema.get("properties", {})
    ids = _UUID.findall(request) or list(context_ids[-1:])
    quoted = [a or b for a, b in _QUOTED.findall(request)]
    arguments: dict[str, Any] = {}
    for key in keys:
        spec = properties.get(key, {})
        value = _value(key, spec, request, ids, quoted)
        if value is not None:
            arguments[key] = value
    return arguments


def _value(key: str, spec: dict[str, Any], request: str, ids: list[str], quoted: list[str]) -> Any:
    """One argument's value from the request, consuming ids and quoted text in order."""
    if key.endswith("_ids"):
        return list(ids)
    if key.endswith("_id"):
        return ids.pop(0) if len(ids) > 1 else (ids[0] if ids else None)
    if "enum" in spec:
        found = [v for v in spec["enum"] if re.search(rf"\b{re.escape(v)}\b", request, re.I)]
        return found[0] if found else None
    for pattern, names in ((_EMAIL, ("email",)), (_PHONE, ("phone",)), (_DATE, ("date", "until"))):
        if any(name in key for name in names):
            match = pattern.search(request)
            return match.group(0) if match else None
    if spec.get("type") in ("number", "integer"):
        return _number(request)
    return quoted.pop(0) if quoted and spec.get("type") == "string" else None


def _number(request: str) -> float | None:
    match = _NUMBER.search(_DATE.sub("", _UUID.sub("", request)))
    if match is None:
        return None
    scale = {"k": 1e3, "m": 1e6}.get((match.group(2) or "").lower(), 1)
    return float(match.group(1).replace(",", "")) * scale


class HintFollowingPolicy(SeededPolicy):
    """Calls the tool a guideline names, else a random tool; answers with the tool's result.

    Args:
        seed: seeds the random fallback (``SamplingParams.seed``, when set, takes precedence).
    """

    follow_hints = True

    def __init__(self, seed: int | None = None):
        super().__init__(seed)
        self._schemas = {s["function"]["name"]: s["function"] for s in tool_schemas()}

    def action(self, observation: Observation, rng: np.random.Generator) -> str:
        """A tool call at the start of a turn, else the last tool result as the answer."""
        messages = observation.info.get("messages") or [
            {"role": "user", "content": observation.text}
        ]
        if messages[-1]["role"] != "user":
            return f"Done. {messages[-1].get('content', '')}"
        request = str(messages[-1].get("content", ""))
        context = _UUID.findall(" ".join(str(m.get("content", "")) for m in messages))
        hint = guided_tool(observation.info.get("guidelines") or []) if self.follow_hints else None
        if hint is not None and hint[0] in self._schemas:
            tool, keys = hint
            schema = self._schemas[tool]["parameters"]
            return format_tool_call(tool, extract_arguments(keys, schema, request, context))
        names = sorted(self._schemas)
        schema = self._schemas[names[rng.integers(len(names))]]
        return format_tool_call(
            schema["name"], random_arguments(schema["parameters"], context, rng)
        )


class HintIgnoringPolicy(HintFollowingPolicy):
    """``HintFollowingPolicy`` that never reads guidelines: always the random fallback."""

    follow_hints = False
