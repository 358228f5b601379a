"""SoftmaxBandit: TD(0), Boltzmann sampling, fallback, state, and a seeded Bernoulli problem."""

import copy
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curricula import DEFAULT_ARMS, SoftmaxBandit, reward_from_advantages
from curricula.bandit import softmax


def group_advantages(rewards: np.ndarray) -> np.ndarray:
    """GRPO's advantages of one group (TRL: unbiased std + 1e-4), for the simulation."""
    return (rewards - rewards.mean()) / (rewards.std(ddof=1) + 1e-4)


def test_bandit_finds_the_arm_at_the_edge_of_ability():
    # Success rates per arm; E|A| = 2 sqrt(p (1 - p)) peaks at p = 0.5 (SEC, section 3).
    success = {"trivial": 0.98, "easy": 0.85, "edge": 0.5, "impossible": 0.03}
    world = np.random.default_rng(1)
    bandit = SoftmaxBandit(list(success), rng=0)
    late = []
    for step in range(150):
        arms = bandit.sample(8)
        advantages = []
        for arm in arms:
            outcomes = (world.random(8) < success[arm]).astype(float)  # G = 8 rollouts
            advantages.extend(group_advantages(outcomes))
        per_rollout_arms = [arm for arm in arms for _ in range(8)]
        bandit.update(reward_from_advantages(per_rollout_arms, advantages))
        if step >= 100:
            late.append(list(bandit.probabilities().values()))
    probs = bandit.probabilities()
    assert max(probs, key=probs.get) == "edge"
    mean_late = dict(zip(success, np.mean(late, axis=0), strict=True))
    assert max(mean_late, key=mean_late.get) == "edge" and mean_late["edge"] > 0.4
    assert max(bandit.q) == bandit.q[list(success).index("edge")]


def test_first_batch_is_uniform():
    bandit = SoftmaxBandit(rng=0)
    assert bandit.arms == DEFAULT_ARMS
    assert set(bandit.probabilities().values()) == {1 / 12}
    assert bandit.q.tolist() == [0.0] * 12


def test_update_is_td0_on_the_given_arms_only():
    bandit = SoftmaxBandit(["a", "b", "c"], alpha=0.3, tau=0.5, rng=0)
    bandit.update({"a": 1.0})
    assert bandit.q.tolist() == pytest.approx([0.3, 0.0, 0.0])
    bandit.update({"a": 0.5, "c": 2.0})
    assert bandit.q.tolist() == pytest.approx([0.7 * 0.3 + 0.3 * 0.5, 0.0, 0.6])
    bandit.update({})
    assert bandit.q.tolist() == pytest.approx([0.36, 0.0, 0.6])


def test_probabilities_are_softmax_of_q_over_tau():
    bandit = SoftmaxBandit(["a", "b"], tau=0.5, rng=0)
    bandit.update({"b": 1.0})  # Q = [0, 0.3]
    expected = math.exp(0.6) / (1 + math.exp(0.6))
    assert bandit.probabilities()["b"] == pytest.approx(expected)


@pytest.mark.parametrize(
    "rewards", [{"z": 1.0}, {"a": float("nan")}, {"a": float("inf")}, {"a": 1.0, "z": 0.0}]
)
def test_update_rejects_unknown_arms_and_non_finite_rewards_without_changing_q(rewards):
    bandit = SoftmaxBandit(["a", "b"], rng=0)
    with pytest.raises(ValueError):
        bandit.update(rewards)
    assert bandit.q.tolist() == [0.0, 0.0]


def test_draws_are_independent_with_replacement_at_the_softmax_rates():
    bandit = SoftmaxBandit(["a", "b", "c"], alpha=1.0, tau=0.5, rng=3)
    bandit.update({"b": 0.5, "c": 1.0})
    draws = bandit.sample(20_000)
    freqs = [draws.count(arm) / len(draws) for arm in bandit.arms]
    assert freqs == pytest.approx(list(bandit.probabilities().values()), abs=0.015)
    assert len(bandit.sample(50)) == 50 and bandit.sample(0) == []


def test_an_exhausted_arm_falls_back_to_a_random_arm_with_data():
    bandit = SoftmaxBandit(["a", "b", "c"], alpha=1.0, tau=0.05, rng=0)
    bandit.update({"a": 10.0})
    assert bandit.sample(20) == ["a"] * 20  # "a" is all but certain
    draws = bandit.sample(200, available=["b", "c"])
    assert set(draws) == {"b", "c"}
    assert 60 < draws.count("b") < 140  # uniform over the arms with data
    assert bandit.sample(5, available={"a", "b"}) == ["a"] * 5


@pytest.mark.parametrize("available", [[], ["z"], ["a", "zz"]])
def test_sample_rejects_no_data_or_unknown_arms(available):
    with pytest.raises(ValueError):
        SoftmaxBandit(["a", "b"], rng=0).sample(2, available=available)


@pytest.mark.parametrize("k", [-1, 1.5, True])
def test_sample_rejects_a_bad_k(k):
    with pytest.raises(ValueError):
        SoftmaxBandit(["a"], rng=0).sample(k)


@pytest.mark.parametrize(
    "kwargs",
    [{"alpha": 0.0}, {"alpha": 1.5}, {"tau": 0.0}, {"tau": -1.0}, {"tau": float("inf")}],
)
def test_constructor_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        SoftmaxBandit(["a"], **kwargs)


def test_constructor_rejects_duplicate_or_no_arms():
    with pytest.raises(ValueError):
        SoftmaxBandit(["a", "a"])
    with pytest.raises(ValueError):
        SoftmaxBandit([])


finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False)
taus = st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, exclude_min=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=1, max_size=12), taus)
def test_probabilities_sum_to_one_and_stay_finite_for_any_q_and_tau(q, tau):
    probs = softmax(np.array(q), tau)
    assert np.isfinite(probs).all() and (probs >= 0).all()
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    assert probs[int(np.argmax(q))] == probs.max()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from("abcd"), finite, max_size=4), max_size=10),
    st.floats(min_value=1e-6, max_value=1.0),
    st.floats(min_value=1e-3, max_value=1e3),
)
def test_probabilities_after_any_updates_sum_to_one(rewards, alpha, tau):
    bandit = SoftmaxBandit("abcd", alpha=alpha, tau=tau, rng=0)
    for step in rewards:
        bandit.update(step)
    probs = np.array(list(bandit.probabilities().values()))
    assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1.0, abs=1e-12)
    assert set(bandit.sample(4)) <= set("abcd")


def test_state_round_trip_samples_exactly_what_the_original_would():
    original = SoftmaxBandit(rng=7)
    original.update({"crud-easy": 0.8, "policy-hard": 0.2})
    original.sample(10)
    state = json.loads(json.dumps(original.state_dict()))  # survives a JSON checkpoint
    restored = SoftmaxBandit(alpha=0.9, tau=2.0, rng=123)
    restored.load_state_dict(state)
    assert restored.state_dict() == original.state_dict()
    for bandit in (original, restored):
        bandit.update({"analytics-medium": 1.0})
    assert restored.sample(30, available=DEFAULT_ARMS[:6]) == original.sample(
        30, available=DEFAULT_ARMS[:6]
    )
    assert restored.sample(30) == original.sample(30)


def test_state_dict_is_a_copy():
    bandit = SoftmaxBandit(["a", "b"], rng=0)
    state = bandit.state_dict()
    saved = copy.deepcopy(state)
    bandit.update({"a": 1.0})
    bandit.sample(3)
    assert state == saved


def test_load_state_dict_rejects_other_arms_or_bad_q():
    bandit = SoftmaxBandit(["a", "b"], rng=0)
    with pytest.raises(ValueError):
        bandit.load_state_dict(SoftmaxBandit(["a", "c"], rng=0).state_dict())
    state = bandit.state_dict() | {"q": [0.0, float("nan")]}
    with pytest.raises(ValueError):
        bandit.load_state_dict(state)


def test_metrics_name_q_and_p_per_arm():
    bandit = SoftmaxBandit(["a", "b"], rng=0)
    bandit.update({"a": 1.0})
    metrics = bandit.metrics()
    assert metrics == {
        "curriculum/q/a": pytest.approx(0.3),
        "curriculum/q/b": 0.0,
        "curriculum/p/a": pytest.approx(bandit.probabilities()["a"]),
        "curriculum/p/b": pytest.approx(bandit.probabilities()["b"]),
    }
    assert len(SoftmaxBandit(rng=0).metrics()) == 24


def test_reward_is_mean_absolute_advantage_per_arm():
    rewards = reward_from_advantages(
        ["a", "a", "b", "a", "b"], np.array([1.5, -0.5, 0.0, -1.0, -0.25])
    )
    assert rewards == {"a": pytest.approx(1.0), "b": pytest.approx(0.125)}
    assert reward_from_advantages([], []) == {}
    with pytest.raises(ValueError):
        reward_from_advantages(["a"], [1.0, 2.0])


def test_a_group_that_all_succeeds_or_all_fails_earns_nothing():
    advantages = np.concatenate([group_advantages(np.ones(4)), group_advantages(np.zeros(4))])
    assert reward_from_advantages(["solved"] * 4 + ["hopeless"] * 4, advantages) == {
        "solved": 0.0,
        "hopeless": 0.0,
    }


def test_an_integer_seed_and_a_generator_draw_the_same():
    a = SoftmaxBandit(rng=5).sample(10)
    b = SoftmaxBandit(rng=np.random.default_rng(5)).sample(10)
    assert a == b
