"""Fixed difficulty orders as curricula: the same arms easy to hard or hard to easy."""

from __future__ import annotations

import json

import pytest

from agents.train import Args, train
from agents.train_setup import difficulty_order, make_curriculum
from curricula import FixedOrderSampler

ARMS = ["crud-hard", "policy-easy", "crud-easy", "knowledge-medium", "crud-medium"]


def test_arms_are_ordered_by_difficulty_then_skill() -> None:
    assert difficulty_order(ARMS) == [
        "crud-easy",
        "policy-easy",
        "crud-medium",
        "knowledge-medium",
        "crud-hard",
    ]
    assert difficulty_order(ARMS, reverse=True) == difficulty_order(ARMS)[::-1]
    with pytest.raises(ValueError, match="must end in one of"):
        difficulty_order(["crud-easy", "crud"])


@pytest.mark.parametrize("order", ["easy_to_hard", "hard_to_easy"])
def test_each_arm_gets_an_equal_share_of_the_steps_in_order(order: str) -> None:
    curriculum = make_curriculum(Args(curriculum=order, steps=10), ARMS)
    assert isinstance(curriculum, FixedOrderSampler) and curriculum.steps_per_arm == 2
    drawn = [curriculum.sample(3)[0] for _ in range(10)]
    ordered = difficulty_order(ARMS, reverse=order == "hard_to_easy")
    assert drawn == [arm for arm in ordered for _ in range(2)]


def test_a_run_trains_on_the_easy_arms_first(tmp_path) -> None:
    args = Args(
        output_dir=str(tmp_path),
        curriculum="easy_to_hard",
        task_family="args",
        steps=2,
        num_conversations=200,
        num_eval_tasks=4,
        eval_samples=1,
        eval_every=2,
        prompts_per_step=2,
        group_size=2,
        max_new_tokens=8,
        max_env_steps=1,
        tiny_hidden_size=16,
        tiny_num_layers=1,
        progress=False,
    )
    train(args)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    current = [max((k for k in row if k.startswith("curriculum/p/")), key=row.get) for row in rows]
    assert all(name.endswith("-easy") for name in current)
