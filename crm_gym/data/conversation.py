"""Pydantic models of the Arc conversation format (SPEC-arc.md section 3; docs/arc-format.md).

Loading is tolerant: absent keys take upstream's loader defaults, unknown keys are kept (they
round-trip), and the older single-turn "scenario" records are converted (``from_record``).
Upstream's schema also tied the turn count to ``complexity_level`` and bounded ``failure_turn``;
``upstream_schema_error`` states those rules and ``check_upstream_schema`` enforces them (what
``load_conversations(..., strict_upstream=True)`` does).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from crm_gym.errors import DatasetError

Complexity = Literal["simple", "medium", "complex"]


class ExpectedResponse(BaseModel):
    """The reply the user should get after a turn."""

    model_config = ConfigDict(extra="allow")

    text: str = ""
    evaluation: Literal["structured", "judge"] = "structured"
    answers: list[str] = Field(default_factory=list)
    requires_judge: bool = False

    @model_validator(mode="after")
    def _normalise(self) -> ExpectedResponse:
        """Upstream's load-time rules: trim, judge if required, answers default to the text."""
        # Assign only what changes: a model's __setattr__ is a Python call (about 1 us each).
        text = self.text.strip()
        if text != self.text:
            self.text = text
        if self.requires_judge:
            self.evaluation = "judge"
        answers = self.answers
        if not all(answer.strip() for answer in answers):
            self.answers = answers = [answer for answer in answers if answer.strip()]
        if self.evaluation == "structured" and not answers and text:
            self.answers = [text]
        return self


class Turn(BaseModel):
    """One user request and the tool call that should serve it."""

    model_config = ConfigDict(extra="allow")

    turn_id: int
    user_utterance: str = ""
    expected_tool: str
    expected_args: dict[str, Any] = Field(default_factory=dict)
    references_previous_turns: list[int] = Field(default_factory=list)
    expect_success: bool = True
    expected_error_substring: Optional[str] = None
    failure_category: Optional[str] = None
    expected_response: Optional[ExpectedResponse] = None

    @field_validator("expected_args", mode="before")
    @classmethod
    def _null_args(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("references_previous_turns", mode="before")
    @classmethod
    def _null_references(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("user_utterance", mode="before")
    @classmethod
    def _null_utterance(cls, value: Any) -> Any:
        return "" if value is None else value


class Conversation(BaseModel):
    """A multi-turn task: seed state, then turns in order."""

    model_config = ConfigDict(extra="allow")

    conversation_id: str
    workflow_category: str = "Unknown"
    complexity_level: Complexity = "simple"
    turns: list[Turn] = Field(min_length=1)
    initial_entities: dict[str, Any] = Field(default_factory=dict)
    final_expected_state: dict[str, Any] = Field(default_factory=dict)
    success_criteria: Literal["all_turns", "final_state", "both"] = "all_turns"
    contains_failure: bool = False
    failure_turn: Optional[int] = None
    verification_mode: Literal["database", "runtime_response", "unknown"] = "database"
    chain_id: Optional[str] = None
    segment_number: Optional[int] = None
    segment_boundaries: Optional[list[int]] = None
    expected_outcome: Optional[str] = None
    cumulative_context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("turns")
    @classmethod
    def _turns_in_order(cls, turns: list[Turn]) -> list[Turn]:
        ids = [turn.turn_id for turn in turns]
        if ids != list(range(1, len(turns) + 1)):
            raise ValueError(f"turn_id values must be 1..{len(turns)} in order, got {ids}")
        return turns

    _seed_cache: dict[bool, Any] = PrivateAttr(default_factory=dict)

    @property
    def seed_cache(self) -> dict[bool, Any]:
        """Validated seed records by ``strict_upstream`` (see ``seeding.seed_conversation``).

        Conversations are treated as immutable once loaded.
        """
        return self._seed_cache

    @property
    def seed_data(self) -> dict[str, Any]:
        """``initial_entities["seed_data"]`` or an empty dict."""
        seed = self.initial_entities.get("seed_data")
        return seed if isinstance(seed, dict) else {}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Conversation:
        """Validate a record of any supported upstream variant."""
        if "turns" not in record and "expected_tool" in record:
            record = _scenario_to_conversation(record)
        return cls.model_validate(record)


TURN_BOUNDS: dict[str, tuple[int, int]] = {"simple": (1, 3), "medium": (4, 6), "complex": (7, 10)}
"""Turns each complexity level allows in upstream's schema (a chained complex one is unbounded)."""


def upstream_schema_error(conversation: Conversation) -> str | None:
    """The first rule of upstream's conversation schema this breaks, in upstream's words, or None.

    crm-gym loads such conversations (the label is informative, the turns are what run);
    upstream's ``Conversation`` refused to construct them.
    """
    count = len(conversation.turns)
    level = conversation.complexity_level
    low, high = TURN_BOUNDS[level]
    chained_complex = level == "complex" and conversation.chain_id is not None
    if not chained_complex and not low <= count <= high:
        return f"{level.title()} conversations must have {low}-{high} turns, got {count}"
    failure_turn = conversation.failure_turn
    if conversation.contains_failure and failure_turn is None:
        return "failure_turn must be set when contains_failure=True"
    if failure_turn is not None and not 1 <= failure_turn <= count:
        return f"failure_turn ({failure_turn}) must be between 1 and {count}"
    return None


def check_upstream_schema(
    conversations: list[Conversation], source: object = "conversations"
) -> list[Conversation]:
    """The conversations, if upstream's schema accepts every one.

    Raises:
        DatasetError: naming ``source`` and the first three conversations it rejects, and why.
    """
    problems = []
    for conversation in conversations:
        error = upstream_schema_error(conversation)
        if error is not None:
            problems.append(f"{conversation.conversation_id}: {error}")
    if problems:
        shown = "; ".join(problems[:3])
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        count = len(problems)
        raise DatasetError(f"{source}: {count} rejected by upstream's schema: {shown}{more}")
    return conversations


_SCENARIO_ID_KEYS = ("conversation_id", "scenario_id", "case_id", "id")
_SCENARIO_TURN_KEYS = (
    "expected_tool",
    "expected_args",
    "expect_success",
    "expected_error_substring",
    "failure_category",
    "expected_response",
)


def _scenario_to_conversation(record: dict[str, Any]) -> dict[str, Any]:
    """A single-turn scenario record (``setup_entities`` + one call) as a one-turn conversation.

    Unknown keys are kept on the conversation.
    """
    conversation_id = next((record[key] for key in _SCENARIO_ID_KEYS if key in record), None)
    turn = {key: record[key] for key in _SCENARIO_TURN_KEYS if key in record}
    turn["turn_id"] = 1
    turn["user_utterance"] = record.get("user_utterance", record.get("utterance", ""))
    setup = record.get("setup_entities") or {}
    entities = setup if isinstance(setup, dict) and "seed_data" in setup else {"seed_data": setup}
    rest = {
        key: value for key, value in record.items() if key not in turn and key != "setup_entities"
    }
    return {
        **rest,
        "conversation_id": str(conversation_id),
        "turns": [turn],
        "initial_entities": entities,
    }
