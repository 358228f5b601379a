"""The settings of a GRPO run (``Args``), checked field by field without importing torch.

``Args`` lives apart from the loop (``agents.train``, which re-exports it) so that ``crm-gym
train`` can reject a bad value (``--steps -1``, ``--set lr=abc``, ``--set group_size=0``) at
once, before torch loads, and name the extra to install when torch is missing. Each field's type
comes from its annotation; ranges from the tables below. The same checks run in
``Args.__post_init__``, so library callers get them too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from functools import cache
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from crm_gym.errors import ConfigError

LossType = Literal["grpo", "bnpo", "dr_grpo", "dapo"]
RewardScale = Literal["group", "batch", "none"]
# every linear layer of a Llama / Qwen decoder block: attention and MLP
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class Args:
    """Every setting of a run (CleanRL style); presets and config files fill it, checked here."""

    # run
    seed: int = 0  # rollouts, curriculum, GRPO sampling; also what the two below default to
    data_seed: int | None = None  # the task set, the held-out split, held-out sampling
    base_seed: int | None = None  # the tiny model's weights and the warm start: the base model
    steps: int = 40  # GRPO steps (one rollout batch each)
    output_dir: str = "runs/grpo"
    resume: bool = True  # continue from output_dir/checkpoint when it exists
    stop_at_step: int | None = None  # stop after this step as if killed (resume tests)
    num_threads: int | None = None  # torch.set_num_threads; 1 is fastest on small CPUs
    # model and generation
    model: str = "tiny"  # "tiny": agents.tiny's offline model; else a HF name or directory
    backend: Literal["hf", "vllm"] = "hf"
    prompt_style: Literal["full", "compact", "minimal"] = "compact"
    max_new_tokens: int = 24
    temperature: float = 1.0
    top_p: float = 1.0
    vllm_gpu_memory_utilization: float = 0.3
    # tasks and env
    env_id: str = "ArcCrm-v1"
    task_family: Literal["args", "chain", "noarg", "all"] = "noarg"
    num_conversations: int = 400  # generated, then filtered by the family
    num_eval_tasks: int = 12  # held out
    eval_samples: int = 4  # sampled episodes per held-out task
    max_env_steps: int = 2  # actions per episode
    reward_mode: Literal["shaped", "binary"] = "shaped"
    # GRPO
    prompts_per_step: int = 4
    group_size: int = 8
    num_iterations: int = 1
    micro_batch_size: int = 16  # completions per backward pass
    loss_type: LossType = "dapo"
    scale_rewards: RewardScale = "group"
    beta: float = 0.0
    eps_low: float = 0.2
    eps_high: float = 0.2
    # optimiser
    lr: float = 3e-4
    weight_decay: float = 0.0
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    optimizer: Literal["adamw", "adamw_8bit"] = "adamw"  # adamw_8bit: bitsandbytes, GPU only
    # memory (docs/training.md): LoRA adapters (peft; lora_rank 0: full fine-tuning),
    # activation recomputation, parameters sharded over the processes (accelerate's FSDP)
    lora_rank: int = 0
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    lora_target_modules: tuple[str, ...] = LORA_TARGETS
    gradient_checkpointing: bool = False
    fsdp: bool = False
    # curriculum
    # bandit: SEC; uniform; easy_to_hard / hard_to_easy: each arm's share of steps in turn
    curriculum: Literal["bandit", "uniform", "easy_to_hard", "hard_to_easy"] = "bandit"
    curriculum_alpha: float = 0.3
    curriculum_tau: float = 0.5
    # supervised warm start on replayed reference trajectories (0: none)
    warm_start_steps: int = 0
    warm_start_lr: float = 3e-3
    warm_start_batch_size: int = 8
    # 0: the warm start replays the training tasks; N: the first requests of N other conversations
    # of the generator's training side (``args``: never the held-out side's phrasings or names)
    warm_start_conversations: int = 0
    # the offline tiny model's size (``model="tiny"``)
    tiny_hidden_size: int = 64
    tiny_num_layers: int = 2
    tiny_vocab_size: int = 1024
    # logging
    eval_every: int = 10
    save_every: int = 10
    tensorboard: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        for field in fields(self):
            setattr(self, field.name, check_setting(field.name, getattr(self, field.name)))
        if self.backend == "vllm" and self.warm_start_steps:  # it trains the HF model in place
            raise ConfigError(
                f"warm_start_steps={self.warm_start_steps} needs backend='hf', "
                "got backend='vllm' (set warm_start_steps=0)"
            )
        if self.fsdp and self.backend != "vllm":  # HF generation: uneven gathers would hang
            raise ConfigError(
                "fsdp=true needs backend='vllm', got backend='hf': sharded "
                "layers are gathered by every process at once, and HF generation "
                "runs a different number of forward passes on each"
            )
        if self.lora_rank and not self.lora_target_modules:
            raise ConfigError(f"lora_rank={self.lora_rank} needs lora_target_modules, got ()")


# the least value of a numeric field (None, where a field allows it, is always fine)
_AT_LEAST: dict[str, int] = {
    "seed": 0,
    "data_seed": 0,
    "base_seed": 0,  # numpy's seed sequences take no negatives
    "steps": 0,  # 0: the warm start and the evaluation alone
    "group_size": 2,  # advantages compare completions within a group: one alone learns nothing
    "prompts_per_step": 1,
    "micro_batch_size": 1,
    "num_iterations": 1,
    "max_new_tokens": 1,
    "max_env_steps": 1,
    "num_conversations": 2,
    "num_eval_tasks": 1,
    "eval_samples": 1,
    "eval_every": 1,
    "save_every": 1,
    "warm_start_steps": 0,
    "warm_start_batch_size": 1,
    "warm_start_conversations": 0,
    "tiny_hidden_size": 8,
    "tiny_num_layers": 1,
    "tiny_vocab_size": 300,
    "warmup_steps": 0,
    "num_threads": 1,
    "stop_at_step": 1,
    "beta": 0,
    "eps_low": 0,
    "eps_high": 0,
    "weight_decay": 0,
    "lora_rank": 0,
}
_POSITIVE = {"lr", "warm_start_lr", "temperature", "max_grad_norm", "curriculum_tau", "lora_alpha"}
_UNIT = {"top_p", "vllm_gpu_memory_utilization", "curriculum_alpha"}  # in (0, 1]
_BELOW_ONE = {"lora_dropout"}  # in [0, 1)


def check_setting(name: str, value: Any) -> Any:
    """``value`` as the ``Args`` field ``name`` holds it (an int given for a float converted).

    Raises:
        ConfigError: unknown field, wrong type or out of range; the message names field and value.
    """
    hints = _hints()
    if name not in hints:
        raise ConfigError(f"unknown training option {name!r}")
    value = _typed(name, value, hints[name])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_range(name, value)
    return value


@cache
def _hints() -> dict[str, Any]:
    return get_type_hints(Args)


def _typed(name: str, value: Any, hint: Any) -> Any:
    """``value`` if it is one of ``hint``'s types (bools are not numbers here), else raise."""
    allowed = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    for kind in allowed:
        if get_origin(kind) is Literal and isinstance(value, str) and value in get_args(kind):
            return value
        if (kind is type(None) and value is None) or (kind in (str, bool) and type(value) is kind):
            return value
        if kind in (int, float) and type(value) is int or (kind is float and type(value) is float):
            return kind(value)
        if get_origin(kind) is tuple and _strings(value):  # a TOML or JSON list too
            return tuple(value)
    wanted = " or ".join(_describe(kind) for kind in allowed)
    raise ConfigError(f"{name} must be {wanted}, got {value!r}")


def _strings(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(type(item) is str for item in value)


def _describe(kind: Any) -> str:
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(kind))
    if get_origin(kind) is tuple:
        return "a list of strings"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    return names.get(kind, "null")


def _check_range(name: str, value: float) -> None:
    """Raise when ``value`` is outside its field's range (NaN and infinities never pass)."""
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    if name in _AT_LEAST and not value >= _AT_LEAST[name]:
        raise ConfigError(f"{name} must be >= {_AT_LEAST[name]}, got {value!r}")
    if name in _POSITIVE and not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    if name in _UNIT and not 0 < value <= 1:
        raise ConfigError(f"{name} must be in (0, 1], got {value!r}")
    if name in _BELOW_ONE and not 0 <= value < 1:
        raise ConfigError(f"{name} must be in [0, 1), got {value!r}")


def parse_set(item: str) -> tuple[str, Any]:
    """``FIELD=VALUE``: the value is JSON when it parses (numbers, true, null), else a string."""
    key, equals, text = item.partition("=")
    if not equals or not key:
        raise ConfigError(f"--set {item}: expected FIELD=VALUE, e.g. --set lr=1e-4")
    try:
        return key, json.loads(text)
    except json.JSONDecodeError:
        return key, text
