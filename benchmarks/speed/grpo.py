"""GRPO step time on the tiny model, split into its phases, vs the bare forward+backward.

One GRPO step of ``agents.train.train`` with the ``cpu-tiny`` preset's batch (4 prompts x 8
completions, ``noarg`` tasks, one action of at most 16 new tokens, micro-batches of 16, 1 torch
thread), its phases timed separately, each the median over ``repeats`` steps (every step after a
garbage collection; the phases of one step run back to back, so a busy machine slows all alike):

1. **generation**: the policy's ``act`` calls inside ``collect_rollouts`` (HF ``generate`` of
   the tiny model, prefill included);
2. **scoring**: the rest of ``collect_rollouts`` (env resets and steps, the reward, the
   trajectories' token views), then the reward tensor, group advantages and ``pad_batch``;
3. **GRPO forward+backward**: ``token_logprobs`` + ``grpo_loss`` + backward per micro-batch
   (``dapo``, beta 0, as the preset);
4. **optimizer**: gradient clipping and the AdamW step;
5. **bare forward+backward** of the same padded batch and micro-batches: the model's logits, a
   plain cross-entropy on the same completion tokens, backward (what any trainer pays).

The ratios are GRPO (forward+backward + optimizer) / bare forward+backward (the goal: within
1.5x, generation excluded) and GRPO forward+backward / bare forward+backward. The model is the
untrained tiny model (no warm start: completions run to the token limit more often than a
trained one's; both sides of the ratio see the same tokens).

When TRL is installed (``pip install "crm-gym[trl]"``), ``benchmarks.speed.grpo_trl`` also times
TRL's ``GRPOTrainer`` on the same model weights, prompts, batch and group size, its steps and
ours alternating (its docstring says what is equal and what is not), under the JSON's ``trl``
key with the ratios of its step to ours; without TRL (or with ``--no-trl``) ``trl`` says why.

Run::

    python -m benchmarks.speed.grpo [--quick] [--repeats N] [--no-trl]

The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

PHASES = ("generation", "scoring", "grpo_fwd_bwd", "optimizer", "bare_fwd_bwd")


def setup(seed: int, num_conversations: int) -> dict[str, Any]:
    """The tiny model, its policy, the preset's training envs and the training task ids."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.hf import HFPolicy
    from agents.presets import PRESETS
    from agents.tiny import build_tiny_model
    from agents.train import Args
    from agents.train_data import task_sets
    from agents.train_setup import make_envs, tasks_by_arm

    args = Args(**(PRESETS["cpu-tiny"] | {"seed": seed, "num_conversations": num_conversations}))
    torch.set_num_threads(args.num_threads or 1)
    torch.manual_seed(seed)
    path = Path(tempfile.mkdtemp(prefix="grpo-speed-")) / "tiny-model"
    build_tiny_model(path, seed=seed)
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    train_tasks, _ = task_sets(args.task_family, args.num_conversations, args.num_eval_tasks, seed)
    by_arm = tasks_by_arm(args.task_family, train_tasks)
    task_ids = [task for arm in sorted(by_arm) for task in by_arm[arm]]
    envs = make_envs(args, train_tasks, args.prompts_per_step * args.group_size)
    policy = HFPolicy(model, tokenizer, device="cpu", prompt_style=args.prompt_style)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    return {
        "args": args,
        "model": model,
        "policy": policy,
        "envs": envs,
        "path": path,
        "train_tasks": train_tasks,
        "task_ids": task_ids,
        "optimizer": optimizer,
    }


def one_step(state: dict[str, Any], step: int) -> dict[str, float]:
    """One timed GRPO step (and the bare forward+backward of its batch): seconds per phase."""
    import torch

    args, model, optimizer = state["args"], state["model"], state["optimizer"]
    batch, advantages, times = _rollout(state, step)
    num_items = batch["action_mask"].sum()
    slices = [
        slice(i, i + args.micro_batch_size)
        for i in range(0, len(advantages), args.micro_batch_size)
    ]
    model.train()
    tick = time.perf_counter()
    _grpo_fwd_bwd(args, model, optimizer, batch, advantages, slices, num_items)
    times["grpo_fwd_bwd"] = time.perf_counter() - tick
    gc.collect()
    tick = time.perf_counter()
    _bare_fwd_bwd(model, optimizer, batch, slices, num_items)
    times["bare_fwd_bwd"] = time.perf_counter() - tick
    # the optimizer step (on the bare pass's gradients: same shapes, same cost)
    tick = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
    optimizer.step()
    times["optimizer"] = time.perf_counter() - tick
    times["tokens"] = float(batch["input_ids"].numel())
    times["completion_tokens"] = float(num_items)
    return times


def step_tasks(state: dict[str, Any], step: int) -> list[str]:
    """The task ids of one step's prompts (a seeded draw from the training tasks)."""
    import numpy as np

    args = state["args"]
    rng = np.random.default_rng([args.seed, step])
    picks = rng.integers(len(state["task_ids"]), size=args.prompts_per_step)
    return [state["task_ids"][i] for i in picks]


def _rollout(state: dict[str, Any], step: int) -> tuple[dict[str, Any], Any, dict[str, float]]:
    """Rollouts, rewards, advantages and the padded batch, with generation and scoring timed."""
    import torch

    from agents.grpo import group_advantages
    from agents.policy import SamplingParams
    from agents.rollout import collect_rollouts, derive_seed
    from agents.train_data import pad_batch

    args, policy, G = state["args"], state["policy"], state["args"].group_size
    options = [{"task_id": task} for task in step_tasks(state, step) for _ in range(G)]
    sampling = SamplingParams(
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=derive_seed(args.seed, step, 1),
    )
    act, generating = policy.act, [0.0]

    def timed_act(*a: Any, **k: Any) -> Any:
        tick = time.perf_counter()
        try:
            return act(*a, **k)
        finally:
            generating[0] += time.perf_counter() - tick

    policy.act = timed_act  # an instance attribute: collect_rollouts calls it
    gc.collect()
    state["model"].eval()
    tick = time.perf_counter()
    try:
        seed = derive_seed(args.seed, step, 2)
        trajectories = collect_rollouts(
            state["envs"], policy, sampling=sampling, options=options, seed=seed
        )
    finally:
        del policy.act
    rewards = torch.tensor([t.total_return for t in trajectories], dtype=torch.float32)
    advantages = group_advantages(rewards, G, args.scale_rewards)
    batch = pad_batch(trajectories, policy.pad_id, "cpu")
    rollout = time.perf_counter() - tick
    return batch, advantages, {"generation": generating[0], "scoring": rollout - generating[0]}


def _grpo_fwd_bwd(
    args: Any,
    model: Any,
    optimizer: Any,
    batch: dict[str, Any],
    advantages: Any,
    slices: list[slice],
    num_items: Any,
) -> None:
    """GRPO forward+backward over the micro-batches, as agents.train does it."""
    from agents.grpo import grpo_loss
    from agents.logprobs import token_logprobs
    from agents.train import loss_settings

    optimizer.zero_grad(set_to_none=True)
    for rows in slices:
        mask = batch["action_mask"][rows]
        logprobs = token_logprobs(
            model, batch["input_ids"][rows], batch["attention_mask"][rows], mask, args.temperature
        )
        loss, _ = grpo_loss(
            logprobs,
            None,
            None,
            advantages[rows],
            mask,
            num_items_in_batch=num_items,
            num_accumulation_steps=len(slices),
            **loss_settings(args),
        )
        loss.backward()


def _bare_fwd_bwd(
    model: Any, optimizer: Any, batch: dict[str, Any], slices: list[slice], num_items: Any
) -> None:
    """Bare forward+backward of the same batch: plain cross-entropy on the same tokens (no step)."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    for rows in slices:
        ids, mask = batch["input_ids"][rows], batch["action_mask"][rows]
        logits = model(input_ids=ids, attention_mask=batch["attention_mask"][rows]).logits
        labels = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        loss = (
            torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum"
            )
            / num_items
        )
        loss.backward()


def run(
    repeats: int, warmup: int, num_conversations: int, seed: int = 0, trl: bool = True
) -> dict[str, Any]:
    """Median seconds per phase over ``repeats`` steps (after ``warmup`` untimed steps)."""
    start = time.perf_counter()
    state = setup(seed, num_conversations)
    setup_s = time.perf_counter() - start
    skipped = _trl_skipped(trl)
    if skipped:
        steps, theirs = [one_step(state, step) for step in range(warmup + repeats)], None
    else:
        steps, theirs = _with_trl(state, warmup + repeats, warmup)
    steps = steps[warmup:]
    median = {name: statistics.median(s[name] for s in steps) for name in PHASES}
    args = state["args"]
    bare = median["bare_fwd_bwd"]
    train_side = median["grpo_fwd_bwd"] + median["optimizer"]
    results: dict[str, Any] = {f"{name}_s": median[name] for name in PHASES}
    results |= {
        "step_s": sum(median[name] for name in PHASES if name != "bare_fwd_bwd"),
        "ratio_grpo_fwd_bwd_opt_vs_bare": train_side / bare,
        "ratio_grpo_fwd_bwd_vs_bare": median["grpo_fwd_bwd"] / bare,
        "ratio_optimizer_vs_bare": median["optimizer"] / bare,
        "goal_ratio": 1.5,
        "within_goal": train_side / bare <= 1.5,
        "batch": f"{args.prompts_per_step} prompts x {args.group_size} completions",
        "completions": args.prompts_per_step * args.group_size,
        "micro_batch_size": args.micro_batch_size,
        "padded_tokens": statistics.median(s["tokens"] for s in steps),
        "completion_tokens": statistics.median(s["completion_tokens"] for s in steps),
        "completion_tokens_mean": statistics.mean(s["completion_tokens"] for s in steps),
        "repeats": repeats,
        "setup_s": setup_s,
        "torch_threads": args.num_threads,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
    }
    if theirs is None:
        results["trl"] = skipped
    else:
        from benchmarks.speed.grpo_trl import compare

        results["trl"] = compare(results, theirs)
    return results


def _trl_skipped(trl: bool) -> str | None:
    """Why TRL's GRPOTrainer is not measured (None when it is)."""
    if not trl:
        return "skipped: --no-trl"
    from benchmarks.speed import grpo_trl

    missing = grpo_trl.available()
    return f"skipped: TRL {missing}" if missing else None


def _with_trl(state: dict[str, Any], num_steps: int, warmup: int) -> tuple[list, dict[str, Any]]:
    """Our steps and TRL's GRPOTrainer on the same steps' tasks, alternating step by step."""
    from benchmarks.speed import grpo_trl

    tasks = [step_tasks(state, step) for step in range(num_steps)]
    ours: list[dict[str, float]] = []
    theirs = grpo_trl.run(state, tasks, warmup, lambda step: ours.append(one_step(state, step)))
    return ours, theirs


def print_table(results: dict[str, Any]) -> None:
    """The phases, their share of the step, and the ratios."""
    print(
        f"GRPO step on the tiny model, {results['batch']} (micro-batches of "
        f"{results['micro_batch_size']}), median of {results['repeats']} steps "
        f"({results['machine']}, {results['torch_threads']} torch thread)"
    )
    print(
        f"padded batch {results['padded_tokens']:.0f} tokens, "
        f"{results['completion_tokens']:.0f} completion tokens"
    )
    step = results["step_s"]
    print(f"  {'phase':<24}{'ms':>10}{'% of step':>11}")
    for name in PHASES:
        value = results[f"{name}_s"]
        share = f"{100 * value / step:>10.1f}%" if name != "bare_fwd_bwd" else f"{'-':>11}"
        print(f"  {name:<24}{1000 * value:>10.1f}{share}")
    print(f"  {'GRPO step (1-4)':<24}{1000 * step:>10.1f}")
    print(
        f"GRPO fwd+bwd+opt / bare fwd+bwd = {results['ratio_grpo_fwd_bwd_opt_vs_bare']:.2f}x "
        f"(goal <= 1.5x: {'met' if results['within_goal'] else 'not met'}); "
        f"GRPO fwd+bwd / bare = {results['ratio_grpo_fwd_bwd_vs_bare']:.2f}x"
    )
    trl = results["trl"]
    if isinstance(trl, str):
        print(f"TRL: {trl}")
        return
    print(
        f"TRL {trl['version']} GRPOTrainer, same batch: step {1000 * trl['step_s']:.1f} ms "
        f"(generation {1000 * trl['generation_s']:.1f}, reward {1000 * trl['reward_s']:.1f}), "
        f"{trl['ratio_step_trl_vs_ours']:.2f}x ours; {trl['completion_tokens']:.0f} vs "
        f"{results['completion_tokens_mean']:.0f} completion tokens per step, per completion "
        f"token {trl['ratio_step_per_completion_token_trl_vs_ours']:.2f}x ours"
    )
    print(
        f"  TRL rollout (generation + reward + advantages) {1000 * trl['rollout_s']:.1f} ms "
        f"({trl['ratio_rollout_trl_vs_ours']:.2f}x ours), the rest of its step "
        f"{1000 * trl['train_side_s']:.1f} ms "
        f"({trl['ratio_train_side_trl_vs_ours']:.2f}x ours)"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse, measure, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 steps, fewer tasks (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="timed steps (default 10)")
    parser.add_argument("--no-trl", action="store_true", help="skip TRL's GRPOTrainer")
    options = parser.parse_args(argv)
    repeats = options.repeats or (2 if options.quick else 10)
    results = run(
        repeats, warmup=0 if options.quick else 1, num_conversations=400, trl=not options.no_trl
    )
    print_table(results)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
