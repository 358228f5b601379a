"""GRPO on crm-gym: one readable loop, ``train(Args)`` (REFERENCE.md sections 1 and 2).

Each step: the curriculum picks an arm per prompt slot, a task of that arm is drawn, the vector
env runs it ``group_size`` times (``collect_rollouts``: one group per task, env tokens masked
out), the rewards become group-relative advantages, the curriculum learns from each arm's mean
|A|, and the policy takes the clipped GRPO step (``agents.grpo``). It lives in ``agents`` rather
than ``scripts`` so that tests and notebooks call the same function the ``crm-gym train``
command does (``scripts/train_cmd.py`` only parses, prints and plots). ``Args`` is defined and
checked torch-free in ``agents.train_args``; the run directory (resume checks, ``args.json``,
``metrics.jsonl``) is ``agents.run_dir``'s, the crash-safe checkpoint ``agents.checkpoint``'s.

Simplifications, stated as nanochat's ``chat_rl.py`` states its own:
- ``accelerate`` places the model, runs mixed precision and, under ``accelerate launch
  --num_processes W``, data parallel (DDP); gradient accumulation is written out (the GRPO
  normalisers already count micro-batches, see ``aggregate_loss``);
- data parallel (``agents.train_parallel``): every process draws the step's arms and tasks, rolls
  out its ``prompts_per_step / W`` slots (whole groups) with the seeds one process would use for
  them, and gathers rewards, arms and token counts, so advantages, the curriculum and the metrics
  are the global batch's on every process. The normalisers count the global batch and the loss is
  multiplied by W against DDP's averaging: the gradient is the one-process gradient (tested with
  2 CPU processes, ``tests/training/test_data_parallel.py``; multi-GPU runs are not tested). The
  warm start runs on every process (short, deterministic); evaluation, logs and checkpoints are
  the main process's;
- with ``num_iterations > 1`` the ratio's denominator is the sampler's stored logprobs (equal to
  the trainer's for the HF backend up to float noise; TRL recomputes them);
- a task is the first turn of a generated conversation; the reward is the env's, unchanged;
- the KL reference is the policy at the start of GRPO (after the warm start), kept in memory;
  with LoRA it is the policy with its adapters switched off (``agents.lora``), no second copy;
- LoRA, gradient checkpointing, FSDP and 8-bit Adam are set up in ``agents.train_scale``;
- every seed is derived from ``(seed, step)``, so a resumed run draws what the unkilled run drew;
  ``data_seed`` (tasks, held-out split and sampling) and ``base_seed`` (the tiny model's weights,
  the warm start) default to ``seed`` and can be fixed apart from it, so that runs of several
  seeds share one task set and one base model, as RL fine-tuning of a pretrained model does.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from agents.checkpoint import (
    has_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from agents.grpo import group_advantages, grpo_loss
from agents.logprobs import token_logprobs
from agents.lora import is_lora
from agents.policy import SamplingParams
from agents.rollout import collect_rollouts, derive_seed
from agents.run_dir import MetricsLog
from agents.train_args import Args
from agents.train_data import (
    first_turn,
    pad_batch,
    run_tasks,
)
from agents.train_metrics import logprob_mismatch, shared_metrics, step_metrics
from agents.train_parallel import (
    MicroBatch,
    finish_rollouts,
    gather_rows,
    micro_batches,
    rollout_policy,
    shard_rows,
)
from agents.train_scale import (
    check_devices,
    check_fsdp_batches,
    check_lora_targets,
    engine_state,
    load_sharded_optimizer,
    make_optimizer,
    prepare_for_training,
    sharded_states,
)
from agents.train_setup import (
    evaluate_held_out,
    kl_reference,
    load_model,
    make_accelerator,
    make_curriculum,
    make_envs,
    make_policy,
    make_scheduler,
    output_dir,
    progress_bar,
    save_initial,
    tasks_by_arm,
    warm_start_and_eval,
)
from curricula import reward_from_advantages


def train(args: Args) -> dict[str, Any]:
    """Run GRPO; returns the summary (eval rewards before/after, steps, seconds, checkpoint)."""
    started = time.perf_counter()
    check_devices(args, torch.cuda.is_available())
    accelerator = make_accelerator(args)
    out = output_dir(args, accelerator)
    checkpoint = out / "checkpoint"
    resuming = args.resume and has_checkpoint(checkpoint)
    shard = shard_rows(args.prompts_per_step, args.group_size, accelerator)
    check_fsdp_batches(args, shard, accelerator)
    model, tokenizer = load_model(args, out, accelerator, resuming)
    check_lora_targets(args, model)
    model.to(accelerator.device)
    train_tasks, eval_tasks = run_tasks(args)
    by_arm = tasks_by_arm(args.task_family, train_tasks)
    envs = make_envs(args, train_tasks, shard.stop - shard.start)
    eval_envs = make_envs(args, eval_tasks, len(eval_tasks) * args.eval_samples)
    policy = make_policy(args, model, tokenizer, accelerator.device)
    eval_ids = [first_turn(c) for c in eval_tasks]
    evaluate = partial(evaluate_held_out, args, accelerator, eval_envs, policy, eval_ids)
    sampler = rollout_policy(policy, accelerator)  # seeds this process's rows as W = 1 does
    curriculum = make_curriculum(args, sorted(by_arm))
    warm = partial(warm_start_and_eval, args, model, policy, envs, train_tasks, evaluate)
    trained, reference, start_step, extra = _prepare_training(
        args, accelerator, model, policy, curriculum, resuming, out, warm
    )
    model, optimizer, scheduler = trained
    log = MetricsLog(out, start_step, args.tensorboard, accelerator.is_main_process)
    progress = progress_bar(args, start_step, accelerator.is_main_process)
    pad_id = policy.pad_id if args.backend == "hf" else tokenizer.pad_token_id
    last_eval, last_tasks = extra.get("eval", {}), _eval_tasks(extra)
    for step in range(start_step, args.steps):
        tick = time.perf_counter()
        # ------------------------------------------------------------------ rollout
        # every process draws the whole step's arms and tasks, then runs its shard of the slots
        trajectories = _rollouts(
            args, envs, sampler, _step_options(args, curriculum, by_arm, step), shard, step, model
        )
        finish_rollouts(sampler)
        rollout_seconds = time.perf_counter() - tick
        # ------------------------------------------------------------------ scoring, advantages
        # gathered in slot order: advantages and metrics are the global batch's on every process;
        # SEC's arms get their rollouts' mean |A| before the policy moves
        rewards, passed, advantages = _score(args, accelerator, curriculum, trajectories)
        # ------------------------------------------------------------------ optimisation
        batch = pad_batch(trajectories, pad_id, accelerator.device)
        advantages = advantages[shard].to(accelerator.device)  # (b*G,) this process's rows
        parts, (num_items, num_micro_batches) = _micro_batch_plan(args, accelerator, batch, shard)
        ref_logprobs = _reference_logprobs(reference, batch, parts, args.temperature)
        torch.manual_seed(derive_seed(args.seed, step, 3))  # dropout (lora_dropout) masks
        model.train()
        counts = (num_items, num_micro_batches)
        grad_norm, loss_parts, mismatch = _optimise(
            args, accelerator, trained, batch, parts, advantages, ref_logprobs, counts
        )
        if args.backend == "vllm":
            policy.sync_weights(engine_state(accelerator, model))
        # ------------------------------------------------------------------ logging
        outcome = (rewards, passed, int(num_items))
        losses = (loss_parts, mismatch, grad_norm, scheduler)
        seconds = (time.perf_counter() - tick, rollout_seconds)
        metrics = step_metrics(args, step, accelerator, outcome, curriculum, losses, seconds)
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            model.eval()  # dropout (lora_dropout) off, as `crm-gym eval` runs the model
            last_eval, last_tasks = evaluate()
            metrics |= last_eval
        log.write(metrics)
        progress.update(1)
        progress.set_postfix(reward=f"{metrics['rollout/reward_mean']:.3f}")
        if _saving(args, step + 1):
            extra_now = {**extra, "eval": last_eval, "eval_tasks": last_tasks}
            _save(accelerator, trained, tokenizer, curriculum, log, checkpoint, step + 1, extra_now)
        if step + 1 == args.stop_at_step:
            break
    progress.close()
    log.close()
    accelerator.wait_for_everyone()  # the checkpoint is written before any process returns
    seconds = time.perf_counter() - started
    return _summary(args, extra, last_eval, last_tasks, seconds, checkpoint, log.path)


def _eval_tasks(extra: dict[str, Any]) -> dict[str, Any]:
    """The last held-out per-task scores a checkpoint holds (before GRPO, on a fresh run)."""
    return extra.get("eval_tasks", extra.get("eval_tasks_before", {}))


def _saving(args: Args, steps_done: int) -> bool:
    """A checkpoint is due: every ``save_every`` steps, at the end, and at ``stop_at_step``."""
    last = steps_done in (args.steps, args.stop_at_step)
    return steps_done % args.save_every == 0 or last


def _rollouts(
    args: Args, envs: Any, sampler: Any, options: list, shard: slice, step: int, model: Any
) -> list[Any]:
    """This process's shard of the step's episodes (every process drew the whole step's plan)."""
    sampling = SamplingParams(
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=derive_seed(args.seed, step, 1),
    )
    model.eval()  # generation (HF backend) runs the trained model itself
    return collect_rollouts(
        envs,
        sampler,
        sampling=sampling,
        options=options[shard],
        seed=derive_seed(args.seed, step, 2),
        first_episode=shard.start,
    )


def _micro_batch_plan(
    args: Args, accelerator: Any, batch: dict[str, Any], shard: slice
) -> tuple[list[Any], tuple[Any, int]]:
    """This process's micro-batch parts, and the loss normalisers of the whole step.

    The normalisers: the completion tokens of every process's rows (``dapo``) and the global
    number of micro-batches (the mean over micro-batches).
    """
    row_tokens = gather_rows(accelerator, batch["action_mask"].sum(dim=1).tolist())
    num_items = torch.tensor(sum(row_tokens))
    parts = micro_batches(
        shard, args.micro_batch_size, row_tokens, args.loss_type, accelerator.num_processes
    )
    return parts, (num_items, -(-len(row_tokens) // args.micro_batch_size))


def _prepare_training(
    args: Args,
    accelerator: Any,
    model: Any,
    policy: Any,
    curriculum: Any,
    resuming: bool,
    out: Path,
    warm_start: Callable[[], dict[str, Any]],
) -> tuple[tuple[Any, Any, Any], Any, int, dict[str, Any]]:
    """The trained triple (model, optimizer, scheduler), KL reference, first step and ``extra``.

    Warm-started and saved as ``initial/`` on a new run, loaded from the checkpoint on a resume.
    """
    checkpoint = out / "checkpoint"
    start_step, extra, sharded_optimizer = 0, {}, None
    if not resuming:  # every process runs the (deterministic) warm start; the main one evaluates
        extra = warm_start()
        save_initial(model, policy.tokenizer, out, accelerator)
    model = prepare_for_training(args, model, seed=args.seed)  # LoRA, checkpointing
    optimizer = make_optimizer(args, model)
    scheduler = make_scheduler(args, optimizer)
    if resuming:  # under FSDP the optimizer's (gathered) state is loaded once it is sharded
        loaded = load_checkpoint(
            checkpoint,
            model=model,
            curriculum=curriculum,
            optimizer=None if args.fsdp else optimizer,
            scheduler=scheduler,
        )
        start_step, extra = loaded["step"], loaded["extra"]
        sharded_optimizer = loaded["optimizer"] if args.fsdp else None
    if args.backend == "vllm":  # the engine loaded args.model: give it the resumed weights
        policy.sync_weights(engine_state(accelerator, model))
    reference = kl_reference(args, out, accelerator.device, model)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    load_sharded_optimizer(model, optimizer, sharded_optimizer)  # FSDP resumes only
    return (model, optimizer, scheduler), reference, start_step, extra


def _score(
    args: Args, accelerator: Any, curriculum: Any, trajectories: list[Any]
) -> tuple[Any, list, Any]:
    """The global batch's rewards ``(B*G,)``, passed flags and group advantages ``(B*G,)``.

    The curriculum is updated here (SEC: each arm's reward is its rollouts' mean |A|).
    """
    rewards = torch.tensor(
        gather_rows(accelerator, [t.total_return for t in trajectories]), dtype=torch.float32
    )  # (B*G,)
    passed = gather_rows(accelerator, [float(t.passed) for t in trajectories])
    advantages = group_advantages(rewards, args.group_size, args.scale_rewards)  # (B*G,)
    arms = gather_rows(accelerator, [t.arm for t in trajectories])
    curriculum.update(reward_from_advantages(arms, advantages.tolist()))
    return rewards, passed, advantages


def _optimise(
    args: Args,
    accelerator: Any,
    trained: tuple[Any, Any, Any],
    batch: dict[str, Any],
    parts: list[Any],
    advantages: Any,
    ref_logprobs: Any,
    norms: tuple[Any, int],
) -> tuple[Any, list, list]:
    """``num_iterations`` optimizer steps on the step's batch, micro-batch by micro-batch.

    Returns the last gradient norm, each micro-batch's loss metrics, and the sampler-vs-trainer
    logprob gaps of the first iteration (before any update).
    """
    model, optimizer, scheduler = trained
    loss_parts: list[tuple[Any, dict[str, float]]] = []
    mismatch: list[tuple[Any, dict[str, float]]] = []
    for iteration in range(args.num_iterations):
        optimizer.zero_grad(set_to_none=True)
        for k, part in enumerate(parts):
            rows = part.rows
            # the last micro-batch syncs gradients across processes (a no-op on one)
            sync = nullcontext() if k == len(parts) - 1 else accelerator.no_sync(model)
            with sync, accelerator.autocast():
                logprobs, loss, metrics = _micro_batch_loss(
                    args, model, batch, rows, advantages, ref_logprobs, norms
                )
                # a shared micro-batch's part, and DDP's mean over processes (see
                # agents.train_parallel): the gradients add up to the global batch's
                accelerator.backward(loss if part.scale == 1 else loss * part.scale)
            loss_parts.append(((iteration, part.index), shared_metrics(metrics, part.share)))
            if iteration == 0:  # sampler vs trainer logprobs, before any update
                mismatch.append((part.index, logprob_mismatch(logprobs, batch, rows)))
        grad_norm = accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()
        scheduler.step()
    return grad_norm, loss_parts, mismatch


def _save(
    accelerator: Any,
    trained: tuple[Any, Any, Any],
    tokenizer: Any,
    curriculum: Any,
    log: MetricsLog,
    checkpoint: Path,
    step: int,
    extra: dict[str, Any],
) -> None:
    """Write the checkpoint of ``step`` (every process gathers FSDP states; the main one writes)."""
    model, optimizer, scheduler = trained
    gathered = sharded_states(accelerator, model, optimizer)  # FSDP; {} otherwise
    if accelerator.is_main_process:
        log.sync()  # the rows on disk before the checkpoint that says their steps are done
        save_checkpoint(
            checkpoint,
            model=accelerator.unwrap_model(model),
            tokenizer=tokenizer,
            optimizer=optimizer,
            scheduler=scheduler,
            curriculum=curriculum,
            step=step,
            extra=extra,
            **gathered,
        )


def _step_options(args: Args, curriculum: Any, by_arm: dict[str, list[str]], step: int) -> list:
    """The step's reset options: the curriculum's arms, a seeded task of each, each a group."""
    arms = curriculum.sample(args.prompts_per_step, available=list(by_arm))
    rng = np.random.default_rng([args.seed, step])
    task_ids = [by_arm[arm][rng.integers(len(by_arm[arm]))] for arm in arms]
    return [
        {"task_id": task, "arm": arm}
        for task, arm in zip(task_ids, arms, strict=True)
        for _ in range(args.group_size)
    ]


def _micro_batch_loss(
    args: Args,
    model: Any,
    batch: dict,
    rows: slice,
    advantages: Any,
    ref_logprobs: Any,
    normalisers: tuple[Any, int],
) -> tuple[Any, Any, dict]:
    """The trainer's logprobs of ``rows`` and their GRPO loss and metrics.

    ``normalisers``: the global batch's completion tokens and micro-batch count.
    """
    num_items, num_micro_batches = normalisers
    mask = batch["action_mask"][rows]  # (b, T)
    logprobs = token_logprobs(
        model, batch["input_ids"][rows], batch["attention_mask"][rows], mask, args.temperature
    )
    old = batch["old_logprobs"][rows] if args.num_iterations > 1 else None
    loss, metrics = grpo_loss(
        logprobs,
        old,
        None if ref_logprobs is None else ref_logprobs[rows],
        advantages[rows],
        mask,
        num_items_in_batch=num_items,
        num_accumulation_steps=num_micro_batches,
        **loss_settings(args),
    )
    return logprobs, loss, metrics


def loss_settings(args: Args) -> dict[str, Any]:
    """The run's ``grpo_loss`` keywords: KL weight, clip range, aggregation, length bound."""
    return {
        "beta": args.beta,
        "eps_low": args.eps_low,
        "eps_high": args.eps_high,
        "loss_type": args.loss_type,
        "max_completion_length": args.max_new_tokens * args.max_env_steps,
    }


def _reference_logprobs(
    reference: Any, batch: dict, parts: list[MicroBatch], temperature: float
) -> Any:
    if reference is None:
        return None
    adapters_off = reference.disable_adapter() if is_lora(reference) else nullcontext()
    with torch.no_grad(), adapters_off:
        logprobs = [
            token_logprobs(
                reference,
                batch["input_ids"][p.rows],
                batch["attention_mask"][p.rows],
                batch["action_mask"][p.rows],
                temperature,
            )
            for p in parts
        ]
    return torch.cat(logprobs)


def _summary(
    args: Args,
    extra: dict[str, Any],
    last_eval: dict[str, float],
    last_tasks: dict[str, float],
    seconds: float,
    checkpoint: Path,
    metrics_path: Path,
) -> dict[str, Any]:
    """What `train` returns: eval before/after, steps, seconds and where the outputs are."""
    return {
        "eval_reward_before": extra["eval_before"]["eval/reward_mean"],
        "eval_reward_after": last_eval.get("eval/reward_mean"),
        "eval_success_before": extra["eval_before"]["eval/success_rate"],
        "eval_success_after": last_eval.get("eval/success_rate"),
        "eval_greedy_success_before": extra["eval_before"].get("eval/greedy_success_rate"),
        "eval_greedy_success_after": last_eval.get("eval/greedy_success_rate"),
        # each held-out task's success rate, {"sampled": {task: rate}, "greedy": {task: 0|1}}
        "eval_tasks_before": extra.get("eval_tasks_before", {}),
        "eval_tasks_after": last_tasks,
        "warm_start_steps": args.warm_start_steps,
        "steps": min(args.steps, args.stop_at_step or args.steps),
        "seconds": round(seconds, 2),
        "checkpoint": str(checkpoint),
        "metrics": str(metrics_path),
    }
