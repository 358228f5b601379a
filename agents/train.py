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
    load_pretrained,
    recover_checkpoint,
    save_checkpoint,
)
from agents.grpo import group_advantages, grpo_loss
from agents.logprobs import token_logprobs
from agents.lora import is_lora
from agents.policy import SamplingParams
from agents.rollout import collect_rollouts, derive_seed
from agents.run_dir import MetricsLog, check_resume, clear_run, write_args
from agents.train_args import Args
from agents.train_data import (
    SPLIT_FAMILIES,
    env_kwargs,
    eval_seed,
    evaluate_per_task,
    first_turn,
    pad_batch,
    replay_trajectories,
    run_tasks,
    task_arm,
    warm_start,
    warm_start_tasks,
)
from agents.train_metrics import episode_passed, logprob_mismatch, shared_metrics, step_metrics
from agents.train_parallel import (
    MicroBatch,
    finish_rollouts,
    gather_rows,
    micro_batches,
    on_main,
    rollout_policy,
    shard_rows,
)
from agents.train_scale import (
    check_devices,
    check_fsdp_batches,
    check_lora_targets,
    engine_state,
    fsdp_plugin,
    load_sharded_optimizer,
    make_optimizer,
    prepare_for_training,
    sharded_states,
)
from curricula import SoftmaxBandit, UniformSampler, reward_from_advantages


def train(args: Args) -> dict[str, Any]:
    """Run GRPO; returns the summary (eval rewards before/after, steps, seconds, checkpoint)."""
    started = time.perf_counter()
    check_devices(args, torch.cuda.is_available())
    accelerator = _accelerator(args)
    out = _output_dir(args, accelerator)
    checkpoint = out / "checkpoint"
    resuming = args.resume and has_checkpoint(checkpoint)
    shard = shard_rows(args.prompts_per_step, args.group_size, accelerator)
    check_fsdp_batches(args, shard, accelerator)
    model, tokenizer = _load_model(args, out, accelerator, resuming)
    check_lora_targets(args, model)
    model.to(accelerator.device)
    train_tasks, eval_tasks = run_tasks(args)
    by_arm = _tasks_by_arm(args.task_family, train_tasks)
    envs = _make_envs(args, train_tasks, shard.stop - shard.start)
    eval_envs = _make_envs(args, eval_tasks, len(eval_tasks) * args.eval_samples)
    policy = _policy(args, model, tokenizer, accelerator.device)
    evaluate = partial(_evaluate, args, accelerator, eval_envs, policy,
                       [first_turn(c) for c in eval_tasks])  # fmt: skip
    sampler = rollout_policy(policy, accelerator)  # seeds this process's rows as W = 1 does
    curriculum = _curriculum(args, sorted(by_arm))
    (model, optimizer, scheduler), reference, start_step, extra = _prepare_training(
        args, accelerator, model, policy, curriculum, resuming, out,
        partial(_warm_start_and_eval, args, model, policy, envs, train_tasks, evaluate),
    )  # fmt: skip
    log = MetricsLog(out, start_step, args.tensorboard, accelerator.is_main_process)
    progress = _progress(args, start_step, accelerator.is_main_process)
    pad_id = policy.pad_id if args.backend == "hf" else tokenizer.pad_token_id
    last_eval, last_tasks = extra.get("eval", {}), _eval_tasks(extra)
    for step in range(start_step, args.steps):
        tick = time.perf_counter()
        # ------------------------------------------------------------------ rollout
        # every process draws the whole step's arms and tasks, then runs its shard of the slots
        trajectories = _rollouts(args, envs, sampler, _step_options(args, curriculum, by_arm, step),
                                 shard, step, model)  # fmt: skip
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
        grad_norm, loss_parts, mismatch = _optimise(
            args, accelerator, (model, optimizer, scheduler), batch, parts, advantages,
            ref_logprobs, (num_items, num_micro_batches),
        )  # fmt: skip
        if args.backend == "vllm":
            policy.sync_weights(engine_state(accelerator, model))
        # ------------------------------------------------------------------ logging
        metrics = step_metrics(args, step, accelerator, (rewards, passed, int(num_items)),
                               curriculum, (loss_parts, mismatch, grad_norm, scheduler),
                               (time.perf_counter() - tick, rollout_seconds))  # fmt: skip
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            model.eval()  # dropout (lora_dropout) off, as `crm-gym eval` runs the model
            last_eval, last_tasks = evaluate()
            metrics |= last_eval
        log.write(metrics)
        progress.update(1)
        progress.set_postfix(reward=f"{metrics['rollout/reward_mean']:.3f}")
        if _saving(args, step + 1):
            extra_now = {**extra, "eval": last_eval, "eval_tasks": last_tasks}
            _save(accelerator, (model, optimizer, scheduler), tokenizer, curriculum, log,
                  checkpoint, step + 1, extra_now)  # fmt: skip
        if step + 1 == args.stop_at_step:
            break
    progress.close()
    log.close()
    accelerator.wait_for_everyone()  # the checkpoint is written before any process returns
    return _summary(args, extra, last_eval, last_tasks, time.perf_counter() - started,
                    checkpoint, log.path)  # fmt: skip


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
    sampling = SamplingParams(temperature=args.temperature, top_p=args.top_p,
                              max_new_tokens=args.max_new_tokens,
                              seed=derive_seed(args.seed, step, 1))  # fmt: skip
    model.eval()  # generation (HF backend) runs the trained model itself
    return collect_rollouts(envs, sampler, sampling=sampling, options=options[shard],
                            seed=derive_seed(args.seed, step, 2),
                            first_episode=shard.start)  # fmt: skip


def _micro_batch_plan(
    args: Args, accelerator: Any, batch: dict[str, Any], shard: slice
) -> tuple[list[Any], tuple[Any, int]]:
    """This process's micro-batch parts, and the loss normalisers of the whole step.

    The normalisers: the completion tokens of every process's rows (``dapo``) and the global
    number of micro-batches (the mean over micro-batches).
    """
    row_tokens = gather_rows(accelerator, batch["action_mask"].sum(dim=1).tolist())
    num_items = torch.tensor(sum(row_tokens))
    parts = micro_batches(shard, args.micro_batch_size, row_tokens, args.loss_type,
                          accelerator.num_processes)  # fmt: skip
    return parts, (num_items, -(-len(row_tokens) // args.micro_batch_size))


def _prepare_training(
    args: Args, accelerator: Any, model: Any, policy: Any, curriculum: Any, resuming: bool,
    out: Path, warm_start: Callable[[], dict[str, Any]],
) -> tuple[tuple[Any, Any, Any], Any, int, dict[str, Any]]:  # fmt: skip
    """The trained triple (model, optimizer, scheduler), KL reference, first step and ``extra``.

    Warm-started and saved as ``initial/`` on a new run, loaded from the checkpoint on a resume.
    """
    checkpoint = out / "checkpoint"
    start_step, extra, sharded_optimizer = 0, {}, None
    if not resuming:  # every process runs the (deterministic) warm start; the main one evaluates
        extra = warm_start()
        _save_initial(model, policy.tokenizer, out, accelerator)
    model = prepare_for_training(args, model, seed=args.seed)  # LoRA, checkpointing
    optimizer = make_optimizer(args, model)
    scheduler = _scheduler(args, optimizer)
    if resuming:  # under FSDP the optimizer's (gathered) state is loaded once it is sharded
        loaded = load_checkpoint(checkpoint, model=model, curriculum=curriculum,
                                 optimizer=None if args.fsdp else optimizer,
                                 scheduler=scheduler)  # fmt: skip
        start_step, extra = loaded["step"], loaded["extra"]
        sharded_optimizer = loaded["optimizer"] if args.fsdp else None
    if args.backend == "vllm":  # the engine loaded args.model: give it the resumed weights
        policy.sync_weights(engine_state(accelerator, model))
    reference = _reference(args, out, accelerator.device, model)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    load_sharded_optimizer(model, optimizer, sharded_optimizer)  # FSDP resumes only
    return (model, optimizer, scheduler), reference, start_step, extra


def _score(
    args: Args, accelerator: Any, curriculum: Any, trajectories: list[Any]
) -> tuple[Any, list, Any]:
    """The global batch's rewards ``(B*G,)``, passed flags and group advantages ``(B*G,)``.

    The curriculum is updated here (SEC: each arm's reward is its rollouts' mean |A|).
    """
    rewards = torch.tensor(gather_rows(accelerator, [t.total_return for t in trajectories]),
                           dtype=torch.float32)  # (B*G,)  # fmt: skip
    passed = gather_rows(accelerator, [episode_passed(t) for t in trajectories])
    advantages = group_advantages(rewards, args.group_size, args.scale_rewards)  # (B*G,)
    arms = gather_rows(accelerator, [t.arm for t in trajectories])
    curriculum.update(reward_from_advantages(arms, advantages.tolist()))
    return rewards, passed, advantages


def _optimise(
    args: Args, accelerator: Any, trained: tuple[Any, Any, Any], batch: dict[str, Any],
    parts: list[Any], advantages: Any, ref_logprobs: Any, norms: tuple[Any, int],
) -> tuple[Any, list, list]:  # fmt: skip
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
    accelerator: Any, trained: tuple[Any, Any, Any], tokenizer: Any, curriculum: Any,
    log: MetricsLog, checkpoint: Path, step: int, extra: dict[str, Any],
) -> None:  # fmt: skip
    """Write the checkpoint of ``step`` (every process gathers FSDP states; the main one writes)."""
    model, optimizer, scheduler = trained
    gathered = sharded_states(accelerator, model, optimizer)  # FSDP; {} otherwise
    if accelerator.is_main_process:
        log.sync()  # the rows on disk before the checkpoint that says their steps are done
        save_checkpoint(checkpoint, model=accelerator.unwrap_model(model), tokenizer=tokenizer,
                        optimizer=optimizer, scheduler=scheduler, curriculum=curriculum,
                        step=step, extra=extra, **gathered)  # fmt: skip


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
    logprobs = token_logprobs(model, batch["input_ids"][rows], batch["attention_mask"][rows],
                              mask, args.temperature)  # fmt: skip
    old = batch["old_logprobs"][rows] if args.num_iterations > 1 else None
    loss, metrics = grpo_loss(
        logprobs, old, None if ref_logprobs is None else ref_logprobs[rows],
        advantages[rows], mask, beta=args.beta, eps_low=args.eps_low,
        eps_high=args.eps_high, loss_type=args.loss_type,
        max_completion_length=args.max_new_tokens * args.max_env_steps,
        num_items_in_batch=num_items, num_accumulation_steps=num_micro_batches,
    )  # fmt: skip
    return logprobs, loss, metrics


# ---------------------------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------------------------


def _output_dir(args: Args, accelerator: Any) -> Path:
    """Set the torch thread count; make, check and record the run directory.

    The main process starts over (``resume=False``) or finishes a checkpoint swap a kill
    interrupted; then every process checks that the directory is this configuration's.
    """
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    out = Path(args.output_dir)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        if args.resume:
            recover_checkpoint(out / "checkpoint")
        else:
            clear_run(out)
    accelerator.wait_for_everyone()
    check_resume(out, args)
    if accelerator.is_main_process:
        write_args(out, args)
    return out


def _accelerator(args: Args) -> Any:
    from accelerate import Accelerator, DataLoaderConfiguration

    # no dataloader is prepared: split_batches only makes the prepared scheduler step once per
    # optimizer step (by default it steps once per process, for per-process dataloaders)
    return Accelerator(mixed_precision=args.mixed_precision, cpu=not torch.cuda.is_available(),
                       dataloader_config=DataLoaderConfiguration(split_batches=True),
                       fsdp_plugin=fsdp_plugin(args))  # fmt: skip


def _load_model(args: Args, out: Path, accelerator: Any, resuming: bool) -> tuple[Any, Any]:
    """The model and tokenizer: built offline for ``"tiny"`` (by the main process), else loaded.

    A LoRA run resumes on ``initial/`` (the base after the warm start; the checkpoint holds the
    adapters alone); a full fine-tune loads the checkpoint's weights over ``args.model``.
    """
    from transformers import AutoTokenizer

    path: str | Path = args.model
    if args.model == "tiny":
        from agents.tiny import build_tiny_model

        path = out / "tiny-model"
        if accelerator.is_main_process and not (path / "config.json").exists():
            build_tiny_model(path, seed=_base_seed(args), hidden_size=args.tiny_hidden_size,
                             num_layers=args.tiny_num_layers,
                             vocab_size=args.tiny_vocab_size)  # fmt: skip
        accelerator.wait_for_everyone()
    weights = out / "initial" if resuming and args.lora_rank else path
    return load_pretrained(weights), AutoTokenizer.from_pretrained(path)


def _tasks_by_arm(family: str, conversations: list[Any]) -> dict[str, list[str]]:
    by_arm: dict[str, list[str]] = {}
    for conversation in conversations:
        by_arm.setdefault(task_arm(family, conversation), []).append(first_turn(conversation))
    return by_arm


def _make_envs(args: Args, tasks: list[Any], num_envs: int) -> Any:
    from crm_gym import make_vec

    return make_vec(args.env_id, num_envs, **env_kwargs(args, tasks))


def _policy(args: Args, model: Any, tokenizer: Any, device: Any) -> Any:
    """The sampler: the trained model itself (HF) or a vLLM engine synced after each step."""
    if args.backend == "vllm":
        from agents.vllm import VllmPolicy

        return VllmPolicy(args.model, prompt_style=args.prompt_style,
                          gpu_memory_utilization=args.vllm_gpu_memory_utilization,
                          seed=args.seed, tokenizer=tokenizer)  # fmt: skip
    from agents.hf import HFPolicy

    return HFPolicy(model, tokenizer, device=str(device), prompt_style=args.prompt_style)


def _curriculum(args: Args, arms: list[str]) -> Any:
    rng = np.random.default_rng([args.seed, 7])
    if args.curriculum == "uniform":
        return UniformSampler(arms, rng=rng)
    return SoftmaxBandit(arms, alpha=args.curriculum_alpha, tau=args.curriculum_tau, rng=rng)


def _scheduler(args: Args, optimizer: Any) -> Any:
    """Linear warmup, then constant, linear decay to 0, or cosine, per optimizer step."""
    total = max(1, args.steps * args.num_iterations)

    def factor(i: int) -> float:
        if i < args.warmup_steps:
            return (i + 1) / args.warmup_steps
        progress = (i - args.warmup_steps) / max(1, total - args.warmup_steps)
        if args.lr_schedule == "linear":
            return max(0.0, 1 - progress)
        if args.lr_schedule == "cosine":
            return 0.5 * (1 + np.cos(np.pi * min(progress, 1.0)))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _warm_start_and_eval(args: Args, model: Any, policy: Any, envs: Any, train_tasks: list,
                         evaluate: Callable[[], tuple[dict, dict]]) -> dict[str, Any]:  # fmt: skip
    """The optional supervised warm start, then the held-out evaluation GRPO starts from.

    Every process runs the warm start: it is short and deterministic, so their weights agree.
    """
    losses: list[float] = []
    if args.warm_start_steps:
        data = warm_start_data(args, envs, policy, train_tasks)
        rng = np.random.default_rng([_base_seed(args), 3])
        losses = warm_start(model, data, steps=args.warm_start_steps, lr=args.warm_start_lr,
                            batch_size=args.warm_start_batch_size, pad_id=policy.pad_id,
                            rng=rng)  # fmt: skip
    before, tasks = evaluate()
    return {"eval_before": before, "eval": before, "warm_start_loss": losses[-1:],
            "eval_tasks_before": tasks, "eval_tasks": tasks}  # fmt: skip


def _evaluate(args: Args, accelerator: Any, eval_envs: Any, policy: Any,
              eval_ids: list[str]) -> tuple[dict[str, float], dict[str, float]]:  # fmt: skip
    """Held-out evaluation on the main process, its result sent to every process."""
    return on_main(accelerator, lambda: evaluate_per_task(
        eval_envs, policy, eval_ids, _eval_sampling(args), args.eval_samples))  # fmt: skip


def _save_initial(model: Any, tokenizer: Any, out: Path, accelerator: Any) -> None:
    """The KL reference and the "before" weights, written before any process reads them.

    With its tokenizer, ``initial/`` is a model directory of its own: a later run can start
    from it (``model=RUN/initial``, no warm start), as the evidence run's seeds do.
    """
    if accelerator.is_main_process:
        model.save_pretrained(out / "initial")
        tokenizer.save_pretrained(out / "initial")
    accelerator.wait_for_everyone()


def warm_start_data(args: Args, envs: Any, policy: Any, train_tasks: list) -> list[Any]:
    """Replayed reference trajectories: of the training tasks, or of ``warm_start_conversations``.

    Those conversations come from the base seed's own generator stream, on the training side of
    the held-out split for the ``args`` and ``chain`` families (``warm_start_tasks``).
    """
    seed = _base_seed(args)
    if not args.warm_start_conversations:
        return replay_trajectories(envs, policy, [first_turn(c) for c in train_tasks], seed)
    from crm_gym.generator import generate

    side = "train" if args.task_family in SPLIT_FAMILIES else "all"
    stream = generate(args.warm_start_conversations, seed=derive_seed(seed, 11), holdout=side)
    tasks = warm_start_tasks(args.task_family, stream)
    replay_envs = _make_envs(args, tasks, envs.num_envs)
    try:
        return replay_trajectories(replay_envs, policy, [first_turn(c) for c in tasks], seed)
    finally:
        replay_envs.close()


def _eval_sampling(args: Args) -> SamplingParams:
    """Held-out episodes sample as training does, from the data seed's draws.

    Every run on the same tasks draws the same uniforms, before and after GRPO alike.
    """
    return SamplingParams(temperature=args.temperature, top_p=args.top_p,
                          max_new_tokens=args.max_new_tokens, seed=eval_seed(args))  # fmt: skip


def _base_seed(args: Args) -> int:
    return args.seed if args.base_seed is None else args.base_seed


def _reference(args: Args, out: Path, device: Any, model: Any) -> Any:
    """The frozen KL reference (the policy GRPO started from), only when ``beta != 0``.

    With LoRA it is the policy itself, its adapters switched off while it scores
    (``_reference_logprobs``): the base weights are not held twice.
    """
    if args.beta == 0:
        return None
    if is_lora(model):
        return model
    reference = load_pretrained(out / "initial").to(device).eval()
    return reference.requires_grad_(False)


def _reference_logprobs(
    reference: Any, batch: dict, parts: list[MicroBatch], temperature: float
) -> Any:
    if reference is None:
        return None
    adapters_off = reference.disable_adapter() if is_lora(reference) else nullcontext()
    with torch.no_grad(), adapters_off:
        logprobs = [
            token_logprobs(reference, batch["input_ids"][p.rows], batch["attention_mask"][p.rows],
                           batch["action_mask"][p.rows], temperature)
            for p in parts
        ]  # fmt: skip
    return torch.cat(logprobs)


def _summary(args: Args, extra: dict[str, Any], last_eval: dict[str, float],
             last_tasks: dict[str, float], seconds: float, checkpoint: Path,
             metrics_path: Path) -> dict[str, Any]:  # fmt: skip
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


def _progress(args: Args, start_step: int, main: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=args.steps, initial=start_step, disable=not (args.progress and main),
                desc="grpo")  # fmt: skip
