"""The rollouts-at-scale benchmark: the replay policy finishes every planned episode, the env's
time is the run's less the policy's, and the generation floor follows the presets."""

import pytest

from benchmarks.speed import rollouts_scale


def test_a_small_batch_runs_every_episode_with_the_reference_reward():
    results = rollouts_scale.run(prompts=2, group_size=3, max_env_steps=5, repeats=1)
    assert results["num_envs"] == results["episodes"] == 6
    assert results["reward_mean"] == 1.0  # the reference trajectory earns the full reward
    # replay: the reference call, then the reference reply, in every episode
    assert results["episode_steps"] == 12 and results["batch_steps"] == 2
    assert results["env_s"] == pytest.approx(results["total_s"] - results["policy_s"])
    assert results["env_us_per_episode_step"] == pytest.approx(
        1e6 * results["env_s"] / results["episode_steps"]
    )
    assert results["kib_per_episode_traced_peak"] >= results["kib_per_episode_kept"] > 0


def test_the_generation_floor_grows_with_rows_and_model_size():
    small = rollouts_scale.generation_floor_s("gpu-qwen3-0.6b", 1024)
    large = rollouts_scale.generation_floor_s("gpu-qwen3-4b", 1024)
    assert large["floor_s"] > small["floor_s"] > 0
    one_wave = rollouts_scale.generation_floor_s("gpu-qwen3-4b", large["sequences_per_wave"])
    assert one_wave["waves"] == 1
    assert large["floor_s"] == pytest.approx(large["waves"] * one_wave["floor_s"])
