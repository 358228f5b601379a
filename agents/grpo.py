"""GRPO's math as small pure functions over torch tensors (REFERENCE.md section 1).

Group-relative advantages (Shao et al. 2024, arXiv 2402.03300, eq. 3 and section 4.1.2), the
clipped token-level surrogate with DAPO's asymmetric clip (Yu et al. 2025, arXiv 2503.14476), the
k3 KL estimator to a frozen reference, and the four loss aggregations of TRL's ``GRPOTrainer``
(``grpo``, ``bnpo``, ``dr_grpo`` of Liu et al. 2025, arXiv 2503.20783, and ``dapo``). Each matches
TRL's ``_generate_and_score_completions`` (advantages) or ``_compute_loss`` (the rest), and the
training loop calls them in order. The shape of tiny-grpo's ``loss.py``.

Shapes: ``B`` completions in the (micro-)batch, ``T`` tokens each (padded). ``mask`` is 1 for the
tokens the policy wrote and 0 for padding and for the tool results and user turns the
environment inserted in a multi-turn trajectory.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from agents.train_args import LossType, RewardScale  # the config's choices, defined torch-free


class NonFiniteLossError(FloatingPointError):
    """The loss is NaN or infinite; the message carries the batch stats."""


# ---------------------------------------------------------------------------------------------
# Advantages
# ---------------------------------------------------------------------------------------------


def group_advantages(
    rewards: torch.Tensor,
    group_size: int,
    scale: RewardScale = "group",
    eps: float = 1e-4,
) -> torch.Tensor:
    """Group-relative advantages ``A_i = (r_i - mean(r_group)) / (std + eps)``.

    The mean is always the group's (DeepSeekMath section 4.1.2). The std is the group's with
    ``scale="group"`` (TRL's default), the whole batch's with ``"batch"``, and there is no division
    with ``"none"`` (Dr. GRPO argues against it). Both stds are unbiased (n - 1), as in TRL; a group
    of equal rewards gets A = 0.

    Args:
        rewards: ``(B * G,)`` with the G completions of a prompt next to each other, or ``(B, G)``.
        group_size: G, at least 2.
        scale: which std divides the centred rewards.
        eps: added to the std (TRL's 1e-4).

    Returns:
        Advantages of the same shape as ``rewards``, float.

    Example:
        >>> group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), group_size=4).round(decimals=4)
        tensor([ 1.4997, -0.4999, -0.4999, -0.4999])
    """
    if group_size < 2:
        raise ValueError(f"group_size must be >= 2 (GRPO compares completions), got {group_size}")
    if rewards.numel() % group_size or (rewards.dim() == 2 and rewards.shape[1] != group_size):
        raise ValueError(f"rewards of shape {tuple(rewards.shape)} are not groups of {group_size}")
    if scale not in ("group", "batch", "none"):
        raise ValueError(f"scale must be 'group', 'batch' or 'none', got {scale!r}")
    grouped = rewards.reshape(-1, group_size)
    grouped = grouped if grouped.is_floating_point() else grouped.float()  # (B, G)
    centred = grouped - grouped.mean(dim=1, keepdim=True)  # (B, G)
    if scale == "group":
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)
    elif scale == "batch":
        centred = centred / (grouped.std() + eps)
    return centred.reshape(rewards.shape)


# ---------------------------------------------------------------------------------------------
# Masked reductions
# ---------------------------------------------------------------------------------------------


def masked_sum(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Sum of ``x`` where ``mask`` is set; values under the mask's zeros never enter (even NaN)."""
    kept = torch.where(mask.bool(), x, torch.zeros((), dtype=x.dtype, device=x.device))
    return kept.sum() if dim is None else kept.sum(dim=dim)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over the mask; 0 for a row with no token (TRL clamps the count to 1)."""
    count = mask.bool().sum() if dim is None else mask.bool().sum(dim=dim)
    return masked_sum(x, mask, dim) / count.clamp(min=1).to(x.dtype)


# ---------------------------------------------------------------------------------------------
# Per-token terms
# ---------------------------------------------------------------------------------------------


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi_theta || pi_ref): ``exp(d) - d - 1`` with ``d = ref - logp``.

    Schulman's k3 estimator (DeepSeekMath eq. 4; TRL's ``per_token_kl``): unbiased, and >= 0 since
    ``exp(d) >= 1 + d``. Written ``expm1(d) - d`` so small ``d`` keeps its precision; the clamp
    only removes rounding below 0. Zero, with zero gradient, where the policy equals the reference.
    """
    delta = ref_logprobs - logprobs  # (B, T)
    return (torch.expm1(delta) - delta).clamp(min=0.0)


class Surrogate(NamedTuple):
    """The clipped surrogate's per-token loss and what the metrics need, all ``(B, T)``."""

    loss: torch.Tensor
    ratio: torch.Tensor
    clipped_low: torch.Tensor
    clipped_high: torch.Tensor


def clipped_surrogate(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
) -> Surrogate:
    """Per-token PPO/GRPO loss ``-min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A)``.

    ``rho = exp(logp - logp_old)`` (DeepSeekMath eq. 3; asymmetric clip from DAPO, section 3.1).
    With one pass per batch ``old_logprobs`` is ``logprobs.detach()``: rho = 1 and the gradient is
    the plain policy gradient. A token is clipped (its gradient is zero) when rho has left the
    range in the direction A pushes it: ``rho < 1 - eps_low`` with A < 0 or ``rho > 1 + eps_high``
    with A > 0 (TRL's ``is_low_clipped`` / ``is_high_clipped``).

    Args:
        logprobs: ``(B, T)`` under the policy being trained (with gradient).
        old_logprobs: ``(B, T)`` under the policy that sampled (no gradient needed).
        advantages: ``(B,)`` one per completion, or ``(B, T)``.
        eps_low: lower clip range.
        eps_high: upper clip range (DAPO's "clip higher" uses 0.28).
    """
    if advantages.dim() == logprobs.dim() - 1:
        advantages = advantages.unsqueeze(-1)  # (B, 1)
    ratio = torch.exp(logprobs - old_logprobs.detach())  # (B, T)
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)  # (B, T)
    loss = -torch.min(ratio * advantages, clipped * advantages)  # (B, T)
    clipped_low = (ratio < 1 - eps_low) & (advantages < 0)  # (B, T)
    clipped_high = (ratio > 1 + eps_high) & (advantages > 0)  # (B, T)
    return Surrogate(loss, ratio, clipped_low, clipped_high)


# ---------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------


def aggregate_loss(
    per_token_loss: torch.Tensor,
    mask: torch.Tensor,
    loss_type: LossType = "dapo",
    max_completion_length: int | None = None,
    num_items_in_batch: float | torch.Tensor | None = None,
    num_accumulation_steps: int = 1,
) -> torch.Tensor:
    """Reduce a ``(B, T)`` per-token loss to one micro-batch's scalar (TRL's ``_compute_loss``).

    - ``grpo``: mean over completions of each one's token mean (DeepSeekMath eq. 3).
    - ``bnpo``: token mean over the micro-batch.
    - ``dr_grpo``: token sum / (B * ``max_completion_length``), a constant: no length bias.
    - ``dapo``: token sum / ``num_items_in_batch``, the number of completion tokens (mask ones) of
      the whole optimizer step, all micro-batches together, so that summing the micro-batches'
      gradients gives the step's token mean: 4 micro-batches of 1 equal 1 batch of 4. TRL counts
      them per generation batch, which is off when that differs from the step (TRL issue #5619).

    The first three are divided by ``num_accumulation_steps``, as TRL does, so in every case the
    gradients of the step's micro-batches are summed (call ``backward`` on each, step once).

    Args:
        per_token_loss: ``(B, T)``.
        mask: ``(B, T)``, 1 for the policy's tokens.
        loss_type: the aggregation.
        max_completion_length: the normaliser of ``dr_grpo`` (required there).
        num_items_in_batch: the step's token count for ``dapo``; when None, this micro-batch's
            (right without accumulation). With data parallelism whose gradients are averaged over
            P processes, pass the global count divided by P, as TRL does.
        num_accumulation_steps: micro-batches per optimizer step.
    """
    if loss_type == "dapo":
        count = mask.bool().sum() if num_items_in_batch is None else num_items_in_batch
        count = torch.as_tensor(count, dtype=per_token_loss.dtype, device=per_token_loss.device)
        return masked_sum(per_token_loss, mask) / count.clamp(min=1)
    if loss_type == "grpo":
        loss = masked_mean(per_token_loss, mask, dim=-1).mean()
    elif loss_type == "bnpo":
        loss = masked_mean(per_token_loss, mask)
    elif loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("loss_type 'dr_grpo' needs max_completion_length")
        loss = masked_sum(per_token_loss, mask) / (per_token_loss.shape[0] * max_completion_length)
    else:
        raise ValueError(f"loss_type must be grpo, bnpo, dr_grpo or dapo, got {loss_type!r}")
    return loss / num_accumulation_steps


# ---------------------------------------------------------------------------------------------
# The loss
# ---------------------------------------------------------------------------------------------


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor | None,
    ref_logprobs: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    beta: float = 0.0,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    loss_type: LossType = "dapo",
    max_completion_length: int | None = None,
    num_items_in_batch: float | torch.Tensor | None = None,
    num_accumulation_steps: int = 1,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The GRPO loss of one micro-batch and its metrics; raises if the loss is not finite.

    Per token: the clipped surrogate plus ``beta`` times the k3 KL to the reference, aggregated by
    ``loss_type`` (see ``aggregate_loss`` for the normalisers and accumulation). Defaults are
    TRL's: beta 0 (no reference model), eps 0.2 both sides, ``dapo``.

    Args:
        logprobs: ``(B, T)`` under the policy being trained.
        old_logprobs: ``(B, T)`` under the sampling policy; None when each batch is used once
            (``num_iterations = 1``), meaning ``logprobs.detach()``.
        ref_logprobs: ``(B, T)`` under the frozen reference; needed when ``beta != 0``.
        advantages: ``(B,)`` from ``group_advantages``, or ``(B, T)``.
        mask: ``(B, T)``, 1 for the policy's tokens. Masked positions must hold finite values
            (``token_logprobs`` writes 0 there).
        beta: KL coefficient.
        eps_low: lower clip range.
        eps_high: upper clip range.
        loss_type: the aggregation.
        max_completion_length: for ``dr_grpo``.
        num_items_in_batch: for ``dapo``: completion tokens in the whole optimizer step.
        num_accumulation_steps: micro-batches per optimizer step.

    Returns:
        The scalar loss to ``backward`` and ``loss/*`` metrics of this micro-batch: ``loss/total``
        (the loss), and token means over its ``loss/num_tokens`` tokens: ``loss/policy`` (the
        surrogate), ``loss/kl``, ``loss/ratio_mean``, ``loss/clip_fraction`` and its ``_low`` and
        ``_high`` parts (TRL logs the KL and clip ratios as token means too).
    """
    if beta != 0 and ref_logprobs is None:
        raise ValueError(f"beta={beta} needs ref_logprobs")
    old_logprobs = logprobs.detach() if old_logprobs is None else old_logprobs
    surrogate = clipped_surrogate(logprobs, old_logprobs, advantages, eps_low, eps_high)
    per_token_loss = surrogate.loss  # (B, T)
    kl = torch.zeros_like(per_token_loss) if ref_logprobs is None else kl_k3(logprobs, ref_logprobs)
    if beta != 0:
        per_token_loss = per_token_loss + beta * kl
    loss = aggregate_loss(
        per_token_loss,
        mask,
        loss_type,
        max_completion_length,
        num_items_in_batch,
        num_accumulation_steps,
    )
    metrics = _metrics(loss, surrogate, kl, mask)
    check_finite(
        loss,
        logprobs=logprobs,
        old_logprobs=old_logprobs,
        ref_logprobs=ref_logprobs,
        advantages=advantages,
        **metrics,
    )
    return loss, metrics


def _metrics(
    loss: torch.Tensor, surrogate: Surrogate, kl: torch.Tensor, mask: torch.Tensor
) -> dict[str, float]:
    """The loss and token means of the surrogate's parts, fetched from the device in one go."""
    clipped = surrogate.clipped_low | surrogate.clipped_high
    values = {
        "loss/total": loss.detach(),
        "loss/policy": masked_mean(surrogate.loss.detach(), mask),
        "loss/kl": masked_mean(kl.detach(), mask),
        "loss/ratio_mean": masked_mean(surrogate.ratio.detach(), mask),
        "loss/clip_fraction": masked_mean(clipped.float(), mask),
        "loss/clip_fraction_low": masked_mean(surrogate.clipped_low.float(), mask),
        "loss/clip_fraction_high": masked_mean(surrogate.clipped_high.float(), mask),
        "loss/num_tokens": mask.bool().sum(),
    }
    stacked = torch.stack([value.float() for value in values.values()]).tolist()
    return dict(zip(values, stacked, strict=True))


# ---------------------------------------------------------------------------------------------
# Guard
# ---------------------------------------------------------------------------------------------


def check_finite(loss: torch.Tensor, **batch_stats: object) -> None:
    """Raise ``NonFiniteLossError`` naming the batch stats when ``loss`` is NaN or infinite.

    Tensors among the stats are summarised (shape, min, max, mean, count of non-finite values)
    rather than printed whole.
    """
    value = float(loss.detach())
    if math.isfinite(value):
        return
    stats = ", ".join(f"{name}={_describe(stat)}" for name, stat in batch_stats.items())
    raise NonFiniteLossError(f"non-finite loss {value}; batch stats: {stats}")


def _describe(stat: object) -> str:
    if not isinstance(stat, torch.Tensor):
        return repr(stat)
    values = stat.detach().float()
    finite = values[torch.isfinite(values)]
    summary = f"tensor{tuple(values.shape)} non-finite={values.numel() - finite.numel()}"
    if finite.numel():
        summary += f" min={finite.min():.4g} max={finite.max():.4g} mean={finite.mean():.4g}"
    return f"<{summary}>"
