r"""The evaluation record: one JSON object per conversation attempt (one JSONL line).

The harness (``benchmarks/evaluate.py``) writes one ``ConversationRecord`` per attempt at a
conversation; ``benchmarks.metrics`` and ``benchmarks.report`` read them back. A record is a
superset of upstream's result record (SPEC-arc.md 4.3b), so upstream's analysis scripts read our
logs and we read theirs: the fields upstream lacks all have defaults, and unknown fields are kept
(``extra="allow"``), e.g. upstream's judge fields.

Writing a log::

    with open("log.jsonl", "w") as out:
        out.write(record.model_dump_json() + "\n")

Example:
    >>> turn = TurnRecord(turn_id=1, expect_success=True, tool_success=True,
    ...                   response_success=False, success=False, verification="exact_match")
    >>> record = ConversationRecord(conversation_id="SKEL-1", overall_success=False,
    ...     turns_executed=1, failed_at_turn=1, per_turn_results=[turn], reward_signal=0.0,
    ...     policy="gpt-4.1", attempt=0, seed=0)
    >>> ConversationRecord.model_validate_json(record.model_dump_json()) == record
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Verification = Literal[
    "exact_match",
    "failed",
    "llm_judge",
    "expected_failure_diagnostic",
    "unexpected_success",
    "tool_not_found",
    "agent_error",
    "pre_execution_error",
]
"""How a turn was judged (SPEC-arc.md 4.1, 4.3b)."""


class TokenUsage(BaseModel):
    """Tokens one attempt (or one turn) used, summed over every model call."""

    model_config = ConfigDict(frozen=True, extra="allow")

    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)
    total_tokens: int = Field(0, ge=0)


class TurnRecord(BaseModel):
    """One user turn of an attempt: upstream's per-turn result plus our shaped reward.

    ``success = tool_success and response_success``; an ``expect_success=False`` turn is always
    recorded ``success=False`` (with ``tool_success=True`` when it failed as planned). ``reward``
    is the env's shaped turn reward (``crm_gym.scoring.turn_reward``) and ``reward_components``
    its named parts (``info["reward_components"]``); both are absent in upstream's records.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    turn_id: int = Field(ge=1)
    expect_success: bool
    tool_success: bool
    response_success: bool
    success: bool
    verification: Verification
    reward: float | None = None
    reward_components: dict[str, float] = Field(default_factory=dict)
    user_utterance: str | None = None
    tool_name: str | None = None
    arguments: Any = None
    expected_tool: str | None = None
    expected_arguments: Any = None
    matches_expected_tool: bool | None = None
    matches_expected_arguments: bool | None = None
    argument_mismatch_reason: str | None = None
    result: Any = None
    error: str | None = None
    expected_response: Any = None
    agent_response_text: str | None = None
    token_usage: TokenUsage | None = None
    latency_s: float | None = Field(None, ge=0)
    segment_number: int | None = None
    expected_error_mismatch: bool | None = None


class ConversationRecord(BaseModel):
    """One attempt at one conversation: upstream's result record plus run, reward and cost fields.

    Upstream's fields (SPEC-arc.md 4.3b): ``conversation_id``, ``overall_success`` (strict
    success: every success-path turn succeeded and no turn expects failure), ``turns_executed``,
    ``failed_at_turn``, ``per_turn_results``, ``reward_signal`` (the share of success-path turns
    that succeeded, 1.0 with none), ``error_message``, ``metadata``, ``per_segment_results``,
    ``chain_success``.

    Our fields (``benchmarks/evaluate.py`` writes them all, ``arm`` and ``step`` where they
    apply; they have defaults only so that upstream's records load):
        policy: Name of the policy (algorithm) evaluated, e.g. ``"grpo-sec"``.
        attempt: Index of this attempt at the conversation within one run (0, 1, ...): the
            trials of pass^k.
        seed: Seed of the run the record belongs to: the training seed for a checkpoint, else
            the evaluation's base seed. The same for every record of one run; the report treats
            one seed as one run. The env's reset seed goes to ``episode_seed``.
        episode_seed: The ``reset(seed=...)`` of this attempt.
        step: Training step of the checkpoint evaluated; absent for a fixed policy. Logs with
            several steps give the report's sample-efficiency curves.
        arm: The curriculum arm (skill x difficulty, e.g. ``"crud-easy"``), when known.
        workflow_category: The conversation's workflow family (its ``workflow_category``).
        shaped_return: The env's return for the attempt: the mean shaped turn reward.
        tokens: Tokens of every model call of the attempt.
        cost_usd: Money spent on the attempt (0.0 for a local model).
        latency_s: Wall-clock seconds of the attempt.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    conversation_id: str
    overall_success: bool
    turns_executed: int = Field(ge=0)
    failed_at_turn: int | None = None
    per_turn_results: list[TurnRecord]
    reward_signal: float = Field(ge=0.0, le=1.0)
    error_message: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    per_segment_results: list[dict[str, Any]] | None = None
    chain_success: bool | None = None
    policy: str | None = None
    attempt: int = Field(0, ge=0)
    seed: int | None = None
    episode_seed: int | None = None
    step: int | None = Field(None, ge=0)
    arm: str | None = None
    workflow_category: str | None = None
    shaped_return: float | None = None
    tokens: TokenUsage | None = None
    cost_usd: float | None = Field(None, ge=0)
    latency_s: float | None = Field(None, ge=0)


class RecordError(ValueError):
    """An evaluation log line that is not a valid ``ConversationRecord``."""


def load_records(path: str | Path) -> list[ConversationRecord]:
    """Every record of a JSONL log; a bad line raises ``RecordError`` naming it."""
    records = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(ConversationRecord.model_validate_json(line))
            except ValidationError as exc:
                raise RecordError(
                    f"{path}:{number}: not an evaluation record ({first_problem(exc)})"
                ) from None
    if not records:
        raise RecordError(f"{path}: no records")
    return records


def first_problem(error: ValidationError) -> str:
    """The first problem of a validation error, on one line."""
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem.get("loc", ()))
    return f"{where}: {problem['msg']}" if where else problem["msg"]


def as_records(records: Iterable[ConversationRecord | dict[str, Any]]) -> list[ConversationRecord]:
    """Records as ``ConversationRecord`` (dicts are validated)."""
    return [
        r if isinstance(r, ConversationRecord) else ConversationRecord.model_validate(r)
        for r in records
    ]


def check_unique(records: Iterable[ConversationRecord]) -> None:
    """Raise ``RecordError`` when two records share conversation, seed, attempt and step."""
    seen: set[tuple[Any, ...]] = set()
    for record in records:
        key = (record.conversation_id, record.seed, record.attempt, record.step)
        if key in seen:
            raise RecordError(
                f"two records for conversation {key[0]!r}, seed {key[1]}, attempt {key[2]}, "
                f"step {key[3]}: concatenated logs? give each attempt its own attempt index"
            )
        seen.add(key)
