"""Trainer weights into a vLLM engine: Hugging Face names, packed transfers, one loading call.

The GRPO trainer pushes its weights to the sampling engine after each optimizer step
(REFERENCE.md section 1). :func:`engine_weights` maps a ``state_dict`` to the names the engine's
``load_weights`` expects; :func:`pack_tensors` packs them into one buffer per dtype when they
must cross processes (slow or hanging syncs come from one request per tensor); and
:func:`load_weights_into_engine` is the one function of crm-gym that reaches into vLLM internals.
Nothing here imports vLLM; only packing needs torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

_WRAPPER_SEGMENTS = ("module", "_orig_mod", "_fsdp_wrapped_module", "_checkpoint_wrapped_module")
"""Name segments that DDP, ``torch.compile``, FSDP and activation checkpointing insert."""
_PEFT_PREFIX = "base_model.model."
_TIED_PAIRS = (("lm_head.weight", "model.embed_tokens.weight"),)


def engine_weight_name(name: str) -> str | None:
    """The Hugging Face checkpoint name the engine expects for a trainer parameter name.

    Strips what wrappers add (DDP ``module.``, ``torch.compile``'s ``_orig_mod.``, FSDP and
    checkpointing segments, PEFT's ``base_model.model.`` and ``.base_layer``); ``None`` for
    buffers the engine computes itself (rotary ``inv_freq``). LoRA weights raise: merge them
    into the base weights first (``agents.lora.merged_state_dict``, out of place).

    Example:
        >>> engine_weight_name("module._orig_mod.model.layers.0.mlp.up_proj.weight")
        'model.layers.0.mlp.up_proj.weight'
    """
    if "lora_" in name:
        raise ValueError(f"LoRA weight {name!r}: merge the adapters (merge_and_unload()) first")
    parts = [part for part in name.split(".") if part not in _WRAPPER_SEGMENTS]
    cleaned = ".".join(part for part in parts if part != "base_layer")
    if cleaned.startswith(_PEFT_PREFIX):
        cleaned = cleaned[len(_PEFT_PREFIX) :]
    if cleaned.endswith("rotary_emb.inv_freq"):
        return None
    return cleaned


def engine_weights(state_dict: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(name, tensor)`` pairs for the engine's ``load_weights``, detached, names mapped.

    A tied output head (``lm_head.weight`` sharing storage with the input embeddings, as
    ``state_dict()`` returns it for ``tie_word_embeddings``) is left out: the engine ties it
    itself, and sending it twice is wasted transfer.
    """
    tied = _tied_names(state_dict)
    weights = []
    for name, tensor in state_dict.items():
        mapped = engine_weight_name(name)
        if mapped is None or mapped in tied:
            continue
        weights.append((mapped, tensor.detach() if hasattr(tensor, "detach") else tensor))
    return weights


def _tied_names(state_dict: Mapping[str, Any]) -> set[str]:
    by_name = {engine_weight_name(name): tensor for name, tensor in state_dict.items()}
    tied = set()
    for head, embedding in _TIED_PAIRS:
        if head in by_name and embedding in by_name:
            if _same_storage(by_name[head], by_name[embedding]):
                tied.add(head)
    return tied


def _same_storage(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if hasattr(a, "data_ptr") and hasattr(b, "data_ptr"):
        return a.data_ptr() == b.data_ptr() and tuple(a.shape) == tuple(b.shape)
    return False


def pack_tensors(weights: Sequence[tuple[str, Any]]) -> tuple[dict[str, Any], list[tuple]]:
    """Pack tensors into one flat buffer per dtype: a few large transfers, not one per tensor.

    Returns the buffers (dtype name -> 1-D tensor) and ``(name, dtype, shape, offset)`` entries
    that :func:`unpack_tensors` reads back. Needs torch (the trainer's tensors are torch's).
    """
    import torch

    groups: dict[str, list[tuple[str, Any]]] = {}
    for name, tensor in weights:
        groups.setdefault(str(tensor.dtype).removeprefix("torch."), []).append((name, tensor))
    buffers, index = {}, []
    for dtype, members in groups.items():
        offset = 0
        for name, tensor in members:
            index.append((name, dtype, tuple(tensor.shape), offset))
            offset += tensor.numel()
        buffers[dtype] = torch.cat([tensor.reshape(-1) for _, tensor in members])
    return buffers, index


def unpack_tensors(buffers: Mapping[str, Any], index: Iterable[tuple]) -> list[tuple[str, Any]]:
    """The ``(name, tensor)`` pairs of :func:`pack_tensors`, as views into the buffers."""
    weights = []
    for name, dtype, shape, offset in index:
        numel = 1
        for size in shape:
            numel *= size
        weights.append((name, buffers[dtype][offset : offset + numel].view(shape)))
    return weights


def _load_named(weights: list[tuple[str, Any]], model: Any) -> None:
    model.load_weights(weights)


def _load_packed(buffers: dict[str, Any], index: list[tuple], model: Any) -> None:
    model.load_weights(unpack_tensors(buffers, index))


def load_weights_into_engine(llm: Any, weights: list[tuple[str, Any]], *, packed: bool) -> None:
    """Load Hugging Face-named weights into every worker of a vLLM engine, in one call.

    The one place that reaches into vLLM internals. Newer vLLM runs a function on the model of
    each worker through the public ``LLM.apply_model``; the model's ``load_weights`` shards the
    full tensors for tensor parallelism and fuses q/k/v and gate/up itself. Older vLLM (no
    ``apply_model``) exposes the single worker's model at
    ``llm.llm_engine.model_executor.driver_worker.model_runner.model``. With ``packed`` the
    tensors travel as one buffer per dtype (workers in other processes). The prefix cache is
    reset afterwards: its KV blocks were computed with the old weights.
    """
    if packed:
        load = partial(_load_packed, *pack_tensors(weights))
    else:
        load = partial(_load_named, weights)
    if hasattr(llm, "apply_model"):
        llm.apply_model(load)
    else:
        try:
            worker = llm.llm_engine.model_executor.driver_worker
            worker = getattr(worker, "worker", worker)  # some versions wrap the worker
            model = worker.model_runner.model
        except AttributeError as exc:
            raise RuntimeError("this vLLM has neither LLM.apply_model nor a driver worker") from exc
        load(model)
    if hasattr(llm, "reset_prefix_cache"):
        llm.reset_prefix_cache()
