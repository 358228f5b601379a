"""A client for an OpenAI-compatible completions server (``vllm serve``), with token logprobs.

Generation can then live on other GPUs than training. Prompts are rendered and tokenised here
(the same :func:`agents.vllm.prompt_token_ids` as the in-process engine) and sent as token ids to
the ``/completions`` endpoint, all observations in one request with ``n`` samples each, asking for
``logprobs``. vLLM's extensions ``return_token_ids`` and ``return_tokens_as_token_ids`` bring the
completion token ids back; a server without them still gives text and, when it supports
``logprobs``, the token logprobs.

The HTTP call goes through the ``openai`` package when it is installed (it comes with
``crm-gym[api]``), else through the standard library. Request building and response parsing are
pure functions, tested on recorded responses.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agents._deps import require_train
from agents.policy import Observation, Sample, SamplingParams
from agents.prompts import PromptStyle, supports_tool_role
from agents.vllm import TokenizedPrompts, stop_token_ids

VLLM_EXTENSIONS = {"return_token_ids": True, "return_tokens_as_token_ids": True}
"""Request fields only vLLM understands; other servers may reject them (``vllm_extensions``)."""
_OPENAI_FIELDS = ("model", "prompt", "n", "temperature", "top_p", "max_tokens", "logprobs")
_OPENAI_FIELDS += ("seed", "stop")
_TOKEN_ID_PREFIX = "token_id:"

Transport = Callable[[dict[str, Any]], dict[str, Any]]
"""Posts one completions request body and returns the decoded JSON response."""


# ---- requests and responses ----------------------------------------------------------------------
def build_completion_request(
    model: str,
    prompts: Sequence[Sequence[int]],
    sampling: SamplingParams,
    n: int,
    *,
    vllm_extensions: bool = True,
) -> dict[str, Any]:
    """The JSON body of one ``/completions`` request for token-id prompts, ``n`` samples each.

    The request has one seed: vLLM gives sample ``k`` of every prompt ``seed + k``.

    Example:
        >>> body = build_completion_request("m", [[1, 2]], SamplingParams(seed=3), n=2)
        >>> body["prompt"], body["n"], body["logprobs"], body["seed"]
        ([[1, 2]], 2, 1, 3)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    body: dict[str, Any] = {
        "model": model,
        "prompt": [list(ids) for ids in prompts],
        "n": n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_new_tokens,
        "logprobs": 1,
    }
    if sampling.seed is not None:
        body["seed"] = sampling.seed
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    if vllm_extensions:
        body.update(VLLM_EXTENSIONS)
    return body


def parse_completion_response(
    response: Mapping[str, Any], prompts: Sequence[Sequence[int]], n: int
) -> list[list[Sample]]:
    """Samples per prompt from a ``/completions`` response (choice ``index`` = prompt * n + k)."""
    groups: list[list[Sample]] = [[] for _ in prompts]
    choices = sorted(response.get("choices", []), key=lambda choice: choice["index"])
    for choice in choices:
        prompt = choice["index"] // n
        if prompt >= len(prompts):
            raise ValueError(f"choice index {choice['index']} for {len(prompts)} prompts x {n}")
        groups[prompt].append(sample_from_choice(choice, prompts[prompt]))
    short = [index for index, group in enumerate(groups) if len(group) != n]
    if short:
        raise ValueError(f"expected {n} choices for each prompt; prompts {short} differ")
    return groups


def sample_from_choice(choice: Mapping[str, Any], prompt_ids: Sequence[int]) -> Sample:
    """One sample from one completion choice (token ids and logprobs when the server sent them)."""
    logprobs = choice.get("logprobs") or {}
    token_logprobs = logprobs.get("token_logprobs")
    completion_ids = choice.get("token_ids") or _ids_from_tokens(logprobs.get("tokens") or [])
    usage = {"prompt_tokens": len(prompt_ids), "completion_tokens": len(completion_ids)}
    if not completion_ids and token_logprobs:
        usage["completion_tokens"] = len(token_logprobs)
    return Sample(
        text=choice.get("text") or "",
        prompt_ids=tuple(choice.get("prompt_token_ids") or prompt_ids),
        completion_ids=tuple(int(token) for token in completion_ids),
        logprobs=tuple(float(value) for value in token_logprobs) if token_logprobs else None,
        finish_reason=choice.get("finish_reason") or "stop",
        usage=usage,
    )


def _ids_from_tokens(tokens: Sequence[str]) -> list[int]:
    """Token ids from ``"token_id:123"`` strings (``return_tokens_as_token_ids``), else ``[]``."""
    if not tokens or not all(token.startswith(_TOKEN_ID_PREFIX) for token in tokens):
        return []
    return [int(token[len(_TOKEN_ID_PREFIX) :]) for token in tokens]


# ---- transports ----------------------------------------------------------------------------------
def openai_transport(base_url: str, api_key: str, timeout: float) -> Transport:
    """Post through the ``openai`` client (with its retries); vLLM fields go in ``extra_body``."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout)

    def post(body: dict[str, Any]) -> dict[str, Any]:
        standard = {key: value for key, value in body.items() if key in _OPENAI_FIELDS}
        extra = {key: value for key, value in body.items() if key not in _OPENAI_FIELDS}
        return client.completions.create(**standard, extra_body=extra or None).model_dump()

    return post


def urllib_transport(base_url: str, api_key: str, timeout: float) -> Transport:
    """Post with the standard library only."""
    url = base_url.rstrip("/") + "/completions"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}

    def post(body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return json.loads(reply.read())

    return post


def default_transport(base_url: str, api_key: str, timeout: float) -> Transport:
    """The ``openai`` client when installed, else the standard library."""
    try:
        import openai  # noqa: F401
    except ImportError:
        return urllib_transport(base_url, api_key, timeout)
    return openai_transport(base_url, api_key, timeout)


# ---- the policy ----------------------------------------------------------------------------------
class VllmServerPolicy(TokenizedPrompts):
    """A :class:`~agents.policy.TokenPolicy` sampling from an OpenAI-compatible completions server.

    Args:
        base_url: The server's API root, e.g. ``http://gpu-host:8000/v1``.
        model: The served model name (as ``vllm serve`` was given it).
        tokenizer: The model's tokenizer (renders and tokenises prompts here); defaults to
            ``AutoTokenizer.from_pretrained(model)``.
        api_key: Sent as a bearer token (``vllm serve`` ignores it unless started with one).
        timeout: Seconds per request.
        prompt_style: ``build_messages`` style.
        max_prompt_tokens: Longer prompts keep their last ``max_prompt_tokens`` tokens.
        vllm_extensions: Ask for token ids with vLLM's request fields.
        transport: Posts a request body and returns the JSON reply; defaults to
            :func:`default_transport`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        tokenizer: Any = None,
        api_key: str = "EMPTY",
        timeout: float = 600.0,
        prompt_style: PromptStyle = "full",
        max_prompt_tokens: int | None = None,
        vllm_extensions: bool = True,
        transport: Transport | None = None,
    ):
        if tokenizer is None:
            require_train()
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = model
        self.tokenizer = tokenizer
        self.prompt_style = prompt_style
        self.max_prompt_tokens = max_prompt_tokens
        self.tool_role = supports_tool_role(tokenizer)
        self.stop_ids = stop_token_ids(tokenizer)
        self.vllm_extensions = vllm_extensions
        self.transport = transport or default_transport(base_url, api_key, timeout)
        self.usage_totals = {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0}

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """Sample ``n`` completions for each observation in one request."""
        if not observations:
            return []
        sampling = sampling or SamplingParams()
        prompts = [self.prompt_ids(observation) for observation in observations]
        body = build_completion_request(
            self.model, prompts, sampling, n, vllm_extensions=self.vllm_extensions
        )
        response = self.transport(body)
        self._count(response.get("usage") or {})
        return parse_completion_response(response, prompts, n)

    def _count(self, usage: Mapping[str, Any]) -> None:
        self.usage_totals["requests"] += 1
        for key in ("prompt_tokens", "completion_tokens"):
            self.usage_totals[key] += int(usage.get(key) or 0)
