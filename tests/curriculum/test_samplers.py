"""The baseline samplers, and the interface all curricula share."""

import json

import numpy as np
import pytest

from curricula import Curriculum, FixedOrderSampler, SoftmaxBandit, UniformSampler

ARMS = ("easy", "medium", "hard")


def build(kind):
    return {
        "bandit": lambda: SoftmaxBandit(ARMS, rng=0),
        "uniform": lambda: UniformSampler(ARMS, rng=0),
        "fixed": lambda: FixedOrderSampler(ARMS, steps_per_arm=2),
    }[kind]()


KINDS = ["bandit", "uniform", "fixed"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_curriculum_has_the_shared_interface(kind):
    curriculum = build(kind)
    assert isinstance(curriculum, Curriculum)
    assert curriculum.arms == ARMS
    assert sum(curriculum.probabilities().values()) == pytest.approx(1.0)
    draws = curriculum.sample(5)
    assert len(draws) == 5 and set(draws) <= set(ARMS)
    assert curriculum.sample(0) == []
    assert set(curriculum.sample(4, available=["hard"])) == {"hard"}
    curriculum.update({"easy": 0.5})
    with pytest.raises(ValueError):
        curriculum.update({"unknown": 1.0})
    with pytest.raises(ValueError):
        curriculum.sample(2, available=[])
    assert {f"curriculum/p/{arm}" for arm in ARMS} <= set(curriculum.metrics())


@pytest.mark.parametrize("kind", KINDS)
def test_every_curriculum_resumes_where_it_stopped(kind):
    original = build(kind)
    original.update({"medium": 1.0})
    original.sample(3)
    restored = build(kind)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    for _ in range(3):
        assert restored.sample(6) == original.sample(6)
        assert restored.sample(2, available=["easy", "hard"]) == original.sample(
            2, available=["easy", "hard"]
        )
    with pytest.raises(ValueError):
        restored.load_state_dict(original.state_dict() | {"arms": ["x"]})


def test_uniform_sampler_draws_uniformly_and_ignores_rewards():
    sampler = UniformSampler(ARMS, rng=1)
    sampler.update({"easy": 100.0})
    assert sampler.probabilities() == dict.fromkeys(ARMS, pytest.approx(1 / 3))
    draws = sampler.sample(9_000)
    assert [draws.count(arm) / 9_000 for arm in ARMS] == pytest.approx([1 / 3] * 3, abs=0.02)
    fallback = sampler.sample(300, available=["easy", "hard"])
    assert set(fallback) == {"easy", "hard"} and fallback.count("hard") > fallback.count("easy")


def test_uniform_sampler_accepts_a_generator():
    a = UniformSampler(ARMS, rng=np.random.default_rng(4)).sample(12)
    assert a == UniformSampler(ARMS, rng=4).sample(12)


def test_fixed_order_moves_on_every_steps_per_arm_and_stays_on_the_last():
    sampler = FixedOrderSampler(ARMS, steps_per_arm=2)
    arms = [sampler.sample(1)[0] for _ in range(8)]
    assert arms == ["easy", "easy", "medium", "medium", "hard", "hard", "hard", "hard"]
    assert sampler.probabilities() == {"easy": 0.0, "medium": 0.0, "hard": 1.0}
    assert sampler.metrics()["curriculum/p/hard"] == 1.0


def test_fixed_order_skips_an_exhausted_arm_to_the_next_in_order():
    sampler = FixedOrderSampler(ARMS)
    assert sampler.sample(3, available=["medium", "hard"]) == ["medium"] * 3
    assert sampler.sample(1, available=["easy", "hard"]) == ["hard"]
    assert sampler.sample(1, available=["easy"]) == ["easy"]  # wraps around


@pytest.mark.parametrize("steps_per_arm", [0, -1, 1.5, True])
def test_fixed_order_rejects_a_bad_steps_per_arm(steps_per_arm):
    with pytest.raises(ValueError):
        FixedOrderSampler(ARMS, steps_per_arm=steps_per_arm)
