"""Two policies without a model: the ground truth replayed, and a random tool caller.

``ReplayPolicy`` is the best policy (every turn passes): it needs envs built with
``expose_reference=True``. ``RandomPolicy`` is the floor, and a fuzzer: it writes valid tool
calls with arguments drawn from the ids in the transcript, calls with wrong arguments, unknown
tools, broken JSON and plain answers. Neither needs torch.

Example:
    >>> import gymnasium as gym
    >>> import crm_gym
    >>> from agents.policy import Observation
    >>> env = gym.make("ArcCrmConversation-v1", expose_reference=True)
    >>> text, info = env.reset(seed=0)
    >>> [[sample]] = ReplayPolicy().act([Observation(text, info)])
    >>> sample.text.startswith('{"name": ')
    True
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

import numpy as np

from agents.policy import Observation, Sample, SamplingParams, ScriptedPolicy, row_seed
from crm_gym.actions import format_tool_call
from crm_gym.crm.tools import tool_schemas

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WORDS = (
    ("Acme", "Globex", "Initech", "Q4 renewal")
    + ("Pilot", "ops@example.com", "Negotiation", "Active")
    + ("Draft", "", "\u00e9t\u00e9 \u2014 deal", "x" * 300)
)
ANSWERS = ("Done.", "I have completed your request.", "No results found.", "", "\u2014")
BROKEN = (
    '{"name": "client_search", "arguments": {',
    "<tool>{}</tool>",
    "<tool>not json",
    '{"arguments": {}}',
    '{"name": "quote_details", "arguments": [1, 2]}',
    "<think>unclosed",
    '```json\n{"name": 3}\n```',
    "{}",
)
KINDS = ("call", "answer", "broken", "unknown", "bad_arguments")
KIND_WEIGHTS = (0.45, 0.2, 0.15, 0.1, 0.1)


class ReplayPolicy(ScriptedPolicy):
    """The ground truth: the reference call of the current turn, then the reference reply.

    Reads ``info["reference"]`` (envs built with ``expose_reference=True``). The call is due
    when the transcript's last message is the user's (the turn has just started); after the
    tool's result it answers with the expected reply (or ``"Done."`` when there is none).
    """

    def action(self, observation: Observation) -> str:
        """The reference tool call if the turn has not made it yet, else the reference reply."""
        reference = observation.info.get("reference")
        if reference is None:
            raise ValueError(
                "ReplayPolicy needs info['reference']: build the env with expose_reference=True "
                f"(info keys: {sorted(observation.info)})"
            )
        messages = observation.info.get("messages") or [{"role": "user"}]
        if messages[-1]["role"] == "user" and reference["expected_tool"]:
            return format_tool_call(reference["expected_tool"], reference["expected_arguments"])
        return reference["expected_response"] or "Done."


class SeededPolicy:
    """A policy of ``action(observation, rng)`` calls, each with its own seeded generator.

    Args:
        seed: seeds the policy's own generator (used when ``SamplingParams.seed`` is None; with
            a seed there, sample ``k`` of observation ``i`` draws from ``[seed, i, k]``).
    """

    def __init__(self, seed: int | None = None):
        self._rng = np.random.default_rng(seed)

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """``n`` actions for each observation."""
        return [
            [Sample(self.action(observation, self._row_rng(sampling, i, k))) for k in range(n)]
            for i, observation in enumerate(observations)
        ]

    def _row_rng(self, sampling: SamplingParams | None, row: int, k: int) -> np.random.Generator:
        seed = None if sampling is None else row_seed(sampling, row, k)
        return self._rng if seed is None else np.random.default_rng(seed)

    def action(self, observation: Observation, rng: np.random.Generator) -> str:
        raise NotImplementedError


class RandomPolicy(SeededPolicy):
    """Random actions, plausible and not: a floor to compare with and a fuzzer for the envs.

    Args:
        seed: seeds the policy's own generator (used when ``SamplingParams.seed`` is None; with
            a seed there, sample ``k`` of observation ``i`` draws from ``[seed, i, k]``).
    """

    def __init__(self, seed: int | None = None):
        super().__init__(seed)
        self._schemas = [schema["function"] for schema in tool_schemas()]

    def action(self, observation: Observation, rng: np.random.Generator) -> str:
        """One random action of a random kind."""
        kind = KINDS[rng.choice(len(KINDS), p=KIND_WEIGHTS)]
        if kind == "answer":
            return str(rng.choice(ANSWERS))
        if kind == "broken":
            return str(rng.choice(BROKEN))
        if kind == "unknown":
            return format_tool_call(f"tool_{rng.integers(1000)}", {})
        schema = self._schemas[rng.integers(len(self._schemas))]
        ids = sorted(set(_UUID.findall(_transcript(observation))))
        arguments = random_arguments(schema["parameters"], ids, rng)
        if kind == "bad_arguments":
            arguments = _spoil(arguments, rng)
        return format_tool_call(schema["name"], arguments)


def _transcript(observation: Observation) -> str:
    messages = observation.info.get("messages") or []
    return "\n".join([str(m.get("content", "")) for m in messages] + [observation.text])


def random_arguments(parameters: dict[str, Any], ids: list[str], rng: np.random.Generator) -> dict:
    """Every required argument and each optional one with probability 0.3."""
    required = set(parameters.get("required", []))
    properties = parameters["properties"]
    arguments = {}
    for name, schema in properties.items():
        if name in required or rng.random() < 0.3:
            arguments[name] = random_value(name, schema, ids, rng)
    for name in {"updates", "criteria"} & set(arguments):  # a few of the other fields, nested
        fields = {key: value for key, value in properties.items() if key not in (name, *required)}
        arguments[name] = random_arguments({"properties": fields}, ids, rng)
    return arguments


def random_value(
    name: str, schema: dict[str, Any], ids: list[str], rng: np.random.Generator
) -> Any:
    """A value for one argument: a seen id for ``*_id``, an enum member, a number or a word."""
    if name.endswith("_ids"):
        return [_random_id(ids, rng) for _ in range(2)]
    if name.endswith("_id"):
        return _random_id(ids, rng)
    if "enum" in schema:
        return str(rng.choice(schema["enum"]))
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return int(rng.integers(-10, 200_000))
    if kind == "boolean":
        return bool(rng.random() < 0.5)
    if kind == "object":
        return {}
    return str(rng.choice(WORDS))


def _random_id(ids: list[str], rng: np.random.Generator) -> str:
    """Mostly an id from the transcript; sometimes one that does not exist."""
    if ids and rng.random() < 0.8:
        return ids[rng.integers(len(ids))]
    return "00000000-0000-4000-8000-" + f"{rng.integers(16**12):012x}"


def _spoil(arguments: dict[str, Any], rng: np.random.Generator) -> Any:
    """Arguments a tool cannot take: a missing key, an unknown key, or a value of a wrong type."""
    spoiled = dict(arguments)
    choice = rng.integers(3)
    if choice == 0 and spoiled:
        spoiled.pop(sorted(spoiled)[0])
    elif choice == 1:
        spoiled["not_an_argument"] = json.loads('{"nested": [1, null]}')
    else:
        spoiled = {key: [value] for key, value in spoiled.items()} or {"x": None}
    return spoiled
