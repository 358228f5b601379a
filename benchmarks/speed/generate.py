"""Scenario generator speed: conversations/s generated and validated, linearity, memory.

What is measured (medians of ``repeats`` runs, in one process, garbage collector on):

1. **Generated + validated conversations/s** at two sizes (1,000 and 10,000; ``--quick``: 200
   and 1,000): ``generate(n, seed)`` simulates every turn on a live CRM, checks each planned
   outcome as it goes, and validates the ``Conversation`` model. The ratio of the two rates shows
   linearity (1.0 = linear). **Lines/s** adds the JSON serialisation that ``crm-gym generate``
   writes.
2. **Baselines in the same run**: ground-truth ``replay`` of the same conversations (the cost of
   checking them again), and a JSON round trip (``Conversation.model_validate_json``), each as
   conversations/s and as a ratio to generation.
3. **Peak memory** (``tracemalloc``) of streaming the lines of the small and the large size
   without keeping them: equal peaks mean constant memory in ``n``.

Run::

    python -m benchmarks.speed.generate [--quick] [--workers W]

The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import tracemalloc

from benchmarks.speed.timing import median_rate
from crm_gym.data.conversation import Conversation
from crm_gym.data.generator import generate, generate_lines, to_json
from crm_gym.data.replay import replay

SEED = 2025


def peak_bytes(n: int) -> int:
    """Peak traced memory while streaming ``n`` generated lines (nothing kept)."""
    gc.collect()
    tracemalloc.start()
    for _ in generate_lines(n, SEED):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def measure(small: int, large: int, repeats: int, workers: int) -> dict[str, float]:
    """Every number of the benchmark."""
    results: dict[str, float] = {}
    for n in (small, large):
        results[f"generated_per_s_{n}"] = median_rate(
            lambda n=n: sum(1 for _ in generate(n, SEED)), repeats
        )
    results["lines_per_s"] = median_rate(
        lambda: sum(1 for _ in generate_lines(large, SEED)), repeats
    )
    if workers > 1:
        results[f"lines_per_s_{workers}_workers"] = median_rate(
            lambda: sum(1 for _ in generate_lines(large, SEED, workers=workers)), repeats
        )
    results["linearity"] = results[f"generated_per_s_{large}"] / results[f"generated_per_s_{small}"]
    conversations = list(generate(small, SEED))
    lines = [to_json(c) for c in conversations]
    results["replay_per_s"] = median_rate(
        lambda: sum(replay(c).passed for c in conversations) or 1, repeats
    )
    results["json_round_trip_per_s"] = median_rate(
        lambda: sum(1 for line in lines if Conversation.model_validate_json(line)), repeats
    )
    results["generation_vs_replay"] = results[f"generated_per_s_{small}"] / results["replay_per_s"]
    results["generation_vs_json_round_trip"] = (
        results[f"generated_per_s_{small}"] / results["json_round_trip_per_s"]
    )
    results[f"peak_mib_{small}"] = peak_bytes(small) / 2**20
    results[f"peak_mib_{large}"] = peak_bytes(large) / 2**20
    results["memory_growth"] = results[f"peak_mib_{large}"] / results[f"peak_mib_{small}"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 200 and 1,000, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="also time this many processes")
    args = parser.parse_args()
    small, large = (200, 1_000) if args.quick else (1_000, 10_000)
    repeats = 1 if args.quick else args.repeats
    results = measure(small, large, repeats, args.workers)
    results.update(
        small=small,
        large=large,
        repeats=repeats,
        cpus=os.cpu_count() or 0,
        python=platform.python_version(),
    )
    width = max(len(key) for key in results)
    for key, value in results.items():
        text = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
