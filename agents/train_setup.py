"""What a GRPO run is made of before its first step: run directory, model, envs, sampler.

``agents.train.train`` calls these in order: the run directory and the accelerator, the model
(the offline tiny model is built here), the envs of the training and held-out tasks, the
sampling policy (HF or vLLM), the curriculum and the learning-rate schedule, then the optional
supervised warm start and the held-out evaluation GRPO starts from, and the KL reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from agents.checkpoint import load_pretrained, recover_checkpoint
from agents.lora import is_lora
from agents.policy import SamplingParams
from agents.rollout import derive_seed
from agents.run_dir import check_resume, clear_run, write_args
from agents.train_args import Args
from agents.train_data import (
    SPLIT_FAMILIES,
    env_kwargs,
    eval_seed,
    evaluate_per_task,
    first_turn,
    replay_trajectories,
    task_arm,
    warm_start,
    warm_start_tasks,
)
from agents.train_parallel import on_main
from agents.train_scale import fsdp_plugin
from curricula import FixedOrderSampler, SoftmaxBandit, UniformSampler
from curricula.arms import DEFAULT_DIFFICULTIES


def output_dir(args: Args, accelerator: Any) -> Path:
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


def make_accelerator(args: Args) -> Any:
    """The run's ``Accelerator``: device, mixed precision, FSDP when asked."""
    from accelerate import Accelerator, DataLoaderConfiguration

    # no dataloader is prepared: split_batches only makes the prepared scheduler step once per
    # optimizer step (by default it steps once per process, for per-process dataloaders)
    return Accelerator(
        mixed_precision=args.mixed_precision,
        cpu=not torch.cuda.is_available(),
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        fsdp_plugin=fsdp_plugin(args),
    )


def load_model(args: Args, out: Path, accelerator: Any, resuming: bool) -> tuple[Any, Any]:
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
            build_tiny_model(
                path,
                seed=base_seed(args),
                hidden_size=args.tiny_hidden_size,
                num_layers=args.tiny_num_layers,
                vocab_size=args.tiny_vocab_size,
            )
        accelerator.wait_for_everyone()
    weights = out / "initial" if resuming and args.lora_rank else path
    return load_pretrained(weights), AutoTokenizer.from_pretrained(path)


def tasks_by_arm(family: str, conversations: list[Any]) -> dict[str, list[str]]:
    """The training task ids of each curriculum arm (``task_arm``)."""
    by_arm: dict[str, list[str]] = {}
    for conversation in conversations:
        by_arm.setdefault(task_arm(family, conversation), []).append(first_turn(conversation))
    return by_arm


def make_envs(args: Args, tasks: list[Any], num_envs: int) -> Any:
    """A vector env of ``num_envs`` copies over ``tasks``, with the run's env settings."""
    from crm_gym import make_vec

    return make_vec(args.env_id, num_envs, **env_kwargs(args, tasks))


def make_policy(args: Args, model: Any, tokenizer: Any, device: Any) -> Any:
    """The sampler: the trained model itself (HF) or a vLLM engine synced after each step."""
    if args.backend == "vllm":
        from agents.vllm import VllmPolicy

        return VllmPolicy(
            args.model,
            prompt_style=args.prompt_style,
            gpu_memory_utilization=args.vllm_gpu_memory_utilization,
            seed=args.seed,
            tokenizer=tokenizer,
        )
    from agents.hf import HFPolicy

    return HFPolicy(model, tokenizer, device=str(device), prompt_style=args.prompt_style)


def make_curriculum(args: Args, arms: list[str]) -> Any:
    """The run's curriculum over ``arms``: the SEC bandit, uniform, or a fixed difficulty order.

    ``easy_to_hard`` and ``hard_to_easy`` give every arm an equal share of the steps, one arm a
    step (``FixedOrderSampler``): the same tasks in opposite orders, to see if order matters.
    """
    rng = np.random.default_rng([args.seed, 7])
    if args.curriculum == "uniform":
        return UniformSampler(arms, rng=rng)
    if args.curriculum in ("easy_to_hard", "hard_to_easy"):
        ordered = difficulty_order(arms, reverse=args.curriculum == "hard_to_easy")
        return FixedOrderSampler(ordered, steps_per_arm=max(1, args.steps // len(arms)))
    return SoftmaxBandit(arms, alpha=args.curriculum_alpha, tau=args.curriculum_tau, rng=rng)


def difficulty_order(arms: list[str], reverse: bool = False) -> list[str]:
    """``skill-difficulty`` arms, easy ones first (or hard ones, ``reverse``), skills by name."""
    rank = {difficulty: i for i, difficulty in enumerate(DEFAULT_DIFFICULTIES)}
    unknown = [arm for arm in arms if arm.rsplit("-", 1)[-1] not in rank]
    if unknown:
        raise ValueError(f"arms must end in one of {DEFAULT_DIFFICULTIES}, got {unknown}")
    ordered = sorted(arms, key=lambda arm: (rank[arm.rsplit("-", 1)[-1]], arm))
    return ordered[::-1] if reverse else ordered


def make_scheduler(args: Args, optimizer: Any) -> Any:
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


def warm_start_and_eval(
    args: Args,
    model: Any,
    policy: Any,
    envs: Any,
    train_tasks: list,
    evaluate: Callable[[], tuple[dict, dict]],
) -> dict[str, Any]:
    """The optional supervised warm start, then the held-out evaluation GRPO starts from.

    Every process runs the warm start: it is short and deterministic, so their weights agree.
    """
    losses: list[float] = []
    if args.warm_start_steps:
        data = warm_start_data(args, envs, policy, train_tasks)
        rng = np.random.default_rng([base_seed(args), 3])
        losses = warm_start(
            model,
            data,
            steps=args.warm_start_steps,
            lr=args.warm_start_lr,
            batch_size=args.warm_start_batch_size,
            pad_id=policy.pad_id,
            rng=rng,
        )
    before, tasks = evaluate()
    return {
        "eval_before": before,
        "eval": before,
        "warm_start_loss": losses[-1:],
        "eval_tasks_before": tasks,
        "eval_tasks": tasks,
    }


def evaluate_held_out(
    args: Args, accelerator: Any, eval_envs: Any, policy: Any, eval_ids: list[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Held-out evaluation on the main process, its result sent to every process."""
    return on_main(
        accelerator,
        lambda: evaluate_per_task(
            eval_envs, policy, eval_ids, eval_sampling(args), args.eval_samples
        ),
    )


def save_initial(model: Any, tokenizer: Any, out: Path, accelerator: Any) -> None:
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
    seed = base_seed(args)
    if not args.warm_start_conversations:
        return replay_trajectories(envs, policy, [first_turn(c) for c in train_tasks], seed)
    tasks = warm_start_tasks(args.task_family, warm_start_conversations(args))
    replay_envs = make_envs(args, tasks, envs.num_envs)
    try:
        return replay_trajectories(replay_envs, policy, [first_turn(c) for c in tasks], seed)
    finally:
        replay_envs.close()


def warm_start_conversations(args: Args) -> Any:
    """The ``warm_start_conversations`` the warm start replays (a generator stream of its own)."""
    from crm_gym.generator import generate

    side = "train" if args.task_family in SPLIT_FAMILIES else "all"
    seed = derive_seed(base_seed(args), 11)
    return generate(args.warm_start_conversations, seed=seed, holdout=side)


def eval_sampling(args: Args) -> SamplingParams:
    """Held-out episodes sample as training does, from the data seed's draws.

    Every run on the same tasks draws the same uniforms, before and after GRPO alike.
    """
    return SamplingParams(
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=eval_seed(args),
    )


def base_seed(args: Args) -> int:
    """The seed of the tiny model's weights and the warm start (``Args.base_seed``)."""
    return args.seed if args.base_seed is None else args.base_seed


def kl_reference(args: Args, out: Path, device: Any, model: Any) -> Any:
    """The frozen KL reference (the policy GRPO started from), only when ``beta != 0``.

    With LoRA it is the policy itself, its adapters switched off while it scores
    (``agents.train._reference_logprobs``): the base weights are not held twice.
    """
    if args.beta == 0:
        return None
    if is_lora(model):
        return model
    reference = load_pretrained(out / "initial").to(device).eval()
    return reference.requires_grad_(False)


def progress_bar(args: Args, start_step: int, main: bool) -> Any:
    """A tqdm bar over the GRPO steps, shown on the main process when ``progress`` is on."""
    from tqdm.auto import tqdm

    return tqdm(
        total=args.steps, initial=start_step, disable=not (args.progress and main), desc="grpo"
    )
