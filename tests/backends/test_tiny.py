"""The tiny model: built offline in seconds, reloaded by Auto classes, a working chat template."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers", reason='needs the train extra: pip install "crm-gym[train]"')

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from agents.tiny import SPECIAL_TOKENS, build_tiny_model  # noqa: E402

ROLES = ("system", "user", "assistant", "tool")


def test_builds_offline_and_reloads_with_auto_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    path = build_tiny_model(tmp_path / "tiny", seed=1)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in path.iterdir()
    }
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "qwen3"
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (64, 2)
    assert sum(p.numel() for p in model.parameters()) < 200_000
    assert len(tokenizer) == model.config.vocab_size
    logits = model(torch.tensor([tokenizer("User: hi")["input_ids"]])).logits
    assert logits.shape[-1] == len(tokenizer) and torch.isfinite(logits).all()


def test_same_seed_same_files_and_another_seed_other_weights(tmp_path, tiny_path):
    again = build_tiny_model(tmp_path / "again", seed=0)
    other = build_tiny_model(tmp_path / "other", seed=5)
    for name in ("tokenizer.json", "model.safetensors"):
        assert (again / name).read_bytes() == (tiny_path / name).read_bytes(), name
    assert (other / "model.safetensors").read_bytes() != (
        tiny_path / "model.safetensors"
    ).read_bytes()


def test_building_leaves_the_global_torch_rng_alone(tmp_path):
    state = torch.random.get_rng_state()
    build_tiny_model(tmp_path / "rng", seed=3)
    assert torch.equal(state, torch.random.get_rng_state())


def test_chat_template_renders_every_role_and_the_generation_prompt(tiny_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    messages = [{"role": role, "content": f"{role} text"} for role in ROLES]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    expected = "".join(f"<|im_start|>{role}\n{role} text<|im_end|>\n" for role in ROLES)
    assert text == expected + "<|im_start|>assistant\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    for token in SPECIAL_TOKENS:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1, token
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"


def test_tokenizer_round_trips_crm_text_and_unicode(tiny_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    text = '{"name": "client_search", "arguments": {"name": "Caf\u00e9 \u2014 \u6771\u4eac"}}'
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert len(ids) < len(text.encode())  # BPE merges learned from CRM text
