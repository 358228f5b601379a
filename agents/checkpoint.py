"""Training checkpoints: everything a GRPO run needs to resume exactly where it stopped.

A checkpoint is a directory: the policy in Hugging Face format (``model/``, loadable by
``from_pretrained`` and by vLLM) and ``state.pt`` with the optimizer, LR scheduler, curriculum,
the RNG states (Python, numpy, torch CPU and CUDA) and the step. The loop derives every sampling
seed from ``(seed, step)``, so these states matter only for code that draws from the global RNGs
(dropout, a library's own sampling); they are saved anyway, to be safe.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

STATE_FILE = "state.pt"


def rng_states() -> dict[str, Any]:
    """The global RNG states of Python, numpy and torch (CPU, and CUDA when present)."""
    states = {"python": random.getstate(), "numpy": np.random.get_state(),
              "torch": torch.get_rng_state()}  # fmt: skip
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what ``rng_states`` returned."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    path: str | Path,
    *,
    model: Any,
    tokenizer: Any,
    optimizer: Any,
    scheduler: Any,
    curriculum: Any,
    step: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the checkpoint directory ``path``, replacing the old one only once complete."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial / "model")
    tokenizer.save_pretrained(partial / "model")
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "curriculum": curriculum.state_dict(),
        "rng": rng_states(),
        "extra": extra or {},
    }
    torch.save(state, partial / STATE_FILE)
    shutil.rmtree(path, ignore_errors=True)  # a kill between these two lines leaves .partial
    partial.rename(path)
    return path


def load_checkpoint(
    path: str | Path, *, model: Any, optimizer: Any, scheduler: Any, curriculum: Any
) -> dict[str, Any]:
    """Load a checkpoint into the given objects; returns its ``step`` and ``extra``."""
    from transformers import AutoModelForCausalLM

    path = Path(path)
    saved = AutoModelForCausalLM.from_pretrained(path / "model")
    model.load_state_dict(saved.state_dict())
    state = torch.load(path / STATE_FILE, weights_only=False)  # our own file: RNG states pickle
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    curriculum.load_state_dict(state["curriculum"])
    set_rng_states(state["rng"])
    return {"step": int(state["step"]), "extra": state["extra"]}


def has_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` holds a complete checkpoint."""
    return (Path(path) / STATE_FILE).is_file() and (Path(path) / "model").is_dir()
