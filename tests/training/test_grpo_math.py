"""GRPO math checked against hand-computed numbers (REFERENCE.md section 1, TRL's formulas)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.grpo import (
    NonFiniteLossError,
    aggregate_loss,
    check_finite,
    clipped_surrogate,
    group_advantages,
    grpo_loss,
    kl_k3,
    masked_mean,
    masked_sum,
)

LENGTHS = (10, 20, 30, 40)


def length_mask(lengths, width=None):
    width = width or max(lengths)
    return (torch.arange(width) < torch.tensor(lengths).unsqueeze(1)).float()  # (B, T)


# ---------------------------------------------------------------- advantages


def test_advantages_match_the_reference_numbers():
    advantages = group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), group_size=4)
    expected = torch.tensor([1.4997, -0.4999, -0.4999, -0.4999])
    torch.testing.assert_close(advantages, expected, atol=1e-4, rtol=0)
    # unbiased std of [1, 0, 0, 0] is 0.5: A_0 = 0.75 / (0.5 + 1e-4) exactly
    assert advantages[0].item() == pytest.approx(0.75 / 0.5001, rel=1e-6)


def test_advantages_accept_two_dimensional_groups_and_keep_the_shape():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]])
    advantages = group_advantages(rewards, group_size=4)
    assert advantages.shape == (2, 4)
    torch.testing.assert_close(advantages[1], -advantages[0], atol=1e-6, rtol=0)
    flat = group_advantages(rewards.reshape(-1), group_size=4)
    torch.testing.assert_close(flat, advantages.reshape(-1))


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_equal_group_rewards_give_zero_advantage(scale):
    rewards = torch.tensor([0.7, 0.7, 0.7, 0.7, 1.0, 0.0, 1.0, 0.0])
    advantages = group_advantages(rewards, group_size=4, scale=scale)
    assert torch.equal(advantages[:4], torch.zeros(4))
    assert advantages[4:].abs().min() > 0


def test_scale_none_only_centres():
    advantages = group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0, 3.0, 1.0]), 2, scale="none")
    torch.testing.assert_close(advantages, torch.tensor([0.5, -0.5, 0.0, 0.0, 1.0, -1.0]))


def test_scale_batch_divides_by_the_unbiased_batch_std():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    # batch mean 3/8; squared deviations 3 * (5/8)^2 + 5 * (3/8)^2 = 1.875; unbiased: / 7
    std = math.sqrt(1.875 / 7)
    centred = torch.tensor([0.75, -0.25, -0.25, -0.25, 0.5, 0.5, -0.5, -0.5])
    advantages = group_advantages(rewards, group_size=4, scale="batch")
    torch.testing.assert_close(advantages, centred / (std + 1e-4))


def test_integer_rewards_become_float():
    advantages = group_advantages(torch.tensor([1, 0]), group_size=2, scale="none")
    assert advantages.dtype == torch.float32
    assert advantages.tolist() == [0.5, -0.5]


@pytest.mark.parametrize(
    ("rewards", "group_size", "scale"),
    [
        (torch.zeros(4), 1, "group"),
        (torch.zeros(5), 2, "group"),
        (torch.zeros(2, 3), 2, "group"),
        (torch.zeros(4), 2, "std"),
    ],
)
def test_advantages_reject_bad_groups(rewards, group_size, scale):
    with pytest.raises(ValueError):
        group_advantages(rewards, group_size, scale=scale)


# ---------------------------------------------------------------- masked reductions


def test_masked_sum_and_mean_ignore_masked_values_even_nan():
    x = torch.tensor([[1.0, 2.0, float("nan")], [4.0, float("inf"), 6.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 1]])
    assert masked_sum(x, mask).item() == 13.0
    assert masked_mean(x, mask).item() == 13.0 / 4
    assert masked_sum(x, mask, dim=-1).tolist() == [3.0, 10.0]
    assert masked_mean(x, mask, dim=-1).tolist() == [1.5, 5.0]
    assert masked_mean(x, mask.bool(), dim=0).tolist() == [2.5, 2.0, 6.0]


def test_masked_mean_of_an_empty_row_is_zero():
    x = torch.ones(2, 3)
    mask = torch.tensor([[0, 0, 0], [1, 1, 0]])
    assert masked_mean(x, mask, dim=-1).tolist() == [0.0, 1.0]
    assert masked_mean(x, torch.zeros(2, 3)).item() == 0.0


# ---------------------------------------------------------------- policy gradient


def single_token_logprob(logits, token=1):
    return torch.log_softmax(logits, dim=-1)[token].reshape(1, 1)  # (B=1, T=1)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
@pytest.mark.parametrize("advantage", [1.0, -1.0])
def test_a_gradient_step_moves_the_token_logprob_with_the_sign_of_a(loss_type, advantage):
    logits = torch.nn.Parameter(torch.tensor([0.3, -0.2, 0.1]))
    before = single_token_logprob(logits).item()
    loss, _ = grpo_loss(
        single_token_logprob(logits),
        None,
        None,
        torch.tensor([advantage]),
        torch.ones(1, 1),
        loss_type=loss_type,
        max_completion_length=4,
    )
    loss.backward()
    with torch.no_grad():
        logits -= 0.5 * logits.grad
    after = single_token_logprob(logits).item()
    assert (after - before) * advantage > 0


def test_equal_group_rewards_give_zero_policy_gradient():
    logits = torch.nn.Parameter(torch.randn(4, 5, 7, generator=torch.Generator().manual_seed(0)))
    tokens = torch.randint(7, (4, 5), generator=torch.Generator().manual_seed(1))
    logprobs = torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    advantages = group_advantages(torch.tensor([1.0, 1.0, 0.0, 1.0]), group_size=2)
    loss, _ = grpo_loss(logprobs, None, None, advantages, torch.ones(4, 5))
    loss.backward()
    assert torch.equal(logits.grad[:2], torch.zeros(2, 5, 7))
    assert logits.grad[2:].abs().sum() > 0


def test_grpo_loss_near_zero_at_ratio_one_still_has_a_gradient():
    logprobs = torch.full((4, 40), -1.0, requires_grad=True)
    advantages = group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), group_size=4)
    loss, _ = grpo_loss(logprobs, None, None, advantages, length_mask(LENGTHS), loss_type="grpo")
    loss.backward()
    assert abs(loss.item()) < 1e-6
    # d loss / d logp = -A_i / (B * |o_i|) on each real token
    expected = -advantages[0].item() / (4 * 10)
    assert logprobs.grad[0, 0].item() == pytest.approx(expected, rel=1e-5)
    assert logprobs.grad[0, 10:].abs().sum() == 0


# ---------------------------------------------------------------- clipping


@pytest.mark.parametrize(
    ("ratio", "advantage", "clipped"),
    [
        (1.5, 1.0, True),  # above 1 + eps_high, pushed further up: clipped
        (1.1, 1.0, False),  # inside the range
        (0.5, 1.0, False),  # below the range but A > 0 pulls it back: not clipped
        (0.5, -1.0, True),  # below 1 - eps_low, pushed further down: clipped
        (0.9, -1.0, False),
        (1.5, -1.0, False),  # above the range but A < 0 pulls it back
        (1.27, 1.0, False),  # inside DAPO's clip-higher range (eps_high = 0.28)
    ],
)
def test_clipping_stops_the_gradient_only_in_the_direction_of_a(ratio, advantage, clipped):
    old_logprobs = torch.tensor([[-1.0]])
    logprobs = (old_logprobs + math.log(ratio)).requires_grad_()
    surrogate = clipped_surrogate(logprobs, old_logprobs, torch.tensor([advantage]), 0.2, 0.28)
    surrogate.loss.sum().backward()
    assert surrogate.ratio.item() == pytest.approx(ratio)
    if clipped:
        assert logprobs.grad.item() == 0.0
    else:  # d(-rho A)/d logp = -rho A
        assert logprobs.grad.item() == pytest.approx(-ratio * advantage)
    assert bool(surrogate.clipped_low | surrogate.clipped_high) is clipped


def test_clip_fraction_metrics_count_masked_tokens_only():
    old_logprobs = torch.zeros(1, 4)
    logprobs = torch.log(torch.tensor([[1.5, 1.0, 0.5, 1.5]]))
    mask = torch.tensor([[1, 1, 1, 0]])
    _, metrics = grpo_loss(logprobs, old_logprobs, None, torch.tensor([1.0]), mask)
    assert metrics["loss/clip_fraction"] == pytest.approx(1 / 3)
    assert metrics["loss/clip_fraction_high"] == pytest.approx(1 / 3)
    assert metrics["loss/clip_fraction_low"] == 0.0
    assert metrics["loss/ratio_mean"] == pytest.approx(1.0)
    assert metrics["loss/num_tokens"] == 3


# ---------------------------------------------------------------- KL


def test_kl_is_zero_with_zero_gradient_when_the_policy_is_the_reference():
    logprobs = torch.log_softmax(torch.randn(3, 6), -1).requires_grad_()
    kl = kl_k3(logprobs, logprobs.detach().clone())
    kl.sum().backward()
    assert torch.equal(kl, torch.zeros(3, 6))
    assert torch.equal(logprobs.grad, torch.zeros(3, 6))


def test_kl_term_in_the_loss_vanishes_at_the_reference():
    logprobs = torch.log_softmax(torch.randn(2, 5), -1).requires_grad_()
    loss, metrics = grpo_loss(
        logprobs, None, logprobs.detach(), torch.zeros(2), torch.ones(2, 5), beta=0.04
    )
    loss.backward()
    assert loss.item() == 0.0 and metrics["loss/kl"] == 0.0
    assert torch.equal(logprobs.grad, torch.zeros(2, 5))


def test_kl_hand_computed_and_added_with_beta():
    logprobs, ref_logprobs = torch.tensor([[-1.0, -2.0]]), torch.tensor([[-2.0, -1.0]])
    expected = [math.exp(-1) + 1 - 1, math.exp(1) - 1 - 1]
    torch.testing.assert_close(kl_k3(logprobs, ref_logprobs), torch.tensor([expected]))
    loss, metrics = grpo_loss(
        logprobs, None, ref_logprobs, torch.zeros(1), torch.ones(1, 2), beta=0.5, loss_type="bnpo"
    )
    assert metrics["loss/kl"] == pytest.approx(sum(expected) / 2)
    assert loss.item() == pytest.approx(0.5 * sum(expected) / 2)


logprob_lists = st.lists(
    st.floats(min_value=-30, max_value=0, allow_nan=False), min_size=1, max_size=16
)


@settings(max_examples=200, deadline=None)
@given(logprob_lists, logprob_lists, st.sampled_from([torch.float32, torch.float64]))
def test_kl_is_never_negative(a, b, dtype):
    n = min(len(a), len(b))
    logprobs, ref_logprobs = torch.tensor(a[:n], dtype=dtype), torch.tensor(b[:n], dtype=dtype)
    kl = kl_k3(logprobs, ref_logprobs)
    assert torch.isfinite(kl).all() and (kl >= 0).all()
    delta = (ref_logprobs - logprobs).double()
    torch.testing.assert_close(kl.double(), delta.exp() - delta - 1, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- aggregation


def reference_loss(**kwargs):
    """The loss of REFERENCE.md's example: rewards [1, 0, 0, 0], lengths 10..40, ratio 1."""
    logprobs = torch.randn(4, 40, generator=torch.Generator().manual_seed(0))
    advantages = group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), group_size=4)
    loss, _ = grpo_loss(logprobs, None, None, advantages, length_mask(LENGTHS), **kwargs)
    return loss.item()


def test_loss_matches_the_reference_numbers():
    assert reference_loss(loss_type="dapo") == pytest.approx(0.29994, abs=1e-5)
    assert reference_loss(loss_type="bnpo") == pytest.approx(0.29994, abs=1e-5)
    assert abs(reference_loss(loss_type="grpo")) < 1e-6
    dr_grpo = reference_loss(loss_type="dr_grpo", max_completion_length=64)
    assert dr_grpo == pytest.approx(0.11716, abs=1e-5)
    # dapo over a step of 200 tokens halves this micro-batch's share
    half = reference_loss(loss_type="dapo", num_items_in_batch=200)
    assert half == pytest.approx(0.29994 / 2, abs=1e-5)


def test_non_dapo_losses_divide_by_the_accumulation_steps():
    per_token_loss, mask = torch.ones(2, 3), torch.ones(2, 3)
    for loss_type in ("grpo", "bnpo", "dr_grpo"):
        loss = aggregate_loss(per_token_loss, mask, loss_type, 3, num_accumulation_steps=4)
        assert loss.item() == pytest.approx(0.25), loss_type
    dapo = aggregate_loss(per_token_loss, mask, "dapo", num_items_in_batch=12)
    assert dapo.item() == pytest.approx(0.5)


def test_aggregate_loss_rejects_misuse():
    with pytest.raises(ValueError, match="max_completion_length"):
        aggregate_loss(torch.ones(1, 2), torch.ones(1, 2), "dr_grpo")
    with pytest.raises(ValueError, match="loss_type"):
        aggregate_loss(torch.ones(1, 2), torch.ones(1, 2), "mean")
    with pytest.raises(ValueError, match="ref_logprobs"):
        grpo_loss(torch.zeros(1, 2), None, None, torch.ones(1), torch.ones(1, 2), beta=0.1)


# ---------------------------------------------------------------- gradient accumulation


class TinyPolicy(torch.nn.Module):
    """A linear model from fixed per-position features to logits over a small vocabulary."""

    def __init__(self, generator):
        super().__init__()
        self.features = torch.randn(4, 6, 5, generator=generator)  # (B, T, D): a row a completion
        self.head = torch.nn.Linear(5, 11)
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(11, 5, generator=generator))
            self.head.bias.copy_(torch.randn(11, generator=generator))

    def logprobs(self, rows, tokens):
        logits = self.head(self.features[rows])  # (b, T, V)
        return torch.log_softmax(logits, -1).gather(-1, tokens[rows].unsqueeze(-1)).squeeze(-1)


def accumulated_gradient(loss_type, micro_batches, count_step_tokens=True):
    generator = torch.Generator().manual_seed(0)
    policy = TinyPolicy(generator)
    tokens = torch.randint(11, (4, 6), generator=generator)
    mask = length_mask((1, 3, 4, 6), width=6)
    with torch.no_grad():  # old and reference policies: a perturbed copy, so rho != 1 and KL > 0
        logprobs = policy.logprobs(slice(None), tokens)
        old_logprobs = logprobs + 0.1 * torch.randn(4, 6, generator=generator)
        ref_logprobs = logprobs - 0.2 * torch.randn(4, 6, generator=generator)
    advantages = torch.tensor([1.0, -0.5, 0.25, -0.75])
    step_tokens = mask.sum() if count_step_tokens else None  # tokens of the whole optimizer step
    for rows in micro_batches:
        loss, _ = grpo_loss(
            policy.logprobs(rows, tokens),
            old_logprobs[rows],
            ref_logprobs[rows],
            advantages[rows],
            mask[rows],
            beta=0.04,
            loss_type=loss_type,
            max_completion_length=6,
            num_items_in_batch=step_tokens,
            num_accumulation_steps=len(micro_batches),
        )
        loss.backward()
    return torch.cat([policy.head.weight.grad.flatten(), policy.head.bias.grad])


ONE_BY_FOUR = [slice(0, 4)]
FOUR_BY_ONE = [slice(i, i + 1) for i in range(4)]


@pytest.mark.parametrize("loss_type", ["dapo", "grpo", "dr_grpo"])
def test_accumulating_four_micro_batches_of_one_equals_one_batch_of_four(loss_type):
    whole = accumulated_gradient(loss_type, ONE_BY_FOUR)
    torch.testing.assert_close(accumulated_gradient(loss_type, FOUR_BY_ONE), whole)
    assert whole.abs().sum() > 0


def test_bnpo_does_not_survive_accumulation_with_unequal_lengths():
    whole = accumulated_gradient("bnpo", ONE_BY_FOUR)
    assert not torch.allclose(accumulated_gradient("bnpo", FOUR_BY_ONE), whole)


def test_dapo_needs_the_token_count_of_the_whole_step():
    whole = accumulated_gradient("dapo", ONE_BY_FOUR, count_step_tokens=False)
    local = accumulated_gradient("dapo", FOUR_BY_ONE, count_step_tokens=False)
    assert not torch.allclose(local, whole)


# ---------------------------------------------------------------- metrics and guard


def test_metrics_are_namespaced_floats():
    loss, metrics = grpo_loss(
        torch.zeros(2, 3), None, None, torch.tensor([1.0, -1.0]), torch.ones(2, 3)
    )
    assert set(metrics) == {
        "loss/total",
        "loss/policy",
        "loss/kl",
        "loss/ratio_mean",
        "loss/clip_fraction",
        "loss/clip_fraction_low",
        "loss/clip_fraction_high",
        "loss/num_tokens",
    }
    assert all(isinstance(value, float) for value in metrics.values())
    assert metrics["loss/total"] == loss.item() == 0.0
    assert metrics["loss/ratio_mean"] == 1.0


def test_check_finite_passes_finite_losses():
    check_finite(torch.tensor(0.5), advantages=torch.ones(3))


def test_check_finite_raises_with_the_batch_stats():
    advantages = torch.tensor([1.0, float("nan"), -1.0])
    with pytest.raises(NonFiniteLossError) as error:
        check_finite(torch.tensor(float("nan")), advantages=advantages, step=7)
    message = str(error.value)
    assert "non-finite loss nan" in message
    assert "advantages=<tensor(3,) non-finite=1 min=-1 max=1 mean=0>" in message
    assert "step=7" in message


def test_grpo_loss_raises_on_a_non_finite_logprob_under_the_mask():
    logprobs = torch.tensor([[-1.0, float("nan"), -1.0]])
    with pytest.raises(NonFiniteLossError, match="logprobs=<tensor\\(1, 3\\) non-finite=1"):
        grpo_loss(logprobs, None, None, torch.tensor([1.0]), torch.ones(1, 3))
    # the same value under a zero of the mask never enters
    loss, _ = grpo_loss(logprobs, None, None, torch.tensor([1.0]), torch.tensor([[1, 0, 1]]))
    assert math.isfinite(loss.item())
