"""What a turn asks for: the intent types the moves build and the scene, wording and replies read.

In a module of their own so the scene (which plays intents) and the wording and reply modules
(which say them) all import these types, and none of them imports another back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Mention(NamedTuple):
    """How a turn names an entity: its literal id (seeded records) or an earlier turn's result.

    ``arg`` is what goes into the expected arguments: the id itself, or ``{{turn_N.<field>}}``.
    ``via`` names the kind of turn N's record when the id is one of its foreign keys (the client
    of the deal created in turn 2). An immutable named tuple (cheap to make: the scene makes one
    whenever a move names an entity).
    """

    kind: str
    key: str
    arg: str
    name: str | None = None
    turn: int | None = None
    verb: str = "created"
    via: str | None = None


@dataclass
class Intent:
    """One request: the tool call it expects and what its utterance must state.

    ``values`` are the literal argument values the utterance states (by argument name);
    ``mentions`` the entities it names (by role); ``learns`` how the result is remembered
    for later turns (``"created"``, ``"found"``...), or None.
    """

    tool: str
    args: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    mentions: dict[str, Any] = field(default_factory=dict)
    phrase: str = ""
    learns: str | None = None
    canonical: bool = False

    def __post_init__(self) -> None:
        self.phrase = self.phrase or self.tool

    def but(
        self,
        args: dict[str, Any],
        values: dict[str, Any] | None = None,
        mentions: dict[str, Any] | None = None,
        phrase: str = "",
    ) -> Intent:
        """A copy with new arguments (and values, mentions or phrase when given).

        What a botched request is made of; ``dataclasses.replace`` did the same, slower.
        """
        return Intent(
            self.tool,
            args,
            self.values if values is None else values,
            self.mentions if mentions is None else mentions,
            phrase or self.phrase,
            self.learns,
            self.canonical,
        )


@dataclass(frozen=True)
class Failure:
    """A planned failure: its category and the exact substring its error must contain."""

    category: str
    substring: str


def turn_template(turn: int, field: str) -> str:
    """``{{turn_<turn>.<field>}}``: a value of an earlier turn's result, for expected arguments."""
    return "{{turn_" + f"{turn}.{field}" + "}}"
