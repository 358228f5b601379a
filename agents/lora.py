"""LoRA adapters (peft) for GRPO: wrap the policy, merge for vLLM and eval, save and load.

With ``lora_rank > 0`` the trainer wraps the policy in peft's LoRA (``add_lora``): the base
weights are frozen and only the adapters' ``A`` and ``B`` matrices train, so the optimizer state
and the gradients cover the adapters alone. ``B`` starts at zero, so the wrapped model is the
base model until the first update, and the KL reference is the same model with its adapters
switched off (``peft``'s ``disable_adapter()``) rather than a second copy of the base weights.

The merged weights ``W + (alpha / r) B A`` are computed out of place (``merged_state_dict``):
peft's ``merge_adapter()`` / ``unmerge_adapter()`` add and subtract in place, and the float
rounding of that round trip would move the frozen base weights a little at every sync.

Example:
    >>> import tempfile
    >>> from agents.tiny import build_tiny_model
    >>> from agents.checkpoint import load_pretrained
    >>> model = add_lora(load_pretrained(build_tiny_model(tempfile.mkdtemp())), rank=4)
    >>> is_lora(model), sorted(merged_state_dict(model))[0]
    (True, 'lm_head.weight')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

ADAPTER_FILE = "adapter_model.safetensors"
_PEFT_PREFIX = "base_model.model."
_NOT_INSTALLED = 'LoRA needs peft, part of the training extra: pip install "crm-gym[train]"'


def _peft() -> Any:
    try:
        import peft
    except ImportError:
        raise ImportError(_NOT_INSTALLED) from None
    return peft


def add_lora(
    model: Any,
    *,
    rank: int,
    alpha: float = 16.0,
    dropout: float = 0.0,
    target_modules: Sequence[str] = ("q_proj", "k_proj", "v_proj", "o_proj"),
    seed: int = 0,
) -> Any:
    """``model`` wrapped in LoRA adapters of ``rank``; their ``A`` drawn from ``seed``.

    The global torch RNG is left as it was, so adding adapters draws nothing a run's other
    randomness depends on.
    """
    import torch

    peft = _peft()
    config = peft.LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        task_type="CAUSAL_LM",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return peft.get_peft_model(model, config)


def is_lora(model: Any) -> bool:
    """Whether ``model`` is a peft model (its ``state_dict`` names and saves differ)."""
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def merged_state_dict(model: Any, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The base model's weights with the adapters merged in, under the base's names.

    ``state``: the model's full state dict, when it is gathered from FSDP shards.
    """
    return merge_lora(model.state_dict() if state is None else state, lora_scaling(model))


def lora_scaling(model: Any) -> float:
    """``alpha / r``, what peft multiplies ``B A`` by (``add_lora`` never sets rsLoRA)."""
    config = model.peft_config["default"]
    return config.lora_alpha / config.r


def merge_lora(state: dict[str, Any], scaling: float) -> dict[str, Any]:
    """``W + scaling * B A`` for every adapted weight of a peft ``state``, under the base names.

    Computed out of place from the state dict alone, so it also serves a state dict gathered
    from FSDP shards; a checked test holds it equal to peft's ``merge_and_unload()``.
    """
    from agents.vllm_weights import engine_weight_name

    merged = {}
    for name, tensor in state.items():
        if "lora_" in name:
            continue
        if name.endswith(".base_layer.weight"):
            stem = name.removesuffix(".base_layer.weight")
            a, b = state[f"{stem}.lora_A.default.weight"], state[f"{stem}.lora_B.default.weight"]
            tensor = tensor + (b.float() @ a.float() * scaling).to(tensor.dtype)
        merged[engine_weight_name(name) or name.removeprefix(_PEFT_PREFIX)] = tensor.detach()
    return merged


def save_merged(
    model: Any, tokenizer: Any, path: str | Path, state: dict[str, Any] | None = None
) -> None:
    """A Hugging Face directory of the merged weights (for vLLM and ``from_pretrained``)."""
    base = model.get_base_model()
    base.save_pretrained(path, state_dict=merged_state_dict(model, state))
    tokenizer.save_pretrained(path)


def save_adapter(model: Any, path: str | Path, state: dict[str, Any] | None = None) -> None:
    """Write peft's adapter directory: ``adapter_config.json`` and the adapter weights."""
    model.save_pretrained(path, state_dict=state)


def load_adapter(model: Any, path: str | Path) -> None:
    """Load saved adapter weights into a model wrapped with the same LoRA settings."""
    from safetensors.torch import load_file

    result = _peft().set_peft_model_state_dict(model, load_file(Path(path) / ADAPTER_FILE))
    unexpected = getattr(result, "unexpected_keys", [])
    if unexpected:
        raise ValueError(f"{path}: adapter weights the model has no place for: {unexpected[:3]}")


def adapter_model(base: Any, adapter: str | Path) -> Any:
    """The loaded ``base`` model with the adapter at ``adapter`` on it, unmerged, for eval.

    The caller loads the base (``agents.checkpoint.load_pretrained``): this module stays below
    ``agents.checkpoint``, which saves and loads adapters through it.
    """
    return _peft().PeftModel.from_pretrained(base, str(adapter)).eval()
