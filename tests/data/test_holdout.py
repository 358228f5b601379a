"""The generator's held-out split: sides share no name and no request pattern, and still replay."""

from __future__ import annotations

import re

import pytest

from crm_gym.data.conversation import Conversation
from crm_gym.data.replay import replay
from crm_gym.generator import Mix, generate, to_json, wording
from crm_gym.generator.holdout import is_held_out, is_held_out_pattern, on_side
from crm_gym.generator.phrasebook import PATTERNS
from crm_gym.generator.pools import FIRST_NAMES, LAST_NAMES, NAME_HEADS, OWNERS

POOLS = {
    "NAME_HEADS": NAME_HEADS,
    "FIRST_NAMES": FIRST_NAMES,
    "LAST_NAMES": LAST_NAMES,
    "OWNERS": OWNERS,
}


@pytest.fixture(scope="module")
def sides() -> dict[str, list[Conversation]]:
    """400 conversations of each side (different seeds, as a user would draw them)."""
    return {
        side: list(generate(400, seed=seed, holdout=side))
        for side, seed in (("train", 3), ("held_out", 4))
    }


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_each_name_pool_splits_into_two_nonempty_disjoint_sides(pool: str) -> None:
    names = POOLS[pool]
    train, held_out = on_side(names, "train"), on_side(names, "held_out")
    assert train and held_out and set(train).isdisjoint(held_out)
    assert sorted(train + held_out) == sorted(names)
    assert on_side(names, "all") == names


def _names(conversation: Conversation) -> set[str]:
    """Every pool name a conversation uses: seed records, expected arguments, first words."""
    found: set[str] = set()
    records = conversation.initial_entities["seed_data"]
    for kind in records.values():
        for record in kind.values():
            found |= _values(record)
    for turn in conversation.turns:
        found |= _values(turn.expected_args)
    return found


def _values(record: dict) -> set[str]:
    out: set[str] = set()
    for key in ("name", "owner", "first_name", "last_name", "created_by", "uploaded_by"):
        value = record.get(key)
        if isinstance(value, str) and value:
            out |= {value, value.split(" ")[0]}
    return out


def test_a_side_uses_no_name_of_the_other_side(sides) -> None:
    everything = {name for names in POOLS.values() for name in names}
    for side, other in (("train", "held_out"), ("held_out", "train")):
        used = set().union(*map(_names, sides[side])) & everything
        assert used, "the check must see pool names"
        wrong = {name for name in used if is_held_out(name) != (side == "held_out")}
        assert not wrong, f"{side} conversations use {other}-side names {sorted(wrong)[:5]}"


def test_every_intent_has_patterns_on_both_sides_and_none_fell_back(sides) -> None:
    for phrase, patterns in PATTERNS.items():
        if len(patterns) >= 2:
            positions = [is_held_out_pattern(i) for i in range(len(patterns))]
            assert any(positions) and not all(positions), phrase
    assert wording.SIDE_FALLBACKS == set()  # 800 conversations: no side ran out of patterns


def test_sides_mark_their_ids_replay_exactly_and_all_is_the_unsplit_stream(sides) -> None:
    ids = {side: {c.conversation_id for c in sides[side]} for side in sides}
    assert all(i.endswith("_train") for i in ids["train"])
    assert all(i.endswith("_held_out") for i in ids["held_out"])
    assert all(replay(c).passed for c in sides["held_out"][:100] + sides["train"][:100])
    unsplit = [to_json(c) for c in generate(30, seed=3)]
    assert unsplit == [to_json(c) for c in generate(30, seed=3, holdout="all")]
    assert unsplit != [to_json(c) for c in sides["train"][:30]]


def test_sides_of_one_seed_share_no_entity_id() -> None:
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    ids = [
        set(uuid.findall("".join(map(to_json, generate(100, seed=0, holdout=side)))))
        for side in ("train", "held_out")
    ]
    assert ids[0] and ids[1] and ids[0].isdisjoint(ids[1])


def test_an_unknown_side_is_refused() -> None:
    with pytest.raises(ValueError, match="holdout must be one of"):
        Mix(holdout="test")
