"""Peak device memory of a GRPO run, estimated from the model's config alone (no torch, no weights).

``crm-gym train --plan`` prints :func:`plan_memory`'s dict as one JSON line, and ``crm-gym train``
refuses a run whose plan does not fit the CUDA GPU it finds. The estimate follows what
``agents.train`` does, term by term (GiB = 2**30 bytes):

- **weights**: every parameter in the dtype ``from_pretrained`` loads (``dtype="auto"``: the
  checkpoint's ``dtype``/``torch_dtype``, float32 when the config names none; Qwen3's published
  checkpoints are bfloat16). There is no float32 master copy to count: accelerate's mixed
  precision is autocast over the weights as loaded, and the optimizer updates them in place.
- **gradients**: one per trainable parameter, in its dtype (accumulated over micro-batches, so
  they coexist with the next micro-batch's activations).
- **optimizer**: AdamW's ``exp_avg`` and ``exp_avg_sq`` per trainable parameter, in the
  parameter's dtype (``torch.optim.AdamW`` allocates them with ``zeros_like``); ``adamw_8bit``:
  1 byte each (bitsandbytes' blockwise 8-bit states, Dettmers et al. 2022).
- **LoRA** (``lora_rank > 0``): the base is frozen; each targeted linear layer ``in -> out`` adds
  ``rank * (in + out)`` parameters, kept in float32 (peft's ``autocast_adapter_dtype``); over a
  16-bit base each adapter also saves a float32 copy of its input (peft casts it).
- **activations** per token and decoder layer, counted from what autograd saves in
  ``transformers``' Qwen3 layer (the method of Korthikanti et al. 2022, "Reducing Activation
  Recomputation in Large Transformer Models", section 4.1, redone for RMSNorm, grouped-query
  attention with q/k norms, a fused SDPA kernel that saves no scores, and a SwiGLU MLP): each
  RMSNorm over ``n`` features saves its float32 input and its output (``n * (4 + d)`` bytes,
  ``d`` the activation dtype's size); the four norms see ``2h + q + kv`` features; the rest
  saves ``d * (3q + 2kv + 4i)`` (rotated q and k, v, the attention output and o_proj's input,
  the MLP's gate, SiLU, up and product). With gradient checkpointing a layer keeps only its
  input (``h * d``) and one layer is recomputed at a time.
- **logits**: ``vocab * tokens * 12`` bytes for the loss (``agents.logprobs``: the float32 copy
  that ``logsumexp`` saves, then its float32 gradient and softmax temporary in the backward).
- **temporaries**: the backward holds, besides what was saved, the gradients flowing through the
  layer it is in (counted as one layer's saved activations); the optimizer step, after the
  activations are freed, makes one state-sized temporary (``torch.optim.AdamW``'s foreach path
  takes ``sqrt(exp_avg_sq)`` of every parameter at once; none for 8-bit).
- **reference**: with ``beta > 0`` and full fine-tuning, a frozen copy of the weights (with LoRA
  the reference is the base with adapters disabled: no copy).
- **slack**: ``ALLOCATOR_SLACK`` (20%) of gradients, optimizer states and working memory, for
  what counting misses (allocator rounding and fragmentation, kernel workspaces), set from the
  CPU measurements of ``benchmarks.memory_plan_check`` (docs/training.md).
- **vllm** (``backend="vllm"``): ``vllm_gpu_memory_utilization * device memory``, which vLLM
  takes whole for its weights, activations and KV cache. **kv_cache** (``backend="hf"``): the
  sampler's cache for the whole rollout batch (``2 * layers * kv * d`` bytes per token).
- **overhead**: 1 GiB of CUDA context and allocator slack (0 on the CPU).

The sequence length is the prompt (``PROMPT_TOKENS`` of the prompt style: the ``full`` system
prompt with every tool's schema is about 20,000 characters, ~5,700 tokens at 3.5 characters a
token) plus ``max_env_steps`` completions of ``max_new_tokens`` and ``ENV_TOKENS_PER_STEP`` of
tool result between them. With FSDP (``fsdp=True``) weights, gradients and optimizer states are
sharded over ``num_devices``, and one layer's full weights are gathered at a time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from crm_gym.errors import ConfigError

GIB = 2**30
DEFAULT_DEVICE_GIB = 80.0
CUDA_OVERHEAD_GIB = 1.0
# what counting misses (allocator slack, kernels' workspaces): benchmarks.memory_plan_check
# measured the CPU's peak RSS at 1.1-1.4x the counted gradients, states and working memory
ALLOCATOR_SLACK = 0.2
LOGIT_BYTES = 12  # per vocab entry and token, see the module docstring
# measured: the rendered prompt's characters (median of 40 tasks, ``all`` family) / 3.5
PROMPT_TOKENS = {"full": 5_700, "compact": 360, "minimal": 30}
ENV_TOKENS_PER_STEP = 256  # a tool result between two completions (an assumption, stated)
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_ACTIVATION_DTYPE = {"no": None, "bf16": 2, "fp16": 2}


@dataclass(frozen=True)
class ModelShape:
    """The config fields that size a Qwen3/Llama-style decoder (``attention_bias`` off)."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    dtype: str = "bfloat16"


# From the published config.json of each checkpoint (huggingface.co/Qwen/Qwen3-0.6B and
# huggingface.co/Qwen/Qwen3-4B, "torch_dtype": "bfloat16"); the tiny model is agents.tiny's.
KNOWN_SHAPES: dict[str, ModelShape] = {
    "Qwen/Qwen3-0.6B": ModelShape(1024, 3072, 28, 16, 8, 128, 151_936, True),
    "Qwen/Qwen3-4B": ModelShape(2560, 9728, 36, 32, 8, 128, 151_936, True),
    "tiny": ModelShape(64, 128, 2, 4, 2, 16, 1024, True, "float32"),
}


def model_shape(model: str) -> ModelShape:
    """The shape of ``model``: a local directory's ``config.json``, else the built-in table.

    Raises:
        ConfigError: neither a directory with a config.json nor a name the table knows.
    """
    config = Path(model) / "config.json"
    if config.is_file():
        return shape_from_config(json.loads(config.read_text()))
    if model in KNOWN_SHAPES:
        return KNOWN_SHAPES[model]
    known = ", ".join(sorted(KNOWN_SHAPES))
    raise ConfigError(f"model {model!r}: no config.json there and not a known shape ({known})")


def shape_from_config(config: dict[str, Any]) -> ModelShape:
    """A ``ModelShape`` from a transformers config dict (``head_dim`` defaults as HF does)."""
    heads = config["num_attention_heads"]
    dtype = config.get("dtype") or config.get("torch_dtype") or "float32"
    return ModelShape(
        hidden_size=config["hidden_size"],
        intermediate_size=config["intermediate_size"],
        num_hidden_layers=config["num_hidden_layers"],
        num_attention_heads=heads,
        num_key_value_heads=config.get("num_key_value_heads", heads),
        head_dim=config.get("head_dim") or config["hidden_size"] // heads,
        vocab_size=config["vocab_size"],
        tie_word_embeddings=config.get("tie_word_embeddings", True),
        dtype=dtype if dtype in DTYPE_BYTES else "float32",
    )


def linear_shapes(shape: ModelShape) -> dict[str, tuple[int, int]]:
    """``(in, out)`` features of each linear layer of one decoder layer, by module name."""
    h, i = shape.hidden_size, shape.intermediate_size
    q = shape.num_attention_heads * shape.head_dim
    kv = shape.num_key_value_heads * shape.head_dim
    return {
        "q_proj": (h, q),
        "k_proj": (h, kv),
        "v_proj": (h, kv),
        "o_proj": (q, h),
        "gate_proj": (h, i),
        "up_proj": (h, i),
        "down_proj": (i, h),
    }


def count_parameters(shape: ModelShape) -> int:
    """Every parameter: embeddings, per layer linears and the four norms, final norm, head."""
    per_layer = sum(a * b for a, b in linear_shapes(shape).values())
    per_layer += 2 * shape.hidden_size + 2 * shape.head_dim  # layer norms, q/k norms
    embed = shape.vocab_size * shape.hidden_size
    head = 0 if shape.tie_word_embeddings else embed
    return embed + head + shape.num_hidden_layers * per_layer + shape.hidden_size


def lora_parameters(shape: ModelShape, rank: int, targets: tuple[str, ...]) -> int:
    """Adapter parameters: ``rank * (in + out)`` per targeted linear layer, in every layer."""
    linears = linear_shapes(shape)
    unknown = [t for t in targets if t not in linears]
    if unknown:
        known = ", ".join(linears)
        raise ConfigError(f"lora_target_modules: unknown module(s) {unknown}; known: {known}")
    return shape.num_hidden_layers * sum(rank * sum(linears[t]) for t in targets)


def layer_activation_bytes(shape: ModelShape, d: int, lora: int = 0) -> int:
    """Bytes one decoder layer saves per token for the backward (no checkpointing).

    ``lora``: the adapters' own bytes per token and layer (:func:`lora_activation_bytes`).
    """
    h, i = shape.hidden_size, shape.intermediate_size
    q = shape.num_attention_heads * shape.head_dim
    kv = shape.num_key_value_heads * shape.head_dim
    return (2 * h + q + kv) * (4 + d) + d * (3 * q + 2 * kv + 4 * i) + lora


def lora_activation_bytes(shape: ModelShape, rank: int, targets: tuple[str, ...]) -> int:
    """Per token and layer: each adapter's float32 input and its rank-``r`` middle.

    peft casts a 16-bit layer's input to the float32 adapter's dtype, once per targeted module,
    and ``lora_A`` saves that copy; a float32 base shares its input with the base layer.
    """
    if not rank:
        return 0
    inputs = sum(linear_shapes(shape)[t][0] for t in targets)
    return 4 * rank * len(targets) + (4 * inputs if DTYPE_BYTES[shape.dtype] < 4 else 0)


def activation_bytes(
    shape: ModelShape, tokens: int, d: int, checkpointing: bool, lora: int = 0
) -> int:
    """Saved activations of one micro-batch of ``tokens`` tokens, final norm included."""
    layer = layer_activation_bytes(shape, d, lora)
    final_norm = shape.hidden_size * (4 + d)
    if checkpointing:
        per_token = shape.num_hidden_layers * shape.hidden_size * d + layer + final_norm
    else:
        per_token = shape.num_hidden_layers * layer + final_norm
    return tokens * per_token


def sequence_tokens(args: Any) -> int:
    """Tokens of one episode's sequence: prompt, completions and tool results between them."""
    steps = args.max_env_steps
    return (
        PROMPT_TOKENS[args.prompt_style]
        + steps * args.max_new_tokens
        + (steps - 1) * ENV_TOKENS_PER_STEP
    )


@dataclass(frozen=True)
class Breakdown:
    """Bytes of each term of the peak (see the module docstring for each)."""

    weights: float
    gradients: float
    optimizer: float
    reference: float
    activations: float
    logits: float
    backward_temp: float
    optimizer_temp: float
    kv_cache: float
    slack: float
    vllm: float
    overhead: float

    def working(self) -> float:
        """The backward, the optimizer step or HF sampling (KV cache), whichever is larger."""
        backward = self.activations + self.logits + self.backward_temp
        return max(backward, self.optimizer_temp, self.kv_cache)

    def peak(self) -> float:
        """Every term at once, with the working memory's largest phase."""
        static = self.weights + self.gradients + self.optimizer + self.reference
        return static + self.working() + self.slack + self.vllm + self.overhead


def estimate(
    args: Any,
    shape: ModelShape,
    device_gib: float,
    num_devices: int = 1,
    on_gpu: bool = True,
    seq: int | None = None,
) -> tuple[Breakdown, dict[str, int]]:
    """The peak's terms for ``args`` on ``shape``, and the parameter and token counts.

    ``seq``: the sequence length, when known (else :func:`sequence_tokens` of ``args``).
    """
    w = DTYPE_BYTES[shape.dtype]
    params = count_parameters(shape)
    rank = args.lora_rank
    targets = tuple(args.lora_target_modules)
    adapters = lora_parameters(shape, rank, targets) if rank else 0
    trainable, t = (adapters, 4) if rank else (params, w)
    shards = num_devices if args.fsdp else 1
    eight_bit = args.optimizer == "adamw_8bit"
    d = _ACTIVATION_DTYPE[args.mixed_precision] or w
    lora = lora_activation_bytes(shape, rank, targets)
    seq = seq or sequence_tokens(args)
    tokens = args.micro_batch_size * seq
    rollout_rows = -(-args.prompts_per_step * args.group_size // num_devices)
    kv = shape.num_key_value_heads * shape.head_dim
    kv_cache = 2.0 * shape.num_hidden_layers * kv * d * seq * rollout_rows
    breakdown = Breakdown(
        weights=(params * w + adapters * 4) / shards + _gathered(shape, w, shards),
        gradients=trainable * t / shards,
        optimizer=trainable * (2 if eight_bit else 2 * t) / shards,
        reference=params * w / shards if args.beta > 0 and not rank else 0.0,
        activations=float(activation_bytes(shape, tokens, d, _checkpointing(args), lora)),
        logits=float(shape.vocab_size * tokens * LOGIT_BYTES),
        backward_temp=float(tokens * layer_activation_bytes(shape, d)),
        optimizer_temp=0.0 if eight_bit else trainable * t / shards,
        kv_cache=kv_cache if args.backend == "hf" else 0.0,
        slack=0.0,
        vllm=args.vllm_gpu_memory_utilization * device_gib * GIB if args.backend == "vllm" else 0.0,
        overhead=CUDA_OVERHEAD_GIB * GIB if on_gpu else 0.0,
    )
    counted = breakdown.gradients + breakdown.optimizer + breakdown.working()
    breakdown = replace(breakdown, slack=ALLOCATOR_SLACK * counted)
    counts = {
        "parameters": params + adapters,
        "trainable_parameters": trainable,
        "sequence_tokens": seq,
        "micro_batch_tokens": tokens,
    }
    return breakdown, counts


def _gathered(shape: ModelShape, w: int, shards: int) -> float:
    """FSDP gathers a layer's full weights while it runs, and prefetches the next: two layers."""
    if shards == 1:
        return 0.0
    layer = sum(a * b for a, b in linear_shapes(shape).values())
    return 2.0 * layer * w


def _checkpointing(args: Any) -> bool:
    return bool(args.gradient_checkpointing)


def plan_memory(
    args: Any,
    device_gib: float = DEFAULT_DEVICE_GIB,
    device: str = "assumed",
    num_devices: int = 1,
    shape: ModelShape | None = None,
) -> dict[str, Any]:
    """The plan as ``--plan`` prints it: counts, ``peak_gib``, ``device_gib``, ``fits``, terms.

    ``knob`` names the setting to turn when the plan does not fit (else it is None).
    """
    shape = shape or model_shape(args.model)
    breakdown, counts = estimate(args, shape, device_gib, num_devices)
    peak = breakdown.peak() / GIB
    fits = peak <= device_gib
    return {
        "model": args.model,
        **counts,
        "peak_gib": round(peak, 2),
        "device": device,
        "device_gib": round(device_gib, 2),
        "num_devices": num_devices,
        "fits": fits,
        "knob": None if fits else knob(args, breakdown),
        "breakdown_gib": {k: round(v / GIB, 3) for k, v in asdict(breakdown).items()},
        "shape": asdict(shape),
    }


def knob(args: Any, breakdown: Breakdown) -> str:
    """The setting whose term is largest: the one to turn first."""
    training = breakdown.activations + breakdown.logits
    terms = {
        "micro_batch_size": training,
        "lora_rank": breakdown.gradients + breakdown.optimizer + breakdown.reference,
        "vllm_gpu_memory_utilization": breakdown.vllm,
        "prompts_per_step": breakdown.kv_cache,
    }
    name = max(terms, key=terms.__getitem__)
    if name == "micro_batch_size" and breakdown.activations > breakdown.logits:
        return "micro_batch_size" if _checkpointing(args) else "gradient_checkpointing"
    return name


def refusal(plan: dict[str, Any]) -> str:
    """One line: the peak, the device, and what to turn."""
    advice = {
        "micro_batch_size": "lower micro_batch_size",
        "gradient_checkpointing": "set gradient_checkpointing=true",
        "lora_rank": "set lora_rank (e.g. 16) to train adapters, or fsdp over more devices",
        "vllm_gpu_memory_utilization": "lower vllm_gpu_memory_utilization",
        "prompts_per_step": "lower prompts_per_step (the HF sampler's KV cache)",
    }[plan["knob"]]
    terms = ", ".join(f"{k} {v:.1f}" for k, v in plan["breakdown_gib"].items() if v >= 0.05)
    return (
        f"the memory plan's peak {plan['peak_gib']:.1f} GiB does not fit {plan['device']} "
        f"({plan['device_gib']:.1f} GiB): {advice} (GiB: {terms}; see --plan)"
    )
