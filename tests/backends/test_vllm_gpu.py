"""The vLLM engine for real: the tiny model on a CUDA GPU.

Skipped, with the reason, where vLLM or a CUDA GPU is missing (every CPU machine), so no
``-m "not gpu"`` is needed. Checks what only a real engine can: token ids and logprobs that
match the trainer's computation, and weight sync that changes what the engine samples.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from agents.policy import Observation, SamplingParams
from agents.vllm import prompt_token_ids


def skip_reason() -> str | None:
    """Why these tests cannot run here, or ``None``."""
    if importlib.util.find_spec("vllm") is None:
        return 'vllm is not installed (pip install "crm-gym[vllm]"; it needs a CUDA GPU)'
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU visible to torch"
    return None


REASON = skip_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

SAMPLING = SamplingParams(temperature=1.0, max_new_tokens=12, seed=0)
HIDDEN_SIZE = 128
"""Heads of 32: attention kernels may not take the default tiny model's heads of 16."""


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from agents.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_gpu"), seed=0, hidden_size=HIDDEN_SIZE)


@pytest.fixture(scope="module")
def policy(tiny_path: Any) -> Any:
    from agents.vllm import VllmPolicy

    return VllmPolicy(
        str(tiny_path),
        gpu_memory_utilization=0.2,
        dtype="float32",
        max_model_len=8192,
        prompt_style="compact",
        engine_kwargs={"enforce_eager": True},
    )


def trainer_logprobs(model: Any, prompt_ids: tuple, completion_ids: tuple) -> list[float]:
    """The trainer's logprobs of the completion (``agents.logprobs``), on the GPU."""
    import torch

    from agents.logprobs import scaled_logprobs

    ids = torch.tensor([prompt_ids + completion_ids], device="cuda")
    with torch.no_grad():
        logits = model(ids).logits[:, len(prompt_ids) - 1 : -1]  # (1, T)
    tokens = ids[:, len(prompt_ids) :]
    return scaled_logprobs(logits, tokens, SAMPLING.temperature)[0].tolist()


def load(tiny_path: Any, seed: int | None = None) -> Any:
    """The tiny model on the GPU: the saved one, or freshly initialised from ``seed``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.tiny import tiny_model

    if seed is None:
        model = AutoModelForCausalLM.from_pretrained(tiny_path, dtype="float32")
    else:
        model = tiny_model(AutoTokenizer.from_pretrained(tiny_path), seed, hidden_size=HIDDEN_SIZE)
    return model.cuda().eval()


def assert_matches(model: Any, samples: list) -> None:
    for sample in samples:
        assert 0 < len(sample.completion_ids) == len(sample.logprobs)
        expected = trainer_logprobs(model, sample.prompt_ids, sample.completion_ids)
        assert sample.logprobs == pytest.approx(expected, abs=2e-3)


def test_samples_match_the_trainer(policy: Any, tiny_path: Any, observations: list) -> None:
    groups = policy.act(observations, n=2, sampling=SAMPLING)
    assert [len(group) for group in groups] == [2] * len(observations)
    for observation, group in zip(observations, groups, strict=True):
        expected = tuple(prompt_token_ids(policy.tokenizer, observation, "compact"))
        assert all(sample.prompt_ids == expected for sample in group)
    assert_matches(load(tiny_path), [sample for group in groups for sample in group])


def test_sync_weights_loads_the_trainer_weights(
    policy: Any, tiny_path: Any, observations: list
) -> None:
    observation: Observation = observations[0]
    other = load(tiny_path, seed=1)
    try:
        assert policy.sync_weights(other.state_dict()) > 0
        ((sample,),) = policy.act([observation], sampling=SAMPLING)
        assert_matches(other, [sample])
    finally:
        policy.sync_weights(load(tiny_path).state_dict())  # the module's engine, as it was
    ((sample,),) = policy.act([observation], sampling=SAMPLING)
    assert_matches(load(tiny_path), [sample])
