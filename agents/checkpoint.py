"""Training checkpoints: everything a GRPO run needs to resume exactly where it stopped.

A checkpoint is a directory: the policy in Hugging Face format (``model/``, loadable by
``from_pretrained`` and by vLLM; with LoRA the merged weights, and the adapter itself in
``adapter/``, which is what a resume loads), ``state.pt`` with the optimizer, LR scheduler,
curriculum, the RNG states (Python, numpy, torch CPU and CUDA) and the step, and
``manifest.json`` (the step and every file's size). The loop derives every sampling seed from
``(seed, step)``, so the RNG states matter only for code that draws from the global RNGs
(dropout, a library's own sampling); they are saved anyway, to be safe.

Crash safety: a checkpoint is written in full to ``checkpoint.new/`` (every file fsynced, then
``manifest.json`` written last), then swapped in: ``checkpoint/`` is renamed ``checkpoint.old/``,
``checkpoint.new/`` renamed ``checkpoint/``, and ``checkpoint.old/`` removed. A kill anywhere
leaves a complete checkpoint, the new one or the old one; ``recover_checkpoint`` (run before a
resume) finishes the swap or drops a half-written ``checkpoint.new/``. Loading checks each file
against the manifest, so a file truncated afterwards is named, not half-loaded.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.lora import is_lora, load_adapter, save_adapter, save_merged
from crm_gym.errors import CheckpointError

STATE_FILE = "state.pt"
MANIFEST = "manifest.json"
_STATE_KEYS = ("step", "optimizer", "scheduler", "curriculum", "rng", "extra")


def rng_states() -> dict[str, Any]:
    """The global RNG states of Python, numpy and torch (CPU, and CUDA when present)."""
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
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
    model_state: dict[str, Any] | None = None,
    optimizer_state: dict[str, Any] | None = None,
) -> Path:
    """Write the checkpoint directory ``path``, replacing the old one only once complete.

    ``model_state`` and ``optimizer_state``: the full states gathered from FSDP shards (the
    model's and optimizer's own ``state_dict()`` otherwise).
    """
    path = Path(path)
    new = _sibling(path, "new")
    _remove(new)  # a half-written one a kill left
    if is_lora(model):
        save_adapter(model, new / "adapter", model_state)
        save_merged(model, tokenizer, new / "model", model_state)
    else:
        model.save_pretrained(new / "model", state_dict=model_state)
        tokenizer.save_pretrained(new / "model")
    state = {
        "step": step,
        "optimizer": optimizer.state_dict() if optimizer_state is None else optimizer_state,
        "scheduler": scheduler.state_dict(),
        "curriculum": curriculum.state_dict(),
        "rng": rng_states(),
        "extra": extra or {},
    }
    torch.save(state, new / STATE_FILE)
    _write_manifest(new, step)
    recover_checkpoint(path)  # the swap: the same steps a resume takes to finish a killed one
    return path


def recover_checkpoint(path: str | Path) -> None:
    """Finish a swap a kill interrupted, or drop a half-written ``.new``; else a no-op."""
    path = Path(path)
    new, old = _sibling(path, "new"), _sibling(path, "old")
    if (new / MANIFEST).is_file():  # written in full (the manifest comes last): the newest
        if path.exists():
            _remove(old)
            _rename(path, old)
        _rename(new, path)
        _fsync(path.parent)
    else:
        _remove(new)
    if path.exists():
        _remove(old)
    elif (old / MANIFEST).is_file():  # cannot happen with the order above; kept for safety
        _rename(old, path)


def load_checkpoint(
    path: str | Path, *, model: Any, optimizer: Any, scheduler: Any, curriculum: Any
) -> dict[str, Any]:
    """Load a checkpoint into the given objects; returns its ``step``, ``extra`` and ``optimizer``.

    ``optimizer=None`` leaves the optimizer state to the caller (FSDP loads it once sharded).

    Raises:
        CheckpointError: a file is missing, truncated or corrupt (the message names it).
    """
    path = Path(path)
    verify_checkpoint(path)
    if is_lora(model):  # the base is the caller's (``initial/``): the adapter alone is loaded
        load_adapter(model, path / "adapter")
    else:
        model.load_state_dict(load_pretrained(path / "model").state_dict())
    state = _load_state(path / STATE_FILE)
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    curriculum.load_state_dict(state["curriculum"])
    set_rng_states(state["rng"])
    return {"step": int(state["step"]), "extra": state["extra"], "optimizer": state["optimizer"]}


def has_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` holds a checkpoint; ``load_checkpoint`` says what is wrong with one."""
    return Path(path).is_dir()


def checkpoint_step(path: str | Path) -> int | None:
    """The step of the checkpoint at ``path`` from its manifest (None: none, or no manifest)."""
    manifest = _read_manifest(Path(path))
    return None if manifest is None else int(manifest["step"])


def verify_checkpoint(path: Path) -> None:
    """Raise ``CheckpointError`` naming the first file missing or of another size than saved."""
    manifest = _read_manifest(path)
    # a checkpoint from before manifests: the two parts it must have
    expected = manifest["files"] if manifest else {STATE_FILE: None, "model/config.json": None}
    for name, size in expected.items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"{file}: missing from the checkpoint")
        if size is not None and file.stat().st_size != size:
            raise CheckpointError(
                f"{file}: {file.stat().st_size} bytes, {MANIFEST} says {size}: "
                "truncated or changed since it was saved"
            )


def load_pretrained(path: str | Path) -> Any:
    """``AutoModelForCausalLM.from_pretrained(path)`` (a folder or a Hub name, as given).

    Raises:
        CheckpointError: a truncated ``*.safetensors`` file (named), or nothing loadable there.
    """
    from safetensors import SafetensorError, safe_open
    from transformers import AutoModelForCausalLM

    for file in sorted(Path(path).glob("*.safetensors")):  # transformers' error does not name it
        try:
            with safe_open(str(file), "pt"):
                pass
        except SafetensorError as exc:
            message = f"{file}: truncated or corrupt safetensors file ({exc})"
            raise CheckpointError(message) from None
    try:
        return AutoModelForCausalLM.from_pretrained(path)
    except OSError as exc:  # a missing or unreadable config or weights file
        raise CheckpointError(f"{path}: cannot load the model ({exc})") from None


def _load_state(file: Path) -> dict[str, Any]:
    """``state.pt``: our own file, so a full unpickle (RNG states are numpy and Python objects)."""
    if file.stat().st_size == 0:
        raise CheckpointError(f"{file}: empty file")
    try:
        state = torch.load(file, weights_only=False)
    except (EOFError, OSError, RuntimeError, pickle.UnpicklingError) as exc:
        message = str(exc).splitlines()[0]
        raise CheckpointError(f"{file}: truncated or corrupt ({message})") from None
    missing = [key for key in _STATE_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{file}: not a training state, missing {missing}")
    return state


def _write_manifest(directory: Path, step: int) -> None:
    """Fsync every file, then write the manifest (atomically): its presence means complete."""
    files = sorted(f for f in directory.rglob("*") if f.is_file())
    for file in files:
        _fsync(file)
    sizes = {f.relative_to(directory).as_posix(): f.stat().st_size for f in files}
    partial = directory / (MANIFEST + ".tmp")
    partial.write_text(json.dumps({"step": step, "files": sizes}, indent=1))
    _fsync(partial)
    os.replace(partial, directory / MANIFEST)
    for folder in {f.parent for f in files} | {directory}:
        _fsync(folder)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    file = path / MANIFEST
    if not file.is_file():
        return None
    try:
        manifest = json.loads(file.read_text())
        return {"step": int(manifest["step"]), "files": dict(manifest["files"])}
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{file}: corrupt manifest ({exc})") from None


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f"{path.name}.{suffix}")


def _rename(source: Path, target: Path) -> None:
    """One step of the swap (tests make it raise, as a kill would stop it)."""
    source.rename(target)


def _remove(path: Path) -> None:
    """Remove a checkpoint directory, if there (tests make it raise, as a kill would stop it)."""
    if path.exists():
        shutil.rmtree(path)


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries (which makes a rename durable), to the disk."""
    if os.name == "nt" and path.is_dir():  # Windows cannot open a folder to sync it
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
