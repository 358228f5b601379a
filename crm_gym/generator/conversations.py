"""The deterministic scenario generator: unlimited, seeded, diverse conversations in the Arc format.

``generate(n, seed)`` yields ``Conversation`` objects one at a time (constant memory).
Conversation ``i`` of seed ``S`` depends only on ``(S, i)``: it draws from its own
``random.Random("crm-gym:S:i")`` stream (``pools.Dice``), so the same seed gives the same bytes,
any prefix of a run is the smaller run, and conversations can be made in any order or in
parallel.

Example:
    >>> from crm_gym.data.replay import replay
    >>> conversations = list(generate(3, seed=7))
    >>> all(replay(c).passed for c in conversations)
    True
    >>> to_json(conversations[0]) == to_json(next(generate(1, seed=7)))
    True
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import pydantic_core

from crm_gym.data.conversation import Conversation
from crm_gym.data.labels import (
    COMPLEXITY_TURNS,
    SKILLS,
    TASK_NAMES,
    TOOL_CATEGORY,
    category_of,
    difficulty_of,
)
from crm_gym.data.seeding import reuse_seeded
from crm_gym.generator.holdout import SIDES, Side
from crm_gym.generator.pools import Dice
from crm_gym.generator.scene import Scene
from crm_gym.generator.workflows import WORKFLOWS, Driver, failure_kinds, plan
from crm_gym.generator.world import seed_world

Paraphrase = Callable[[str, np.random.Generator], str]
"""Rewrites one utterance (e.g. with an LLM); it must keep every value the utterance states."""

DEFAULT_SEED = 0
DEFAULT_COMPLEXITY = {"simple": 0.35, "medium": 0.40, "complex": 0.25}
DEFAULT_SKILLS = dict.fromkeys(SKILLS, 0.25)
DEFAULT_EMPTY_SEARCHES = 0.15


@dataclass(frozen=True)
class Mix:
    """What to generate: shares of failures, complexities and skills (normalised on creation).

    Args:
        failure_share: expected share of all turns that are planned failures (0..1).
        complexity: weight of ``simple`` (1-3 turns), ``medium`` (4-6) and ``complex`` (7-10).
        skills: weight of each curriculum skill.
        underspecified: share of success turns whose utterance leaves one value unsaid (0 = none,
            the linter then reports exactly those turns).
        empty_searches: share of searches that look for something absent, so the reply is "No
            results" (every search turn declares its ``expected_hits``; 0 marks the empty search
            as intended, which the linter then does not report).
        holdout: which side of the held-out split patterns and names are drawn from
            (``crm_gym.generator.holdout``): ``"train"``, ``"held_out"`` or ``"all"``; a split
            side marks the conversation id (``..._train``), so the sides never share an id.
    """

    failure_share: float = 0.4
    complexity: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_COMPLEXITY))
    skills: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SKILLS))
    underspecified: float = 0.0
    empty_searches: float = DEFAULT_EMPTY_SEARCHES
    holdout: Side = "all"

    def __post_init__(self) -> None:
        if self.holdout not in SIDES:
            raise ValueError(f"holdout must be one of {SIDES}, got {self.holdout!r}")
        for name in ("failure_share", "underspecified", "empty_searches"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        object.__setattr__(self, "complexity", _weights(self.complexity, tuple(COMPLEXITY_TURNS)))
        object.__setattr__(self, "skills", _weights(self.skills, SKILLS))


def _weights(weights: Mapping[str, float], names: tuple[str, ...]) -> dict[str, float]:
    unknown = set(weights) - set(names)
    total = sum(weights.values())
    if unknown or total <= 0 or min(weights.values()) < 0:
        raise ValueError(
            f"weights {dict(weights)} must be non-negative, not all zero, over {names}"
        )
    return {name: weights.get(name, 0.0) / total for name in names}


def generate(
    n: int, seed: int, *, paraphrase: Paraphrase | None = None, **mix: Any
) -> Iterator[Conversation]:
    """Yield ``n`` conversations of ``seed``, one at a time (``mix``: the fields of ``Mix``).

    Raises:
        ValueError: at once, for a ``mix`` that ``Mix`` refuses.
    """
    config = Mix(**mix)
    return (make_conversation(seed, index, config, paraphrase) for index in range(n))


def make_conversation(
    seed: int, index: int, config: Mix, paraphrase: Paraphrase | None = None
) -> Conversation:
    """Conversation ``index`` of ``seed``: simulated turn by turn, checked, labelled, validated."""
    record, scene = _simulate(seed, index, config, paraphrase)
    conversation = Conversation.model_validate(record)
    reuse_seeded(conversation, scene.seeded)  # replay reuses the simulation's seed records
    return conversation


def make_line(seed: int, index: int, config: Mix) -> str:
    """``to_json(make_conversation(seed, index, config))``, without building the model.

    The record is valid by construction and holds every field in the model's order, and
    pydantic-core's ``to_json`` writes values as ``model_dump_json`` does, so the line is the
    model's (a test checks it); validating the record only to dump it again would
    cost about a tenth of the generation time.
    """
    record, _ = _simulate(seed, index, config)
    return pydantic_core.to_json(record).decode()


def _simulate(
    seed: int, index: int, config: Mix, paraphrase: Paraphrase | None = None
) -> tuple[dict[str, Any], Scene]:
    """The record of conversation ``index`` of ``seed`` and the scene that played it."""
    stream = f"crm-gym:{seed}:{index}" + ("" if config.holdout == "all" else f":{config.holdout}")
    rng = Dice(stream, config.holdout)  # a split side has its own stream: no shared ids
    episode_seed = rng.integers(2**31 - 1)
    skill = _draw(rng, config.skills)
    complexity = _draw(rng, config.complexity)
    workflow = rng.pick(WORKFLOWS[skill])
    low, high = COMPLEXITY_TURNS[complexity]
    slots = plan(rng, int(rng.integers(low, high + 1)), config.failure_share, skill == "policy")
    seed_data = seed_world(rng, workflow.rich)
    scene = Scene(rng, seed_data, episode_seed, config.underspecified, config.empty_searches)
    Driver(scene, workflow).run(slots, failure_kinds(rng, slots.count("F"), skill == "policy"))
    if paraphrase is not None:  # its own numpy stream, made only when needed
        generator = np.random.default_rng([seed, index])
        for turn in scene.turns:
            turn["user_utterance"] = paraphrase(turn["user_utterance"], generator)
    record = _record(seed, index, scene, complexity, workflow.name, skill, episode_seed)
    if config.holdout != "all":
        record["conversation_id"] += f"_{config.holdout}"
    return record, scene


def _draw(rng: Dice, weights: Mapping[str, float]) -> str:
    names = list(weights)
    return names[rng.weighted(list(weights.values()))]


def _record(
    seed: int,
    index: int,
    scene: Scene,
    complexity: str,
    workflow: str,
    skill: str,
    episode_seed: int,
) -> dict[str, Any]:
    turns = scene.turns
    tools = [turn["expected_tool"] for turn in turns]
    category = category_of(tools)
    task = TASK_NAMES[
        next(tool for tool in tools if TOOL_CATEGORY.get(tool, "General") == category)
    ]
    failed = [turn["turn_id"] for turn in turns if not turn["expect_success"]]
    return {
        "conversation_id": f"GEN-{task}_{complexity}_{seed}_{index}",
        "workflow_category": category,
        "complexity_level": complexity,
        "turns": turns,
        "initial_entities": {"seed_data": scene.seed_data},
        "final_expected_state": {},
        "success_criteria": "all_turns",
        "contains_failure": bool(failed),
        "failure_turn": failed[0] if failed else None,
        "verification_mode": "database",
        "chain_id": None,
        "segment_number": None,
        "segment_boundaries": None,
        "expected_outcome": None,
        "cumulative_context": {},
        "skill": skill,
        "difficulty": difficulty_of({"turns": turns}),
        "workflow": workflow,
        "episode_seed": episode_seed,
    }


def generate_lines(n: int, seed: int, *, workers: int = 1, **mix: Any) -> Iterator[str]:
    """The JSONL lines of ``generate(n, seed, **mix)``, made by ``workers`` processes.

    Conversations depend only on ``(seed, index)``, so the lines are the same for any number of
    workers; chunks come back in order and only a few are in flight (bounded memory).
    """
    config = Mix(**mix)
    if workers <= 1:
        return (make_line(seed, index, config) for index in range(n))
    return _parallel_lines(n, seed, workers, config)


def _parallel_lines(n: int, seed: int, workers: int, config: Mix) -> Iterator[str]:
    chunks = ((seed, start, min(start + _CHUNK, n), config) for start in range(0, n, _CHUNK))
    with multiprocessing.Pool(workers) as pool:
        for lines in pool.imap(_chunk_lines, chunks):
            yield from lines


_CHUNK = 250


def _chunk_lines(job: tuple[int, int, int, Mix]) -> list[str]:
    seed, start, stop, config = job
    return [make_line(seed, index, config) for index in range(start, stop)]


def to_json(conversation: Conversation) -> str:
    """One JSONL line (no newline): every field, nulls included, in a fixed order."""
    return conversation.model_dump_json(exclude_none=False)


@lru_cache(maxsize=4)
def default_tasks(n: int = 200, seed: int = DEFAULT_SEED) -> tuple[Conversation, ...]:
    """The package's default task set: ``n`` generated conversations of a fixed seed (cached).

    The same ``(n, seed)`` returns the same (shared) objects: treat them as read-only.
    """
    return tuple(generate(n, seed))
