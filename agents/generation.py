"""Batched sampling from a causal LM with a KV cache, per-row seeds and the sampled logprobs.

Written out instead of ``model.generate`` for three reasons: every row draws from its own seeded
stream (so a row's sample does not depend on the other rows of the batch, nor on global RNG
state), the logprob of each sampled token is ``log_softmax(logits / temperature)`` exactly as the
trainer recomputes it (``agents.logprobs``), and nothing but the last position's logits is kept.

A row's random stream is a vector of uniforms from ``numpy.random.default_rng(seed)``; step t
picks the token where the cumulative (top-p filtered) probability first exceeds
``u[t] * total`` (inverse-CDF sampling), so the same seed gives the same tokens on CPU and GPU
up to floating-point ties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from agents.logprobs import position_ids, scaled_logprobs
from agents.policy import SamplingParams

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Generation:
    """One row's completion: token ids, their logprobs, and why it stopped."""

    completion_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish_reason: str  # "stop" (end-of-turn token or stop string) or "length"


def left_pad(
    prompts: Sequence[Sequence[int]], pad_id: int, device: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of prompts padded on the left to the longest."""
    import torch

    width = max(len(prompt) for prompt in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)  # (B, T)
    for row, prompt in enumerate(prompts):
        if prompt:
            ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
    return ids.to(device), mask.to(device)


def row_uniforms(seeds: Sequence[int | Sequence[int] | None], steps: int) -> torch.Tensor:
    """Each row's uniforms in [0, 1), ``(B, steps)``, from its own seed (None: OS entropy)."""
    import torch

    rows = [np.random.default_rng(seed).random(steps) for seed in seeds]
    return torch.from_numpy(np.stack(rows))


def pick_tokens(
    logits: torch.Tensor, uniforms: torch.Tensor, sampling: SamplingParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next token of every row (greedy at temperature 0) and its logprob, both ``(B,)``."""
    import torch

    if sampling.temperature == 0:
        tokens = logits.argmax(-1)
    else:
        probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)  # (B, V)
        order = None
        if sampling.top_p < 1:
            probs, order = probs.sort(dim=-1, descending=True, stable=True)
            probs = probs * ((probs.cumsum(-1) - probs) < sampling.top_p)
        cdf = probs.cumsum(-1)  # (B, V)
        total = cdf[:, -1:]
        # strictly below the total, so the first index whose cdf exceeds it has positive mass
        target = torch.minimum(
            uniforms.to(cdf).unsqueeze(-1) * total, torch.nextafter(total, total * 0)
        )
        tokens = (
            torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp(max=cdf.shape[-1] - 1)
        )
        if order is not None:
            tokens = order.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return tokens, scaled_logprobs(logits, tokens, sampling.temperature)


def generate(
    model: Any,
    prompts: Sequence[Sequence[int]],
    sampling: SamplingParams,
    *,
    seeds: Sequence[int | Sequence[int] | None],
    stop_ids: frozenset[int],
    pad_id: int,
    decode: Any = None,
) -> list[Generation]:
    """Sample one completion per prompt, all rows in one left-padded batch.

    Args:
        model: a causal LM on its device.
        prompts: token ids of each row's prompt.
        sampling: temperature, top_p, max_new_tokens and stop strings (``seed`` is not read
            here: each row has its entry of ``seeds``).
        seeds: one seed (or seed sequence) per row.
        stop_ids: token ids that end a completion (kept as its last token).
        pad_id: the id left padding uses.
        decode: ``ids -> text``, needed only when ``sampling.stop`` has stop strings.
    """
    import torch

    device = next(model.parameters()).device
    ids, mask = left_pad(prompts, pad_id, device)
    positions = position_ids(mask)
    uniforms = row_uniforms(seeds, sampling.max_new_tokens).to(device)  # (B, max_new_tokens)
    rows: list[list[int]] = [[] for _ in prompts]
    logprobs: list[list[float]] = [[] for _ in prompts]
    reasons = ["length"] * len(prompts)
    with torch.inference_mode():
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        for step in range(sampling.max_new_tokens):
            tokens, token_logprobs = pick_tokens(out.logits[:, -1], uniforms[:, step], sampling)
            picked = (tokens.tolist(), token_logprobs.tolist())
            if _record(rows, logprobs, reasons, *picked, stop_ids, sampling.stop, decode):
                break
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
            positions = positions[:, -1:] + 1
            out = model(
                input_ids=tokens.unsqueeze(-1),
                attention_mask=mask,
                position_ids=positions,
                past_key_values=out.past_key_values,
                use_cache=True,
            )
    outputs = zip(rows, logprobs, reasons, strict=True)
    return [Generation(tuple(r), tuple(lp), why) for r, lp, why in outputs]


def _record(
    rows: list[list[int]],
    logprobs: list[list[float]],
    reasons: list[str],
    tokens: list[int],
    token_logprobs: list[float],
    stop_ids: frozenset[int],
    stop: tuple[str, ...],
    decode: Any,
) -> bool:
    """Append this step's token to every unfinished row; True once every row has finished."""
    for row, (token, logprob) in enumerate(zip(tokens, token_logprobs, strict=True)):
        if reasons[row] == "stop":
            continue
        rows[row].append(token)
        logprobs[row].append(logprob)
        if token in stop_ids or (stop and any(s in decode(rows[row]) for s in stop)):
            reasons[row] = "stop"
    return all(reason == "stop" for reason in reasons)
