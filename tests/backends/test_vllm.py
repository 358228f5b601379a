"""The vLLM engine backend without vLLM: requests, output parsing, the policy around the engine.

A fake ``vllm`` module stands in for the real one, so ``VllmPolicy`` runs its real code path
(engine arguments, one ``generate`` call, sample assembly, weight loading) on the CPU.
"""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from agents.policy import Observation, Policy, SamplingParams, TokenPolicy
from agents.prompts import build_messages, render_prompt
from agents.vllm import (
    VllmPolicy,
    build_sampling_kwargs,
    import_vllm,
    prompt_token_ids,
    sampled_logprobs,
    samples_from_request_output,
)
from tests.backends.fakes import FakeLLM, completion


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch, tokenizer: Any) -> SimpleNamespace:
    """A ``vllm`` module whose ``LLM`` is :class:`FakeLLM` and ``SamplingParams`` a dict."""

    def make_llm(**kwargs: Any) -> FakeLLM:
        return FakeLLM(tokenizer_object=tokenizer, **kwargs)

    module = SimpleNamespace(LLM=make_llm, SamplingParams=dict)
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")  # restored after the test
    return module


# ---- requests ------------------------------------------------------------------------------------


def test_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError, match=r"crm-gym\[vllm\]"):
        import_vllm()


def test_sampling_kwargs_map_every_field() -> None:
    params = SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=64, seed=5, stop=("\n",))
    assert build_sampling_kwargs(params, n=4, index=1) == {
        "n": 4,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 64,
        "logprobs": 0,
        "seed": 9,
        "stop": ["\n"],
    }


def test_sampling_kwargs_leave_out_unset_seed_and_stop() -> None:
    kwargs = build_sampling_kwargs(SamplingParams(), n=1)
    assert "seed" not in kwargs and "stop" not in kwargs
    with pytest.raises(ValueError, match="n must be >= 1"):
        build_sampling_kwargs(SamplingParams(), n=0)


def test_seeds_never_repeat_across_a_batch() -> None:
    # vLLM gives the k-th sample of a request seed + k
    params = SamplingParams(seed=100)
    n = 3
    seeds = [
        build_sampling_kwargs(params, n, index=i)["seed"] + k for i in range(4) for k in range(n)
    ]
    assert len(set(seeds)) == len(seeds)


def test_prompt_ids_are_the_rendered_chat_template(tokenizer: Any, observations: list) -> None:
    observation = observations[2]
    ids = prompt_token_ids(tokenizer, observation, "compact")
    text = render_prompt(tokenizer, build_messages(observation, "compact"))
    assert tokenizer.decode(ids) == text
    assert text.endswith("<|im_start|>assistant\n")
    assert "Tool result (list_notes)" in text


# ---- outputs -------------------------------------------------------------------------------------


def test_samples_from_request_output_in_index_order() -> None:
    output = SimpleNamespace(
        outputs=[
            completion(1, [7, 8], [-1.0, -2.0]),
            completion(0, [5], [-0.5], finish_reason="length"),
        ]
    )
    samples = samples_from_request_output(output, [1, 2, 3])
    assert [s.text for s in samples] == ["text 0", "text 1"]
    first, second = samples
    assert first.prompt_ids == (1, 2, 3) and first.completion_ids == (5,)
    assert first.logprobs == (-0.5,) and first.finish_reason == "length"
    assert second.completion_ids == (7, 8) and second.logprobs == (-1.0, -2.0)
    assert second.usage == {"prompt_tokens": 3, "completion_tokens": 2}


def test_samples_without_logprobs_or_finish_reason() -> None:
    output = SimpleNamespace(outputs=[completion(0, [4], None, finish_reason=None)])
    (sample,) = samples_from_request_output(output, [])
    assert sample.logprobs is None and sample.finish_reason == "stop"


def test_sampled_logprobs_accepts_plain_floats_and_checks_lengths() -> None:
    assert sampled_logprobs([3, 4], [{3: -0.1}, {4: -0.2, 9: -3.0}]) == (-0.1, -0.2)
    with pytest.raises(ValueError, match="2 logprob positions for 1 tokens"):
        sampled_logprobs([3], [{3: -0.1}, {4: -0.2}])


# ---- the policy ----------------------------------------------------------------------------------


def test_policy_builds_the_engine_with_its_options(fake_vllm: Any) -> None:
    import os

    policy = VllmPolicy("some/model", gpu_memory_utilization=0.3, max_model_len=2048, seed=7)
    assert isinstance(policy, Policy) and isinstance(policy, TokenPolicy)
    kwargs = policy.llm.kwargs
    assert kwargs["model"] == "some/model" and kwargs["gpu_memory_utilization"] == 0.3
    assert kwargs["tensor_parallel_size"] == 1 and kwargs["seed"] == 7
    assert kwargs["max_model_len"] == 2048 and kwargs["logprobs_mode"] == "processed_logprobs"
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0" and policy.in_process


def test_tensor_parallel_engines_run_out_of_process(
    fake_vllm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_ALLOW_INSECURE_SERIALIZATION", "unset")  # restored after the test
    monkeypatch.delenv("VLLM_ALLOW_INSECURE_SERIALIZATION")
    policy = VllmPolicy("m", tensor_parallel_size=2, logprobs_mode=None)
    assert not policy.in_process and "logprobs_mode" not in policy.llm.kwargs
    import os

    assert os.environ["VLLM_ALLOW_INSECURE_SERIALIZATION"] == "1"


@pytest.mark.parametrize("kwargs", [{"gpu_memory_utilization": 0.0}, {"tensor_parallel_size": 0}])
def test_policy_rejects_bad_options(fake_vllm: Any, kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        VllmPolicy("m", **kwargs)


def test_act_is_one_generate_call_for_the_whole_batch(
    fake_vllm: Any, tokenizer: Any, observations: list[Observation]
) -> None:
    policy = VllmPolicy("m", prompt_style="compact")
    groups = policy.act(observations, n=2, sampling=SamplingParams(seed=3, max_new_tokens=8))
    (call,) = policy.llm.calls
    prompts, params = call
    assert [p["prompt_token_ids"] for p in prompts] == [
        prompt_token_ids(tokenizer, obs, "compact") for obs in observations
    ]
    assert [p["seed"] for p in params] == [3, 5, 7] and all(p["max_tokens"] == 8 for p in params)
    assert [len(group) for group in groups] == [2, 2, 2]
    for p, group in enumerate(groups):
        assert [s.completion_ids for s in group] == [(10 * p, 3), (10 * p + 1, 3)]
        assert all(s.prompt_ids == tuple(prompts[p]["prompt_token_ids"]) for s in group)
        assert all(s.logprobs == (-0.5, -0.25) for s in group)
    assert policy.act([], n=2) == []


def test_sync_weights_maps_names_and_loads_once(fake_vllm: Any) -> None:
    torch = pytest.importorskip("torch")
    policy = VllmPolicy("m")
    embedding = torch.ones(4, 2)
    state = {
        "module.model.embed_tokens.weight": embedding,
        "module.lm_head.weight": embedding,  # tied: the same tensor
        "module.model.norm.weight": torch.ones(2),
    }
    assert policy.sync_weights(state) == 2
    (loaded,) = policy.llm.loaded
    assert [name for name, _ in loaded] == ["model.embed_tokens.weight", "model.norm.weight"]
    assert policy.llm.resets == 1
    assert math.isclose(float(loaded[0][1].sum()), 8.0)


def test_kept_prompt_ids_are_used_as_they_are(fake_vllm: Any) -> None:
    policy = VllmPolicy("m", max_prompt_tokens=3)
    kept = Observation("ignored", {"messages": []}, prompt_ids=(5, 6, 7, 8))
    ((sample,),) = policy.act([kept])
    ((request,), _) = policy.llm.calls[0]
    assert request["prompt_token_ids"] == [6, 7, 8] and sample.prompt_ids == (6, 7, 8)


def test_continuations_match_the_hf_backend(fake_vllm: Any, tiny_path: Any, tokenizer: Any) -> None:
    from agents.hf import HFPolicy

    policy, reference = VllmPolicy("m"), HFPolicy(tiny_path, prompt_style="compact")
    assert policy.stop_ids == reference.stop_ids
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    body = tokenizer('{"name": "list_notes", "arguments": {}}', add_special_tokens=False)
    messages = [{"role": "tool", "content": "Tool result (list_notes): {}", "name": "list_notes"}]
    for completion_ids in (body["input_ids"] + [end], body["input_ids"]):  # closed, cut off
        expected = reference.encode_continuation(completion_ids, messages)
        assert policy.encode_continuation(completion_ids, messages) == expected
    closed = policy.encode_continuation(body["input_ids"] + [end], messages)
    assert tokenizer.decode(closed).startswith("\n<|im_start|>tool")
