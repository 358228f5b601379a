"""The continual-learning protocol: write a memory along a task stream, evaluate at checkpoints.

For each seed: a training stream of generated tasks from the *written* skills is run by the
teacher (``ReplayPolicy``, the supervised episodes of the Atlas loop) and summarised into a
fresh ``GuidelineMemory`` (``summarise_trajectory``), ``checkpoint_every`` tasks at a time. At
step 0 and after every chunk, the student policy is evaluated on two held-out streams, guided
(``MemoryPolicy`` reading the memory) and unguided (the same wrapper, no memory): ``in`` (new
tasks of the written skills) and ``transfer`` (skills never written). Records carry ``step``,
``split`` and the episode's memory stats; ``benchmarks.report`` draws the sample-efficiency
curve (shaped return per step, IQM with CIs) and ``benchmarks.learning`` the five metrics at the
last checkpoint.

Run::

    python -m benchmarks.memory_protocol --policy hint-following --out runs/memory/following
    python -m benchmarks.memory_protocol --policy hint-ignoring --out runs/memory/ignoring
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from agents.baselines import ReplayPolicy
from agents.hints import HintFollowingPolicy, HintIgnoringPolicy
from agents.memory import GuidelineMemory, MemoryPolicy, write_trajectories
from agents.policy import Policy, SamplingParams
from agents.rollout import collect_rollouts
from benchmarks.evaluate import evaluate
from benchmarks.learning import learning_metrics
from benchmarks.plots import write_report
from benchmarks.records import ConversationRecord
from benchmarks.report import ReportOptions, build_report
from crm_gym.generator import generate

POLICIES = {"hint-following": HintFollowingPolicy, "hint-ignoring": HintIgnoringPolicy}


@dataclass(frozen=True)
class ProtocolConfig:
    """Sizes of the protocol (defaults: the run in ``docs/results.md``)."""

    seeds: int = 5
    train_tasks: int = 60
    eval_tasks: int = 30
    checkpoint_every: int = 20
    written_skills: tuple[str, ...] = ("crud", "knowledge")
    transfer_skills: tuple[str, ...] = ("analytics", "policy")
    k: int = 3
    reps: int = 2000


def _tasks(n: int, seed: int, skills: Sequence[str]) -> list[Any]:
    return list(generate(n, seed, skills=dict.fromkeys(skills, 1.0)))


def _annotate(
    records: list[ConversationRecord], wrapper: MemoryPolicy, split: str
) -> list[ConversationRecord]:
    """The records with the episode's memory stats and split (extra fields)."""
    out = []
    for record in records:
        stats = wrapper.stats.get(record.conversation_id)
        extra = {"memory": asdict(stats) if stats else {}, "split": split}
        out.append(ConversationRecord.model_validate({**record.model_dump(), **extra}))
    return out


def evaluate_checkpoint(
    policy: Policy,
    memory: GuidelineMemory | None,
    splits: dict[str, list],
    *,
    name: str,
    seed: int,
    step: int,
    k: int,
) -> list[ConversationRecord]:
    """Every held-out split once, with (or without, ``memory=None``) the memory."""
    records = []
    for split, tasks in splits.items():
        wrapper = MemoryPolicy(policy, memory, k=k)
        found = evaluate(
            tasks,
            wrapper,
            policy_name=name,
            seed=seed,
            step=step,
            num_envs=8,
            sampling=SamplingParams(temperature=0.0),
            progress=False,
        )
        records += _annotate(found, wrapper, split)
    return records


def run_seed(
    policy_name: str, seed: int, config: ProtocolConfig, memory_path: Path | None = None
) -> dict[str, list[ConversationRecord]]:
    """One seed of the protocol: the guided and unguided records of every checkpoint."""
    from crm_gym import make_vec

    train = _tasks(config.train_tasks, 1000 + seed, config.written_skills)
    splits = {
        "in": _tasks(config.eval_tasks, 2000 + seed, config.written_skills),
        "transfer": _tasks(config.eval_tasks, 3000 + seed, config.transfer_skills),
    }
    memory = GuidelineMemory()  # every run starts from an empty (private) memory
    envs = make_vec("ArcCrmConversation-v1", 8, tasks=train, expose_reference=True)
    logs: dict[str, list[ConversationRecord]] = {"guided": [], "unguided": []}
    for step in range(0, config.train_tasks + 1, config.checkpoint_every):
        if step:
            chunk = train[step - config.checkpoint_every : step]
            options = [{"task_id": c.conversation_id} for c in chunk]
            write_trajectories(
                memory, collect_rollouts(envs, ReplayPolicy(), options=options, seed=seed)
            )
        for kind, source in (("guided", memory), ("unguided", None)):
            policy = POLICIES[policy_name](seed)
            logs[kind] += evaluate_checkpoint(
                policy,
                source,
                splits,
                name=f"{policy_name}-{kind}",
                seed=seed,
                step=step,
                k=config.k,
            )
    envs.close()
    if memory_path is not None:  # what the run wrote, for inspection (import_jsonl reads it)
        memory.export_jsonl(memory_path)
    memory.close()
    return logs


def run_protocol(policy_name: str, config: ProtocolConfig, out: str | Path) -> dict[str, Any]:
    """Every seed; write the logs, the rliable report and ``learning.json``; return the summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    logs: dict[str, list[ConversationRecord]] = {"guided": [], "unguided": []}
    for seed in range(config.seeds):
        for kind, records in run_seed(
            policy_name, seed, config, out / f"memory_{seed}.jsonl"
        ).items():
            logs[kind] += records
    named = {f"{policy_name}-{kind}": records for kind, records in logs.items()}
    for name, records in named.items():
        lines = "".join(r.model_dump_json() + "\n" for r in records)
        (out / f"{name}.jsonl").write_text(lines, encoding="utf-8")
    options = ReportOptions(tasks="arm", score="reward", runs="seed", reps=config.reps)
    write_report(build_report(named, options), out / "report")
    steps = sorted({r.step or 0 for r in logs["guided"]})
    by_step = {
        step: learning_metrics(*([r for r in logs[k] if r.step == step] for k in logs), options)
        for step in steps
    }
    summary = {
        "policy": policy_name,
        "config": asdict(config),
        "final_step": steps[-1],
        "metrics": by_step[steps[-1]],
        "by_step": by_step,
    }
    (out / "learning.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.memory_protocol``: run the protocol and print the five metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", choices=sorted(POLICIES), default="hint-following")
    parser.add_argument("--out", required=True, help="output folder (logs, report, learning.json)")
    parser.add_argument("--seeds", type=int, default=ProtocolConfig.seeds)
    parser.add_argument("--train-tasks", type=int, default=ProtocolConfig.train_tasks)
    parser.add_argument("--eval-tasks", type=int, default=ProtocolConfig.eval_tasks)
    parser.add_argument("--checkpoint-every", type=int, default=ProtocolConfig.checkpoint_every)
    parser.add_argument("--reps", type=int, default=ProtocolConfig.reps, help="bootstrap reps")
    args = parser.parse_args(argv)
    config = ProtocolConfig(
        seeds=args.seeds,
        train_tasks=args.train_tasks,
        eval_tasks=args.eval_tasks,
        checkpoint_every=args.checkpoint_every,
        reps=args.reps,
    )
    summary = run_protocol(args.policy, config, args.out)
    for step, metrics in summary["by_step"].items():
        delta, transfer = metrics["reward_delta"], metrics["transfer"]
        print(
            f"step {step:4d}: reward_delta {delta['mean']:+.4f} {_ci(delta)}  "
            f"transfer {transfer['mean']:+.4f} {_ci(transfer)}"
        )
    print(f"at the last step ({summary['final_step']} tasks written):")
    for name, result in summary["metrics"].items():
        ci = result["ci"] or [float("nan")] * 2
        mean = float("nan") if result["mean"] is None else result["mean"]
        print(f"{name:14s} {mean:+.4f}  95% CI [{ci[0]:+.4f}, {ci[1]:+.4f}]")
    return 0


def _ci(result: dict[str, Any]) -> str:
    low, high = result["ci"] or [float("nan")] * 2
    return f"[{low:+.4f}, {high:+.4f}]"


if __name__ == "__main__":
    raise SystemExit(main())
