"""``crm-gym eval``: run a policy on a task source, k attempts per conversation, into a JSONL log.

``--policy``: ``replay`` (the ground truth, 100% by construction), ``random`` (seeded by
``--seed``), a Hugging Face model directory, ``vllm:MODEL`` (in-process vLLM engine), or any
litellm model string (``gpt-4.1``, ``anthropic/claude-sonnet-4-5``, ``hosted_vllm/NAME`` with
``--api-base``). ``--tasks``: a JSONL file, or ``generated[:N[:SEED]]`` (default: the package's
default task set). The log is appended to; attempts already there (same seed) are skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EVAL_EXAMPLE = (
    "crm-gym eval --policy replay --tasks ../shared/arc/evaluation_400.jsonl --attempts 3 "
    "-o replay.jsonl"
)


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``crm-gym eval``."""
    add = parser.add_argument
    add(
        "--policy",
        required=True,
        help="replay | random | HF model directory | vllm:MODEL | litellm model string",
    )
    add("--tasks", default="generated", help="JSONL file or generated[:N[:SEED]] (default)")
    add("--arm", default=None, help="only the conversations of this curriculum arm (crud-easy)")
    add("--attempts", type=int, default=1, help="attempts per conversation (pass^k), default 1")
    add("-o", "--output", required=True, help="JSONL log (appended to; done attempts skipped)")
    add("--seed", type=int, default=0, help="seed of the run (default 0)")
    add("--num-envs", type=int, default=8, help="envs in lockstep = API requests in flight (8)")
    add("--judge", default=None, metavar="MODEL", help="LLM judge via litellm (off by default)")
    add("--temperature", type=float, default=0.0, help="sampling temperature (default 0)")
    add("--max-new-tokens", type=int, default=512, help="tokens per action (default 512)")
    add("--api-base", default=None, help="base URL of an OpenAI-compatible server (litellm)")
    add("--step", type=int, default=None, help="training step of the checkpoint, for the records")
    add("--name", default=None, help="the records' policy name (default: from --policy)")
    add("--no-progress", action="store_true", help="no progress bar on stderr")
    add("--memory", default=None, metavar="PATH", help="guideline memory JSONL (agents.memory)")


def load_tasks(spec: str, arm: str | None = None) -> list[Any]:
    """Conversations of a JSONL path or ``generated[:N[:SEED]]``, optionally of one arm."""
    from crm_gym.data import load_conversations
    from crm_gym.data.generator import DEFAULT_SEED, default_tasks, generate
    from crm_gym.envs.tasks import arm_of

    if spec == "generated":
        conversations = list(default_tasks())
    elif spec.startswith("generated:"):
        parts = spec.split(":")[1:]
        if len(parts) > 2 or not all(part.isdigit() for part in parts):
            raise ValueError(f"expected generated[:N[:SEED]], got {spec!r}")
        seed = int(parts[1]) if len(parts) == 2 else DEFAULT_SEED
        conversations = list(generate(int(parts[0]), seed))
    elif Path(spec).is_file():
        conversations = list(load_conversations(spec))
    else:
        raise ValueError(f"no such task file: {spec}")
    if arm is not None:
        conversations = [c for c in conversations if arm_of(c) == arm]
        if not conversations:
            raise ValueError(f"no conversation of arm {arm!r} in {spec}")
    return conversations


def make_policy(args: argparse.Namespace) -> tuple[Any, str, bool]:
    """The policy of ``--policy``, its name, and whether the envs must expose the reference."""
    from agents.baselines import RandomPolicy, ReplayPolicy

    spec = args.policy
    if spec == "replay":
        return ReplayPolicy(), "replay", True
    if spec == "random":
        return RandomPolicy(args.seed), "random", False
    if Path(spec).is_dir():
        from agents.hf import HFPolicy

        return HFPolicy(spec), Path(spec).resolve().name, False
    if spec.startswith("vllm:"):
        from agents.vllm import VllmPolicy

        return VllmPolicy(spec.removeprefix("vllm:"), seed=args.seed), spec, False
    from agents.api import ApiPolicy

    extra = {"api_base": args.api_base} if args.api_base else {}
    return ApiPolicy(spec, max_concurrency=args.num_envs, completion_kwargs=extra), spec, False


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate ``args.policy`` on ``args.tasks`` and append the records to ``args.output``."""
    from agents.policy import SamplingParams
    from benchmarks.evaluate import evaluate
    from benchmarks.judge import LlmJudge
    from benchmarks.metrics import summarize
    from benchmarks.records import load_records

    try:
        conversations = load_tasks(args.tasks, args.arm)
        policy, name, expose = make_policy(args)
        if getattr(args, "memory", None):
            from agents.memory import GuidelineMemory, MemoryPolicy

            policy = MemoryPolicy(policy, GuidelineMemory(args.memory))
        sampling = SamplingParams(temperature=args.temperature, max_new_tokens=args.max_new_tokens)
        judge = LlmJudge(args.judge) if args.judge else None
        evaluate(
            conversations,
            policy,
            policy_name=args.name or name,
            attempts=args.attempts,
            seed=args.seed,
            num_envs=args.num_envs,
            output=args.output,
            step=args.step,
            expose_reference=expose,
            sampling=sampling,
            judge=judge,
            progress=not args.no_progress,
            provider="local" if Path(args.policy).is_dir() else None,
        )
    except (ValueError, ImportError, OSError) as exc:
        print(f"crm-gym eval: {exc}", file=sys.stderr)
        return 2
    ids = {c.conversation_id for c in conversations}
    ours = [
        r
        for r in load_records(args.output)
        if r.seed == args.seed and r.step == args.step and r.conversation_id in ids
    ]
    summary = summarize(ours)
    for key in ("strict_success", "turn_level_success", "capability", "reward_signal"):
        print(f"{key:20s} {summary[f'metrics/{key}']:.4f}")
    print(f"{len(ours)} records of seed {args.seed} in {args.output}")
    return 0
