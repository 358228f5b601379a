"""The litellm backend, offline: litellm's ``mock_response`` / ``mock_tool_calls`` and fakes.

No request leaves the machine: litellm answers mocked calls itself, and the retry and
concurrency tests inject a fake completion function.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from typing import Any

import gymnasium
import pytest

from agents.api import (
    CONTEXT_WINDOW_EXCEEDED,
    ApiPolicy,
    action_text,
    api_messages,
    build_request,
    import_litellm,
)
from agents.policy import Observation, Policy, SamplingParams
from agents.prompts import system_prompt
from crm_gym.actions import ActionError, ToolCall, format_tool_call, parse_action
from crm_gym.crm.tools import tool_schemas
from crm_gym.envs.wrappers.chat import to_chat

if importlib.util.find_spec("litellm") is None:
    pytest.skip('litellm not installed: pip install "crm-gym[api]"', allow_module_level=True)
litellm = import_litellm()

LIST_NOTES = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "list_notes", "arguments": "{}"},
}


def mocked(text: str = "", **kwargs: Any) -> dict[str, Any]:
    """``completion_kwargs`` that make litellm answer ``text`` itself, offline."""
    return {"mock_response": text, **kwargs}


class FakeCompletion:
    """Fails with ``errors`` in turn, then answers through litellm's mock; records every call."""

    def __init__(self, errors: list[Exception] | None = None, delay: float = 0.0):
        self.errors = list(errors or [])
        self.delay = delay
        self.calls: list[dict[str, Any]] = []
        self.active = self.max_active = 0
        self.lock = threading.Lock()

    def __call__(self, **kwargs: Any) -> Any:
        with self.lock:
            self.calls.append(kwargs)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            error = self.errors.pop(0) if self.errors else None
        try:
            time.sleep(self.delay)
            if error is not None:
                raise error
            kwargs.setdefault("mock_response", f"seed {kwargs.get('seed')}")
            return litellm.completion(**kwargs)
        finally:
            with self.lock:
                self.active -= 1


def rate_limited() -> Exception:
    return litellm.RateLimitError(message="slow down", llm_provider="openai", model="gpt-4o-mini")


# ---- requests and responses ----------------------------------------------------------------------


def test_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "litellm", None)
    with pytest.raises(ImportError, match=r"crm-gym\[api\]"):
        ApiPolicy("gpt-4o-mini")


def test_build_request_leaves_out_defaults() -> None:
    request = build_request("m", [], SamplingParams(temperature=0.0, max_new_tokens=9))
    assert request == {"model": "m", "messages": [], "temperature": 0.0, "max_tokens": 9}
    full = build_request("m", [], SamplingParams(top_p=0.5, stop=("x",)), tools=[{}], seed=3)
    assert full["top_p"] == 0.5 and full["stop"] == ["x"] and full["seed"] == 3
    assert full["tools"] == [{}]


def test_api_messages_pair_tool_calls_with_results(observations: list[Observation]) -> None:
    transcript = observations[2].info["messages"]  # user, assistant tool call, tool result
    messages = api_messages(observations[2], "compact", function_calling=True)
    assert messages[0] == {"role": "system", "content": system_prompt("compact")}
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "tool"]
    (call,) = messages[2]["tool_calls"]
    assert call["function"] == {"name": "list_notes", "arguments": "{}"}
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": call["id"],
        "content": transcript[2]["content"],
    }
    plain = api_messages(observations[2], "compact", function_calling=False)
    assert [m["role"] for m in plain[1:]] == ["user", "assistant", "user"]
    assert [m["content"] for m in plain[1:]] == [m["content"] for m in transcript]


def test_an_answer_after_a_tool_call_is_a_plain_message() -> None:
    transcript = [
        {"role": "assistant", "content": "Nothing to do."},
        {"role": "tool", "content": "stray result"},
    ]
    assert to_chat(transcript) == [
        {"role": "assistant", "content": "Nothing to do."},
        {"role": "user", "content": "stray result"},
    ]


def test_action_text_of_tool_calls_and_content() -> None:
    assert action_text({"content": "Hello", "tool_calls": None}) == "Hello"
    assert action_text({"content": None}) == ""
    assert action_text({"tool_calls": [LIST_NOTES, LIST_NOTES]}) == format_tool_call(
        "list_notes", {}
    )
    broken = {"function": {"name": "list_notes", "arguments": "{not json"}}
    parsed = parse_action(action_text({"tool_calls": [broken]}))
    assert isinstance(parsed, ActionError) and "not valid JSON" in parsed.message


# ---- litellm's offline mocks ---------------------------------------------------------------------


def test_plain_text_answers_with_tokens_and_cost(observations: list[Observation]) -> None:
    policy = ApiPolicy("gpt-4o-mini", completion_kwargs=mocked("The quote was sent."))
    assert isinstance(policy, Policy)
    groups = policy.act(observations[:2], n=2)
    assert [[s.text for s in group] for group in groups] == [["The quote was sent."] * 2] * 2
    sample = groups[0][0]
    assert (
        sample.logprobs is None and sample.completion_ids == () and sample.finish_reason == "stop"
    )
    assert sample.usage["prompt_tokens"] == 10 and sample.usage["completion_tokens"] == 20
    assert sample.usage["cost_usd"] > 0 and sample.usage["retries"] == 0
    totals = policy.usage_totals
    assert (
        totals["requests"] == 4 and totals["prompt_tokens"] == 40 and totals["total_tokens"] == 120
    )
    costs = sum(s.usage["cost_usd"] for group in groups for s in group)
    assert totals["cost_usd"] == pytest.approx(costs)


def test_a_mocked_tool_call_becomes_an_action_the_env_runs() -> None:
    env = gymnasium.make("ArcCrm-v1")
    observation = Observation(*env.reset(seed=0))
    policy = ApiPolicy("gpt-4o-mini", completion_kwargs=mocked(mock_tool_calls=[LIST_NOTES]))
    ((sample,),) = policy.act([observation])
    assert sample.text == format_tool_call("list_notes", {})
    assert parse_action(sample.text) == ToolCall("list_notes", {})
    _, _, _, _, info = env.step(sample.text)
    assert info["tool_result"]["name"] == "list_notes" and info["tool_result"]["ok"]


def test_unknown_models_cost_nothing() -> None:
    policy = ApiPolicy("openai/my-local-model", completion_kwargs=mocked("ok"))
    ((sample,),) = policy.act([Observation("User: hi")])
    assert sample.text == "ok" and sample.usage["cost_usd"] == 0.0
    assert policy.usage_totals["prompt_tokens"] == 10


def test_requests_carry_the_tools_and_paired_messages(observations: list[Observation]) -> None:
    fake = FakeCompletion()
    policy = ApiPolicy("gpt-4o-mini", completion_fn=fake)
    policy.act([observations[2]], sampling=SamplingParams(seed=8, max_new_tokens=16))
    (call,) = fake.calls
    assert call["tools"] == tool_schemas() and call["drop_params"] is True
    assert call["seed"] == 8 and call["max_tokens"] == 16
    roles = [m["role"] for m in call["messages"]]
    assert roles == ["system", "user", "assistant", "tool"]
    assert "tool_call_id" in call["messages"][3]


def test_without_function_calling_the_prompt_teaches_the_format(observations: list) -> None:
    fake = FakeCompletion()
    policy = ApiPolicy("gpt-4o-mini", completion_fn=fake, use_function_calling=False)
    policy.act([observations[2]])
    (call,) = fake.calls
    assert "tools" not in call and "_skip_mcp_handler" not in call
    assert [m["role"] for m in call["messages"]] == ["system", "user", "assistant", "user"]
    assert '"parameters"' in call["messages"][0]["content"]  # the full style lists schemas


# ---- retries, concurrency ------------------------------------------------------------------------


def test_retries_back_off_exponentially_then_succeed() -> None:
    fake = FakeCompletion(errors=[rate_limited(), litellm.Timeout("slow", "gpt-4o-mini", "openai")])
    sleeps: list[float] = []
    policy = ApiPolicy("gpt-4o-mini", completion_fn=fake, backoff=0.5, sleep=sleeps.append)
    ((sample,),) = policy.act([Observation("User: hi")], sampling=SamplingParams(seed=1))
    assert len(fake.calls) == 3 and sleeps == [0.5, 1.0]
    assert sample.text == "seed 1" and sample.usage["retries"] == 2
    assert policy.usage_totals["retries"] == 2 and policy.usage_totals["requests"] == 1


def test_backoff_is_capped() -> None:
    fake = FakeCompletion(errors=[rate_limited() for _ in range(4)])
    sleeps: list[float] = []
    policy = ApiPolicy(
        "gpt-4o-mini",
        completion_fn=fake,
        max_retries=4,
        backoff=1.0,
        max_backoff=3.0,
        sleep=sleeps.append,
    )
    policy.act([Observation("User: hi")])
    assert sleeps == [1.0, 2.0, 3.0, 3.0]


def test_retries_run_out() -> None:
    errors = [litellm.APIConnectionError(message="down", llm_provider="openai", model="m")] * 3
    fake = FakeCompletion(errors=errors)
    policy = ApiPolicy("gpt-4o-mini", completion_fn=fake, max_retries=2, sleep=lambda _: None)
    with pytest.raises(litellm.APIConnectionError):
        policy.act([Observation("User: hi")])
    assert len(fake.calls) == 3


def test_errors_of_the_request_are_not_retried() -> None:
    error = litellm.AuthenticationError(message="bad key", llm_provider="openai", model="m")
    fake = FakeCompletion(errors=[error])
    policy = ApiPolicy("gpt-4o-mini", completion_fn=fake, sleep=lambda _: None)
    with pytest.raises(litellm.AuthenticationError):
        policy.act([Observation("User: hi")])
    assert len(fake.calls) == 1


def test_a_prompt_past_the_context_window_gives_an_empty_answer() -> None:
    error = litellm.ContextWindowExceededError(message="too long", model="m", llm_provider="openai")
    policy = ApiPolicy("gpt-4o-mini", completion_fn=FakeCompletion(errors=[error]))
    ((sample,),) = policy.act([Observation("User: hi")])
    assert sample.text == "" and sample.finish_reason == CONTEXT_WINDOW_EXCEEDED


def test_concurrency_limit_and_order(observations: list[Observation]) -> None:
    fake = FakeCompletion(delay=0.05)
    policy = ApiPolicy("gpt-4o-mini", completion_fn=fake, max_concurrency=3)
    groups = policy.act(observations, n=4, sampling=SamplingParams(seed=100))
    assert len(fake.calls) == 12 and fake.max_active == 3
    assert [[s.text for s in group] for group in groups] == [
        [f"seed {100 + 4 * i + k}" for k in range(4)] for i in range(3)
    ]


@pytest.mark.parametrize("kwargs", [{"max_concurrency": 0}, {"max_retries": -1}])
def test_bad_options(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        ApiPolicy("gpt-4o-mini", **kwargs)
    with pytest.raises(ValueError, match="n must be >= 1"):
        ApiPolicy("gpt-4o-mini").act([Observation("x")], n=0)
