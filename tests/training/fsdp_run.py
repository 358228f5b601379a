"""Two CPU processes shard the tiny LoRA model with torch's FSDP2, for ``test_fsdp.py``.

accelerate runs FSDP only over GPU processes, so this drives torch's ``fully_shard`` directly
(gloo) and checks what the trainer adds on top: ``sharded_states`` gathers the full model and
optimizer states into a checkpoint, and ``load_sharded_optimizer`` puts them back into a fresh
sharded optimizer. Run: ``torchrun --nproc_per_node 2 -m tests.training.fsdp_run OUT``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from agents.checkpoint import load_pretrained, save_checkpoint
from agents.lora import add_lora
from agents.tiny import build_tiny_model
from agents.train_scale import load_sharded_optimizer, sharded_states
from curricula import UniformSampler

LR = 1e-2


def batch() -> torch.Tensor:
    return (torch.arange(2 * 24).reshape(2, 24) * 7) % 900  # (B, T), the same on every process


def lora_model(path: Path) -> Any:
    return add_lora(load_pretrained(path), rank=4, alpha=8.0, seed=0)


def step(model: Any, optimizer: Any) -> float:
    """One AdamW step on the language-model loss of ``batch()``."""
    ids = batch()
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return float(loss.detach())


def sharded(path: Path) -> tuple[Any, Any]:
    from torch.distributed.fsdp import fully_shard

    model = lora_model(path)
    for layer in model.base_model.model.model.layers:
        fully_shard(layer)
    fully_shard(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    return model, torch.optim.AdamW(trainable, lr=LR)


def main(out: Path) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    tiny = out / "tiny"
    if rank == 0:
        build_tiny_model(tiny, seed=0)
    dist.barrier()
    model, optimizer = sharded(tiny)
    step(model, optimizer)
    accelerator = SimpleNamespace(is_fsdp2=True)
    gathered = sharded_states(accelerator, model, SimpleNamespace(optimizer=optimizer))
    if rank == 0:
        from transformers import AutoTokenizer

        curriculum = UniformSampler(["a"], rng=np.random.default_rng(0))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1.0)
        save_checkpoint(
            out / "checkpoint",
            model=model,
            optimizer=None,
            scheduler=scheduler,
            tokenizer=AutoTokenizer.from_pretrained(tiny),
            curriculum=curriculum,
            step=1,
            **gathered,
        )
    # a fresh sharded model and optimizer, resumed from the gathered states, steps as the first
    resumed, resumed_optimizer = sharded(tiny)
    dist.barrier()  # the checkpoint is written
    full = torch.load(out / "checkpoint" / "state.pt", weights_only=False)
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
    set_model_state_dict(resumed, gathered["model_state"] if rank == 0 else {}, options=options)
    load_sharded_optimizer(resumed, SimpleNamespace(optimizer=resumed_optimizer), full["optimizer"])
    losses = [step(model, optimizer), step(resumed, resumed_optimizer)]
    (out / f"losses-{rank}.txt").write_text(" ".join(repr(x) for x in losses))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
