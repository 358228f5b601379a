"""Fakes of vLLM's public objects: ``RequestOutput``-like samples and an ``LLM`` that records."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def completion(index: int, token_ids: list[int], logprobs: list[float] | None, **extra: Any):
    positions = None
    if logprobs is not None:  # vLLM: one {token_id: Logprob} dict per position, sampled included
        positions = [
            {
                token: SimpleNamespace(logprob=value, rank=1),
                token + 1: SimpleNamespace(logprob=-9.0),
            }
            for token, value in zip(token_ids, logprobs, strict=True)
        ]
    fields = {"text": f"text {index}", "finish_reason": "stop", **extra}
    return SimpleNamespace(index=index, token_ids=token_ids, logprobs=positions, **fields)


class FakeLLM:
    """Records its arguments and ``generate`` calls; samples token ``10 * prompt + k``."""

    def __init__(self, **kwargs: Any):
        self.kwargs = kwargs
        self.calls: list[tuple[list, list]] = []
        self.loaded: list[list[tuple[str, Any]]] = []
        self.resets = 0

    def get_tokenizer(self) -> Any:
        return self.kwargs["tokenizer_object"]

    def generate(self, prompts: list, params: list, use_tqdm: bool = True) -> list:
        self.calls.append((prompts, params))
        outputs = []
        for p, (prompt, param) in enumerate(zip(prompts, params, strict=True)):
            completions = [
                completion(k, [10 * p + k, 3], [-0.5, -0.25]) for k in reversed(range(param["n"]))
            ]
            outputs.append(
                SimpleNamespace(prompt_token_ids=prompt["prompt_token_ids"], outputs=completions)
            )
        return outputs

    def apply_model(self, func: Any) -> list:
        model = SimpleNamespace(load_weights=lambda weights: self.loaded.append(list(weights)))
        return [func(model)]

    def reset_prefix_cache(self) -> None:
        self.resets += 1
