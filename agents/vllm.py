"""vLLM backend: one engine, every observation of a vector env in one ``generate`` call.

vLLM is an optional extra (``pip install "crm-gym[vllm]"``) that needs a CUDA GPU; it is imported
only when a :class:`VllmPolicy` builds its engine. Everything around the engine is a small pure
function, tested without vLLM: prompt token ids (:func:`prompt_token_ids`), sampling arguments
(:func:`build_sampling_kwargs`) and output parsing (:func:`samples_from_request_output`). The
trainer's weights reach the engine through :mod:`agents.vllm_weights`, whose
``load_weights_into_engine`` is the one function that reaches into vLLM internals.

Logprobs: vLLM returns the log-probability of each sampled token. By default (``logprobs_mode``
``"raw_logprobs"``) that is the model's distribution before temperature; this backend asks for
``"processed_logprobs"`` (after temperature, as the GRPO trainer computes them; TRL does the
same), so with ``top_p = 1`` the two differ only by numerics. With ``top_p < 1`` vLLM
renormalises over the nucleus and the trainer does not, so the two differ by design.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from agents.policy import Observation, Sample, SamplingParams
from agents.prompts import (
    PromptStyle,
    build_messages,
    continuation_text,
    render_prompt,
    supports_tool_role,
)
from agents.vllm_weights import engine_weights, load_weights_into_engine
from crm_gym.envs.wrappers.chat import to_chat

VLLM_EXTRA = 'pip install "crm-gym[vllm]"'


def import_vllm() -> ModuleType:
    """Import vLLM, or raise an ``ImportError`` that names the extra to install."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(f"the vLLM backend needs vllm and a CUDA GPU: {VLLM_EXTRA}") from exc
    return vllm


# ---- requests ------------------------------------------------------------------------------------
def prompt_token_ids(
    tokenizer: Any,
    observation: Observation,
    style: PromptStyle = "full",
    tool_role: bool = True,
    max_prompt_tokens: int | None = None,
) -> list[int]:
    """The prompt of one observation as token ids: the kept ones, else the rendered chat.

    ``Observation.prompt_ids`` (kept by ``collect_rollouts`` in multi-turn episodes) is used as
    it is, so earlier turns are never re-tokenised; else the chat template is applied (no extra
    BOS). ``tool_role`` off renders tool results as user messages, for templates without a tool
    role. Prompts longer than ``max_prompt_tokens`` keep their last tokens (as ``HFPolicy``).
    """
    ids = observation.prompt_ids
    if ids is None:
        messages = build_messages(observation, style, tool_role=tool_role)
        ids = tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)["input_ids"]
    if max_prompt_tokens is not None and len(ids) > max_prompt_tokens:
        ids = ids[-max_prompt_tokens:]
    return list(ids)


def stop_token_ids(tokenizer: Any) -> frozenset[int]:
    """End-of-turn ids: the tokenizer's EOS, ChatML's ``<|im_end|>``, the generation config's.

    The generation config is read from where the tokenizer came from (``name_or_path``), as
    vLLM reads it to stop generation.
    """
    from transformers import GenerationConfig

    ids = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    try:
        configured = GenerationConfig.from_pretrained(tokenizer.name_or_path).eos_token_id
    except OSError:  # no generation_config.json: the tokenizer's ids are all there is
        configured = None
    ids.update(configured if isinstance(configured, list) else [configured])
    return frozenset(i for i in ids if isinstance(i, int) and i != tokenizer.unk_token_id)


def continuation_token_ids(
    tokenizer: Any,
    completion_ids: Sequence[int],
    messages: Sequence[dict[str, Any]],
    *,
    stop_ids: frozenset[int],
    tool_role: bool,
) -> list[int]:
    """Token ids after a completion: its close, the env's ``messages``, the next opening.

    vLLM keeps the end-of-turn token in a completion that stopped on it, so the template's own
    close is dropped then (``TokenPolicy.encode_continuation``; the same as ``HFPolicy``).
    """
    closed = bool(completion_ids) and completion_ids[-1] in stop_ids
    end_text = tokenizer.decode([completion_ids[-1]]) if closed else None
    text = continuation_text(
        tokenizer, to_chat(messages, openai_tools=False, tool_role=tool_role), end_text
    )
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def build_sampling_kwargs(params: SamplingParams, n: int, *, index: int = 0) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for ``n`` samples of prompt number ``index``.

    A seeded request gives prompt ``index`` the seed ``params.seed + (first_row + index) * n``
    (``first_row``: ``params.first_row``); vLLM seeds the
    ``n`` samples of one request ``seed + i`` (``vllm/v1/engine/parallel_sampling.py``), so no two
    samples of a batch share a seed. ``logprobs=0`` returns the sampled token's logprob only.

    Example:
        >>> build_sampling_kwargs(SamplingParams(temperature=0.7, seed=10), n=4, index=2)["seed"]
        18
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    kwargs: dict[str, Any] = {
        "n": n,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_new_tokens,
        "logprobs": 0,
    }
    if params.row_seeds is not None:  # each prompt seeded on its own (the harness's episodes)
        kwargs["seed"] = params.row_seeds[index]
    elif params.seed is not None:
        kwargs["seed"] = params.seed + (params.first_row + index) * n
    if params.stop:
        kwargs["stop"] = list(params.stop)
    return kwargs


# ---- outputs -------------------------------------------------------------------------------------
def sampled_logprobs(token_ids: Sequence[int], logprobs: Any) -> tuple[float, ...] | None:
    """The logprob of each sampled token from vLLM's per-position ``{token_id: Logprob}`` dicts."""
    if logprobs is None:
        return None
    if len(logprobs) != len(token_ids):
        raise ValueError(f"{len(logprobs)} logprob positions for {len(token_ids)} tokens")
    values = []
    for token_id, position in zip(token_ids, logprobs, strict=True):
        entry = position[token_id]
        values.append(float(getattr(entry, "logprob", entry)))
    return tuple(values)


def samples_from_request_output(output: Any, prompt_ids: Sequence[int]) -> list[Sample]:
    """The samples of one ``vllm.RequestOutput``, in sample order.

    Duck-typed (tests pass fakes): ``output.outputs[i]`` has ``index``, ``text``, ``token_ids``,
    ``logprobs`` (one ``{token_id: Logprob}`` dict per position, or ``None``) and
    ``finish_reason``.
    """
    completions = sorted(output.outputs, key=lambda completion: getattr(completion, "index", 0))
    samples = []
    for completion in completions:
        token_ids = tuple(int(token) for token in completion.token_ids)
        usage = {"prompt_tokens": len(prompt_ids), "completion_tokens": len(token_ids)}
        samples.append(
            Sample(
                text=completion.text,
                prompt_ids=tuple(prompt_ids),
                completion_ids=token_ids,
                logprobs=sampled_logprobs(token_ids, completion.logprobs),
                finish_reason=completion.finish_reason or "stop",
                usage=usage,
            )
        )
    return samples


# ---- the policy ----------------------------------------------------------------------------------
class TokenizedPrompts:
    """Prompt and continuation token ids for the vLLM policies (in-process and server).

    Needs ``tokenizer``, ``prompt_style``, ``tool_role``, ``max_prompt_tokens`` and ``stop_ids``.
    """

    tokenizer: Any
    prompt_style: PromptStyle
    tool_role: bool
    max_prompt_tokens: int | None
    stop_ids: frozenset[int]

    def prompt_ids(self, observation: Observation) -> list[int]:
        """The prompt's token ids: the kept ones, else the rendered chat (left-truncated)."""
        return prompt_token_ids(
            self.tokenizer, observation, self.prompt_style, self.tool_role, self.max_prompt_tokens
        )

    def encode_continuation(
        self, completion_ids: Sequence[int], messages: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Token ids after a completion: its close, the env's ``messages``, the next opening."""
        return continuation_token_ids(
            self.tokenizer,
            completion_ids,
            messages,
            stop_ids=self.stop_ids,
            tool_role=self.tool_role,
        )


class VllmPolicy(TokenizedPrompts):
    """A :class:`~agents.policy.TokenPolicy` over one in-process vLLM engine.

    Every observation of a vector env goes into one ``generate`` call with ``n`` samples each;
    samples carry the prompt and completion token ids and the sampled tokens' logprobs. After
    each optimizer step, :meth:`sync_weights` loads the trainer's weights into the engine.

    Args:
        model: Hugging Face model name or directory.
        tensor_parallel_size: GPUs the engine shards the model over.
        gpu_memory_utilization: Fraction of GPU memory vLLM may take (weights and KV cache);
            leave room for the trainer when both share a GPU.
        dtype: Engine dtype (``"auto"``, ``"bfloat16"``, ...).
        seed: Engine seed.
        max_model_len: Longest prompt plus completion; ``None`` takes the model's.
        prompt_style: ``build_messages`` style.
        max_prompt_tokens: Longer prompts keep their last ``max_prompt_tokens`` tokens.
        in_process: Run the engine core in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``)
            so weight sync hands tensors over by reference; forced off for tensor parallelism.
        logprobs_mode: vLLM's ``logprobs_mode``; ``None`` leaves vLLM's default (older vLLM).
        engine_kwargs: More ``vllm.LLM`` arguments.
        llm: An engine already built (then the arguments above that build one are unused).
        tokenizer: Tokenizer for the prompts; defaults to the engine's.
    """

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.5,
        dtype: str = "auto",
        seed: int = 0,
        max_model_len: int | None = None,
        prompt_style: PromptStyle = "full",
        max_prompt_tokens: int | None = None,
        in_process: bool = True,
        logprobs_mode: str | None = "processed_logprobs",
        engine_kwargs: Mapping[str, Any] | None = None,
        llm: Any = None,
        tokenizer: Any = None,
    ):
        if not 0 < gpu_memory_utilization <= 1:
            raise ValueError(
                f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}"
            )
        if tensor_parallel_size < 1:
            raise ValueError(f"tensor_parallel_size must be >= 1, got {tensor_parallel_size}")
        self.vllm = import_vllm()
        self.prompt_style = prompt_style
        self.max_prompt_tokens = max_prompt_tokens
        self.in_process = in_process and tensor_parallel_size == 1
        if llm is None:
            options = dict(engine_kwargs or {})
            if max_model_len is not None:
                options["max_model_len"] = max_model_len
            if logprobs_mode is not None:
                options["logprobs_mode"] = logprobs_mode
            if self.in_process:
                os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
            else:  # apply_model pickles the loading function to the worker processes
                os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")
            llm = self.vllm.LLM(
                model=model,
                tensor_parallel_size=tensor_parallel_size,
                gpu_memory_utilization=gpu_memory_utilization,
                dtype=dtype,
                seed=seed,
                **options,
            )
        self.llm = llm
        self.tokenizer = tokenizer if tokenizer is not None else llm.get_tokenizer()
        self.tool_role = supports_tool_role(self.tokenizer)
        self.stop_ids = stop_token_ids(self.tokenizer)

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """Sample ``n`` completions for each observation, all in one ``generate`` call."""
        if not observations:
            return []
        sampling = sampling or SamplingParams()
        prompts = [self.prompt_ids(observation) for observation in observations]
        params = [
            self.vllm.SamplingParams(**build_sampling_kwargs(sampling, n, index=index))
            for index in range(len(prompts))
        ]
        requests = [{"prompt_token_ids": ids} for ids in prompts]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        pairs = zip(outputs, prompts, strict=True)
        return [samples_from_request_output(output, ids) for output, ids in pairs]

    def sync_weights(self, state_dict: Mapping[str, Any]) -> int:
        """Load the trainer's weights (a ``state_dict``) into the engine; returns tensors sent."""
        weights = engine_weights(state_dict)
        load_weights_into_engine(self.llm, weights, packed=not self.in_process)
        return len(weights)
