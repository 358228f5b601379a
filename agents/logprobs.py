"""Per-token log-probabilities of given token ids under a causal LM (shared with the trainer).

The sampler (``agents.generation``) and the trainer compute logprobs the same way: logits of
the step before each token, divided by the sampling temperature, then ``log_softmax``, at the
token (TRL's ``_get_per_token_logps``). Left padding is handled with explicit position ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions ``(B, T)`` that skip left padding: 0 at each row's first real token."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def scaled_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log_softmax(logits / temperature)`` at ``tokens`` (temperature 0 counts as 1: greedy)."""
    import torch

    scale = temperature if temperature > 0 else 1.0
    logits = logits.float() / scale
    picked = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def token_logprobs(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_mask: torch.Tensor,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Logprob of every token given the ones before it, 0 where ``completion_mask`` is 0.

    Args:
        model: a causal LM (``model(input_ids, attention_mask, position_ids).logits``).
        input_ids: ``(B, T)`` token ids, left-padded.
        attention_mask: ``(B, T)``, 1 for real tokens.
        completion_mask: ``(B, T)``, 1 for the tokens whose logprobs are wanted (never the first
            token of a row, which has no context).
        temperature: the sampling temperature the logits are divided by.

    Returns:
        ``(B, T)`` float32 logprobs aligned with ``input_ids``; gradients flow unless the caller
        disables them.
    """
    import torch

    logits = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids(attention_mask),
    ).logits  # (B, T, V)
    logprobs = scaled_logprobs(logits[:, :-1], input_ids[:, 1:], temperature)  # (B, T - 1)
    logprobs = torch.nn.functional.pad(logprobs, (1, 0))  # (B, T): position 0 has no context
    return logprobs * completion_mask.to(logprobs.dtype)
