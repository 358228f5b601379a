"""vLLM for real on one CUDA GPU: generation, weight sync, tokens/s against HF, training memory.

The one prepared script of docs/gpu.md (about 5-8 minutes on an H100, vLLM installed from the
wheel kit in ``../shared/gpu``). Each part runs in its own process (a vLLM engine does not give
its memory back within a process) under its own time limit, and appends its numbers to
``--out``'s ``gpu_vllm.json`` as soon as it ends, so a run cut short keeps what it measured:

1. ``generate:<model>``: ``VllmPolicy`` samples ``noarg`` prompts (every sample has tokens and
   finite logprobs), then **weight sync**: the HF copy of the model is perturbed, its
   ``state_dict`` is synced into the engine, and the engine's logprobs of what it samples next
   are compared with the trainer's (``agents.logprobs.token_logprobs``) for the new and the old
   weights. Passes when the mean |gap| to the new weights is under ``SYNC_MEAN_TOL`` and the gap
   to the old weights is ``SYNC_CONTRAST`` times larger (the sync took effect). Then
   **tokens/s** of ``VllmPolicy.act`` against ``HFPolicy.act`` on the same prompts at batch 8, 64
   and 256 (64 new tokens). Models, random weights, bf16, the tiny tokenizer (built offline):
   ``tiny`` (``agents.tiny`` at hidden 128: vLLM's kernels want heads of 32 or more) and
   ``qwen3-0.6b-body`` (Qwen3-0.6B's decoder shapes on the 1,024-token vocabulary).
2. ``loop:tiny``: three GRPO steps of ``agents.train.train`` with ``backend="vllm"``: the loop
   syncs after each step and logs ``rollout/logprob_mismatch`` (engine vs trainer, mean |gap|
   over completion tokens, before the step's update); steps 2 and 3 measure the synced engine
   and pass under ``SYNC_MEAN_TOL``.
3. ``memory:<preset>``: the training side of ``gpu-qwen3-4b`` (LoRA rank 16, checkpointing) and
   ``gpu-qwen3-0.6b`` (full fine-tuning) on random-weight models of the real shapes, full
   151,936-token vocabulary, one micro-batch of the plan's sequence length: two GRPO steps of
   two micro-batches under bf16 autocast (``benchmarks.memory_plan_check.train_steps``), peak
   ``torch.cuda.max_memory_allocated``/``reserved`` against the plan's peak less its vLLM and
   CUDA-context terms (``agents.memory_plan``).

Run (the JSON goes to ``--out``, default the current directory)::

    python -m benchmarks.speed.gpu_vllm [--out DIR] [--parts generate:tiny,loop:tiny]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.speed.gpu import QWEN3_BODY, noarg_observations, timed

PARTS = (
    "generate:tiny",
    "loop:tiny",
    "memory:gpu-qwen3-4b",
    "generate:qwen3-0.6b-body",
    "memory:gpu-qwen3-0.6b",
)
PART_TIMEOUT_S = {"generate": 150, "loop": 120, "memory": 90}
BUDGET_S = 480  # the whole script: ~8 minutes, each part cut to what is left
BATCHES = (8, 64, 256)
SYNC_MEAN_TOL = 0.02  # bf16 engine vs bf16 trainer: docs/gpu.md measured HF's own gap at 2e-3
SYNC_CONTRAST = 5.0
TINY_HIDDEN = 128
ENGINE = {"enforce_eager": True}  # CUDA-graph capture would cost minutes of device time


def model_dir(name: str, root: Path) -> Path:
    """The tiny tokenizer and a random bf16 model (``tiny`` or ``qwen3-0.6b-body``), saved."""
    import torch
    from transformers import AutoConfig, GenerationConfig, Qwen3ForCausalLM

    from agents.tiny import build_tiny_model

    path = build_tiny_model(root / name, hidden_size=TINY_HIDDEN)
    config = AutoConfig.from_pretrained(path)
    if name == "qwen3-0.6b-body":
        for key, value in QWEN3_BODY.items():
            setattr(config, key, value)
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig.from_pretrained(path)
    model.save_pretrained(path)
    return path


def sample_checks(rows: list[list[Any]]) -> dict[str, float]:
    """Every sample has completion tokens and one finite logprob per token."""
    samples = [sample for row in rows for sample in row]
    good = all(
        s.completion_ids
        and s.logprobs is not None
        and len(s.logprobs) == len(s.completion_ids)
        and all(math.isfinite(x) for x in s.logprobs)
        for s in samples
    )
    return {"samples": float(len(samples)), "samples_ok": float(good)}


def trainer_gaps(model: Any, rows: list[list[Any]], temperature: float = 1.0) -> dict[str, float]:
    """Mean and max |sampler logprob - trainer logprob| over every sampled token."""
    import torch

    from agents.logprobs import token_logprobs

    device = next(model.parameters()).device
    gaps = []
    for sample in (s for row in rows for s in row):
        ids = torch.tensor([list(sample.prompt_ids) + list(sample.completion_ids)], device=device)
        mask = torch.zeros_like(ids)
        mask[0, len(sample.prompt_ids) :] = 1
        with torch.inference_mode():
            logprobs = token_logprobs(model, ids, torch.ones_like(ids), mask, temperature)
        trainer = logprobs[0, len(sample.prompt_ids) :].float().cpu()
        gaps.append((torch.tensor(sample.logprobs) - trainer).abs())
    every = torch.cat(gaps)
    return {"mean_gap": float(every.mean()), "max_gap": float(every.max())}


def perturb(model: Any, seed: int, scale: float = 0.5) -> None:
    """Multiply every weight by ``1 + scale * N(0, 1)``: a large, seeded "optimizer step"."""
    import torch

    generator = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            noise = torch.randn(parameter.shape, generator=generator).to(parameter)
            parameter.mul_(1 + scale * noise)


def policy_rate(
    policy: Any,
    observations: list[Any],
    batch: int,
    repeats: int = 2,
    max_new_tokens: int = 64,
    device: str = "cuda",
) -> float:
    """Completion tokens per second of ``policy.act`` on ``batch`` prompts (median run)."""
    from agents.policy import SamplingParams

    chosen = [observations[k % len(observations)] for k in range(batch)]
    sampling = SamplingParams(max_new_tokens=max_new_tokens, seed=0)
    seconds, rows = timed(device, lambda: policy.act(chosen, sampling=sampling), repeats)
    return sum(len(row[0].completion_ids) for row in rows) / seconds


def part_generate(name: str, root: Path) -> dict[str, Any]:
    """Generation checks, the weight-sync check and tokens/s against HF for one model."""
    import copy

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.hf import HFPolicy
    from agents.policy import SamplingParams
    from agents.vllm import VllmPolicy

    path = model_dir(name, root)
    tokenizer = AutoTokenizer.from_pretrained(path)
    observations = noarg_observations(max(BATCHES))
    engine = VllmPolicy(
        str(path),
        gpu_memory_utilization=0.3,
        seed=0,
        max_model_len=2048,
        prompt_style="compact",
        engine_kwargs=ENGINE,
    )
    sampling = SamplingParams(max_new_tokens=32, seed=1)
    results = sample_checks(engine.act(observations[:16], n=2, sampling=sampling))
    trainer = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).to("cuda").eval()
    old = copy.deepcopy(trainer)
    perturb(trainer, seed=0)
    results["sync_tensors"] = engine.sync_weights(trainer.state_dict())
    rows = engine.act(observations[:16], n=2, sampling=sampling)
    new_gap, old_gap = trainer_gaps(trainer, rows), trainer_gaps(old, rows)
    results |= {f"sync_{k}": v for k, v in new_gap.items()}
    results |= {f"old_weights_{k}": v for k, v in old_gap.items()}
    took = old_gap["mean_gap"] > SYNC_CONTRAST * new_gap["mean_gap"]
    results["sync_ok"] = float(new_gap["mean_gap"] < SYNC_MEAN_TOL and took)
    del old
    hf = HFPolicy(trainer, tokenizer, device="cuda", prompt_style="compact")
    for batch in BATCHES:
        results[f"vllm_tokens_per_s_b{batch}"] = policy_rate(engine, observations, batch)
        results[f"hf_tokens_per_s_b{batch}"] = policy_rate(hf, observations, batch)
        results[f"vllm_vs_hf_b{batch}"] = (
            results[f"vllm_tokens_per_s_b{batch}"] / results[f"hf_tokens_per_s_b{batch}"]
        )
    return results


def part_loop(name: str, root: Path) -> dict[str, Any]:
    """Three GRPO steps of the real loop with the vLLM backend; the logged mismatch per step."""
    from agents.train import Args, train

    path = model_dir(name, root)
    model = dict(model=str(path), backend="vllm", prompt_style="compact")
    data = dict(task_family="noarg", num_conversations=120, num_eval_tasks=2, eval_samples=1)
    batch = dict(prompts_per_step=4, group_size=4, max_new_tokens=16, max_env_steps=1)
    schedule = dict(steps=3, lr=1e-3, vllm_gpu_memory_utilization=0.3, mixed_precision="bf16")
    output = dict(eval_every=3, save_every=3, progress=False, output_dir=str(root / "loop-run"))
    args = Args(**model, **data, **batch, **schedule, **output)
    summary = train(args)
    rows = [json.loads(line) for line in Path(summary["metrics"]).read_text().splitlines()]
    results = {f"mismatch_step{r['step']}": r["rollout/logprob_mismatch"] for r in rows}
    synced = [r["rollout/logprob_mismatch"] for r in rows if r["step"] > 1]
    results["loop_ok"] = float(len(synced) == 2 and max(synced) < SYNC_MEAN_TOL)
    results["loop_seconds"] = summary["seconds"]
    return results


def part_memory(preset: str) -> dict[str, Any]:
    """Peak CUDA memory of the preset's training side against the plan's training terms."""
    import torch

    from agents.memory_plan import GIB, KNOWN_SHAPES, estimate, sequence_tokens
    from agents.presets import PRESETS
    from agents.train_args import Args
    from benchmarks.memory_plan_check import Case, build_model, make_batch, train_steps

    args = Args(**PRESETS[preset])
    shape = KNOWN_SHAPES[args.model]
    seq = sequence_tokens(args)
    case = Case(shape, args.micro_batch_size, seq, args.gradient_checkpointing, args.lora_rank)
    device_gib = torch.cuda.get_device_properties(0).total_memory / GIB
    terms, _ = estimate(args, shape, device_gib)
    planned = (terms.peak() - terms.vllm - terms.overhead) / GIB
    model = build_model(case, device="cuda")
    batch = make_batch(case, device="cuda")
    torch.cuda.reset_peak_memory_stats()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        train_steps(model, batch, steps=2)
    allocated = torch.cuda.max_memory_allocated() / GIB
    reserved = torch.cuda.max_memory_reserved() / GIB
    return {
        "planned_training_gib": planned,
        "peak_allocated_gib": allocated,
        "peak_reserved_gib": reserved,
        "planned_over_reserved": planned / reserved,
        "plan_peak_gib": terms.peak() / GIB,
        "device_gib": device_gib,
        "with_vllm_gib": reserved + (terms.vllm + terms.overhead) / GIB,
    }


def run_part(part: str, root: Path) -> dict[str, Any]:
    """One part in this process (the child side)."""
    kind, name = part.split(":")
    if kind == "generate":
        return part_generate(name, root)
    if kind == "loop":
        return part_loop(name, root)
    return part_memory(name)


def run_child(part: str, root: Path, limit_s: float) -> dict[str, Any]:
    """One part in a fresh process under ``limit_s``; an error or timeout is recorded."""
    module = "benchmarks.speed.gpu_vllm"
    command = [sys.executable, "-m", module, "--child", part, "--root", str(root)]
    tick = time.perf_counter()
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        return {"error": "timeout", "seconds": time.perf_counter() - tick}
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        return {"error": out.stderr[-3000:], "seconds": time.perf_counter() - tick}
    return json.loads(lines[-1]) | {"seconds": time.perf_counter() - tick}


def _parts(text: str) -> list[str]:
    """``--parts``: known part names only (a typo fails before any device time is spent)."""
    parts = text.split(",")
    unknown = [part for part in parts if part not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part(s) {unknown}; known: {', '.join(PARTS)}")
    return parts


def main(argv: list[str] | None = None) -> None:
    """Run the parts one by one, each result written to ``--out`` as soon as it is known."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="directory for gpu_vllm.json")
    parser.add_argument(
        "--parts", default=",".join(PARTS), type=_parts, help="comma-separated parts (default: all)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        print(json.dumps(run_part(options.child, Path(options.root))))
        return
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("benchmarks.speed.gpu_vllm needs a CUDA GPU (and vLLM installed)")
    root, out = Path(tempfile.mkdtemp(prefix="gpu-vllm-")), Path(options.out)
    results: dict[str, Any] = {"device": torch.cuda.get_device_name()}
    deadline = time.perf_counter() + BUDGET_S
    for part in options.parts:
        left = deadline - time.perf_counter()
        if left < 20:
            results[part] = {"error": f"skipped: {left:.0f} s of the {BUDGET_S} s budget left"}
            continue
        results[part] = run_child(part, root, min(left, PART_TIMEOUT_S[part.split(":")[0]]))
        print(part, json.dumps(results[part]), flush=True)
        (out / "gpu_vllm.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
