"""Task families of the GRPO loop: passable tasks, a held-out side, arms that mean something."""

from __future__ import annotations

from collections import Counter

import pytest

from agents.baselines import ReplayPolicy
from agents.policy import Observation
from agents.rollout import collect_rollouts, every_turn_passed, scored_turns
from agents.train_data import (
    CALL_DIFFICULTY,
    CHAIN_ENV,
    NO_ARGUMENT_TOOLS,
    env_kwargs,
    first_turn,
    passes_with_call,
    passes_with_replay,
    task_arm,
    task_sets,
    two_turn_prefix,
    warm_start_tasks,
)
from benchmarks.train_results import settings
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


@pytest.fixture(scope="module")
def chain_family() -> tuple[list, list]:
    return task_sets("chain", 600, 12, seed=0)


def test_chain_tasks_act_in_turn_two_on_what_turn_one_found(chain_family) -> None:
    train, held_out = chain_family
    assert len(held_out) == 12 and len(train) > 40
    for conversation in train + held_out:
        assert len(conversation.turns) == 2 and not conversation.final_expected_state
        second = conversation.turns[1]
        # a value of turn 1's result, which the second request never states
        assert "{{turn_1." in str(second.expected_args)
        assert "{{turn_1." not in second.user_utterance
    assert all(c.conversation_id.endswith("_held_out") for c in held_out)
    assert all(c.conversation_id.endswith("_train") for c in train)
    # the ceiling: the reference actions (a call and a reply each turn) pass both turns
    assert passes_with_replay(held_out, **CHAIN_ENV) == held_out


def test_chain_tasks_need_both_turns_and_the_replies(chain_family) -> None:
    _, held_out = chain_family
    # one action a turn (the call, no reply) passes none of them: a reply states what was found
    assert passes_with_replay(held_out, CHAIN_ENV["env_id"], max_steps=1) == []
    # the arm's difficulty is that of the call acting on what was found
    arms = {task_arm("chain", c) for c in held_out}
    assert all(arm.split("-")[0] in {"crud", "knowledge", "analytics", "policy"} for arm in arms)
    assert len(arms) >= 6


def test_two_turn_prefix_and_warm_start_tasks_of_each_family() -> None:
    conversations = list(generate(40, seed=3, holdout="train"))
    longer = [c for c in conversations if len(c.turns) > 2]
    cut = two_turn_prefix(longer[0])
    assert cut.turns == longer[0].turns[:2] and len(longer[0].turns) > 2  # the original is kept
    assert cut.failure_turn is None or cut.failure_turn <= 2
    chain = warm_start_tasks("chain", conversations)
    assert len(chain) == sum(len(c.turns) > 1 for c in conversations)
    assert all(len(c.turns) <= 2 for c in chain)
    assert all(c.turns[0].expected_args for c in warm_start_tasks("args", conversations))
    assert warm_start_tasks("noarg", conversations) == conversations


def test_unknown_family_and_too_many_held_out_tasks_are_refused() -> None:
    with pytest.raises(ValueError, match="task family must be one of"):
        task_sets("hard", 50, 5, seed=0)
    with pytest.raises(ValueError, match="num_eval=500 exceeds"):
        task_sets("args", 50, 500, seed=0)


class _NoReplyOnTurnOne(ReplayPolicy):
    """The reference actions, but turn 1's reply is "Done." (it states no fact: turn 1 fails)."""

    def action(self, observation: Observation) -> str:
        action = super().action(observation)
        called = observation.info["messages"][-1]["role"] != "user"
        return "Done." if observation.info["turn_id"] == 1 and called else action


def test_a_chain_passes_only_when_every_turn_passes(chain_family) -> None:
    from crm_gym import make_vec

    _, held_out = chain_family
    task_ids = [first_turn(c) for c in held_out]
    options = [{"task_id": task_id} for task_id in task_ids]
    envs = make_vec(CHAIN_ENV["env_id"], 4, **env_kwargs(settings("cpu-chain"), held_out))
    try:
        replayed = collect_rollouts(envs, ReplayPolicy(), options=options, seed=0)
        no_reply = collect_rollouts(envs, _NoReplyOnTurnOne(), options=options, seed=0)
    finally:
        envs.close()
    assert all(t.passed for t in replayed)
    last_turns = [t.steps[-1].info["reward_components"]["passed"] for t in no_reply]
    assert sum(last_turns) > 0  # turn 2 alone passes on some of them ...
    assert not any(t.passed for t in no_reply)  # ... but no conversation has passed


def test_every_turn_passed_needs_a_scored_turn_and_every_verdict() -> None:
    infos = [{"reward_components": {"passed": value}} for value in (1.0, 0.0, 1.0)]
    assert not every_turn_passed(scored_turns([{}, *infos]))  # the last passed, the second not
    assert every_turn_passed(scored_turns([{}, infos[0], {}, infos[2]]))  # steps ending no turn
    assert not every_turn_passed(scored_turns([{}, {}]))  # no turn was scored (cut short)
    assert not every_turn_passed([{}])  # a record without the env's components (upstream's)
