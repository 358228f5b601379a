"""The memory options of a GRPO run: LoRA, gradient checkpointing, FSDP, the 8-bit optimizer.

``agents.train`` calls these between loading the model and preparing it with ``accelerate``:

- ``prepare_for_training``: activation recomputation (``gradient_checkpointing``; transformers'
  own, non-reentrant) and peft's LoRA adapters (``lora_rank > 0``: the base frozen);
- ``make_optimizer``: AdamW over the trainable parameters, or bitsandbytes' 8-bit AdamW;
- ``fsdp_plugin``: accelerate's FSDP2 (``fsdp=true``), parameters, gradients and optimizer
  states sharded over the processes, whole decoder layers gathered one at a time;
- ``engine_state``: the full weights for the vLLM engine (gathered from the FSDP shards, LoRA
  merged in).

FSDP and the 8-bit optimizer need CUDA GPUs (``check_devices`` says so before anything loads):
accelerate runs FSDP only over GPU processes (on the CPU it would quietly run DDP instead), and
bitsandbytes' 8-bit states are CUDA kernels. They are unverified on this project's CPU machines
(docs/training.md).
"""

from __future__ import annotations

from typing import Any

from agents.lora import add_lora, is_lora, lora_scaling, merge_lora
from agents.train_args import Args
from crm_gym.errors import ConfigError

BNB_EXTRA = 'pip install "crm-gym[bnb]"'


def check_devices(args: Args, cuda: bool) -> None:
    """Refuse, before anything loads, the options this machine's devices cannot run."""
    if cuda:
        return
    if args.optimizer == "adamw_8bit":
        raise ConfigError(
            "optimizer='adamw_8bit' needs a CUDA GPU (bitsandbytes' 8-bit "
            f"Adam, {BNB_EXTRA}); this machine has none: use "
            "optimizer='adamw'"
        )
    if args.fsdp:
        raise ConfigError(
            "fsdp=true needs CUDA GPUs: accelerate shards a model over GPU "
            "processes only (on the CPU it would run plain DDP); use fsdp=false, "
            "or accelerate launch --multi_gpu for CPU data parallel"
        )


def check_fsdp_batches(args: Args, shard: slice, accelerator: Any) -> None:
    """Under FSDP every process must run as many forward passes per step as the others.

    Each forward pass gathers the sharded layers from all processes, so a process with an extra
    micro-batch would wait forever: its rows must split into whole micro-batches.
    """
    rows = shard.stop - shard.start
    if args.fsdp and accelerator.num_processes > 1 and rows % args.micro_batch_size:
        raise ConfigError(
            f"fsdp=true: micro_batch_size={args.micro_batch_size} must divide "
            f"each process's {rows} rows (prompts_per_step / processes * "
            "group_size)"
        )


def check_lora_targets(args: Args, model: Any) -> None:
    """Refuse LoRA targets that name no linear layer of the model (peft only minds none at all)."""
    import torch

    if not args.lora_rank:
        return
    linear = sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear)
        }
    )
    missing = [name for name in args.lora_target_modules if name not in linear]
    if missing:
        raise ConfigError(
            f"lora_target_modules: {missing} name no linear layer of {args.model} "
            f"(its linear layers: {linear})"
        )


def prepare_for_training(args: Args, model: Any, *, seed: int) -> Any:
    """``model`` with gradient checkpointing and LoRA adapters, as ``args`` asks."""
    if args.gradient_checkpointing:
        # non-reentrant: checks its recomputation, and needs no input that requires grad (the
        # embeddings are frozen under LoRA); a cache is useless when every forward is recomputed
        enable_checkpointing(model)
        model.config.use_cache = False
    if args.lora_rank:
        model = add_lora(
            model,
            rank=args.lora_rank,
            alpha=args.lora_alpha,
            dropout=args.lora_dropout,
            target_modules=args.lora_target_modules,
            seed=seed,
        )
    return model


def enable_checkpointing(model: Any) -> None:
    """Transformers' activation checkpointing, non-reentrant, under its 5.x or 4.x name."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
        model.activation_checkpointing_enable(kwargs)
    else:
        model.gradient_checkpointing_enable(kwargs)


def make_optimizer(args: Args, model: Any) -> Any:
    """AdamW (torch's, or bitsandbytes' 8-bit) over the parameters that train."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if args.optimizer == "adamw_8bit":
        return _bnb().optim.AdamW8bit(params, lr=args.lr, weight_decay=args.weight_decay)
    return torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)


def _bnb() -> Any:
    try:
        import bitsandbytes
    except ImportError:
        raise ImportError(f"optimizer='adamw_8bit' needs bitsandbytes: {BNB_EXTRA}") from None
    return bitsandbytes


def fsdp_plugin(args: Args) -> Any:
    """Accelerate's FSDP2 plugin for ``fsdp=true`` (None: no sharding).

    Each decoder layer (the model's ``_no_split_modules``) is one shard unit, gathered for its
    forward and backward and freed after; the full state dict is gathered for saves and syncs.
    """
    if not args.fsdp:
        return None
    from accelerate import FullyShardedDataParallelPlugin

    return FullyShardedDataParallelPlugin(
        fsdp_version=2,
        auto_wrap_policy="transformer_based_wrap",
        reshard_after_forward=True,
        state_dict_type="FULL_STATE_DICT",
        activation_checkpointing=False,
    )


def full_state(accelerator: Any, model: Any) -> dict[str, Any]:
    """The model's whole state dict on every process (gathered from the FSDP shards)."""
    if getattr(accelerator, "is_fsdp2", False):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    return accelerator.unwrap_model(model).state_dict()


def sharded_states(accelerator: Any, model: Any, optimizer: Any) -> dict[str, Any]:
    """Under FSDP, the full model and optimizer states for a checkpoint (else ``{}``).

    Every process must call it (it gathers the shards); the main process receives them.
    """
    if not getattr(accelerator, "is_fsdp2", False):
        return {}
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model_state, optimizer_state = get_state_dict(model, optimizer.optimizer, options=options)
    return {"model_state": model_state, "optimizer_state": optimizer_state}


def load_sharded_optimizer(model: Any, optimizer: Any, state: dict[str, Any] | None) -> None:
    """Load a gathered optimizer state (``sharded_states``) into an FSDP-sharded optimizer."""
    if state is None:
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True)
    set_optimizer_state_dict(model, optimizer.optimizer, state, options=options)


def engine_state(accelerator: Any, model: Any) -> dict[str, Any]:
    """What the vLLM engine loads: the full weights, LoRA adapters merged in."""
    state = full_state(accelerator, model)
    unwrapped = accelerator.unwrap_model(model)
    return merge_lora(state, lora_scaling(unwrapped)) if is_lora(unwrapped) else state
