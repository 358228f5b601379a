"""Task families of the GRPO loop: passable tasks, a held-out side, arms that mean something."""

from __future__ import annotations

from collections import Counter

import pytest

from agents.train_data import (
    CALL_DIFFICULTY,
    NO_ARGUMENT_TOOLS,
    first_turn,
    passes_with_call,
    task_arm,
    task_sets,
)
from crm_gym.generator import generate
from crm_gym.generator.holdout import is_held_out
from crm_gym.scoring.facts import scalars


@pytest.fixture(scope="module")
def args_family() -> tuple[list, list]:
    return task_sets("args", 400, 36, seed=0)


def test_args_tasks_need_arguments_and_pass_on_their_reference_call(args_family) -> None:
    train, held_out = args_family
    assert len(held_out) == 36 and len(train) > 100
    for conversation in train + held_out:
        assert conversation.turns[0].expected_args
    # the ceiling: every task passes on its reference call alone, held-out ones included
    assert passes_with_call(held_out) == held_out


def test_args_held_out_tasks_come_from_the_held_out_side(args_family) -> None:
    train, held_out = args_family
    assert {first_turn(c) for c in train}.isdisjoint(first_turn(c) for c in held_out)
    assert all(c.conversation_id.endswith("_held_out") for c in held_out)
    assert all(c.conversation_id.endswith("_train") for c in train)
    for conversation in train + held_out:  # each side's requests name only its own owners
        owner = conversation.turns[0].expected_args.get("owner")
        if owner:
            assert is_held_out(owner) == conversation.conversation_id.endswith("_held_out")


def test_args_held_out_set_is_balanced_across_arms(args_family) -> None:
    train, held_out = args_family
    counts = Counter(task_arm("args", c) for c in held_out)
    pool = passes_with_call(generate(400, seed=0, holdout="held_out"))
    available = Counter(task_arm("args", c) for c in pool if c.turns[0].expected_args)
    assert len(counts) >= 8
    # round-robin: an arm gets fewer than the largest share only when it ran out of tasks
    top = max(counts.values())
    assert all(n >= top - 1 or n == available[arm] for arm, n in counts.items())


def test_call_difficulty_counts_the_values_a_call_copies(args_family) -> None:
    train, _ = args_family
    limits = dict((name, most) for most, name in CALL_DIFFICULTY)
    for conversation in train:
        values = len(scalars(conversation.turns[0].expected_args))
        skill, difficulty = task_arm("args", conversation).split("-")
        assert skill == conversation.skill
        if difficulty == "easy":
            assert values <= limits["easy"]
        elif difficulty == "medium":
            assert limits["easy"] < values <= limits["medium"]
        else:
            assert values > limits["medium"]


def test_noarg_tasks_pass_on_their_call_and_need_no_arguments() -> None:
    train, held_out = task_sets("noarg", 400, 5, seed=1)
    tasks = train + held_out
    assert all(c.turns[0].expected_tool in NO_ARGUMENT_TOOLS for c in tasks)
    assert passes_with_call(tasks) == tasks
    assert task_arm("noarg", tasks[0]) == f"{tasks[0].skill}-{tasks[0].difficulty}"


def test_unknown_family_and_too_many_held_out_tasks_are_refused() -> None:
    with pytest.raises(ValueError, match="task family must be one of"):
        task_sets("hard", 50, 5, seed=0)
    with pytest.raises(ValueError, match="num_eval=500 exceeds"):
        task_sets("args", 50, 500, seed=0)
