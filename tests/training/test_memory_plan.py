"""The memory plan: exact parameter counts, saved activations as autograd saves them, the CLI.

Peak RSS on the CPU is too noisy for a test; ``python -m benchmarks.memory_plan_check`` compares
it with the plan. Here every measured number is deterministic: parameter counts of models built
from the real configs (on the meta device: no memory), adapter counts from peft, and the bytes
autograd saves in one GRPO forward.
"""

import json
from pathlib import Path

import pytest
import yaml

from agents.memory_plan import (
    KNOWN_SHAPES,
    count_parameters,
    lora_parameters,
    model_shape,
    plan_memory,
)
from agents.presets import PRESETS
from agents.train_args import Args
from crm_gym.errors import ConfigError
from scripts import train_cmd
from scripts.cli import main

torch = pytest.importorskip("torch", reason="needs the train extra")
from benchmarks.memory_plan_check import (  # noqa: E402
    Case,
    _reduced,
    build_model,
    make_batch,
    planned,
    saved_bytes,
)

ROOT = Path(__file__).parents[2]


def _qwen3_config(name: str, **changes):
    from transformers import Qwen3Config

    shape = KNOWN_SHAPES[name]
    fields = {k: v for k, v in vars(shape).items() if k != "dtype"}
    return Qwen3Config(**(fields | changes), dtype=shape.dtype)


@pytest.mark.parametrize("name", sorted(KNOWN_SHAPES))
def test_parameter_count_equals_the_model_built_from_the_config(name):
    from transformers import Qwen3ForCausalLM

    with torch.device("meta"):
        model = Qwen3ForCausalLM(_qwen3_config(name))
    assert count_parameters(KNOWN_SHAPES[name]) == sum(p.numel() for p in model.parameters())


def test_published_sizes_of_qwen3():
    # the model cards: 0.6B (0.44B without embeddings) and 4.0B (3.6B without embeddings)
    assert count_parameters(KNOWN_SHAPES["Qwen/Qwen3-0.6B"]) == 596_049_920
    assert round(count_parameters(KNOWN_SHAPES["Qwen/Qwen3-4B"]) / 1e9, 2) == 4.02


def test_lora_parameter_count_equals_peft():
    case = Case(_reduced("Qwen/Qwen3-0.6B", 1, "float32"), 1, 8, lora_rank=8)
    model = build_model(case)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    targets = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert lora_parameters(case.shape, 8, targets) == trainable
    with pytest.raises(ConfigError, match="qkv_proj"):
        lora_parameters(case.shape, 8, ("qkv_proj",))


@pytest.mark.parametrize(
    "case",
    [
        Case(KNOWN_SHAPES["tiny"], 4, 64),
        Case(_reduced("Qwen/Qwen3-0.6B", 2, "float32"), 1, 64),
        Case(_reduced("Qwen/Qwen3-0.6B", 1, "bfloat16"), 1, 64),
    ],
    ids=["tiny", "qwen3-0.6b-shape-fp32", "qwen3-0.6b-shape-bf16"],
)
def test_saved_activations_are_within_10_percent_of_the_plan(case):
    measured = saved_bytes(build_model(case), make_batch(case))
    assert planned(case)["saved"] == pytest.approx(measured, rel=0.10)


def test_checkpointing_saves_no_more_than_planned():
    full = Case(_reduced("Qwen/Qwen3-0.6B", 2, "float32"), 1, 64)
    ckpt = Case(full.shape, 1, 64, checkpointing=True)
    plan_full, plan_ckpt = planned(full)["saved"], planned(ckpt)["saved"]
    assert plan_ckpt < plan_full
    # the plan keeps one recomputed layer; what autograd saves outside checkpoints is less
    assert saved_bytes(build_model(ckpt), make_batch(ckpt)) <= plan_ckpt


def _plan(capsys, *argv: str) -> dict:
    assert main(["train", *argv, "--plan", "--device-gib", "80"]) == 0
    return json.loads(capsys.readouterr().out.splitlines()[-1])


@pytest.mark.parametrize("preset", ["gpu-qwen3-0.6b", "gpu-qwen3-4b"])
def test_gpu_presets_fit_one_80_gib_device(capsys, preset):
    plan = _plan(capsys, "--preset", preset)
    assert plan["fits"] is True and plan["knob"] is None
    assert plan["device_gib"] == 80.0 and 20 < plan["peak_gib"] <= 80
    assert {"parameters", "trainable_parameters", "breakdown_gib"} <= set(plan)
    assert plan["breakdown_gib"]["vllm"] > 0  # both sample with vLLM
    assert "reward_mode" in PRESETS[preset]  # explicit, not the default


def test_lora_preset_trains_under_one_percent_of_the_parameters(capsys):
    plan = _plan(capsys, "--preset", "gpu-qwen3-4b")
    assert plan["trainable_parameters"] < plan["parameters"] / 100
    assert plan["breakdown_gib"]["reference"] == 0.0


@pytest.mark.parametrize(
    ("changes", "knob"),
    [
        (["--set", "micro_batch_size=8"], "gradient_checkpointing"),
        (
            ["--set", "micro_batch_size=8", "--set", "gradient_checkpointing=true"],
            "micro_batch_size",
        ),
        (["--set", "vllm_gpu_memory_utilization=0.9"], "vllm_gpu_memory_utilization"),
    ],
)
def test_a_plan_that_does_not_fit_names_the_knob(capsys, changes, knob):
    plan = _plan(capsys, "--preset", "gpu-qwen3-0.6b", *changes)
    assert plan["fits"] is False and plan["knob"] == knob and plan["peak_gib"] > 80


def test_train_refuses_a_plan_that_does_not_fit_the_gpu(monkeypatch, capsys):
    monkeypatch.setattr(train_cmd, "cuda_device", lambda: ("Fake GPU", 16.0))
    assert main(["train", "--preset", "gpu-qwen3-0.6b", "--output", "unused"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Fake GPU (16.0 GiB)" in err[0], err
    # activations (17 GiB at one 9,284-token row) outweigh the logits: checkpointing first
    assert "set gradient_checkpointing=true" in err[0]


def test_no_check_on_the_cpu(monkeypatch):
    monkeypatch.setattr(train_cmd, "cuda_device", lambda: (None, None))
    options = train_cmd.argparse.Namespace(devices=None, device_gib=None)
    args = Args(**PRESETS["gpu-qwen3-4b"] | {"micro_batch_size": 64})
    assert not plan_memory(args)["fits"]
    assert train_cmd._refusal(args, options) is None


def test_a_local_directory_is_planned_from_its_config(tmp_path, capsys):
    _qwen3_config("Qwen/Qwen3-0.6B").save_pretrained(tmp_path)
    assert model_shape(str(tmp_path)) == KNOWN_SHAPES["Qwen/Qwen3-0.6B"]
    plan = _plan(capsys, "--preset", "gpu-qwen3-0.6b", "--set", f"model={tmp_path}")
    assert plan["parameters"] == 596_049_920 and plan["model"] == str(tmp_path)


def test_an_unknown_model_is_one_line_and_exit_2(capsys):
    code = main(["train", "--preset", "gpu-qwen3-4b", "--plan", "--set", "model=no/such-model"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no/such-model" in err[0]


def test_fsdp_config_for_4b_full_fine_tuning_fits_four_devices(capsys):
    accelerate = yaml.safe_load((ROOT / "configs" / "fsdp-4b.yaml").read_text())
    assert accelerate["distributed_type"] == "FSDP" and accelerate["num_processes"] == 4
    config = ROOT / "configs" / "qwen3-4b-fsdp.toml"
    values = train_cmd._read_config(str(config))
    assert values["fsdp"] is True and "lora_rank" not in values
    plan = _plan(capsys, "--config", str(config), "--devices", "4")
    assert plan["fits"] and plan["num_devices"] == 4
    assert plan["trainable_parameters"] == plan["parameters"]
    one = _plan(capsys, "--config", str(config), "--devices", "1")
    assert one["breakdown_gib"]["optimizer"] == pytest.approx(
        4 * plan["breakdown_gib"]["optimizer"], rel=1e-3
    )


def _real_shape_directory(path: Path) -> Path:
    """The tiny tokenizer and a random bf16 model of Qwen3-0.6B's shapes, one layer, saved."""
    from transformers import AutoConfig, GenerationConfig, Qwen3ForCausalLM

    from agents.tiny import build_tiny_model

    build_tiny_model(path)
    tiny = AutoConfig.from_pretrained(path)
    config = _qwen3_config(
        "Qwen/Qwen3-0.6B",
        num_hidden_layers=1,
        vocab_size=tiny.vocab_size,
        pad_token_id=tiny.pad_token_id,
        eos_token_id=tiny.eos_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig.from_pretrained(path)
    model.save_pretrained(path)
    return path


def test_a_directory_of_real_shapes_trains_and_is_planned(tmp_path, capsys):
    model = _real_shape_directory(tmp_path / "model")
    shape = model_shape(str(model))
    assert shape.hidden_size == 1024 and shape.dtype == "bfloat16"
    plan = _plan(capsys, "--preset", "cpu-tiny", "--set", f"model={model}")
    assert plan["parameters"] == count_parameters(shape)
    out = tmp_path / "run"
    small = (
        "--steps 1 --set warm_start_steps=0 --set prompts_per_step=1 --set group_size=2 "
        "--set max_new_tokens=4 --set num_eval_tasks=1 --set eval_samples=1 --set progress=false"
    )
    argv = ["train", "--preset", "cpu-tiny", "--set", f"model={model}", "--output", str(out)]
    code = main(argv + small.split())
    assert code == 0, capsys.readouterr().err[-2000:]
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["steps"] == 1
    saved = model_shape(str(out / "checkpoint" / "model"))
    assert (saved.hidden_size, saved.num_hidden_layers) == (1024, 1)
