"""``collect_rollouts``: planned episodes over vector envs, no wasted generations, token views."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pytest

from agents.baselines import RandomPolicy, ReplayPolicy
from agents.policy import Observation, Sample, SamplingParams
from agents.rollout import Trajectory, collect_rollouts, derive_seed, env_info
from crm_gym import make_vec

ENV_IDS = ("ArcCrm-v1", "ArcCrmConversation-v1")


class Counting:
    """Wraps a policy and counts the observations it is asked about."""

    def __init__(self, policy):
        self.policy, self.calls, self.observations = policy, 0, 0

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ):
        self.calls += 1
        self.observations += len(observations)
        return self.policy.act(observations, n, sampling)


def assert_strict_success(trajectory: Trajectory) -> None:
    turns = [
        step.info["reward_components"]
        for step in trajectory.steps
        if "reward_components" in step.info
    ]
    assert turns and all(t["passed"] == 1.0 for t in turns), (trajectory.task_id, turns)
    assert trajectory.total_return == pytest.approx(1.0, abs=1e-9), trajectory.task_id
    assert trajectory.terminated and not trajectory.truncated


# ---- the replay policy -------------------------------------------------------------------------
def test_replay_reaches_strict_success_on_every_public_conversation(public):
    envs = make_vec("ArcCrmConversation-v1", 4, tasks=public, expose_reference=True)
    policy = Counting(ReplayPolicy())
    options = [{"task_id": conversation.conversation_id} for conversation in public]
    trajectories = collect_rollouts(envs, policy, options=options, seed=0)
    assert [t.task_id for t in trajectories] == [c.conversation_id for c in public]
    assert [t.episode for t in trajectories] == list(range(len(public)))
    for trajectory in trajectories:
        assert_strict_success(trajectory)
    assert policy.observations == sum(len(t.steps) for t in trajectories)  # nothing wasted
    envs.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_replay_with_autoreset_runs_exactly_the_planned_episodes(env_id):
    envs = make_vec(env_id, 3, expose_reference=True)
    policy = Counting(ReplayPolicy())
    trajectories = collect_rollouts(envs, policy, num_episodes=7, seed=0)
    assert len(trajectories) == 7 and [t.episode for t in trajectories] == list(range(7))
    for trajectory in trajectories:
        assert_strict_success(trajectory)
    assert policy.observations == sum(len(t.steps) for t in trajectories)
    assert policy.calls <= max(len(t.steps) for t in trajectories) * 3


def test_default_is_one_episode_per_env_and_the_arm_is_recorded():
    envs = make_vec("ArcCrm-v1", 2, expose_reference=True)
    assert len(collect_rollouts(envs, ReplayPolicy(), seed=0)) == 2
    options = [{"arm": "crud-easy"}, {"arm": "knowledge-hard"}, None]
    trajectories = collect_rollouts(envs, ReplayPolicy(), options=options, seed=0)
    assert [t.arm for t in trajectories] == ["crud-easy", "knowledge-hard", None]


def test_same_seed_same_tasks_and_actions():
    def run(seed):
        envs = make_vec("ArcCrmConversation-v1", 3)
        trajectories = collect_rollouts(envs, RandomPolicy(), num_episodes=5, seed=seed)
        return [(t.task_id, [s.action for s in t.steps], t.total_return) for t in trajectories]

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_replay_without_the_reference_says_how_to_get_it():
    envs = make_vec("ArcCrmConversation-v1", 2)
    with pytest.raises(ValueError, match="expose_reference=True"):
        collect_rollouts(envs, ReplayPolicy(), seed=0)


def test_max_steps_cuts_episodes_and_marks_them_truncated():
    envs = make_vec("ArcCrmConversation-v1", 2, expose_reference=True)
    trajectories = collect_rollouts(envs, ReplayPolicy(), num_episodes=3, max_steps=1, seed=0)
    assert [len(t.steps) for t in trajectories] == [1, 1, 1]
    assert all(t.truncated and not t.terminated for t in trajectories)


def test_bad_arguments_raise():
    envs = make_vec("ArcCrm-v1", 2)
    with pytest.raises(ValueError, match="num_episodes"):
        collect_rollouts(envs, ReplayPolicy(), num_episodes=2, options=[None])
    with pytest.raises(ValueError, match="reset_mask"):
        collect_rollouts(envs, ReplayPolicy(), options=[{"reset_mask": None}])
    with pytest.raises(ValueError, match="max_steps"):
        collect_rollouts(envs, ReplayPolicy(), max_steps=0)
    assert collect_rollouts(envs, ReplayPolicy(), num_episodes=0) == []


def test_other_autoreset_modes_are_refused():
    from gymnasium.vector import AutoresetMode

    envs = make_vec("ArcCrm-v1", 2, autoreset_mode=AutoresetMode.NEXT_STEP)
    with pytest.raises(ValueError, match="SAME_STEP"):
        collect_rollouts(envs, ReplayPolicy())


# ---- the random policy -------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_random_policy_never_crashes_anything(env_id, mode):
    envs = make_vec(env_id, 3, mode=mode)
    try:
        trajectories = collect_rollouts(
            envs, RandomPolicy(seed=0), num_episodes=12 if mode == "sync" else 4, seed=0
        )
    finally:
        envs.close()
    actions = [step.action for t in trajectories for step in t.steps]
    assert all(isinstance(a, str) for a in actions)
    assert all(
        np.isfinite(t.total_return) and -0.5 - 1e-9 <= t.total_return <= 1 + 1e-9
        for t in trajectories
    )


def test_random_policy_writes_every_kind_of_action():
    from crm_gym.actions import ActionError, FinalAnswer, ToolCall, parse_action
    from crm_gym.crm.tools import tool_names

    seen = "User: move 0a5e8c1e-2222-4222-8222-000000000002 please"
    observation = Observation(seen, {"messages": [{"role": "user", "content": seen}]})
    rows = RandomPolicy(seed=0).act([observation], n=400)
    parsed = [parse_action(sample.text) for sample in rows[0]]
    calls = [p for p in parsed if isinstance(p, ToolCall)]
    assert any(isinstance(p, ActionError) for p in parsed) and any(
        isinstance(p, FinalAnswer) for p in parsed
    )
    assert any(c.name in tool_names() for c in calls) and any(
        c.name not in tool_names() for c in calls
    )
    assert any("0a5e8c1e-2222-4222-8222-000000000002" in str(c.arguments) for c in calls)
    again = RandomPolicy(seed=1).act([observation], n=3, sampling=SamplingParams(seed=5))
    assert again == RandomPolicy(seed=2).act([observation], n=3, sampling=SamplingParams(seed=5))


# ---- the tiny model -----------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_tiny_model_trajectories_align_tokens_mask_and_logprobs(policy, env_id):
    import torch

    from agents.logprobs import token_logprobs

    envs = make_vec(env_id, 2, max_steps=2)
    sampling = SamplingParams(temperature=1.0, max_new_tokens=6)
    trajectories = collect_rollouts(
        envs, policy, sampling=sampling, num_episodes=3, max_steps=4, seed=0
    )
    assert len(trajectories) == 3
    for trajectory in trajectories:
        ids, mask, old = trajectory.input_ids, trajectory.action_mask, trajectory.old_logprobs
        assert len(ids) == len(mask) == len(old) > 0
        completions = [step.completion_ids for step in trajectory.steps]
        assert sum(mask) == sum(map(len, completions))
        assert [i for i, m in zip(ids, mask, strict=True) if m] == [
            t for c in completions for t in c
        ]
        assert all(lp == 0.0 for lp, m in zip(old, mask, strict=True) if not m)
        for step in trajectory.steps:  # every generation started from the view so far
            assert ids[: len(step.prompt_ids)] == step.prompt_ids
        input_ids = torch.tensor([ids])
        with torch.no_grad():
            recomputed = token_logprobs(
                policy.model, input_ids, torch.ones_like(input_ids), torch.tensor([mask])
            )
        assert torch.allclose(recomputed[0], torch.tensor(old), atol=1e-4, rtol=0)
        text = policy.tokenizer.decode(list(ids))
        for step in trajectory.steps[1:]:  # env segments hold the env's messages (a request
            # as its plain text: the chat role, not a "User: " prefix, says who speaks)
            assert step.observation.split("\n")[-1].removeprefix("User: ") in text


def test_conversation_token_view_has_one_assistant_turn_per_step(policy):
    envs = make_vec("ArcCrmConversation-v1", 1)
    sampling = SamplingParams(max_new_tokens=4, seed=0)
    [trajectory] = collect_rollouts(envs, policy, sampling=sampling, max_steps=3, seed=0)
    text = policy.tokenizer.decode(list(trajectory.input_ids))
    assert text.count("<|im_start|>assistant\n") == len(trajectory.steps)
    assert text.startswith("<|im_start|>system\n")


# ---- helpers ------------------------------------------------------------------------------------
def test_env_info_unstacks_one_env():
    infos = {
        "task_id": np.array(["a", "b"], dtype=object),
        "_task_id": np.array([True, True]),
        "tool_result": {"ok": np.array([True, False]), "_ok": np.array([True, False])},
        "_tool_result": np.array([True, False]),
        "final_obs": np.array([None, "x"], dtype=object),
        "_final_obs": np.array([False, True]),
    }
    assert env_info(infos, 0) == {"task_id": "a", "tool_result": {"ok": True}}
    assert env_info(infos, 1) == {"task_id": "b"}
    assert type(env_info(infos, 0)["tool_result"]["ok"]) is bool


def test_derive_seed_is_stable_and_spreads():
    assert derive_seed(None, 1) is None
    assert derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(0, 2)


def test_a_text_policy_sample_has_no_token_view():
    envs = make_vec("ArcCrm-v1", 1, expose_reference=True)
    [trajectory] = collect_rollouts(envs, ReplayPolicy(), seed=0)
    assert trajectory.input_ids == trajectory.action_mask == trajectory.old_logprobs == ()
    assert isinstance(trajectory.steps[0], object) and trajectory.steps[0].completion_ids == ()
    assert Sample("x").logprobs is None
