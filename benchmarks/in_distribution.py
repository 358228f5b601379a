"""An in-distribution held-out set for a ``crm-gym train`` run of the ``args`` or ``chain`` family.

A split family's held-out tasks come from the generator's held-out side: request patterns and
entity names the run never trained on. This set is the other half of the question: new
conversations from the *training* side (the names and phrasings the run saw), none of them a
training task or a warm-start conversation, chosen as the run chooses its held-out set
(``balanced`` across arms). A model that passes these and fails the held-out side has learned the
work but not to carry it to unseen names; issue #19 allows reporting this split separately.

    python -m benchmarks.in_distribution runs/train_results_chain/base -o in_distribution.jsonl
    crm-gym eval --policy RUN_DIR --tasks in_distribution.jsonl --temperature 0 -o greedy.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agents.rollout import derive_seed
from agents.train_data import (
    SPLIT_FAMILIES,
    balanced,
    passes_with_replay,
    run_data_seed,
    run_tasks,
    task_family_filter,
    warm_start_tasks,
)
from agents.train_setup import warm_start_conversations

STREAM = 12
"""The ``derive_seed`` key of this set's generator stream (the run's own streams use others)."""


def requests(conversation: Any, family: str) -> tuple[str, ...]:
    """The requests a task of ``family`` plays: two tasks asking the same are the same task."""
    played = 2 if family == "chain" else 1
    return tuple(turn.user_utterance for turn in conversation.turns[:played])


def in_distribution_tasks(args: Any, warm_start: Any | None = None) -> list[Any]:
    """``args.num_eval_tasks`` new training-side conversations the run did not train on.

    ``warm_start``: the ``Args`` of the run that warm-started the model (``warm_start_args``);
    the run's own by default.
    """
    from crm_gym.generator import generate

    if args.task_family not in SPLIT_FAMILIES:
        raise ValueError(
            f"task family {args.task_family!r} has no held-out side: its held-out set is already "
            f"in-distribution (split families: {SPLIT_FAMILIES})"
        )
    family = args.task_family
    train, _ = run_tasks(args)
    warm = warm_start_tasks(family, warm_start_conversations(warm_start or args))
    seen = {requests(c, family) for c in [*train, *warm]}
    seed = derive_seed(run_data_seed(args), STREAM)
    stream = generate(args.num_conversations, seed=seed, holdout="train")
    fresh = [c for c in task_family_filter(family)(stream) if requests(c, family) not in seen]
    return balanced(fresh, args.num_eval_tasks, family)


def warm_start_args(run: Any) -> Any:
    """The ``Args`` of the run that warm-started ``run``'s model.

    A GRPO run of ``benchmarks.train_results`` starts from the base run's ``initial/`` with no
    warm start of its own: the base run's ``args.json`` says what that warm start saw.
    """
    from benchmarks.run_eval import TrainedRun

    start = Path(run.args.model)
    if start.name == "initial" and (start.parent / "args.json").is_file():
        return TrainedRun.read(start.parent).args
    return run.args


def main(argv: list[str] | None = None) -> int:
    """Write the set of a run directory as Arc JSONL (what ``crm-gym eval --tasks`` reads)."""
    from benchmarks.run_eval import TrainedRun
    from crm_gym.generator import to_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a crm-gym train run directory (its args.json)")
    parser.add_argument("-o", "--output", required=True, help="JSONL file to write")
    options = parser.parse_args(argv)
    run = TrainedRun.read(options.run)
    tasks = in_distribution_tasks(run.args, warm_start_args(run))
    lines = [to_json(conversation) for conversation in tasks]
    Path(options.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(tasks)} conversations in {options.output}")
    print(json.dumps(baselines(run.args, tasks)))
    return 0


def baselines(args: Any, tasks: list[Any]) -> dict[str, Any]:
    """What the set lets policies that learned nothing score, under the run's env settings.

    ``ceiling``: conversations the reference actions pass; ``random`` and ``best_constant``:
    ``RandomPolicy`` and the best constant action (``benchmarks.train_baselines``), successes.
    """
    from benchmarks.train_baselines import best_constant_on, random_success

    constant = best_constant_on(args, run_tasks(args)[0], tasks)
    return {
        "ceiling": len(passes_with_replay(tasks, args.env_id, args.max_env_steps)),
        "random": random_success(args, args.eval_samples, tasks),
        "best_constant": constant["success"],
        "best_constant_action": constant["action"],
        "candidates": constant["candidates"],
    }


if __name__ == "__main__":
    raise SystemExit(main())
