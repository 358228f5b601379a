"""``crm-gym eval``: run a policy on a task source, k attempts per conversation, into a JSONL log.

``--policy`` (``agents.policy_spec``): ``replay``, ``random`` (seeded by ``--seed``), a Hugging
Face model directory, a ``crm-gym train`` run directory (its trained model on the run's held-out
tasks, with the run's settings: the numbers the run reported), ``vllm:MODEL``,
``package.module:ClassName`` (your own policy class), or a litellm model string (``gpt-4.1``,
``anthropic/claude-sonnet-4-5``, ``hosted_vllm/NAME`` with ``--api-base``); anything else is
refused with the list of valid forms. ``--tasks``: a JSONL file, or ``generated[:N[:SEED]]``
(default: the package's default task set).

The log (``-o``) belongs to one run (``benchmarks.eval_log``): a rerun of the same run resumes it,
any other run is refused, and so is a second writer while one runs. Its parent folders are
created; an unwritable log fails before any work.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
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
        help="replay | random | vllm:MODEL | model dir | `crm-gym train` run dir | "
        "package.module:ClassName | litellm model (openai/gpt-4.1, gpt-4.1)",
    )
    add(
        "--tasks",
        default=None,
        help="JSONL file or generated[:N[:SEED]] (default generated; run dir: its held-out)",
    )
    add("--arm", default=None, help="only the conversations of this curriculum arm (crud-easy)")
    add(
        "--attempts",
        type=int,
        default=None,
        help="attempts per conversation (pass^k); default 1, run dir: its eval_samples",
    )
    add("-o", "--output", required=True, help="JSONL log of this run (resumed; others refused)")
    add("--seed", type=int, default=None, help="seed of the run (default 0; a run dir: its seed)")
    add("--num-envs", type=int, default=8, help="envs in lockstep = API requests in flight (8)")
    add("--judge", default=None, metavar="MODEL", help="LLM judge via litellm (off by default)")
    add(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature (default 0; a run dir: the run's)",
    )
    add(
        "--max-new-tokens",
        type=int,
        default=None,
        help="tokens per action (default 512; a run dir: the run's)",
    )
    add("--api-base", default=None, help="base URL of an OpenAI-compatible server (litellm)")
    add(
        "--step",
        type=int,
        default=None,
        help="training step of the checkpoint, for the records (a run dir: its step)",
    )
    add("--name", default=None, help="the records' policy name (default: from --policy)")
    add(
        "--strict-upstream",
        action="store_true",
        help="upstream's CRM mock exactly (crm_gym.crm.CrmApi(strict_upstream=True))",
    )
    add("--no-progress", action="store_true", help="no progress bar on stderr")
    add(
        "--memory",
        default=None,
        metavar="DB",
        help="guideline memory: a SQLite file or SQLAlchemy URL",
    )


@dataclass
class EvalPlan:
    """Everything about a run that is known before any model is loaded."""

    spec: Any  # agents.policy_spec.PolicySpec
    conversations: list[Any]
    name: str
    attempts: int
    seed: int
    step: int | None
    sampling: Any  # agents.policy.SamplingParams
    env: Any  # benchmarks.evaluate.EnvSettings
    episode_seed_base: int
    run: Any = None  # benchmarks.run_eval.TrainedRun for a run directory
    own_tasks: bool = False  # a run directory's own held-out tasks (no --tasks, no --arm)
    identity: dict[str, Any] = field(default_factory=dict)


def plan_eval(args: argparse.Namespace) -> EvalPlan:
    """Resolve ``--policy``, the tasks and the settings; refuse ``-o`` equal to ``--tasks``."""
    from agents.policy import SamplingParams
    from agents.policy_spec import parse_policy
    from benchmarks.eval_log import same_file
    from benchmarks.evaluate import EnvSettings, run_identity

    if args.tasks is not None and Path(args.tasks).exists() and same_file(args.output, args.tasks):
        raise ValueError(f"-o {args.output} is the --tasks file: the log needs a file of its own")
    spec = parse_policy(args.policy)
    run = _trained_run(spec)
    sampling = run.sampling() if run else SamplingParams(temperature=0.0, max_new_tokens=512)
    overrides = {"temperature": args.temperature, "max_new_tokens": args.max_new_tokens}
    sampling = SamplingParams(**{**_sampling_fields(sampling), **_given(overrides), "seed": None})
    seed = _pick(args.seed, run, "seed", 0)
    strict = args.strict_upstream
    plan = EvalPlan(
        spec=spec,
        conversations=_tasks(args, run),
        name=args.name or spec.name,
        attempts=_pick(args.attempts, run, "eval_samples", 1),
        seed=seed,
        step=args.step if args.step is not None or run is None else run.step,
        sampling=sampling,
        env=run.env(strict) if run else EnvSettings(strict_upstream=strict),
        episode_seed_base=run.sampling().seed if run else seed,
        run=run,
        own_tasks=run is not None and args.tasks is None and args.arm is None,
    )
    settings = {
        "episode_seed_base": plan.episode_seed_base,
        "env": plan.env,
        "sampling": sampling,
        "judge": args.judge,
        "memory": args.memory,
    }
    plan.identity = run_identity(plan.conversations, plan.name, plan.attempts, seed, settings)
    return plan


def _trained_run(spec: Any) -> Any:
    if spec.kind != "run":
        return None
    from benchmarks.run_eval import TrainedRun

    return TrainedRun.read(spec.value)


def _run_keys(plan: EvalPlan) -> tuple[str, ...] | None:
    """The run's logged keys this evaluation repeats: its sampled or its greedy one, else None."""
    from benchmarks.run_eval import REPORTED, REPORTED_GREEDY

    if not plan.own_tasks:
        return None
    if plan.sampling.temperature == 0 and plan.attempts == 1:
        return REPORTED_GREEDY
    own = _sampling_fields(plan.run.sampling()) == _sampling_fields(plan.sampling)
    return REPORTED if own and plan.attempts == plan.run.args.eval_samples else None


def _tasks(args: argparse.Namespace, run: Any) -> list[Any]:
    from benchmarks.task_sets import load_tasks, of_arm

    if run is not None and args.tasks is None:
        return of_arm(run.tasks(), args.arm, str(run.path))
    return load_tasks(args.tasks or "generated", args.arm)


def _sampling_fields(sampling: Any) -> dict[str, Any]:
    keys = ("temperature", "top_p", "max_new_tokens", "stop")
    return {key: getattr(sampling, key) for key in keys}


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _pick(given: Any, run: Any, field: str, default: Any) -> Any:
    """The command line's value, else the run directory's ``args.<field>``, else the default."""
    if given is not None:
        return given
    return default if run is None else getattr(run.args, field)


def build(plan: EvalPlan, args: argparse.Namespace) -> tuple[Any, bool]:
    """The policy (memory-wrapped when asked) and whether its envs expose the reference."""
    from agents.policy_spec import build_policy, expose_reference

    style = plan.run.args.prompt_style if plan.run else "full"
    policy = build_policy(
        plan.spec,
        seed=plan.seed,
        num_envs=args.num_envs,
        api_base=args.api_base,
        prompt_style=style,
    )
    expose = expose_reference(plan.spec, policy) or plan.run is not None  # as the trainer's envs
    if args.memory:
        from agents.memory import GuidelineMemory, MemoryPolicy

        policy = MemoryPolicy(policy, GuidelineMemory(args.memory))
    return policy, expose


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate ``args.policy`` and add the records to ``args.output``; print the metrics."""
    from benchmarks.eval_log import EvalLog
    from benchmarks.evaluate import evaluate
    from benchmarks.judge import LlmJudge

    try:
        plan = plan_eval(args)
        with EvalLog.open(args.output, plan.identity) as log:  # locked and checked before work
            policy, expose = build(plan, args)
            evaluate(
                plan.conversations,
                policy,
                policy_name=plan.name,
                attempts=plan.attempts,
                seed=plan.seed,
                num_envs=args.num_envs,
                output=log,
                step=plan.step,
                expose_reference=expose,
                sampling=plan.sampling,
                judge=LlmJudge(args.judge) if args.judge else None,
                progress=not args.no_progress,
                provider=plan.spec.provider,
                env=plan.env,
                episode_seed_base=plan.episode_seed_base,
            )
            records = [r for r in log.records if r.step == plan.step]
    except (ValueError, ImportError, OSError) as exc:  # EvalLogError, PolicySpecError included
        print(f"crm-gym eval: {exc}", file=sys.stderr)
        return 2
    print_summary(plan, records, args.output)
    return 0


def print_summary(plan: EvalPlan, records: list[Any], output: str) -> None:
    """The seed's metrics; for a run directory, also its numbers beside the run's own."""
    from benchmarks.metrics import ceilings, summarize

    summary, tops = summarize(records), ceilings(records)
    for key in ("strict_success", "turn_level_success", "capability", "reward_signal"):
        print(f"{key:20s} {summary[f'metrics/{key}']:.4f}  (ceiling {tops[f'ceiling/{key}']:.4f})")
    floor = tops["floor/reward_signal"]
    print(f"{'reward_signal floor':20s} {floor:.4f}  (what an agent doing nothing gets)")
    if plan.run is not None:
        from benchmarks.run_eval import run_numbers

        ours = run_numbers(records, [c.conversation_id for c in plan.conversations])
        keys = _run_keys(plan)
        reported = (plan.run.reported(keys) if keys else None) or {}
        for key, theirs_key in zip(ours, keys or ours, strict=True):
            theirs = f"{reported[theirs_key]:.4f}" if theirs_key in reported else "not logged"
            note = f"run reported at step {plan.step}: {theirs}"
            if keys is None:
                note = "not the run's evaluation: other tasks, attempts or sampling"
            print(f"{key:20s} {ours[key]:.4f}  ({note})")
    print(f"{len(records)} records of seed {plan.seed} in {output}")
