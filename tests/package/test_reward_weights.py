"""The weight sweep prices every weighting from one audit run, and ranks as the audit does.

``benchmarks.reward_weights`` rests on one fact: a shaped return is linear in the five weights, so
the audit's per-episode unweighted terms (``Cell.return_terms``) give any weighting's return. These
tests check that fact on a slice of both data sets, the vectorised rank correlation against the
audit's own, the grid, the partial-credit order, and the sweep on a case solved by hand
(its usage errors are checked with the audit's, in ``test_reward_audit``).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.audit_policies import audit_policies
from benchmarks.reward_audit import collapsed_spearman, load_data, run_cells, spearman_by_pair
from benchmarks.reward_weights import (
    Pair,
    analyse,
    collapsed_rho,
    keeps_order,
    pairs_from_cells,
    weight_grid,
)
from crm_gym.scoring import RewardConfig
from tests.envs.support import require_public_data

DEFAULTS = np.array([RewardConfig().weights])


@pytest.fixture(scope="module")
def cells():
    """The audit's cells on 10 conversations of each data set."""
    data = load_data(require_public_data(), 10)
    policies = audit_policies()
    return [c for name, convs in data.items() for c in run_cells(name, convs, policies, 0, 4)]


@pytest.fixture(scope="module")
def pairs(cells):
    tricks = frozenset(spec.name for spec in audit_policies() if spec.trick)
    return pairs_from_cells(cells, tricks)


def test_the_terms_give_every_shaped_return_at_the_default_weights(cells, pairs):
    shaped = {(c.data, c.env, c.policy): c.mean_return for c in cells if c.mode == "shaped"}
    assert len(pairs) == 4 and sum(len(pair.policies) for pair in pairs) == len(shaped)
    for pair in pairs:
        returns = pair.returns(DEFAULTS)[0]
        for name, value in zip(pair.policies, returns, strict=True):
            assert value == pytest.approx(shaped[pair.data, pair.env, name], abs=1e-9), name


def test_the_terms_price_another_weighting_as_a_run_under_it_does():
    """A second audit run under other weights earns what the first run's terms predict."""
    other = {"tool_weight": 0.1, "arguments_weight": 0.1, "state_weight": 0.1}
    other |= {"execution_weight": 0.1, "response_weight": 0.6}
    data = load_data(require_public_data(), 4)
    policies = [spec for spec in audit_policies() if spec.name in ("call_no_reply", "replay")]
    policies += [spec for spec in audit_policies() if spec.name == "expected_half"]
    first = [c for n, convs in data.items() for c in run_cells(n, convs, policies, 0, 2)]
    second = [c for n, convs in data.items() for c in run_cells(n, convs, policies, 0, 2, other)]
    measured = {(c.data, c.env, c.policy): c.mean_return for c in second if c.mode == "shaped"}
    weights = np.array([RewardConfig(**other).weights])
    for pair in pairs_from_cells(first, frozenset()):
        for name, value in zip(pair.policies, pair.returns(weights)[0], strict=True):
            assert value == pytest.approx(measured[pair.data, pair.env, name], abs=1e-9), name


def test_the_rank_correlation_is_the_audits(cells, pairs):
    audit = spearman_by_pair(cells)
    rhos = {
        (pair.data, pair.env): collapsed_rho(pair.returns(DEFAULTS), pair.binary)[0]
        for pair in pairs
    }
    for key, rho in rhos.items():
        assert rho == pytest.approx(audit[key]["rho"], abs=1e-12), key


def test_the_vectorised_rho_matches_the_audits_on_random_points():
    rng = np.random.default_rng(0)
    for _ in range(50):
        binary = rng.choice([0.0, 0.1, 0.2, 0.5, 1.0], size=7)
        returns = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=(3, 7))  # ties on purpose
        for row, rho in zip(returns, collapsed_rho(returns, binary), strict=True):
            expected = collapsed_spearman(list(zip(row, binary, strict=True)))["rho"]
            if expected is None:
                assert np.isnan(rho)
            else:
                assert rho == pytest.approx(expected, abs=1e-12)


def test_the_grid_holds_every_positive_weighting_that_sums_to_one():
    assert weight_grid(0.2).tolist() == [[0.2] * 5]
    grid = weight_grid(0.1)
    assert len(grid) == 126  # C(9, 4)
    assert np.allclose(grid.sum(axis=1), 1) and (grid >= 0.1 - 1e-12).all()
    assert len({tuple(row) for row in grid.round(6)}) == 126
    for step in (0.3, 0.25, 0.0, -0.1, 0.005, float("nan")):
        with pytest.raises(ValueError, match="step"):
            weight_grid(step)


def test_the_order_holds_at_the_defaults_and_breaks_when_the_reply_takes_nearly_all():
    reply_heavy = np.array([[0.02, 0.02, 0.02, 0.06, 0.88]])
    assert keeps_order(DEFAULTS)[0]
    # a third of the values and a write that ran (0.02 + 0.04/3) cannot beat its side-effect cost
    assert not keeps_order(reply_heavy)[0]
    assert keeps_order(reply_heavy, {"side_effect_penalty": 0.0})[0]


def synthetic(terms: list[list[float]], binary: list[float], bounded: list[bool]) -> Pair:
    names = tuple(f"p{i}" for i in range(len(binary)))
    terms_array = np.array(terms, dtype=float)
    zeros = np.zeros(len(binary))
    return Pair("d", "e", names, terms_array, zeros, np.array(binary), np.array(bounded))


def test_the_sweep_finds_the_least_reply_weight_solved_by_hand():
    """Nothing, a correct call without a reply, a constant 0.31, replay: binary 0 < .1 < .2 < 1.

    The ranks agree only if the call without a reply (1 - w_resp) earns less than 0.31, so the
    least reply weight on a 0.02 grid is 0.70; below it rho is 0.8 (one swap in four).
    """
    pair = synthetic(
        [[0] * 5, [1, 1, 1, 1, 0], [0.31] * 5, [1] * 5],
        [0, 0.1, 0.2, 1],
        [True, False, False, False],
    )
    result = analyse({0: [pair]}, 0.02)
    assert result["least_reply_weight_meeting_every_target"] == pytest.approx(0.70)
    bands = {band["w_resp"][0]: band for band in result["bands"]}
    assert bands[0.6]["meets"] == 0 and bands[0.7]["meets"] == bands[0.7]["points"]
    assert result["default_rhos"] == {"0": [pytest.approx(0.8)]}
    # a bounded policy that earns more than 0.05 rules a point out whatever its rho
    greedy = synthetic([[0] * 5, [1, 1, 1, 1, 0], [1] * 5], [0, 0.1, 1], [True, True, True])
    assert analyse({0: [greedy]}, 0.1)["points_meeting_every_target"] == 0


def test_a_weighting_meets_the_targets_only_at_every_seed():
    """Two seeds: the call without a reply passes less (seed 0) or more (seed 1) than 0.31 does."""
    rows = [[0] * 5, [1, 1, 1, 1, 0], [0.31] * 5, [1] * 5]
    bounded = [True, False, False, False]
    below = synthetic(rows, [0, 0.1, 0.2, 1], bounded)  # needs 1 - w_resp < 0.31
    above = synthetic(rows, [0, 0.3, 0.2, 1], bounded)  # needs 1 - w_resp > 0.31
    result = analyse({0: [below], 1: [above]}, 0.02)
    by_seed = result["points_meeting_every_target_by_seed"]
    assert by_seed["0"] > 0 and by_seed["1"] > 0
    assert by_seed["0"] + by_seed["1"] == result["grid_points"]
    assert result["points_meeting_every_target"] == 0
    assert result["least_reply_weight_meeting_every_target"] is None
