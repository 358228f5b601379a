"""Named training configurations: dicts of ``agents.train.Args`` fields.

They live with the training code so the CLI (``crm-gym train --preset``) and the benchmarks that
rerun a preset read one table; a config file (JSON or TOML) holds the same fields.
"""

from __future__ import annotations

from typing import Any

_TINY = {
    "model": "tiny",
    # one base model and one task set for every --seed: seeds vary the RL alone, as they do when
    # a pretrained model is fine-tuned (the tiny model's init and warm start play pretraining)
    "data_seed": 0,
    "base_seed": 0,
    "task_family": "noarg",
    "num_conversations": 800,  # 108 noarg tasks: 32 held out, 76 to train on
    "num_threads": 1,  # measured: 2 threads are 5-10x slower on busy 2-core machines
    "max_new_tokens": 16,
    "max_env_steps": 1,  # one action: the tool call (the reward scores it at truncation)
    "reward_mode": "binary",  # the shaped reward pays plain text more than a broken call
    "warm_start_steps": 120,
    "prompts_per_step": 4,
    "group_size": 8,
    "lr": 1e-4,  # measured: 3e-4 collapses onto the most frequent tool (greedy 0.78 -> 0.53)
    "steps": 40,
    "num_eval_tasks": 32,
    "eval_samples": 8,
    "eval_every": 10,
    "save_every": 10,
}
# the evidence preset (docs/results.md): requests whose calls copy ids, names, amounts, stages and
# dates from the request; held-out tasks use phrasings and names the model never trained on.
# A 0.85M-parameter model (hidden 128, 4 layers) learns to copy in its warm start: 8,000 other
# conversations' first requests (training side), before GRPO trains on the 362 training tasks
_ARGS = _TINY | {
    "task_family": "args",
    "prompt_style": "minimal",  # no tool catalogue: 180-token sequences instead of 510
    "tiny_hidden_size": 128,
    "tiny_num_layers": 4,
    "tiny_vocab_size": 2048,
    "num_eval_tasks": 64,
    "max_new_tokens": 128,
    "warm_start_conversations": 8000,
    "warm_start_steps": 1800,  # ~12 min; held-out greedy success 0.156 after it
    "warm_start_lr": 1e-3,
    "warm_start_batch_size": 16,
    "reward_mode": "shaped",  # partial credit per argument value copied right
    "prompts_per_step": 8,  # tried: 4 prompts at lr 3e-4 did not hold its gains, 8 at 1e-4 did
    "lr": 1e-4,
    "steps": 100,
    "eval_every": 25,
    "save_every": 25,
}
# find, then act on what was found (issue #19, whole conversations): two-turn conversations whose
# second request acts on the first turn's result (the client just found, the deal just created);
# each turn takes a call, then a reply stating what the result holds (``agents.train_data.chains``)
_CHAIN = _ARGS | {
    "env_id": "ArcCrmConversation-v1",
    "task_family": "chain",
    "max_env_steps": 2,  # per turn: the call, then the reply
    "num_conversations": 3000,  # 416 training tasks
    "num_eval_tasks": 32,
    "eval_samples": 4,
    "warm_start_conversations": 4000,
}
# shared by the GPU presets: vLLM sampling, whole prompts, every task family, bf16 autocast;
# one completion per backward pass: at ~9,300 tokens a sequence the float32 logits of one row
# (151,936-token vocabulary) take 17 GiB in the loss (agents.memory_plan)
_GPU = {
    "backend": "vllm",
    "prompt_style": "full",
    "task_family": "all",
    "num_conversations": 2000,
    "num_eval_tasks": 100,
    "max_new_tokens": 512,
    "max_env_steps": 5,
    "reward_mode": "shaped",  # dense credit for a pretrained model's partial calls
    "prompts_per_step": 16,
    "group_size": 8,
    "micro_batch_size": 1,
    "lr_schedule": "cosine",
    "warmup_steps": 10,
    "mixed_precision": "bf16",
    "beta": 0.0,
    "eps_high": 0.28,
    "steps": 500,
    "eval_every": 25,
    "save_every": 25,
    "tensorboard": True,
}
PRESETS: dict[str, dict[str, Any]] = {
    "cpu-tiny": _TINY,
    # whole conversations, one action per turn: env tokens between actions are masked out
    # (a smaller held-out set: a held-out episode here is a whole conversation)
    "cpu-tiny-multiturn": _TINY
    | {
        "env_id": "ArcCrmConversation-v1",
        "steps": 20,
        "num_conversations": 400,
        "num_eval_tasks": 12,
        "eval_samples": 4,
    },
    "cpu-args": _ARGS,
    "cpu-chain": _CHAIN,
    # one 80 GiB GPU with vLLM (``--plan`` says both fit; docs/training.md); not for the CPU
    "gpu-qwen3-0.6b": _GPU
    | {
        "model": "Qwen/Qwen3-0.6B",
        "lr": 1e-6,  # full fine-tuning
        "vllm_gpu_memory_utilization": 0.3,  # 24 GiB: 1.1 GiB of weights, the rest KV cache
    },
    "gpu-qwen3-4b": _GPU
    | {
        "model": "Qwen/Qwen3-4B",
        "lora_rank": 16,  # adapters on every projection; the reference is the base (no copy)
        "lora_alpha": 32.0,
        "lr": 2e-5,  # LoRA takes a larger step than full fine-tuning
        "gradient_checkpointing": True,
        "vllm_gpu_memory_utilization": 0.35,  # 28 GiB: 7.5 GiB of weights, the rest KV cache
    },
}
