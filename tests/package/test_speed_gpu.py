"""The GPU benchmarks: refuse clearly without CUDA; their parts agree with each other on the CPU."""

import pytest

torch = pytest.importorskip("torch", reason="needs the train extra")

from benchmarks.speed import gpu, gpu_vllm  # noqa: E402


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


# ---- benchmarks.speed.gpu_vllm: the parts that need no GPU ----------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a CPU machine gets")
def test_vllm_script_without_cuda_says_what_it_needs():
    with pytest.raises(SystemExit, match="needs a CUDA GPU"):
        gpu_vllm.main([])


def test_vllm_script_rejects_an_unknown_part_before_starting(capsys):
    with pytest.raises(SystemExit):
        gpu_vllm.main(["--parts", "generate:tiny,memory:gpu-qwen3-8b"])
    assert "memory:gpu-qwen3-8b" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_bf16(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gpu_vllm.model_dir("tiny", tmp_path_factory.mktemp("models"))
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_model_dir_saves_bf16_weights_with_heads_vllm_takes(tiny_bf16):
    model, _ = tiny_bf16
    assert model.dtype == torch.bfloat16 and model.config.hidden_size == gpu_vllm.TINY_HIDDEN
    assert model.config.head_dim >= 32


def test_trainer_gaps_are_small_for_the_sampler_and_large_after_a_perturbation(tiny_bf16):
    import copy

    from agents.hf import HFPolicy
    from agents.policy import SamplingParams

    model, tokenizer = tiny_bf16
    model = copy.deepcopy(model).float().eval()
    policy = HFPolicy(model, tokenizer, device="cpu", prompt_style="compact")
    rows = policy.act(
        gpu.noarg_observations(4), n=2, sampling=SamplingParams(max_new_tokens=8, seed=0)
    )
    assert gpu_vllm.sample_checks(rows) == {"samples": 8.0, "samples_ok": 1.0}
    same = gpu_vllm.trainer_gaps(model, rows)
    assert same["mean_gap"] < 1e-4
    gpu_vllm.perturb(model, seed=0)
    moved = gpu_vllm.trainer_gaps(model, rows)
    assert moved["mean_gap"] > gpu_vllm.SYNC_CONTRAST * gpu_vllm.SYNC_MEAN_TOL
    rate = gpu_vllm.policy_rate(
        policy, gpu.noarg_observations(4), 2, repeats=1, max_new_tokens=4, device="cpu"
    )
    assert rate > 0


def test_a_failing_part_is_recorded_not_raised(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("the memory part runs for real on a GPU")
    result = gpu_vllm.run_child("memory:gpu-qwen3-0.6b", tmp_path, limit_s=120)
    assert "error" in result and result["seconds"] > 0
