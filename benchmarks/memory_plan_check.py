"""The memory plan (``agents.memory_plan``) against what a GRPO step takes on the CPU.

Each model is built with random weights (offline) and runs, in a fresh subprocess, two GRPO-like
steps of two micro-batches each (``agents.logprobs.token_logprobs``, ``agents.grpo.grpo_loss``,
backward, AdamW), as ``agents.train`` does. Two measurements per model:

1. **Saved activations** (exact, deterministic): the bytes of the distinct storages autograd
   saves during one micro-batch's forward (``torch.autograd.graph.saved_tensors_hooks``),
   against the plan's activations plus the logits' saved float32 copy (4 of ``LOGIT_BYTES``).
2. **Peak RSS** of the steps (``VmHWM`` after resetting it through ``/proc/self/clear_refs``),
   less the resident size before them (weights and all), against the plan's peak less its
   weights (gradients, optimizer states, and the larger of the backward's activations, logits
   and temporaries and the optimizer step's temporary). The CPU has no CUDA context, so the
   plan's overhead term is left out; RSS also counts allocator slack, so this one is noisier.

Models: ``tiny`` (``agents.tiny``'s config, float32); the real hidden, intermediate and head
shapes of Qwen3-0.6B and Qwen3-4B with few layers and an 8,192-token vocabulary (the full
151,936 would take most of the RAM budget in the embedding alone), in float32 or bfloat16,
with and without gradient checkpointing, and Qwen3-4B's shape with LoRA (peft, rank 16, every
projection) and checkpointing. Each stays under ~3 GB. Run::

    python -m benchmarks.memory_plan_check [--only NAME]

The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from agents.memory_plan import GIB, KNOWN_SHAPES, ModelShape, estimate
from agents.train_args import LORA_TARGETS


@dataclass(frozen=True)
class Case:
    """One measured configuration: a shape, its micro-batch and the training knobs."""

    shape: ModelShape
    micro_batch_size: int
    seq: int
    checkpointing: bool = False
    lora_rank: int = 0


def _reduced(name: str, layers: int, dtype: str) -> ModelShape:
    """A known shape with fewer layers and an 8,192-token vocabulary."""
    return replace(KNOWN_SHAPES[name], num_hidden_layers=layers, vocab_size=8192, dtype=dtype)


CASES: dict[str, Case] = {
    "tiny": Case(KNOWN_SHAPES["tiny"], 16, 256),
    "qwen3-0.6b-2l-fp32": Case(_reduced("Qwen/Qwen3-0.6B", 2, "float32"), 2, 512),
    "qwen3-0.6b-2l-fp32-ckpt": Case(_reduced("Qwen/Qwen3-0.6B", 2, "float32"), 2, 512, True),
    "qwen3-4b-1l-bf16": Case(_reduced("Qwen/Qwen3-4B", 1, "bfloat16"), 1, 512),
    "qwen3-4b-2l-bf16-lora-ckpt": Case(_reduced("Qwen/Qwen3-4B", 2, "bfloat16"), 2, 512, True, 16),
}


@dataclass(frozen=True)
class PlanArgs:
    """The ``Args`` fields the plan reads, for one case (the CPU: no vLLM, no sampler cache)."""

    micro_batch_size: int
    gradient_checkpointing: bool
    lora_rank: int
    lora_target_modules: tuple[str, ...] = LORA_TARGETS
    fsdp: bool = False
    optimizer: str = "adamw"
    model: str = "measured"
    mixed_precision: str = "no"
    beta: float = 0.0
    backend: str = "vllm"
    vllm_gpu_memory_utilization: float = 0.0  # the plan's vLLM term: 0 here
    prompts_per_step: int = 1
    group_size: int = 2


def planned(case: Case) -> dict[str, float]:
    """The plan's terms for ``case`` in bytes (no CUDA overhead, no vLLM: the CPU)."""
    args = PlanArgs(case.micro_batch_size, case.checkpointing, case.lora_rank)
    terms, counts = estimate(args, case.shape, 0.0, on_gpu=False, seq=case.seq)
    logits_saved = terms.logits * 4 / 12  # the float32 copy logsumexp saves
    return {
        "weights": terms.weights,
        "saved": terms.activations + logits_saved,
        "step": terms.peak() - terms.weights,
        "parameters": counts["parameters"],
    }


def build_model(case: Case, seed: int = 0, device: str = "cpu") -> Any:
    """A random-weight Qwen3 of ``case``'s shape (LoRA adapters and checkpointing as asked).

    The weights are created on ``device`` in the shape's dtype (a 4B model never sits on the
    CPU in float32 first).
    """
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(**{k: v for k, v in asdict(case.shape).items() if k != "dtype"})
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[case.shape.dtype]
    torch.manual_seed(seed)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen3ForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    if case.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if case.lora_rank:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=case.lora_rank, lora_alpha=2 * case.lora_rank, target_modules=list(LORA_TARGETS)
        )
        model = get_peft_model(model, lora)
    return model.train()


def make_batch(case: Case, seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Random token ids of full length; the second half of each row is the completion."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    shape = (case.micro_batch_size, case.seq)
    ids = torch.randint(0, case.shape.vocab_size, shape, generator=generator).to(device)
    mask = torch.zeros(shape, dtype=torch.long, device=device)
    mask[:, case.seq // 2 :] = 1
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "action_mask": mask}


def saved_bytes(model: Any, batch: dict[str, Any]) -> int:
    """Bytes of the distinct storages autograd saves in one loss forward (then freed)."""
    import torch

    storages: dict[int, int] = {}

    def pack(tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = _loss(model, batch)
    del loss
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    return sum(size for ptr, size in storages.items() if ptr not in params)


def _loss(model: Any, batch: dict[str, Any]) -> Any:
    """The GRPO loss of one micro-batch (one iteration: no old logprobs, beta 0, dapo)."""
    import torch

    from agents.grpo import grpo_loss
    from agents.logprobs import token_logprobs

    logprobs = token_logprobs(
        model, batch["input_ids"], batch["attention_mask"], batch["action_mask"]
    )
    advantages = torch.linspace(-1, 1, len(logprobs), device=logprobs.device)
    loss, _ = grpo_loss(
        logprobs,
        None,
        None,
        advantages,
        batch["action_mask"],
        beta=0.0,
        loss_type="dapo",
        num_items_in_batch=batch["action_mask"].sum() * 2,
        num_accumulation_steps=2,
    )
    return loss


def train_steps(model: Any, batch: dict[str, Any], steps: int = 2) -> None:
    """``steps`` optimizer steps of two micro-batches each (the trainable parameters only)."""
    import torch

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        for _ in range(2):
            _loss(model, batch).backward()
        optimizer.step()


def step_peak(model: Any, batch: dict[str, Any], steps: int = 2) -> float:
    """Peak RSS over ``steps`` steps of two micro-batches, less the RSS before them (bytes)."""
    before = _reset_peak()
    train_steps(model, batch, steps)
    return _status_kib("VmHWM") * 1024.0 - before


def _reset_peak() -> float:
    """Reset the kernel's peak RSS to the current RSS; returns that RSS in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") * 1024.0


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def measure(name: str) -> dict[str, float]:
    """Every number of one case, measured in this process."""
    import torch

    torch.set_num_threads(int(os.environ.get("MEMORY_CHECK_THREADS", "2")))
    case = CASES[name]
    rss_before = _status_kib("VmRSS") * 1024.0
    model = build_model(case)
    weights = _status_kib("VmRSS") * 1024.0 - rss_before
    batch = make_batch(case)
    plan = planned(case)
    saved = saved_bytes(model, batch)
    peak = step_peak(model, batch)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "planned_parameters": plan["parameters"],
        "weights_rss_gib": weights / GIB,
        "planned_weights_gib": plan["weights"] / GIB,
        "saved_gib": saved / GIB,
        "planned_saved_gib": plan["saved"] / GIB,
        "saved_ratio": plan["saved"] / saved,
        "step_peak_gib": peak / GIB,
        "planned_step_gib": plan["step"] / GIB,
        "step_ratio": plan["step"] / peak,
    }


def run_case(name: str) -> dict[str, float]:
    """``measure(name)`` in a fresh interpreter, so that one case's memory is not the next's."""
    command = [sys.executable, "-m", "benchmarks.memory_plan_check", "--one", name]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=1800)
    return json.loads(out.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Measure every case (or one), print a row per case and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="these cases")
    parser.add_argument("--one", choices=sorted(CASES), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.one:  # the child process
        print(json.dumps(measure(options.one)))
        return
    results = {}
    print(
        f"{'case':<28}{'saved GiB plan/meas':>24}{'ratio':>7}{'step GiB plan/meas':>24}{'ratio':>7}"
    )
    for name in options.only or CASES:
        row = results[name] = run_case(name)
        print(
            f"{name:<28}{row['planned_saved_gib']:>12.3f} /{row['saved_gib']:>9.3f}"
            f"{row['saved_ratio']:>8.2f}{row['planned_step_gib']:>12.3f} /"
            f"{row['step_peak_gib']:>9.3f}{row['step_ratio']:>8.2f}",
            flush=True,
        )
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
