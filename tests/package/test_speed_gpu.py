"""The GPU benchmark: refuses clearly without CUDA; its parts agree with each other on the CPU."""

import pytest

torch = pytest.importorskip("torch", reason="needs the train extra")

from benchmarks.speed import gpu  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a CPU machine gets")
def test_without_cuda_it_says_what_it_needs():
    with pytest.raises(SystemExit, match="needs a CUDA GPU"):
        gpu.main([])


def test_row_length_counts_up_to_and_including_the_stop_token():
    assert gpu._row_length([5, 6, 2, 0, 0], frozenset({2})) == 3
    assert gpu._row_length([5, 6, 7], frozenset({2})) == 3


def test_logprob_check_and_generation_rates_on_the_cpu(tmp_path):
    from agents.hf import HFPolicy

    tokenizer, models = gpu.build_models(tmp_path, quick=True)
    observations = gpu.noarg_observations(8)
    policy = HFPolicy(models["tiny"], tokenizer, device="cpu", prompt_style="compact")
    checks = gpu.logprob_check(policy, observations)
    assert checks["max_abs_logprob_diff"] < 1e-4 and checks["same_seed_same_tokens"] == 1.0
    rates = gpu.generation_rates(policy, observations, (2,), repeats=1, max_new_tokens=4)
    assert rates["ours_tokens_per_s_b2"] > 0 and rates["hf_generate_tokens_per_s_b2"] > 0
    assert rates["ours_vs_hf_generate_b2"] == pytest.approx(
        rates["ours_tokens_per_s_b2"] / rates["hf_generate_tokens_per_s_b2"]
    )
