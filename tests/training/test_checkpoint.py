"""Checkpoints survive a kill at every step of their swap, and corrupt files are named."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import agents.checkpoint as ckpt
from agents.checkpoint import (
    MANIFEST,
    STATE_FILE,
    checkpoint_step,
    load_checkpoint,
    load_pretrained,
    recover_checkpoint,
    save_checkpoint,
)
from agents.tiny import build_tiny_model
from crm_gym.errors import CheckpointError
from curricula import SoftmaxBandit


class Killed(BaseException):
    """What a kill does to the process: nothing after it runs (not caught as an Exception)."""


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny_model(path, seed=0)
    return path


def _parts(tiny_dir: Path) -> dict:
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    return {
        "model": model,
        "optimizer": optimizer,
        "scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1.0),
        "curriculum": SoftmaxBandit(["a", "b"], rng=np.random.default_rng(0)),
    }


def _save(path: Path, parts: dict, tokenizer, step: int) -> None:
    save_checkpoint(path, tokenizer=tokenizer, step=step, **parts)


def _first_weight(parts: dict) -> torch.Tensor:
    return next(parts["model"].parameters()).detach().clone()


def test_the_swap_steps_are_the_boundaries_the_kill_test_covers(
    tmp_path, tiny_dir, monkeypatch
) -> None:
    calls: list[str] = []
    rename, remove = ckpt._rename, ckpt._remove
    monkeypatch.setattr(ckpt, "_rename", lambda s, t: (calls.append("rename"), rename(s, t)))
    monkeypatch.setattr(ckpt, "_remove", lambda p: (calls.append("remove"), remove(p)))
    tokenizer, parts = AutoTokenizer.from_pretrained(tiny_dir), _parts(tiny_dir)
    _save(tmp_path / "checkpoint", parts, tokenizer, step=1)
    calls.clear()
    _save(tmp_path / "checkpoint", parts, tokenizer, step=2)
    # drop a stale .new; drop a stale .old; checkpoint -> .old; .new -> checkpoint; drop .old
    assert calls == ["remove", "remove", "rename", "rename", "remove"]


def _killed(*args) -> None:
    raise Killed


def _kill_at(at: int, monkeypatch) -> None:
    """Make swap step number ``at`` raise ``Killed`` (a remove first half-removes its folder)."""
    counter = [0]
    rename, remove = ckpt._rename, ckpt._remove

    def step(kind: str, *paths: Path) -> None:
        counter[0] += 1
        if counter[0] == at:
            if kind == "remove" and (paths[0] / "model").exists():
                shutil.rmtree(paths[0] / "model")  # rmtree stopped half-way
            raise Killed
        (rename if kind == "rename" else remove)(*paths)

    monkeypatch.setattr(ckpt, "_rename", lambda s, t: step("rename", s, t))
    monkeypatch.setattr(ckpt, "_remove", lambda p: step("remove", p))
    if at == 0:  # killed while writing checkpoint.new, before its manifest
        monkeypatch.setattr(ckpt, "_write_manifest", _killed)


@pytest.mark.parametrize("at", range(6))
def test_a_kill_at_any_step_of_the_swap_leaves_one_complete_checkpoint(
    at, tmp_path, tiny_dir, monkeypatch
) -> None:
    tokenizer, parts = AutoTokenizer.from_pretrained(tiny_dir), _parts(tiny_dir)
    path = tmp_path / "checkpoint"
    _save(path, parts, tokenizer, step=1)
    saved = {1: _first_weight(parts)}
    with torch.no_grad():
        next(parts["model"].parameters()).add_(1.0)
    saved[2] = _first_weight(parts)
    _kill_at(at, monkeypatch)
    with pytest.raises(Killed):
        _save(path, parts, tokenizer, step=2)
    monkeypatch.undo()
    recover_checkpoint(path)  # what a resume does first
    expected = 1 if at <= 1 else 2  # the new one, once its manifest is written
    assert checkpoint_step(path) == expected
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]  # no .new or .old left
    resumed = _parts(tiny_dir)
    assert load_checkpoint(path, **resumed)["step"] == expected
    assert torch.equal(_first_weight(resumed), saved[expected])


def _saved_checkpoint(tmp_path: Path, tiny_dir: Path) -> Path:
    path = tmp_path / "checkpoint"
    _save(path, _parts(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir), step=3)
    return path


def test_an_empty_state_file_is_named(tmp_path, tiny_dir) -> None:
    path = _saved_checkpoint(tmp_path, tiny_dir)
    (path / STATE_FILE).write_bytes(b"")
    with pytest.raises(CheckpointError, match=rf"{STATE_FILE}: 0 bytes, {MANIFEST} says \d+"):
        load_checkpoint(path, **_parts(tiny_dir))
    (path / MANIFEST).unlink()  # a checkpoint from before manifests: torch.load finds it
    with pytest.raises(CheckpointError, match=rf"checkpoint/{STATE_FILE}: empty file"):
        load_checkpoint(path, **_parts(tiny_dir))


def test_a_truncated_state_file_is_named(tmp_path, tiny_dir) -> None:
    path = _saved_checkpoint(tmp_path, tiny_dir)
    (path / MANIFEST).unlink()
    data = (path / STATE_FILE).read_bytes()
    (path / STATE_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"{STATE_FILE}: truncated or corrupt"):
        load_checkpoint(path, **_parts(tiny_dir))


def _truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def test_a_truncated_safetensors_file_is_named(tmp_path, tiny_dir) -> None:
    path = _saved_checkpoint(tmp_path, tiny_dir)
    _truncate(path / "model" / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model/model.safetensors: \d+ bytes, manifest"):
        load_checkpoint(path, **_parts(tiny_dir))
    # a model folder without a manifest (the tiny base model, ``initial/``): safetensors says
    model = shutil.copytree(tiny_dir, tmp_path / "tiny-model")
    _truncate(model / "model.safetensors")
    with pytest.raises(CheckpointError, match="tiny-model/model.safetensors: truncated or corrupt"):
        load_pretrained(model)


def test_a_missing_part_is_named(tmp_path, tiny_dir) -> None:
    path = _saved_checkpoint(tmp_path, tiny_dir)
    (path / "model" / "config.json").unlink()
    with pytest.raises(CheckpointError, match="model/config.json: missing from the checkpoint"):
        load_checkpoint(path, **_parts(tiny_dir))
