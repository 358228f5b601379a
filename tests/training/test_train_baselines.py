"""Held-out baselines of a training run: ceiling, random floor, best constant (issue #19)."""

import json
import subprocess
import sys
from collections import defaultdict
from functools import cache

import gymnasium as gym
import pytest

import crm_gym
from agents.baselines import RandomPolicy
from agents.policy import SamplingParams
from agents.presets import PRESETS
from agents.train_args import Args
from agents.train_data import (
    env_kwargs,
    eval_seed,
    evaluate_per_task,
    first_turn,
    passes_with_call,
    run_tasks,
)
from benchmarks.train_baselines import (
    CONSTANT_ANSWER,
    best_constant_on,
    constant_candidates,
    constant_passes,
    held_out_ceiling,
    random_success,
)
from crm_gym.actions import format_tool_call
from crm_gym.generator import generate

SUMMARY = format_tool_call("summarize_counts", {})
PREFIXES = format_tool_call("quote_prefixes", {})


@cache
def _by_tool() -> dict[str, list]:
    """Generated conversations that pass on their first call, by that call's tool."""
    groups = defaultdict(list)
    for conversation in passes_with_call(generate(300, seed=0)):
        groups[conversation.turns[0].expected_tool].append(conversation)
    assert len(groups["summarize_counts"]) >= 3 and len(groups["quote_prefixes"]) >= 2
    return groups


def _tiny_args(**changes) -> Args:
    return Args(**(PRESETS["cpu-tiny"] | changes))


@pytest.mark.parametrize("preset", ["cpu-args", "cpu-tiny"])
def test_ceiling_is_one_for_presets(preset):
    args = Args(**PRESETS[preset])
    _, held_out = run_tasks(args)
    assert len(held_out) == PRESETS[preset]["num_eval_tasks"]
    assert held_out_ceiling(args) == 1.0


def test_ceiling_holds_with_a_reply_step():
    # with two actions ReplayPolicy calls, then answers: the reference passes either way
    assert held_out_ceiling(_tiny_args(max_env_steps=2, num_eval_tasks=4)) == 1.0


def test_best_constant_shared_call_succeeds_everywhere():
    held_out = _by_tool()["summarize_counts"][:3]
    assert len(held_out) == 3
    result = best_constant_on(_tiny_args(), _by_tool()["quote_prefixes"][:2], held_out)
    assert result["action"] == SUMMARY
    assert result["success"] == 1.0
    assert result["per_task"] == {first_turn(c): 1 for c in held_out}


def test_best_constant_takes_the_majority_call():
    summaries, prefixes = _by_tool()["summarize_counts"][:3], _by_tool()["quote_prefixes"][:1]
    held_out = prefixes + summaries  # the minority first: the order must not decide
    result = best_constant_on(_tiny_args(), summaries, held_out)
    assert result["action"] == SUMMARY
    assert result["success"] == 0.75
    assert result["per_task"] == {
        first_turn(prefixes[0]): 0,
        **{first_turn(c): 1 for c in summaries},
    }
    assert result["candidates"] == len(constant_candidates(summaries))


def test_constant_candidates_are_distinct_calls_tools_and_an_answer():
    train = _by_tool()["summarize_counts"][:3] + _by_tool()["quote_prefixes"][:1]
    candidates = constant_candidates(train)
    assert len(candidates) == len(set(candidates))
    assert candidates[0] == SUMMARY  # training calls first, in order of appearance
    assert candidates[-1] == CONSTANT_ANSWER
    tools = {json.loads(c)["name"] for c in candidates[:-1]}
    assert len(tools) == len(crm_gym.crm.tools.tool_schemas())


def test_constant_action_is_deterministic():
    args = _tiny_args()
    held_out = _by_tool()["summarize_counts"][:2] + _by_tool()["quote_prefixes"][:2]
    env = gym.make(args.env_id, **env_kwargs(args, held_out))
    task_ids = [first_turn(c) for c in held_out]
    first = [constant_passes(env, SUMMARY, t) for t in task_ids]
    again = [constant_passes(env, SUMMARY, t) for t in reversed(task_ids)][::-1]
    assert first == again == [1, 1, 0, 0]
    assert [constant_passes(env, PREFIXES, t) for t in task_ids] == [0, 0, 1, 1]
    for task_id in task_ids:  # the starting state does not depend on the reset seed
        observations = {env.reset(seed=s, options={"task_id": task_id})[0] for s in (0, 1, 99)}
        assert len(observations) == 1
    env.close()


def test_random_success_matches_the_run_evaluation():
    args = _tiny_args(num_eval_tasks=8)
    value = random_success(args, 4)
    assert 0.0 <= value <= 1.0
    assert random_success(args, 4) == value
    _, held_out = run_tasks(args)
    envs = crm_gym.make_vec(args.env_id, 5, **env_kwargs(args, held_out))
    sampling = SamplingParams(seed=eval_seed(args))
    means, _ = evaluate_per_task(
        envs, RandomPolicy(), [first_turn(c) for c in held_out], sampling, 4
    )
    envs.close()
    assert means["eval/success_rate"] == value


def test_random_success_rejects_no_samples():
    with pytest.raises(ValueError, match="samples must be >= 1, got 0"):
        random_success(_tiny_args(), 0)


def _cli(samples: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "benchmarks.train_baselines", "--preset", "cpu-tiny"]
    return subprocess.run(
        [*command, "--samples", samples], capture_output=True, text=True, timeout=120
    )


def test_cli_prints_one_json_line():
    done = _cli("2")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    row = json.loads(line)
    assert row["ceiling"] == 1.0
    assert 0.0 <= row["random"] <= row["best_constant"]["success"] <= 1.0
    assert json.loads(row["best_constant"]["action"])["name"]


def test_cli_rejects_bad_samples():
    done = _cli("0")
    assert done.returncode == 2
    assert "--samples: must be >= 1, got 0" in done.stderr
    assert "Traceback" not in done.stderr
