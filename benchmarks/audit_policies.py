"""Scripted policies for the reward audit: cheap tricks that must earn nothing, and partial calls.

Each is a ``Policy`` (``agents.policy``) that writes one action from the transcript alone, except
those marked ``reads_reference``: they read ``info["reference"]`` (envs built with
``expose_reference=True``) because they must know the expected call, as "the expected tool with
``{}``" does. A turn's first action is due when the transcript's last message is the user's;
two-step policies answer after the tool's result.

Example:
    >>> import gymnasium as gym
    >>> import crm_gym
    >>> from agents.policy import Observation
    >>> env = gym.make("ArcCrmConversation-v1", expose_reference=True)
    >>> text, info = env.reset(seed=0)
    >>> [[sample]] = ExpectedToolEmpty().act([Observation(text, info)])
    >>> sample.text == '{"name": "%s", "arguments": {}}' % info["reference"]["expected_tool"]
    True
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from agents.baselines import ReplayPolicy, SeededPolicy, random_arguments
from agents.policy import Observation, Policy, ScriptedPolicy
from crm_gym.actions import format_tool_call
from crm_gym.crm.tools import tool_schemas
from crm_gym.data.conversation import Conversation

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NUMBER = re.compile(r"(?<![\w.-])\$?(\d[\d,]*(?:\.\d+)?)(?![\w-])")
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
QUOTED = re.compile(r"['\"\u2018\u201c]([^'\"\u2019\u201d]{2,80})['\"\u2019\u201d]")
NAME = re.compile(r"\b[A-Z][\w&.'-]*(?: [A-Z][\w&.'-]*)*")
SEARCH_ENTITIES = ("opportunit", "client", "contact", "quote", "contract", "compan")
"""Entity words in a request, in the order the empty search looks for them."""


def schemas() -> dict[str, dict[str, Any]]:
    """Each tool's JSON schema of parameters, by name."""
    return {s["function"]["name"]: s["function"]["parameters"] for s in tool_schemas()}


# ---- reading the transcript ---------------------------------------------------------------------
def turn_started(observation: Observation) -> bool:
    """True when the turn has just begun (the transcript ends with the user's message)."""
    messages = observation.info.get("messages") or [{"role": "user"}]
    return messages[-1]["role"] == "user"


def request(observation: Observation) -> str:
    """The current user request: the last request message's text, else the observation's.

    A later turn of ``CrmEnv`` holds the earlier turns first, so the text after the last
    ``User: `` is the request.
    """
    for message in reversed(observation.info.get("messages") or []):
        content = str(message.get("content", ""))
        if message["role"] == "user" and ("turn_id" in message or "User: " in content):
            return content.rsplit("User: ", 1)[-1]
    return observation.text.rsplit("User: ", 1)[-1]


def transcript(observation: Observation) -> str:
    """Everything in view: the messages, else the observation text."""
    messages = observation.info.get("messages")
    if not messages:
        return observation.text
    return "\n".join(str(message.get("content", "")) for message in messages)


def last_result(observation: Observation) -> str:
    """The last tool call's payload (JSON text) or error, as the env reported it."""
    result = observation.info.get("tool_result") or {}
    return str(result.get("payload") if result.get("ok") else result.get("error", ""))


def everything_in_view(text: str) -> str:
    """Every id, email, number, date and capitalised name of ``text``, once each."""
    found: list[str] = []
    for pattern in (UUID, EMAIL, DATE, NUMBER, NAME):
        found += [match.group(match.lastindex or 0) for match in pattern.finditer(text)]
    return ", ".join(dict.fromkeys(found))


def payload_scalars(payload_text: str) -> str:
    """Every scalar of a JSON payload, joined (a dump of the whole result)."""
    try:
        payload = json.loads(payload_text)
    except json.JSONDecodeError:
        return payload_text
    return ", ".join(str(value) for value in _scalars(payload))


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _scalars(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _scalars(item)]
    return [] if value is None else [value]


def reference(observation: Observation) -> dict[str, Any]:
    """``info["reference"]``; a clear error when the env does not expose it."""
    value = observation.info.get("reference")
    if value is None:
        raise ValueError(
            "this audit policy reads info['reference']: build the env with expose_reference=True"
        )
    return value


# ---- the policies -------------------------------------------------------------------------------
class TwoStep(ScriptedPolicy):
    """One tool call when the turn starts, then an answer."""

    def action(self, observation: Observation) -> str:
        """The call when the turn starts, else the answer."""
        if turn_started(observation):
            return self.call(observation)
        return self.answer(observation)

    def call(self, observation: Observation) -> str:
        raise NotImplementedError

    def answer(self, observation: Observation) -> str:
        """Echo what the tool gave back."""
        return last_result(observation)


class AnswerEmpty(ScriptedPolicy):
    """Answers ``""`` at once."""

    def action(self, observation: Observation) -> str:
        """The empty answer."""
        return ""


class DumpView(ScriptedPolicy):
    """Answers at once with every id, number and name in view."""

    def action(self, observation: Observation) -> str:
        """Everything the transcript shows, as one answer."""
        return everything_in_view(transcript(observation))


class EchoRequest(ScriptedPolicy):
    """Answers at once with the user's own request."""

    def action(self, observation: Observation) -> str:
        """The request, repeated."""
        return request(observation)


class RandomCall(SeededPolicy):
    """A random schema-valid call (a random tool, ids from the transcript), then ``Done.``."""

    def __init__(self, seed: int | None = None):
        super().__init__(seed)
        self._schemas = sorted(schemas().items())

    def action(self, observation: Observation, rng: np.random.Generator) -> str:
        """A random valid call when the turn starts, else ``Done.``."""
        if not turn_started(observation):
            return "Done."
        name, parameters = self._schemas[rng.integers(len(self._schemas))]
        ids = sorted(set(UUID.findall(transcript(observation))))
        return format_tool_call(name, random_arguments(parameters, ids, rng))


class EmptySearchEcho(TwoStep):
    """Searches the entity the request names with no criteria, then echoes the result."""

    def call(self, observation: Observation) -> str:
        """``<entity>_search({})`` for the first entity word of the request."""
        text = request(observation).lower()
        stem = next((word for word in SEARCH_ENTITIES if word in text), SEARCH_ENTITIES[0])
        tool = {"opportunit": "opportunity", "compan": "company"}.get(stem, stem)
        return format_tool_call(f"{tool}_search", {})


class FrequentToolRegex(TwoStep):
    """The data set's most frequent tool, arguments copied from the request by regexes.

    Args:
        tool: the tool to call (``most_frequent_tool`` of the data set).
    """

    def __init__(self, tool: str):
        self.tool = tool
        self.parameters = schemas()[tool]

    def call(self, observation: Observation) -> str:
        """The tool with every argument a regex finds in the request."""
        return format_tool_call(self.tool, regex_arguments(self.parameters, request(observation)))


def regex_arguments(parameters: dict[str, Any], text: str) -> dict[str, Any]:
    """The arguments whose values a regex finds in ``text`` (ids, emails, enums, numbers...)."""
    arguments = {}
    for name, schema in parameters["properties"].items():
        value = regex_value(name, schema, text)
        if value is not None:
            arguments[name] = value
    return arguments


def regex_value(name: str, schema: dict[str, Any], text: str) -> Any:
    """One argument's value read from ``text``, or None."""
    ids = UUID.findall(text)
    if name.endswith("_ids"):
        return ids or None
    if name.endswith("_id"):
        return ids[0] if ids else None
    if "enum" in schema:
        return next(
            (v for v in schema["enum"] if re.search(rf"\b{re.escape(v)}\b", text, re.I)), None
        )
    if schema.get("type") in ("integer", "number"):
        numbers = [m.group(1) for m in NUMBER.finditer(UUID.sub(" ", text))]
        return _number(numbers[0]) if numbers else None
    return _string_value(name, text)


def _string_value(name: str, text: str) -> str | None:
    if "email" in name:
        match = EMAIL.search(text)
    elif "date" in name or name == "valid_until":
        match = DATE.search(text)
    elif "name" in name:
        match = QUOTED.search(text)
    else:
        return None
    return match.group(match.lastindex or 0) if match else None


def _number(text: str) -> int | float:
    value = float(text.replace(",", ""))
    return int(value) if value.is_integer() else value


def most_frequent_tool(conversations: Sequence[Conversation]) -> str:
    """The tool most turns of the data set expect (ties: the first in name order)."""
    counts = Counter(turn.expected_tool for c in conversations for turn in c.turns)
    return min(counts, key=lambda tool: (-counts[tool], tool))


class ExpectedToolEmpty(TwoStep):
    """The expected tool with ``{}``, then ``Done.`` (reads the reference)."""

    def call(self, observation: Observation) -> str:
        """``<expected tool>({})``."""
        return format_tool_call(reference(observation)["expected_tool"], {})

    def answer(self, observation: Observation) -> str:
        """A reply that states nothing."""
        return "Done."


class ExpectedToolWrongValues(TwoStep):
    """The expected tool, its argument names with wrong values, then the reference reply."""

    def call(self, observation: Observation) -> str:
        """The expected call with every value spoiled."""
        expected = reference(observation)
        return format_tool_call(expected["expected_tool"], _spoiled(expected["expected_arguments"]))

    def answer(self, observation: Observation) -> str:
        """The reference reply (the reply cannot rescue a wrong call)."""
        return reference(observation)["expected_response"] or "Done."


def _spoiled(value: Any) -> Any:
    """The same keys, every value changed (strings gain a suffix, numbers grow by 7)."""
    if isinstance(value, dict):
        return {key: _spoiled(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_spoiled(item) for item in value]
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 7
    return f"{value} (other)"


class ExpectedToolHalfArguments(ExpectedToolWrongValues):
    """The expected tool with the first half of its argument values, then the reference reply."""

    def call(self, observation: Observation) -> str:
        """The expected call without its second half of values (``criteria`` halved inside)."""
        expected = reference(observation)
        return format_tool_call(expected["expected_tool"], _half(expected["expected_arguments"]))


def _half(arguments: Any) -> dict[str, Any]:
    """The first ``len // 2`` keys (and the first half of a ``criteria`` dict)."""
    keys = list(arguments)
    if keys == ["criteria"] and isinstance(arguments["criteria"], dict):
        return {"criteria": _half(arguments["criteria"])}
    return {key: arguments[key] for key in keys[: len(keys) // 2]}


class CallNoReply(ReplayPolicy):
    """The reference call, then the empty answer (reads the reference)."""

    def action(self, observation: Observation) -> str:
        """The reference call when the turn starts, else ``""``."""
        return super().action(observation) if turn_started(observation) else ""


class CallDumpResult(ReplayPolicy):
    """The reference call, then every scalar of its result as the reply (reads the reference)."""

    def action(self, observation: Observation) -> str:
        """The reference call when the turn starts, else the whole result."""
        if turn_started(observation):
            return super().action(observation)
        return payload_scalars(last_result(observation))


@dataclass(frozen=True)
class AuditPolicy:
    """One row of the audit: a name, what it does, and how to build it."""

    name: str
    description: str
    build: Callable[[int, Sequence[Conversation]], Policy]
    reads_reference: bool = False
    trick: bool = False
    """One of the issue's cheap tricks: it must earn nothing even when it hits a call by chance."""


def audit_policies() -> list[AuditPolicy]:
    """The audit's policies, from the floor to the ground truth."""
    from agents.baselines import RandomPolicy

    def fixed(cls: type) -> Callable[[int, Sequence[Conversation]], Policy]:
        return lambda seed, conversations: cls()

    def by_data(seed: int, conversations: Sequence[Conversation]) -> Policy:
        return FrequentToolRegex(most_frequent_tool(conversations))

    return [
        AuditPolicy(
            "random",
            "RandomPolicy (calls, answers, junk)",
            lambda s, c: RandomPolicy(s),
            trick=True,
        ),
        AuditPolicy("answer_empty", 'answers "" at once', fixed(AnswerEmpty), trick=True),
        AuditPolicy(
            "dump_view", "answers every id/number/name in view", fixed(DumpView), trick=True
        ),
        AuditPolicy("echo_request", "answers the user's request", fixed(EchoRequest), trick=True),
        AuditPolicy(
            "random_call",
            "random schema-valid call, then Done.",
            lambda s, c: RandomCall(s),
            trick=True,
        ),
        AuditPolicy(
            "empty_search",
            "the named entity's search with {}, echoes the result",
            fixed(EmptySearchEcho),
        ),
        AuditPolicy("frequent_regex", "most frequent tool, regex args, echoes result", by_data),
        AuditPolicy(
            "expected_empty", "expected tool with {}, then Done.", fixed(ExpectedToolEmpty), True
        ),
        AuditPolicy(
            "expected_wrong",
            "expected tool, every value wrong, reference reply",
            fixed(ExpectedToolWrongValues),
            True,
        ),
        AuditPolicy(
            "expected_half",
            "expected tool, half the values, reference reply",
            fixed(ExpectedToolHalfArguments),
            True,
        ),
        AuditPolicy("call_no_reply", 'reference call, then ""', fixed(CallNoReply), True),
        AuditPolicy(
            "call_dump",
            "reference call, then every scalar of its result",
            fixed(CallDumpResult),
            True,
        ),
        AuditPolicy("replay", "reference call, then reference reply", fixed(ReplayPolicy), True),
    ]
