"""LoRA (peft) in the GRPO loop: adapters alone train, resume is exact, the merge is peft's."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from agents.checkpoint import load_pretrained
from agents.logprobs import token_logprobs
from agents.lora import add_lora, merge_lora, merged_state_dict, save_merged
from agents.tiny import build_tiny_model
from agents.train import Args, train
from agents.train_scale import enable_checkpointing
from crm_gym.errors import ConfigError, RunDirError
from tests.training.data_parallel_run import noisy_rollouts

pytest.importorskip("peft", reason='LoRA needs peft: pip install "crm-gym[train]"')

TINY = dict(num_threads=1, max_new_tokens=8, max_env_steps=1, prompts_per_step=2, group_size=4)
TINY |= dict(num_conversations=120, num_eval_tasks=3, eval_samples=2, progress=False)
LORA = dict(lora_rank=4, lora_alpha=8.0, lora_target_modules=("q_proj", "v_proj", "up_proj"))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def _with_random_adapters(tiny_dir: Path) -> torch.nn.Module:
    model = add_lora(load_pretrained(tiny_dir), rank=4, alpha=8.0, seed=1)
    with torch.no_grad():  # B starts at zero: give it values, so the merge is not trivial
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1, generator=torch.Generator().manual_seed(len(name)))
    return model


def test_merged_weights_equal_peft_merge_and_leave_the_model_unchanged(tiny_dir) -> None:
    model = _with_random_adapters(tiny_dir)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    merged = merged_state_dict(model)
    expected = copy.deepcopy(model).merge_and_unload().state_dict()
    assert merged.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(merged[name], expected[name], rtol=0, atol=1e-6)
    original = load_file(tiny_dir / "model.safetensors")
    changed = [n for n in expected if not torch.equal(merged[n], original.get(n, merged[n]))]
    attention = ("q_proj", "v_proj", "o_proj", "k_proj")  # the default targets, alone changed
    assert changed and all(any(part in n for part in attention) for n in changed)
    assert all(torch.equal(before[n], t) for n, t in model.state_dict().items())


def test_a_saved_merged_model_gives_the_adapted_logits(tiny_dir, tmp_path) -> None:
    from transformers import AutoTokenizer

    model = _with_random_adapters(tiny_dir).eval()
    save_merged(model, AutoTokenizer.from_pretrained(tiny_dir), tmp_path / "merged")
    merged = load_pretrained(tmp_path / "merged")
    ids = torch.arange(3, 40).reshape(1, -1)
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, model(ids).logits, rtol=1e-5, atol=1e-5)
        with model.disable_adapter():  # the KL reference: the base itself
            base = load_pretrained(tiny_dir)(ids).logits
            assert torch.equal(model(ids).logits, base)
    assert not torch.allclose(merged(ids).logits, base)


def test_merge_lora_reads_a_state_dict_alone(tiny_dir) -> None:
    # what FSDP's gathered state dict gives: plain tensors under peft's names
    model = _with_random_adapters(tiny_dir)
    state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    merged = merge_lora(state, 2.0)
    name = "model.layers.0.self_attn.q_proj.weight"
    stem = "base_model.model.model.layers.0.self_attn.q_proj"
    a, b = state[f"{stem}.lora_A.default.weight"], state[f"{stem}.lora_B.default.weight"]
    torch.testing.assert_close(merged[name], state[f"{stem}.base_layer.weight"] + 2.0 * b @ a)


def _metrics(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.startswith("perf/")} for row in rows]


def test_lora_trains_the_adapters_alone_and_resumes_exactly(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("agents.train.collect_rollouts", noisy_rollouts)  # groups differ
    common = dict(steps=4, lr=1e-2, warm_start_steps=3, eval_every=2, save_every=2, beta=0.1)
    common |= dict(lora_dropout=0.1, lr_schedule="linear", **LORA, **TINY)
    train(Args(output_dir=str(tmp_path / "straight"), **common))
    train(Args(output_dir=str(tmp_path / "killed"), stop_at_step=2, **common))
    train(Args(output_dir=str(tmp_path / "killed"), **common))  # resumes at step 2
    straight, resumed = _metrics(tmp_path / "straight"), _metrics(tmp_path / "killed")
    assert [row["step"] for row in resumed] == [1, 2, 3, 4]
    assert straight[0]["loss/kl"] == 0 < straight[-1]["loss/kl"]  # B = 0: the base at first
    assert all(row["loss/grad_norm"] > 0 for row in straight)
    for a, b in zip(straight, resumed, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), (a["step"], key)
    adapters = [
        load_file(tmp_path / run / "checkpoint" / "adapter" / "adapter_model.safetensors")
        for run in ("straight", "killed")
    ]
    assert adapters[0].keys() == adapters[1].keys() and len(adapters[0]) == 2 * 3 * 2
    assert all(torch.equal(adapters[0][k], adapters[1][k]) for k in adapters[0])
    # the optimizer holds the adapters' moments alone; the merged model moved only where adapted
    state = torch.load(tmp_path / "straight" / "checkpoint" / "state.pt", weights_only=False)
    assert len(state["optimizer"]["state"]) == len(adapters[0])
    initial = load_file(tmp_path / "straight" / "initial" / "model.safetensors")
    merged = load_file(tmp_path / "straight" / "checkpoint" / "model" / "model.safetensors")
    moved = {name for name in initial if not torch.equal(initial[name], merged[name])}
    assert moved and {name.split(".")[-2] for name in moved} <= {"q_proj", "v_proj", "up_proj"}


def test_a_resume_with_other_lora_settings_is_refused(tmp_path) -> None:
    common = dict(steps=2, eval_every=2, save_every=2, **TINY)
    train(Args(output_dir=str(tmp_path), stop_at_step=1, **LORA, **common))
    with pytest.raises(RunDirError, match="lora_rank=4.*lora_rank=8"):
        train(Args(output_dir=str(tmp_path), **(LORA | {"lora_rank": 8}), **common))


def test_lora_targets_must_name_linear_layers(tmp_path) -> None:
    targets = ("q_proj", "c_attn")
    args = Args(output_dir=str(tmp_path), lora_rank=4, lora_target_modules=targets, **TINY)
    named = r"\['c_attn'\] name no linear layer of tiny \(its linear layers: \['down_proj', "
    with pytest.raises(ConfigError, match=named):
        train(args)


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(tiny_dir) -> None:
    ids = torch.arange(5, 5 + 2 * 30).reshape(2, 30) % 900  # (B, T)
    attention = torch.ones_like(ids)
    attention[1, :7] = 0  # a left-padded row
    completion = attention.clone()
    completion[:, :12] = 0
    results = []
    for checkpointing in (False, True):
        model = load_pretrained(tiny_dir).train()
        if checkpointing:
            enable_checkpointing(model)
        assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules()) == (
            checkpointing
        )
        loss = -token_logprobs(model, ids, attention, completion).sum()
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in model.named_parameters()}))
    (loss, grads), (loss_gc, grads_gc) = results
    torch.testing.assert_close(loss_gc, loss, rtol=1e-6, atol=1e-6)
    assert grads.keys() == grads_gc.keys() and any(g.abs().sum() > 0 for g in grads.values())
    for name in grads:
        torch.testing.assert_close(grads_gc[name], grads[name], rtol=1e-5, atol=1e-7)


def test_lora_with_gradient_checkpointing_trains(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("agents.train.collect_rollouts", noisy_rollouts)
    common = dict(steps=2, lr=1e-2, eval_every=2, save_every=2, **LORA, **TINY)
    plain = train(Args(output_dir=str(tmp_path / "plain"), **common))
    gc_args = Args(output_dir=str(tmp_path / "gc"), gradient_checkpointing=True, **common)
    checkpointed = train(gc_args)
    assert json.loads((tmp_path / "gc" / "args.json").read_text())["gradient_checkpointing"]
    rows, rows_gc = _metrics(tmp_path / "plain"), _metrics(tmp_path / "gc")
    for a, b in zip(rows, rows_gc, strict=True):
        for key in ("loss/total", "loss/grad_norm", "rollout/reward_mean"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), key
    assert checkpointed["eval_reward_after"] == pytest.approx(plain["eval_reward_after"])
