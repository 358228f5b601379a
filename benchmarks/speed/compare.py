"""Before/after: one workload on two checkouts, alternating separate processes, CPU time.

A speed change is measured against the code before it on the same machine at the same time:
each round runs the workload once in a fresh process per checkout (the order alternates), and
each process reports the median rate of ``repeats`` timed runs after one warm-up, in process CPU
time (``time.process_time``), which other jobs on a shared machine disturb less than wall time.

Workloads:

- ``env-replay``: the replay policy through ``ArcCrmConversation-v1`` over the public
  conversations (``$ARC_CRM_DATA``, else ``../shared/arc/evaluation_400.jsonl``, else the
  built-in examples) with references built (``benchmarks.speed.envs``' warm replay), turns/s.
- ``env-replay-cold``: the same through a fresh env each time, so every reference run is built
  on first use (what an evaluation over tasks seen once costs), turns/s.
- ``generate-lines``: ``generate_lines(2000, seed=1)``, what ``crm-gym generate`` writes,
  conversations/s.

Run::

    git worktree add /tmp/before <commit>
    python -m benchmarks.speed.compare --before /tmp/before --after . [--work env-replay]

The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.speed.envs import data_path
from crm_gym.data.examples import builtin_path

# Self-contained (its own timer, in CPU time): it runs on old checkouts, whatever their helpers.
_HEADER = """
import sys, time, statistics
sys.path.insert(0, {root!r})
import crm_gym
assert crm_gym.__file__.startswith({root!r}), crm_gym.__file__
def median_rate(work, repeats):
    work()
    rates = []
    for _ in range(repeats):
        start = time.process_time()
        count = work()
        rates.append(count / (time.process_time() - start))
    return statistics.median(rates)
"""

WORKLOADS = {
    "env-replay": """
from benchmarks.speed.envs import data_path, make_env, replay_turns, task_ids, warm_source
from crm_gym.data import load_conversations
conversations = load_conversations(data_path(None))
env = make_env("ArcCrmConversation-v1", warm_source(conversations), expose_reference=True)
ids = task_ids("ArcCrmConversation-v1", conversations)
print(median_rate(lambda: replay_turns(env, ids), {repeats}))
""",
    "env-replay-cold": """
from benchmarks.speed.envs import data_path, make_env, replay_turns, task_ids
from crm_gym.data import load_conversations
conversations = load_conversations(data_path(None))
ids = task_ids("ArcCrmConversation-v1", conversations)
def cold():  # a fresh env: every reference run is built on first use, inside the timing
    env = make_env("ArcCrmConversation-v1", conversations, expose_reference=True)
    return replay_turns(env, ids)
print(median_rate(cold, {repeats}))
""",
    "generate-lines": """
try:
    from crm_gym.generator import generate_lines
except ImportError:  # a checkout from before the generator had its own package
    from crm_gym.data.generator import generate_lines
print(median_rate(lambda: sum(1 for _ in generate_lines(2000, 1)), {repeats}))
""",
}


def run_in(root: Path, code: str) -> str:
    """The last line ``code`` prints in a fresh process on the checkout at ``root``."""
    code = _HEADER.format(root=str(root)) + code
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def run_once(root: Path, work: str, repeats: int) -> float:
    """The workload's median rate in a fresh process on the checkout at ``root``."""
    return float(run_in(root, WORKLOADS[work].format(repeats=repeats)))


def same_data() -> str:
    """The one data file both sides read: the public file, else the built-in examples."""
    data = data_path(None)
    return str(data if data.is_file() else builtin_path())


def use_same_data() -> None:
    """Point both sides at one data file (``same_data``) unless ``ARC_CRM_DATA`` names one."""
    os.environ.setdefault("ARC_CRM_DATA", same_data())


def compare(before: Path, after: Path, work: str, rounds: int, repeats: int) -> dict:
    """Alternating rounds; the ratio is after / before of the medians over rounds."""
    rates: dict[str, list[float]] = {"before": [], "after": []}
    for index in range(rounds):
        order = [("before", before), ("after", after)]
        for name, root in order if index % 2 == 0 else order[::-1]:
            rates[name].append(run_once(root, work, repeats))
        last = {name: values[-1] for name, values in rates.items()}
        print(f"round {index + 1}: before {last['before']:,.0f}, after {last['after']:,.0f}")
    before_rate, after_rate = statistics.median(rates["before"]), statistics.median(rates["after"])
    return {
        "work": work,
        "rounds": rounds,
        "repeats": repeats,
        "before": rates["before"],
        "after": rates["after"],
        "before_median": before_rate,
        "after_median": after_rate,
        "ratio": after_rate / before_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--after", type=Path, default=Path("."), help="checkout of the new code")
    parser.add_argument("--work", choices=sorted(WORKLOADS), default="env-replay")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    use_same_data()
    result = compare(
        args.before.resolve(), args.after.resolve(), args.work, args.rounds, args.repeats
    )
    print(
        f"{args.work}: before {result['before_median']:,.0f}/s, after "
        f"{result['after_median']:,.0f}/s, after/before {result['ratio']:.2f}x"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
