"""litellm backend for API models: OpenAI, Anthropic, or any OpenAI-compatible server.

litellm is an optional extra (``pip install "crm-gym[api]"``), imported when an
:class:`ApiPolicy` is built. Each observation becomes chat messages (:mod:`agents.prompts`); with
function calling on, the CRM tools go in the request's ``tools`` and the model's ``tool_calls``
come back as our text action (:func:`crm_gym.actions.format_tool_call`), so the env reads API
models and local models alike. Requests run on a thread pool of ``max_concurrency`` workers (one
request per sample: not every provider has ``n``), retry with exponential backoff on rate limits,
timeouts and server errors, and count tokens and cost. API models give no logprobs.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

from agents.policy import Observation, Sample, SamplingParams
from agents.prompts import PromptStyle, build_messages
from crm_gym.actions import format_tool_call
from crm_gym.crm.tools import tool_schemas

API_EXTRA = 'pip install "crm-gym[api]"'
RETRYABLE_ERRORS = (
    "RateLimitError",
    "APIConnectionError",  # Timeout is a subclass
    "Timeout",
    "ServiceUnavailableError",
    "InternalServerError",
    "BadGatewayError",
)
"""litellm exceptions worth a retry: the request was fine, the service was not."""
CONTEXT_WINDOW_EXCEEDED = "context_window_exceeded"
"""``finish_reason`` of a sample whose prompt no longer fits the model: an empty answer."""


def import_litellm() -> ModuleType:
    """Import litellm offline (its local cost map) or raise an error naming the extra."""
    # litellm fetches its model cost map from the network at import unless told otherwise
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError as exc:
        raise ImportError(f"the API backend needs litellm: {API_EXTRA}") from exc
    return litellm


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number ``attempt + 1``: ``base * 2**attempt``, at most ``cap``.

    Example:
        >>> [backoff_delay(attempt, 1.0, 5.0) for attempt in range(4)]
        [1.0, 2.0, 4.0, 5.0]
    """
    return min(cap, base * 2.0**attempt)


# ---- requests ------------------------------------------------------------------------------------
def api_messages(
    observation: Observation, style: PromptStyle, function_calling: bool
) -> list[dict]:
    """The prompt as chat APIs accept it (``build_messages``, through the one ``to_chat``).

    With function calling each tool call is a ``tool_calls`` entry answered by a ``tool``
    message (without the tool's ``name``, which the APIs' tool messages do not take); without,
    tool results are user messages.
    """
    messages = build_messages(
        observation, style, tool_role=function_calling, openai_tools=function_calling
    )
    return [{key: value for key, value in m.items() if key != "name"} for m in messages]


def build_request(
    model: str,
    messages: list[dict],
    sampling: SamplingParams,
    *,
    tools: list[dict] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments of one ``litellm.completion`` call (one sample)."""
    request: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": sampling.temperature,
        "max_tokens": sampling.max_new_tokens,
    }
    if sampling.top_p < 1:
        request["top_p"] = sampling.top_p
    if sampling.stop:
        request["stop"] = list(sampling.stop)
    if seed is not None:
        request["seed"] = seed
    if tools:
        request["tools"] = tools
    return request


# ---- responses -----------------------------------------------------------------------------------
def action_text(message: Mapping[str, Any]) -> str:
    """The text action of an assistant message: its first tool call, else its content.

    Arguments that are not valid JSON stay a string, so the env answers with an action error.

    Example:
        >>> call = {"function": {"name": "quote_details", "arguments": '{"quote_id": "q1"}'}}
        >>> action_text({"content": None, "tool_calls": [call]})
        '{"name": "quote_details", "arguments": {"quote_id": "q1"}}'
    """
    calls = message.get("tool_calls") or []
    if not calls:
        return message.get("content") or ""
    function = calls[0].get("function") or {}
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            pass  # the model's text goes to the env as it is; the env reports the error
    return format_tool_call(function.get("name") or "", arguments)


def response_usage(response: Mapping[str, Any]) -> dict[str, int]:
    """Prompt, completion and total tokens of one response (0 where the provider gave none)."""
    usage = response.get("usage") or {}
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {key: int(usage.get(key) or 0) for key in keys}


def _as_dict(value: Any) -> dict[str, Any]:
    return value.model_dump() if hasattr(value, "model_dump") else dict(value)


# ---- the policy ----------------------------------------------------------------------------------
class ApiPolicy:
    """A :class:`~agents.policy.Policy` over chat-completion APIs through litellm.

    Args:
        model: A litellm model name: ``"gpt-4o-mini"``, ``"anthropic/claude-3-5-haiku-latest"``,
            ``"hosted_vllm/Qwen/Qwen3-4B"`` (with ``api_base``), ...
        sampling: Default sampling when ``act`` gets none.
        max_concurrency: Requests in flight at once.
        max_retries: Retries of one request after a retryable error.
        backoff: First retry delay in seconds; doubles each retry, up to ``max_backoff``.
        max_backoff: Longest retry delay in seconds.
        use_function_calling: Send the tools as function schemas and read ``tool_calls``;
            off, the model writes actions as text (the system prompt teaches the format).
        prompt_style: ``build_messages`` style; ``None`` picks ``"compact"`` with function
            calling (the schemas carry the tools) and ``"full"`` without.
        drop_params: Let litellm drop parameters a provider lacks (``seed``, ``top_p``).
        completion_kwargs: More ``litellm.completion`` arguments (``api_base``, ``api_key``,
            ``timeout``, ...).
        completion_fn: The completion function (tests inject fakes); ``litellm.completion``.
        sleep: The sleep used between retries (tests inject fakes).
    """

    def __init__(
        self,
        model: str,
        *,
        sampling: SamplingParams | None = None,
        max_concurrency: int = 8,
        max_retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        use_function_calling: bool = True,
        prompt_style: PromptStyle | None = None,
        drop_params: bool = True,
        completion_kwargs: Mapping[str, Any] | None = None,
        completion_fn: Callable[..., Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.litellm = import_litellm()
        self.model = model
        self.sampling = sampling or SamplingParams()
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.use_function_calling = use_function_calling
        default_style: PromptStyle = "compact" if use_function_calling else "full"
        self.prompt_style = prompt_style or default_style
        self.tools = tool_schemas() if use_function_calling else None
        self.extra = {"drop_params": drop_params, **(completion_kwargs or {})}
        if self.tools and importlib.util.find_spec("mcp") is None:
            # litellm >= 1.80 imports its MCP handler (package `mcp`, not a litellm dependency)
            # whenever `tools` are passed; this flag skips it. We never send MCP tools.
            self.extra["_skip_mcp_handler"] = True
        self.completion_fn = completion_fn or self.litellm.completion
        self.sleep = sleep
        self.retryable = tuple(getattr(self.litellm, name) for name in RETRYABLE_ERRORS)
        self.usage_totals = dict.fromkeys(("prompt_tokens", "completion_tokens", "total_tokens"), 0)
        self.usage_totals.update(cost_usd=0.0, requests=0, retries=0)
        self._lock = threading.Lock()

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """Sample ``n`` completions for each observation, ``max_concurrency`` requests at once."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not observations:
            return []
        sampling = sampling or self.sampling
        requests = []
        for index, observation in enumerate(observations):
            messages = api_messages(observation, self.prompt_style, self.use_function_calling)
            for k in range(n):
                seed = _request_seed(sampling, index, n, k)
                requests.append(
                    build_request(self.model, messages, sampling, tools=self.tools, seed=seed)
                )
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests))) as pool:
            samples = list(pool.map(self._sample, requests))
        return [samples[index * n : (index + 1) * n] for index in range(len(observations))]

    def _sample(self, request: dict[str, Any]) -> Sample:
        start = time.perf_counter()
        try:
            response, retries = self._complete(request)
        except self.litellm.ContextWindowExceededError:
            return Sample(text="", finish_reason=CONTEXT_WINDOW_EXCEEDED)
        as_dict = _as_dict(response)
        choice = as_dict["choices"][0]
        usage: dict[str, Any] = response_usage(as_dict)
        usage.update(cost_usd=self._cost(response), retries=retries)
        usage["latency_s"] = time.perf_counter() - start
        self._count(usage)
        text = action_text(_as_dict(choice["message"]))
        return Sample(text=text, finish_reason=choice.get("finish_reason") or "stop", usage=usage)

    def _complete(self, request: dict[str, Any]) -> tuple[Any, int]:
        """One completion with retries; returns the response and the retries it took."""
        for attempt in range(self.max_retries + 1):
            try:  # a fresh copy per call: requests share messages and tools, providers mutate
                return self.completion_fn(**copy.deepcopy(request), **self.extra), attempt
            except self.retryable:
                if attempt == self.max_retries:
                    raise
                with self._lock:
                    self.usage_totals["retries"] += 1
                self.sleep(backoff_delay(attempt, self.backoff, self.max_backoff))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _cost(self, response: Any) -> float:
        """USD cost from litellm's price table; 0 for models it does not know (local servers)."""
        try:
            return float(self.litellm.completion_cost(completion_response=response))
        except self.litellm.ModelNotMappedError:
            return 0.0

    def _count(self, usage: Mapping[str, Any]) -> None:
        with self._lock:
            self.usage_totals["requests"] += 1
            self.usage_totals["cost_usd"] += usage["cost_usd"]
            for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                self.usage_totals[key] += usage[key]


def _request_seed(sampling: SamplingParams, index: int, n: int, k: int) -> int | None:
    """Sample ``k`` of observation ``index``: its own row seed, else counted from ``seed``."""
    if sampling.row_seeds is not None:
        return sampling.row_seeds[index] + k
    if sampling.seed is None:
        return None
    return sampling.seed + (sampling.first_row + index) * n + k
