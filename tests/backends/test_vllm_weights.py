"""Weight sync without vLLM: the names the engine loads, packed transfers, the loading call."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from agents.vllm_weights import (
    engine_weight_name,
    engine_weights,
    load_weights_into_engine,
    pack_tensors,
    unpack_tensors,
)
from tests.backends.fakes import FakeLLM

# ---- weight names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.weight"),
        ("module.model.norm.weight", "model.norm.weight"),
        ("_orig_mod.lm_head.weight", "lm_head.weight"),
        (
            "model.layers.1._fsdp_wrapped_module.mlp.up_proj.weight",
            "model.layers.1.mlp.up_proj.weight",
        ),
        (
            "base_model.model.model.layers.0.mlp.down_proj.base_layer.weight",
            "model.layers.0.mlp.down_proj.weight",
        ),
        ("model.layers.0.self_attn.rotary_emb.inv_freq", None),
    ],
)
def test_engine_weight_name(name: str, expected: str | None) -> None:
    assert engine_weight_name(name) == expected


def test_lora_weights_must_be_merged_first() -> None:
    with pytest.raises(ValueError, match="merge_and_unload"):
        engine_weight_name("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight")


def test_engine_weights_of_the_tiny_model_drop_the_tied_head(tiny_path: Any) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_path)
    assert model.config.tie_word_embeddings
    state = {f"module.{name}": tensor for name, tensor in model.state_dict().items()}
    weights = dict(engine_weights(state))
    expected = {name for name, _ in model.named_parameters()}  # tied params are listed once
    assert set(weights) == expected and "lm_head.weight" not in weights
    assert all(not tensor.requires_grad for tensor in weights.values())


def test_an_untied_head_is_sent() -> None:
    torch = pytest.importorskip("torch")
    state = {"model.embed_tokens.weight": torch.zeros(4, 2), "lm_head.weight": torch.zeros(4, 2)}
    assert [name for name, _ in engine_weights(state)] == list(state)


def test_pack_and_unpack_round_trip() -> None:
    torch = pytest.importorskip("torch")
    weights = [
        ("a", torch.arange(6, dtype=torch.float32).reshape(2, 3)),
        ("b", torch.ones(4, dtype=torch.bfloat16)),
        ("c", torch.full((2, 2), 7.0)),
        ("scalar", torch.tensor(3.0)),
    ]
    buffers, index = pack_tensors(weights)
    assert sorted(buffers) == ["bfloat16", "float32"]
    assert buffers["float32"].numel() == 6 + 4 + 1
    restored = unpack_tensors(buffers, index)
    assert [name for name, _ in restored] == ["a", "c", "scalar", "b"]
    for name, tensor in restored:
        original = dict(weights)[name]
        assert tensor.dtype == original.dtype and torch.equal(tensor, original)


# ---- weight sync ---------------------------------------------------------------------------------


def test_load_weights_through_apply_model_resets_the_prefix_cache() -> None:
    llm = FakeLLM()
    load_weights_into_engine(llm, [("x", 1), ("y", 2)], packed=False)
    assert llm.loaded == [[("x", 1), ("y", 2)]] and llm.resets == 1


def test_load_packed_weights_through_apply_model() -> None:
    torch = pytest.importorskip("torch")
    llm = FakeLLM()
    weights = [("x", torch.ones(2, 2)), ("y", torch.zeros(3))]
    load_weights_into_engine(llm, weights, packed=True)
    (loaded,) = llm.loaded
    assert [name for name, _ in loaded] == ["x", "y"]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(loaded, weights, strict=True))


@pytest.mark.parametrize("wrapped", [False, True])
def test_load_weights_on_older_vllm_through_the_driver_worker(wrapped: bool) -> None:
    loaded: list = []
    worker = SimpleNamespace(
        model_runner=SimpleNamespace(model=SimpleNamespace(load_weights=loaded.extend))
    )
    driver = SimpleNamespace(worker=worker) if wrapped else worker
    llm = SimpleNamespace(
        llm_engine=SimpleNamespace(model_executor=SimpleNamespace(driver_worker=driver))
    )
    load_weights_into_engine(llm, [("x", 1)], packed=False)
    assert loaded == [("x", 1)]


def test_load_weights_without_a_known_path_says_so() -> None:
    with pytest.raises(RuntimeError, match="neither LLM.apply_model nor a driver worker"):
        load_weights_into_engine(SimpleNamespace(), [("x", 1)], packed=False)


def test_a_lora_policy_syncs_its_merged_weights(tiny_path: Any) -> None:
    """LoRA: the engine gets ``W + scale B A`` under the base names, the model is unchanged."""
    import copy

    torch = pytest.importorskip("torch")
    pytest.importorskip("peft", reason='LoRA needs peft: pip install "crm-gym[train]"')
    from transformers import AutoModelForCausalLM

    from agents.lora import add_lora
    from agents.train_scale import engine_state

    base = AutoModelForCausalLM.from_pretrained(tiny_path)
    expected_names = {name for name, _ in base.named_parameters()}
    model = add_lora(base, rank=2, alpha=4.0, seed=0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.fill_(0.01)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    accelerator = SimpleNamespace(unwrap_model=lambda m: m, is_fsdp2=False)
    llm = FakeLLM()
    load_weights_into_engine(llm, engine_weights(engine_state(accelerator, model)), packed=True)
    (loaded,) = llm.loaded
    assert {name for name, _ in loaded} == expected_names  # no lora_*, the tied head once
    merged = copy.deepcopy(model).merge_and_unload().state_dict()
    for name, tensor in loaded:
        torch.testing.assert_close(tensor, merged[name], rtol=0, atol=1e-6)
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(dict(loaded)[q], before[f"base_model.model.{q[:-7]}.base_layer.weight"])
    assert all(torch.equal(before[n], t) for n, t in model.state_dict().items())
