"""The reference run of a conversation: its ground truth replayed once, kept for scoring.

For every turn it records what the ground truth called (templates resolved from the reference's
own payloads), the payload it produced, the reproducible facts of the expected reply, the CRM
state before the turn (so a single-turn episode can start there) and the canonical state after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from crm_gym.crm import CrmApi
from crm_gym.crm.canonical import (
    CanonicalState,
    Forms,
    StateCache,
    all_ids,
    canonical_state,
    restored_cache,
)
from crm_gym.crm.store import Store
from crm_gym.crm.tools import call_tool
from crm_gym.data.conversation import Conversation, Turn
from crm_gym.data.replay import new_episode
from crm_gym.data.templates import reference_payload, referenced_turns, resolve
from crm_gym.envs.readonly import ReadOnlyDict, read_only
from crm_gym.scoring.facts import ReplyFacts, id_fields, reply_facts


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to put a fresh CRM where the reference was before a turn."""

    snapshot: Any
    ids_state: object
    clock_now: Any
    known_ids: frozenset[str]
    payloads: dict[int, dict[str, Any]]
    forms: Forms
    """Canonical forms by record identity: the snapshot's records (which a restore shares) and
    perhaps the reference run's later ones (a form holds its record, so identities stay unique)."""
    canonical: CanonicalState
    """The canonical state here (``known_ids`` are all the ids, so nothing is relabelled)."""

    def state_cache(self, store: Store, known_ids: frozenset[str]) -> StateCache:
        """A canonical-state cache for ``store`` just restored here, compared to ``known_ids``."""
        return restored_cache(store, known_ids, self.forms, self.canonical, self.known_ids)


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

    @cached_property
    def templated(self) -> bool:
        """Whether the expected arguments hold templates (else every episode sees them as is)."""
        return bool(referenced_turns(self.turn.expected_args))

    @cached_property
    def shared_info(self) -> ReadOnlyDict:
        """``info["reference"]`` of an untemplated turn: the same read-only view every time."""
        return reference_record(self.turn, self.turn.expected_args)

    @cached_property
    def id_fields(self) -> tuple[tuple[str, str], ...]:
        """The payload's ``*_id`` fields that hold text: what maps its ids to another run's."""
        return id_fields(self.payload)

    @cached_property
    def reply(self) -> ReplyFacts:
        """The reply's facts with the id fields that map them to another run's ids."""
        return ReplyFacts(self.facts, self.id_fields)


def reference_record(turn: Turn, expected_arguments: dict[str, Any]) -> ReadOnlyDict:
    """What ``info["reference"]`` shows of a turn's ground truth, read-only."""
    response = turn.expected_response
    values = {
        "expected_tool": turn.expected_tool,
        "expected_arguments": expected_arguments,
        "expected_response": response.text if response else None,
        "expect_success": turn.expect_success,
        "expected_error_substring": turn.expected_error_substring,
    }
    return read_only(values)


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
    # one cache for the checkpoints and the after-turn states: a record's form is computed once,
    # and a kind's records only when its table or the new-id labels change
    states = StateCache()
    episode: StateCache | None = None
    for turn in conversation.turns:
        before = checkpoint(api, payloads, states)
        # primed like an env's cache, so unchanged kinds share their lists with the env's state
        episode = episode or before.state_cache(api.store, seed_ids)
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
                canonical_state(api.store, before.known_ids, states),
                canonical_state(api.store, seed_ids, episode),
            )
        )
    return ConversationReference(conversation, seed_ids, tuple(turns))


def checkpoint(
    api: CrmApi, payloads: dict[int, dict[str, Any]], cache: StateCache | None = None
) -> Checkpoint:
    """The CRM's state, id stream and clock now, plus the template payloads so far.

    ``cache``: what earlier checkpoints of the same run derived (filled in as a side effect).
    """
    ids_state = api.ids.state() if hasattr(api.ids, "state") else None
    clock_now = getattr(api.clock, "current", None)
    cache = StateCache() if cache is None else cache
    known_ids = all_ids(api.store)
    if cache.owner is not None and cache.owner[1] == known_ids:
        known_ids = cache.owner[1]  # the same ids: the object the cache's states are keyed on
    canonical = canonical_state(api.store, known_ids, cache)
    return Checkpoint(
        api.store.snapshot(),
        ids_state,
        clock_now,
        known_ids,
        dict(payloads),
        cache.records,  # every record now has its form here (canonical_state just made them)
        canonical,
    )


def restore(api: CrmApi, point: Checkpoint) -> None:
    """Put ``api`` (built with the same seed) at a checkpoint."""
    api.store.restore(point.snapshot)
    if point.ids_state is not None:
        api.ids.set_state(point.ids_state)  # type: ignore[attr-defined]
    if point.clock_now is not None:
        api.clock.current = point.clock_now  # type: ignore[attr-defined]
