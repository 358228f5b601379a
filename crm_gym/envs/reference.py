"""The reference run of a conversation: its ground truth replayed once, kept for scoring.

For every turn it records what the ground truth called (templates resolved from the reference's
own payloads), the payload it produced, the reproducible facts of the expected reply, the CRM
state before the turn (so a single-turn episode can start there) and the canonical state after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_gym.crm import CrmApi
from crm_gym.crm.canonical import CanonicalState, all_ids, canonical_state
from crm_gym.crm.tools import call_tool
from crm_gym.data.conversation import Conversation, Turn
from crm_gym.data.replay import new_episode
from crm_gym.data.templates import reference_payload, resolve
from crm_gym.envs.facts import reply_facts


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to put a fresh CRM where the reference was before a turn."""

    snapshot: Any
    ids_state: object
    clock_now: Any
    known_ids: frozenset[str]
    payloads: dict[int, dict[str, Any]]


@dataclass(frozen=True)
class TurnReference:
    """The ground truth of one turn as the reference run executed it."""

    turn: Turn
    arguments: dict[str, Any]
    payload: dict[str, Any] | None
    error: str | None
    facts: tuple[str, ...]
    before: Checkpoint
    state_after_turn: CanonicalState
    """New ids labelled relative to the ids that existed when the turn started."""
    state_after_episode: CanonicalState
    """New ids labelled relative to the seed (for whole-conversation episodes)."""


@dataclass(frozen=True)
class ConversationReference:
    """The reference run of a whole conversation."""

    conversation: Conversation
    seed_ids: frozenset[str]
    turns: tuple[TurnReference, ...]


def build_reference(
    conversation: Conversation, strict_upstream: bool = False
) -> ConversationReference:
    """Replay the ground truth once and record what scoring needs."""
    api = new_episode(conversation, strict_upstream=strict_upstream)
    seed_ids = all_ids(api.store)
    payloads: dict[int, dict[str, Any]] = {}
    turns = []
    for turn in conversation.turns:
        before = checkpoint(api, payloads)
        arguments = resolve(turn.expected_args, payloads, turn.turn_id)
        outcome = call_tool(api, turn.expected_tool, arguments)
        payload = reference_payload(outcome.payload) if outcome.ok else None
        if payload is not None:
            payloads[turn.turn_id] = payload
        facts = reply_facts(turn, outcome.payload, outcome.error)
        turns.append(
            TurnReference(
                turn,
                arguments,
                payload,
                outcome.error,
                facts,
                before,
                canonical_state(api.store, before.known_ids),
                canonical_state(api.store, seed_ids),
            )
        )
    return ConversationReference(conversation, seed_ids, tuple(turns))


def checkpoint(api: CrmApi, payloads: dict[int, dict[str, Any]]) -> Checkpoint:
    """The CRM's state, id stream and clock now, plus the template payloads so far."""
    ids_state = api.ids.state() if hasattr(api.ids, "state") else None
    clock_now = getattr(api.clock, "current", None)
    return Checkpoint(
        api.store.snapshot(), ids_state, clock_now, all_ids(api.store), dict(payloads)
    )


def restore(api: CrmApi, point: Checkpoint) -> None:
    """Put ``api`` (built with the same seed) at a checkpoint."""
    api.store.restore(point.snapshot)
    if point.ids_state is not None:
        api.ids.set_state(point.ids_state)  # type: ignore[attr-defined]
    if point.clock_now is not None:
        api.clock.current = point.clock_now  # type: ignore[attr-defined]
