"""Reading the tool calls that another harness recorded: upstream's result records and Atlas logs.

Both are JSONL, one conversation attempt per line (blank lines are skipped):

- **upstream** (SPEC-arc.md 4.3b): ``{"conversation_id", "per_turn_results": [turn, ...],
  "metadata": {"agent": {"model", "token_usage"}}, ...}``;
- **Atlas** ``sessions.jsonl``: ``{"conversation_id" | "task_id", "final_payload":
  {"turn_results": [turn, ...]}, ...}`` (the id may also sit inside ``final_payload``).

A turn entry's fields, all optional but the call's name:

- ``turn_id``: the conversation turn it answers (an int, or its text); missing: its position
  (1-based). Several entries with one ``turn_id`` are that turn's calls, in order.
- ``tool_name`` (or ``tool``): the tool called. Missing, null or empty: **no call recorded** (the
  turn cannot be rescored; it is counted and named, see ``benchmarks.rescore``).
- ``arguments``: an object, or the JSON text of one (as OpenAI sends them); missing or null: ``{}``.
  Anything else is replayed as is, and the env scores it as the malformed action it is.
- ``agent_response_text`` (or ``response_text``, ``response``; text only): the reply to the user;
  missing: an empty reply.
- ``result``: the payload the call returned in that harness; ``expected_arguments``: the expected
  arguments as that harness resolved them. Neither is scored: both only teach the rescorer which
  of that run's ids (those created at run time) stand for which of ours (``IdTranslation``).

Every other field (verdicts, judge fields, ``success``...) is ignored: crm-gym scores the calls
itself. ``metadata.agent.model`` names the policy and ``metadata.agent.token_usage`` carries
over to the record's tokens, when present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from crm_gym.data.templates import TURN_TEMPLATE, reference_payload
from crm_gym.errors import LogError

_NAME_KEYS = ("tool_name", "tool")
_REPLY_KEYS = ("agent_response_text", "response_text", "response")
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass(frozen=True)
class LoggedCall:
    """One recorded tool call, with what it returned in the harness that made it (if known)."""

    name: str
    arguments: Any
    result: Any = None


@dataclass
class LoggedTurn:
    """What the other harness recorded for one conversation turn."""

    turn_id: int
    calls: list[LoggedCall] = field(default_factory=list)
    reply: str | None = None
    expected_arguments: Any = None


@dataclass
class LoggedConversation:
    """One recorded attempt at a conversation: its turns by ``turn_id``, and where it was read."""

    conversation_id: str
    turns: dict[int, LoggedTurn]
    source: str
    """``path:line`` of the record."""
    model: str | None = None
    provider: str | None = None
    token_usage: dict[str, int] | None = None


def read_log(path: str | Path) -> list[LoggedConversation]:
    """Every record of a log, in order; a bad line raises ``LogError`` naming ``path:line``."""
    conversations = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LogError(f"{where}: not JSON: {exc.msg} (column {exc.colno})") from None
            try:
                conversations.append(parse_record(record, where))
            except ValueError as exc:
                raise LogError(f"{where}: {exc}") from None
    if not conversations:
        raise LogError(f"{path}: no records")
    return conversations


def parse_record(record: Any, source: str = "") -> LoggedConversation:
    """One upstream or Atlas record (see the module docstring); ``ValueError`` says what is off."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    entries, body = _turn_entries(record)
    agent = _agent(record, body)
    return LoggedConversation(
        conversation_id=_conversation_id(record, body),
        turns=_logged_turns(entries),
        source=source,
        model=_text(agent.get("model")),
        provider=_text(agent.get("provider")),
        token_usage=_usage(agent.get("token_usage")),
    )


def _turn_entries(record: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The turn entries and the object holding them (the record, or Atlas's ``final_payload``)."""
    if "per_turn_results" in record:
        entries, body = record["per_turn_results"], record
    elif (
        isinstance(record.get("final_payload"), dict) and "turn_results" in record["final_payload"]
    ):
        body = record["final_payload"]
        entries = body["turn_results"]
    else:
        raise ValueError(
            "neither per_turn_results (upstream) nor final_payload.turn_results (Atlas)"
        )
    if not isinstance(entries, list):
        raise ValueError(f"the turn results must be a list, got {type(entries).__name__}")
    return entries, body


def _conversation_id(record: dict[str, Any], body: dict[str, Any]) -> str:
    for holder in (record, body):
        for key in ("conversation_id", "task_id"):
            if isinstance(holder.get(key), str) and holder[key]:
                return holder[key]
    raise ValueError("no conversation_id (or task_id)")


def _agent(record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    for holder in (record, body):
        metadata = holder.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("agent"), dict):
            return metadata["agent"]
    return {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _usage(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    return {key: int(value[key]) for key in _USAGE_KEYS if isinstance(value.get(key), int)}


def _logged_turns(entries: list[Any]) -> dict[int, LoggedTurn]:
    turns: dict[int, LoggedTurn] = {}
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"turn result {position} is not an object: {entry!r:.80}")
        turn_id = _turn_id(entry.get("turn_id", position))
        turn = turns.setdefault(turn_id, LoggedTurn(turn_id))
        call = _call(entry)
        if call is not None:
            turn.calls.append(call)
        reply = next((entry[k] for k in _REPLY_KEYS if isinstance(entry.get(k), str)), None)
        turn.reply = reply if reply is not None else turn.reply
        if entry.get("expected_arguments") is not None:
            turn.expected_arguments = entry["expected_arguments"]
    return turns


def _turn_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ValueError(f"turn_id must be a positive integer, got {value!r}")
    if int(value) < 1:
        raise ValueError(f"turn_id must be a positive integer, got {value!r}")
    return int(value)


def _call(entry: dict[str, Any]) -> LoggedCall | None:
    name = next((entry[k] for k in _NAME_KEYS if entry.get(k) is not None), None)
    if not isinstance(name, str) or not name.strip():
        return None
    arguments = entry.get("arguments")
    if arguments is None:
        arguments = {}
    elif isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            pass  # replayed as the text it is: the env reports the malformed call
    return LoggedCall(name.strip(), arguments, entry.get("result"))


# ---- that run's ids -> ours ---------------------------------------------------------------------
class IdTranslation:
    """Which ids of the recorded run stand for which ids of the rescoring run.

    Seeded ids are the same in both runs; ids created at run time (a new opportunity's id) are
    not, and later turns refer to them. Two sources pair them: the ``*_id`` fields of a call's
    recorded result and of our result for the same call, and the recorded expected arguments
    against ours wherever the conversation has a ``{{turn_N.field}}`` template.
    """

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def learn_result(self, recorded: Any, ours: Any) -> None:
        """Pair the top-level ``*_id`` fields of two payloads of one call."""
        recorded, ours = reference_payload(recorded), reference_payload(ours)
        for key, value in recorded.items():
            if key.endswith("_id") and isinstance(value, str):
                self._pair(value, ours.get(key))

    def learn_expected(self, template: Any, recorded: Any, ours: Any) -> None:
        """Pair the values that a template resolved to in each run (walked side by side)."""
        if isinstance(template, str):
            if TURN_TEMPLATE.fullmatch(template) and ours != template:
                self._pair(recorded, ours)
        elif isinstance(template, Mapping) and isinstance(recorded, Mapping):
            if isinstance(ours, Mapping):
                for key, value in template.items():
                    self.learn_expected(value, recorded.get(key), ours.get(key))
        elif isinstance(template, list) and isinstance(recorded, list) and isinstance(ours, list):
            for parts in zip(template, recorded, ours, strict=False):  # lengths may differ
                self.learn_expected(*parts)

    def _pair(self, recorded: Any, ours: Any) -> None:
        if isinstance(recorded, str) and isinstance(ours, str) and recorded and recorded != ours:
            self.ids[recorded] = ours

    def apply(self, value: Any) -> Any:
        """``value`` with every string that is a known id replaced by ours (keys untouched)."""
        if isinstance(value, str):
            return self.ids.get(value, value)
        if isinstance(value, dict):
            return {key: self.apply(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.apply(item) for item in value]
        return value

    def apply_text(self, text: str) -> str:
        """``text`` with every known id in it replaced by ours (a reply quotes the ids it made)."""
        for recorded, ours in self.ids.items():
            text = text.replace(recorded, ours)
        return text
