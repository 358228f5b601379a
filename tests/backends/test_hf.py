"""The transformers backend on the tiny model: exact logprobs, seeds, batching, prompts, stops."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers", reason='needs the train extra: pip install "crm-gym[train]"')

import torch  # noqa: E402

from agents.generation import left_pad  # noqa: E402
from agents.logprobs import token_logprobs  # noqa: E402
from agents.policy import Observation, SamplingParams, TokenPolicy  # noqa: E402

OBSERVATIONS = [
    Observation("User: How many clients?"),
    Observation(
        "Tool result (list_clients): []",
        {
            "messages": [
                {"role": "user", "content": "User: List the clients."},
                {"role": "assistant", "content": '{"name": "list_clients", "arguments": {}}'},
                {"role": "tool", "content": "Tool result (list_clients): []"},
            ]
        },
    ),
    Observation("User: Create a client named Caf\u00e9 \u2014 Acme with email a@b.example."),
]


def ids_of(rows):
    return [[sample.completion_ids for sample in row] for row in rows]


def forward_logprobs(policy, samples, temperature):
    """Logprobs of every sample's completion by one separate, left-padded forward pass."""
    sequences = [list(s.prompt_ids) + list(s.completion_ids) for s in samples]
    input_ids, attention_mask = left_pad(sequences, policy.pad_id, "cpu")
    width = input_ids.shape[1]
    completion_mask = torch.zeros_like(attention_mask)
    for row, sample in enumerate(samples):
        completion_mask[row, width - len(sample.completion_ids) :] = 1
    with torch.no_grad():
        logprobs = token_logprobs(
            policy.model, input_ids, attention_mask, completion_mask, temperature
        )
    return [logprobs[row, width - len(s.completion_ids) :] for row, s in enumerate(samples)]


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 0.9), (0.0, 1.0)])
def test_sampled_logprobs_match_a_separate_forward_pass(policy, temperature, top_p):
    sampling = SamplingParams(temperature=temperature, top_p=top_p, max_new_tokens=24, seed=0)
    rows = policy.act(OBSERVATIONS, n=2, sampling=sampling)
    samples = [sample for row in rows for sample in row]
    assert all(len(s.completion_ids) == len(s.logprobs) > 0 for s in samples)
    for sample, expected in zip(
        samples, forward_logprobs(policy, samples, temperature), strict=True
    ):
        assert torch.allclose(torch.tensor(sample.logprobs), expected, atol=1e-4, rtol=0)
        assert all(lp <= 0 for lp in sample.logprobs)


def test_logprobs_are_temperature_scaled(policy):
    [[sample]] = policy.act(
        OBSERVATIONS[:1], sampling=SamplingParams(temperature=0.5, max_new_tokens=8, seed=1)
    )
    [at_half] = forward_logprobs(policy, [sample], 0.5)
    [at_one] = forward_logprobs(policy, [sample], 1.0)
    assert torch.allclose(torch.tensor(sample.logprobs), at_half, atol=1e-4, rtol=0)
    assert not torch.allclose(torch.tensor(sample.logprobs), at_one, atol=1e-3, rtol=0)


def test_same_seed_same_samples_and_other_seeds_differ(policy):
    def run(seed):
        return ids_of(
            policy.act(OBSERVATIONS, n=2, sampling=SamplingParams(max_new_tokens=16, seed=seed))
        )

    first = run(7)
    torch.manual_seed(123)  # global state must not matter
    assert run(7) == first
    assert run(8) != first
    group = first[0]
    assert group[0] != group[1]  # the n samples of one observation differ


def test_sampling_leaves_the_global_torch_rng_alone(policy):
    state = torch.random.get_rng_state()
    policy.act(OBSERVATIONS[:1], sampling=SamplingParams(max_new_tokens=4, seed=None))
    assert torch.equal(state, torch.random.get_rng_state())


def test_greedy_batch_and_single_calls_agree(policy):
    greedy = SamplingParams(temperature=0, max_new_tokens=16)
    batch = policy.act(OBSERVATIONS, sampling=greedy)
    for observation, row in zip(OBSERVATIONS, batch, strict=True):
        [[single]] = policy.act([observation], sampling=greedy)
        assert single.completion_ids == row[0].completion_ids
        assert torch.allclose(
            torch.tensor(single.logprobs), torch.tensor(row[0].logprobs), atol=1e-4
        )


def test_sampled_rows_depend_on_seed_and_position_not_on_the_rest_of_the_batch(policy):
    """Per-row seeds ``[seed, i, k]``: row 0 of a batch equals a single call on its observation."""
    sampling = SamplingParams(max_new_tokens=8, seed=3)
    for first in (1, 2):
        batch = [OBSERVATIONS[first], *OBSERVATIONS]
        [single] = policy.act([OBSERVATIONS[first]], n=2, sampling=sampling)
        assert ids_of([single]) == ids_of(policy.act(batch, n=2, sampling=sampling)[:1])


def test_max_new_tokens_and_finish_reasons(policy):
    rows = policy.act(OBSERVATIONS, n=3, sampling=SamplingParams(max_new_tokens=5, seed=2))
    for sample in (s for row in rows for s in row):
        assert len(sample.completion_ids) <= 5
        closed = sample.completion_ids[-1] in policy.stop_ids
        assert sample.finish_reason == ("stop" if closed else "length")
        assert sample.usage == {
            "prompt_tokens": len(sample.prompt_ids),
            "completion_tokens": len(sample.completion_ids),
        }


def test_stop_strings_end_the_completion_and_are_cut_from_the_text(policy):
    sampling = SamplingParams(max_new_tokens=30, seed=4)
    [[free]] = policy.act(OBSERVATIONS[:1], sampling=sampling)
    stop = policy._decode(free.completion_ids[:6])[-2:]  # a string the sample is known to contain
    [[stopped]] = policy.act(
        OBSERVATIONS[:1], sampling=SamplingParams(max_new_tokens=30, seed=4, stop=(stop,))
    )
    assert stopped.finish_reason == "stop" and stop not in stopped.text
    assert stopped.completion_ids == free.completion_ids[: len(stopped.completion_ids)]
    assert len(stopped.completion_ids) <= 6


def test_kept_prompt_ids_are_used_as_given_and_long_prompts_keep_their_tail(policy, tiny_path):
    from agents.hf import HFPolicy

    rendered = policy.prompt_ids(OBSERVATIONS[0])
    kept = Observation("ignored", prompt_ids=rendered + (5, 6, 7))
    [[sample]] = policy.act([kept], sampling=SamplingParams(max_new_tokens=2, seed=0))
    assert sample.prompt_ids == rendered + (5, 6, 7)
    short = HFPolicy(
        policy.model, policy.tokenizer, device="cpu", prompt_style="compact", max_prompt_tokens=32
    )
    [[sample]] = short.act([OBSERVATIONS[0]], sampling=SamplingParams(max_new_tokens=2, seed=0))
    assert sample.prompt_ids == rendered[-32:]


def test_prompts_render_the_transcript_with_the_chat_template(policy):
    text = policy.tokenizer.decode(list(policy.prompt_ids(OBSERVATIONS[1])))
    assert text.startswith("<|im_start|>system\nCRM agent.")
    assert text.endswith(
        "<|im_start|>tool\nTool result (list_clients): []<|im_end|>\n<|im_start|>assistant\n"
    )


def test_encode_continuation_closes_an_open_completion_only(policy):
    end = policy.tokenizer.convert_tokens_to_ids("<|im_end|>")
    new = [{"role": "user", "content": "User: next"}]
    closed = policy.tokenizer.decode(policy.encode_continuation([9, end], new))
    open_ = policy.tokenizer.decode(policy.encode_continuation([9], new))
    assert closed == "\n<|im_start|>user\nUser: next<|im_end|>\n<|im_start|>assistant\n"
    assert open_ == "<|im_end|>" + closed


def test_is_a_token_policy_with_model_and_tokenizer(policy):
    assert isinstance(policy, TokenPolicy)
    assert policy.model is not None and policy.tokenizer is not None
    assert policy.act([], sampling=SamplingParams(max_new_tokens=2)) == []
    with pytest.raises(ValueError, match="n must be"):
        policy.act(OBSERVATIONS, n=0)


def test_token_logprobs_masks_and_keeps_gradients(policy):
    ids = torch.tensor([[0, 0, 5, 6, 7], [4, 5, 6, 7, 8]])
    attention = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    completion = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 1]])
    logprobs = token_logprobs(policy.model, ids, attention, completion, temperature=1.0)
    assert logprobs.shape == (2, 5) and logprobs.requires_grad
    assert (logprobs[completion == 0] == 0).all() and (logprobs[completion == 1] < 0).all()
    # the left-padded row scores like the same tokens without padding
    alone = token_logprobs(policy.model, ids[:1, 2:], attention[:1, 2:], completion[:1, 2:])
    assert torch.allclose(logprobs[0, 2:], alone[0], atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_samples_have_exact_logprobs_and_follow_the_seed(policy):
    from agents.hf import HFPolicy

    gpu = HFPolicy(policy.model.to("cuda"), policy.tokenizer, device="cuda", prompt_style="compact")
    try:
        sampling = SamplingParams(max_new_tokens=16, seed=0)
        rows = gpu.act(OBSERVATIONS, n=2, sampling=sampling)
        assert ids_of(rows) == ids_of(gpu.act(OBSERVATIONS, n=2, sampling=sampling))
        samples = [sample for row in rows for sample in row]
        cpu_model = policy.model.to("cpu")
        for sample, expected in zip(samples, forward_logprobs(policy, samples, 1.0), strict=True):
            assert torch.allclose(torch.tensor(sample.logprobs), expected, atol=1e-3, rtol=0)
    finally:
        policy.model.to("cpu")
    assert cpu_model is policy.model
