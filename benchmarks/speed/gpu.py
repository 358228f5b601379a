"""The HF backend and a GRPO step on a CUDA GPU, fp32 and bf16: checks first, then timings.

Nothing here runs on the CPU-only CI machines; ``docs/gpu.md`` records one run on a lent H100.
vLLM (generation, weight sync, tokens/s against this HF backend) and the training memory of the
GPU presets are ``benchmarks.speed.gpu_vllm``'s, which reuses this module's prompts and timer.
Models (random weights, built offline; no hub):

- ``tiny``: ``agents.tiny``'s model (hidden 64, 2 layers, ~0.1M parameters), the ``cpu-tiny``
  preset's;
- ``qwen3-0.6b-body``: Qwen3-0.6B's decoder shapes (28 layers, hidden 1,024, 16 query and 8
  key-value heads of 128, MLP 3,072: ~0.44B parameters) on the tiny tokenizer's 1,024-token
  vocabulary, so the numbers are the transformer body's, without a 151k-token output layer.

What is measured, in one process:

1. **Checks**: on the GPU, the sampler's logprob of every sampled token equals a separate
   forward pass (``agents.logprobs.token_logprobs``, the trainer's) within float noise, in fp32
   and bf16 (max |difference| reported), and the same seed gives the same tokens.
2. **Generation tokens/s** of ``HFPolicy.act`` (our sampling loop with its KV cache, one seeded
   stream per row) on ``noarg`` task prompts at batch 1, 8, 32 and 128, against
   ``model.generate(do_sample=True)`` on the same prompts in the same run (the baseline),
   ``max_new_tokens`` 64 for both, both counting the tokens each row produced.
3. **GRPO step** (the ``cpu-tiny`` batch: 4 prompts x 8 completions, micro-batches of 16,
   ``dapo``, beta 0), phases as ``benchmarks.speed.grpo`` splits them, with bf16 autocast for
   the bf16 rows (what ``accelerate``'s ``mixed_precision="bf16"`` does): GRPO
   forward+backward+optimizer over the bare forward+backward of the same batch.

Every GPU timer is read after ``torch.cuda.synchronize()``; each number is a median of
3 runs after a warm-up. Run::

    python -m benchmarks.speed.gpu [--quick] [--device cuda]

The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

BATCHES = (1, 8, 32, 128)
QWEN3_BODY = {
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
}


def build_models(path: Path, quick: bool, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """The tiny tokenizer and the models (fp32, on the CPU; ``quick``: the tiny one alone)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3ForCausalLM

    from agents.tiny import build_tiny_model

    build_tiny_model(path, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tiny = AutoModelForCausalLM.from_pretrained(path)
    if quick:
        return tokenizer, {"tiny": tiny}
    config = {k: v for k, v in tiny.config.to_dict().items() if k != "layer_types"}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        body = Qwen3ForCausalLM(type(tiny.config)(**(config | QWEN3_BODY)))
    body.generation_config = tiny.generation_config
    return tokenizer, {"tiny": tiny, "qwen3-0.6b-body": body}


def noarg_observations(count: int, seed: int = 0) -> list[Any]:
    """``count`` observations of ``noarg`` first turns, as the training envs give them."""
    import crm_gym  # noqa: F401  (registers the env ids)
    from agents.policy import Observation
    from agents.train_data import first_turn, task_sets
    from crm_gym.envs.crm_env import CrmEnv

    tasks = sum(task_sets("noarg", 400, 1, seed), [])
    env = CrmEnv(tasks=tasks)
    observations = []
    for k in range(count):
        text, info = env.reset(seed=k, options={"task_id": first_turn(tasks[k % len(tasks)])})
        observations.append(Observation(text, info))
    return observations


def timed(device: str, work: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of ``work()`` over ``repeats`` runs after one warm-up, GPU synchronised."""
    import torch

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    result, times = work(), []
    for _ in range(repeats):
        gc.collect()
        sync()
        tick = time.perf_counter()
        result = work()
        sync()
        times.append(time.perf_counter() - tick)
    return statistics.median(times), result


def logprob_check(policy: Any, observations: list[Any]) -> dict[str, float]:
    """Max |sampler logprob - forward logprob| over 16 samples, and same-seed equality."""
    import torch

    from agents.logprobs import token_logprobs
    from agents.policy import SamplingParams

    sampling = SamplingParams(max_new_tokens=32, seed=3)
    rows = policy.act(observations[:8], n=2, sampling=sampling)
    again = policy.act(observations[:8], n=2, sampling=sampling)
    pairs = zip(_flat(rows), _flat(again), strict=True)
    same = all(a.completion_ids == b.completion_ids for a, b in pairs)
    worst = 0.0
    for sample in _flat(rows):
        ids = torch.tensor([list(sample.prompt_ids) + list(sample.completion_ids)])
        mask = torch.zeros_like(ids)
        mask[0, len(sample.prompt_ids) :] = 1
        ids, mask = ids.to(policy.device), mask.to(policy.device)
        with torch.inference_mode():
            forward = token_logprobs(policy.model, ids, torch.ones_like(ids), mask)
        expected = forward[0, len(sample.prompt_ids) :].float().cpu()
        worst = max(worst, float((torch.tensor(sample.logprobs) - expected).abs().max()))
    return {"max_abs_logprob_diff": worst, "same_seed_same_tokens": float(same)}


def _flat(rows: list[list[Any]]) -> list[Any]:
    return [sample for row in rows for sample in row]


def generation_rates(
    policy: Any,
    observations: list[Any],
    batches: tuple[int, ...],
    repeats: int,
    max_new_tokens: int = 64,
) -> dict[str, float]:
    """Tokens/s of ``HFPolicy.act`` and of ``model.generate`` on the same prompts, per batch."""
    from agents.generation import left_pad
    from agents.policy import SamplingParams

    sampling = SamplingParams(max_new_tokens=max_new_tokens, seed=0)
    device, model, results = str(policy.device), policy.model, {}
    for batch in batches:
        chosen = [observations[k % len(observations)] for k in range(batch)]
        seconds, rows = timed(device, lambda c=chosen: policy.act(c, sampling=sampling), repeats)
        tokens = sum(len(row[0].completion_ids) for row in rows)
        results[f"ours_tokens_per_s_b{batch}"] = tokens / seconds
        ids, mask = left_pad([policy.prompt_ids(o) for o in chosen], policy.pad_id, device)

        def hf_generate(ids: Any = ids, mask: Any = mask) -> Any:
            return model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=True,
                max_new_tokens=max_new_tokens,
                top_k=0,
                temperature=1.0,
                pad_token_id=policy.pad_id,
            )

        seconds, out = timed(device, hf_generate, repeats)
        new = out[:, ids.shape[1] :]
        produced = sum(_row_length(row, policy.stop_ids) for row in new.tolist())
        results[f"hf_generate_tokens_per_s_b{batch}"] = produced / seconds
        results[f"ours_vs_hf_generate_b{batch}"] = (
            results[f"ours_tokens_per_s_b{batch}"] / results[f"hf_generate_tokens_per_s_b{batch}"]
        )
    return results


def _row_length(row: list[int], stop_ids: frozenset[int]) -> int:
    """Tokens a generated row holds, its stop token included (padding after it not counted)."""
    for k, token in enumerate(row):
        if token in stop_ids:
            return k + 1
    return len(row)


def grpo_step_times(
    model: Any, tokenizer: Any, device: str, bf16: bool, repeats: int
) -> dict[str, float]:
    """Median phase seconds of the ``cpu-tiny`` GRPO step on ``device`` (bf16 autocast or not)."""
    import torch

    from agents.hf import HFPolicy
    from agents.presets import PRESETS
    from agents.train import Args
    from agents.train_data import task_sets
    from agents.train_setup import make_envs, tasks_by_arm
    from benchmarks.speed.grpo import _rollout

    args = Args(**PRESETS["cpu-tiny"], seed=0)
    train_tasks, _ = task_sets("noarg", 400, args.num_eval_tasks, 0)
    by_arm = tasks_by_arm("noarg", train_tasks)
    state = {
        "args": args,
        "model": model,
        "policy": HFPolicy(model, tokenizer, device=device, prompt_style=args.prompt_style),
        "envs": make_envs(args, train_tasks, args.prompts_per_step * args.group_size),
        "task_ids": [task for arm in sorted(by_arm) for task in by_arm[arm]],
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext()
    steps = []
    for step in range(repeats + 1):  # step 0 warms up
        with autocast:  # generation too: accelerate's prepared forward autocasts every call
            batch, advantages, times = _rollout(state, step)
        batch = {k: v.to(device) for k, v in batch.items()}
        times |= _train_phases(args, model, optimizer, batch, advantages.to(device), autocast)
        steps.append(times)
    median = {k: statistics.median(s[k] for s in steps[1:]) for k in steps[0]}
    median["ratio_grpo_fwd_bwd_opt_vs_bare"] = (
        median["grpo_fwd_bwd"] + median["optimizer"]
    ) / median["bare_fwd_bwd"]
    return median


def _train_phases(
    args: Any, model: Any, optimizer: Any, batch: dict[str, Any], advantages: Any, autocast: Any
) -> dict[str, float]:
    """Seconds of GRPO fwd+bwd, of the bare fwd+bwd, and of the optimizer step, synchronised."""
    import torch

    from benchmarks.speed.grpo import _bare_fwd_bwd, _grpo_fwd_bwd

    device = str(batch["input_ids"].device)
    num_items = batch["action_mask"].sum()
    slices = [
        slice(i, i + args.micro_batch_size)
        for i in range(0, len(advantages), args.micro_batch_size)
    ]
    model.train()
    times = {"completion_tokens": float(num_items)}
    grpo_work = (args, model, optimizer, batch, advantages, slices, num_items)
    with autocast:
        times["grpo_fwd_bwd"] = _synced(device, lambda: _grpo_fwd_bwd(*grpo_work))
        times["bare_fwd_bwd"] = _synced(
            device, lambda: _bare_fwd_bwd(model, optimizer, batch, slices, num_items)
        )

    def optimizer_step() -> None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()

    times["optimizer"] = _synced(device, optimizer_step)
    return times


def _synced(device: str, work: Callable[[], Any]) -> float:
    import torch

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    gc.collect()
    sync()
    tick = time.perf_counter()
    work()
    sync()
    return time.perf_counter() - tick


def run(device: str, quick: bool) -> dict[str, Any]:
    """Every check and timing, for each model in fp32 and bf16, printed as it comes."""
    import torch
    import transformers

    from agents.hf import HFPolicy

    repeats = 2 if quick else 3
    batches = BATCHES[:2] if quick else BATCHES
    started = time.perf_counter()
    tokenizer, models = build_models(Path(tempfile.mkdtemp(prefix="gpu-bench-")), quick)
    observations = noarg_observations(max(batches))
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "setup_s": time.perf_counter() - started,
    }
    _show(results)
    for name, base in models.items():
        results |= _show({f"{name}_parameters": sum(p.numel() for p in base.parameters())})
        for dtype in ("fp32", "bf16"):
            key = f"{name}_{dtype}"
            model = base.to(device, dtype=torch.bfloat16 if dtype == "bf16" else torch.float32)
            policy = HFPolicy(model, tokenizer, device=device, prompt_style="compact")
            checks = logprob_check(policy, observations)
            results |= _show({f"{key}_{k}": v for k, v in checks.items()})
            rates = generation_rates(policy, observations, batches, repeats)
            results |= _show({f"{key}_{k}": v for k, v in rates.items()})
            # training keeps fp32 master weights; bf16 here is autocast, as accelerate does it
            trainable = base.to(device, dtype=torch.float32)
            times = grpo_step_times(trainable, tokenizer, device, dtype == "bf16", repeats)
            results |= _show({f"{key}_grpo_{k}": v for k, v in times.items()})
            del policy
            torch.cuda.empty_cache() if device.startswith("cuda") else None
    results["seconds"] = time.perf_counter() - started
    return results


def _show(values: dict[str, Any]) -> dict[str, Any]:
    """Print each number as soon as it is measured (a long run that is cut keeps its output)."""
    for key, value in values.items():
        text = f"{value:,.4g}" if isinstance(value, float) else str(value)
        print(f"{key:<52}{text}", flush=True)
    return values


def main(argv: list[str] | None = None) -> None:
    """Parse, run, print one line per number and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, batches 1 and 8 only")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for a smoke run")
    options = parser.parse_args(argv)
    import torch

    if options.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("benchmarks.speed.gpu needs a CUDA GPU (try --device cpu --quick)")
    results = run(options.device, options.quick)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
