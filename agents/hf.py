"""A transformers backend: batched sampling on CPU or GPU, with token ids and their logprobs.

``HFPolicy`` renders each observation with ``agents.prompts`` and the model's chat template (or
takes the token ids the caller kept, ``Observation.prompt_ids``), then samples every row of the
batch together (``agents.generation``). ``model`` and ``tokenizer`` are public so the trainer can
score the same tokens with ``agents.logprobs.token_logprobs``.

Seeds: sample ``k`` of observation ``i`` draws from ``numpy.random.default_rng([seed, i, k])``
(``SamplingParams.seed``; without one, fresh entropy; ``i`` counts from
``SamplingParams.first_row``). A row's sample therefore depends on its seed, position and prompt,
not on the other rows: a batch row equals a single call whose row has the same position (row 0 of
a batch equals a single call on that observation).

Example:
    >>> import tempfile
    >>> from agents.policy import Observation, SamplingParams
    >>> from agents.tiny import build_tiny_model
    >>> policy = HFPolicy(build_tiny_model(tempfile.mkdtemp()), prompt_style="compact")
    >>> sampling = SamplingParams(max_new_tokens=4, seed=0)
    >>> [[sample]] = policy.act([Observation("User: hi")], sampling=sampling)
    >>> len(sample.completion_ids) == len(sample.logprobs) <= 4
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from agents._deps import require_train
from agents.generation import Generation, generate
from agents.policy import Observation, Sample, SamplingParams, row_seed
from agents.prompts import (
    PromptStyle,
    build_messages,
    continuation_text,
    render_prompt,
    supports_tool_role,
)
from crm_gym.envs.wrappers.chat import to_chat


class HFPolicy:
    """A Hugging Face causal LM as a ``TokenPolicy``.

    Args:
        model_or_path: a loaded ``PreTrainedModel``, or a directory / hub name to load.
        tokenizer: its tokenizer (loaded from ``model_or_path`` when that is a path).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; None picks CUDA when available.
        prompt_style: ``"full"`` (JSON schemas of the tools) or ``"compact"`` (for tiny models).
        max_prompt_tokens: longer prompts keep their last ``max_prompt_tokens`` tokens.
    """

    def __init__(
        self,
        model_or_path: Any,
        tokenizer: Any = None,
        *,
        device: str | None = None,
        prompt_style: PromptStyle = "full",
        max_prompt_tokens: int | None = None,
    ):
        require_train()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if isinstance(model_or_path, (str, Path)):
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_or_path)
            model_or_path = AutoModelForCausalLM.from_pretrained(model_or_path)
        if tokenizer is None:
            raise ValueError("pass the tokenizer along with a loaded model")
        if max_prompt_tokens is not None and max_prompt_tokens < 1:
            raise ValueError(f"max_prompt_tokens must be >= 1, got {max_prompt_tokens}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model_or_path.to(self.device).eval()
        self.tokenizer = tokenizer
        self.prompt_style = prompt_style
        self.max_prompt_tokens = max_prompt_tokens
        self.stop_ids = _stop_ids(self.model, tokenizer)
        self.pad_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.stop_ids)
        )
        self.tool_role = supports_tool_role(tokenizer)

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """Sample ``n`` completions per observation in one batch."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        sampling = sampling or SamplingParams()
        prompts = [self.prompt_ids(observation) for observation in observations]
        rows = [prompt for prompt in prompts for _ in range(n)]
        seeds = [row_seed(sampling, i, k) for i in range(len(prompts)) for k in range(n)]
        if not rows:
            return []
        generations = generate(
            self.model,
            rows,
            sampling,
            seeds=seeds,
            stop_ids=self.stop_ids,
            pad_id=self.pad_id,
            decode=self._decode,
        )
        samples = [
            self._sample(row, generation, sampling)
            for row, generation in zip(rows, generations, strict=True)
        ]
        return [samples[i * n : (i + 1) * n] for i in range(len(prompts))]

    def prompt_ids(self, observation: Observation) -> tuple[int, ...]:
        """The prompt's token ids: the kept ones, else the rendered chat (left-truncated)."""
        ids = observation.prompt_ids
        if ids is None:
            messages = build_messages(observation, self.prompt_style, tool_role=self.tool_role)
            text = render_prompt(self.tokenizer, messages)
            ids = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        if self.max_prompt_tokens is not None and len(ids) > self.max_prompt_tokens:
            ids = ids[-self.max_prompt_tokens :]
        return tuple(ids)

    def encode_continuation(
        self, completion_ids: Sequence[int], messages: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Token ids after a completion: its close, the env's ``messages``, the next opening."""
        closed = bool(completion_ids) and completion_ids[-1] in self.stop_ids
        end_text = self.tokenizer.decode([completion_ids[-1]]) if closed else None
        chat = to_chat(messages, openai_tools=False, tool_role=self.tool_role)
        text = continuation_text(self.tokenizer, chat, end_text)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def _sample(
        self, prompt: tuple[int, ...], generation: Generation, sampling: SamplingParams
    ) -> Sample:
        text = self._decode(generation.completion_ids)
        for stop in sampling.stop:
            if stop in text:
                text = text[: text.index(stop)]
        usage = {"prompt_tokens": len(prompt), "completion_tokens": len(generation.completion_ids)}
        return Sample(
            text,
            prompt,
            generation.completion_ids,
            generation.logprobs,
            generation.finish_reason,
            usage,
        )


def _stop_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """End-of-turn ids: the tokenizer's eos, ChatML's ``<|im_end|>``, the generation config's."""
    ids = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    ids = {i for i in ids if isinstance(i, int) and i != tokenizer.unk_token_id}
    if not ids:
        raise ValueError("the tokenizer and model define no end-of-sequence token")
    return frozenset(ids)
