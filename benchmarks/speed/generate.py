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
3. **Memory** (``tracemalloc``) of streaming the lines of the small and the large size without
   keeping them, each from cold caches: the peak; the working memory (the most that making one
   conversation needs on top of what is held before and after it); the package's bounded
   ``functools`` caches at the end (slugs, email normalisation, pattern fitting: they fill as new
   names come, up to their ``maxsize``); and what is still held once those are cleared
   (``retained``: pydantic-core's own cache of recently made strings, at most 16,384 of them,
   about 1.2 MiB when full). ``memory_growth`` is the ratio of the two working memories: 1.0 =
   constant in ``n`` (a maximum over ten times more conversations meets somewhat bigger ones, so
   about 1.1-1.2 is expected; a leak would show as ``retained`` growing past pydantic-core's
   bound). The peak itself grows only while the caches fill (value spellings, slugs, emails,
   plans): 1.3 MiB at 1,000 conversations, 4.9 at 10,000, 8.4 at 30,000 and 10.2 at 100,000
   (measured once, ``memory_bytes(n)``).

Run::

    python -m benchmarks.speed.generate [--quick] [--workers W]

The last line printed is one JSON object with every number; ``python_prefix`` says which
interpreter ran (its build matters: an optimised CPython such as Debian's
``/usr/bin/python3.11``, link-time optimised with ``libpython`` linked in, runs this work about
1.2x faster than a plain source build such as pyenv's default).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tracemalloc

from benchmarks.speed.timing import median_rate
from crm_gym.data.conversation import Conversation
from crm_gym.data.replay import replay
from crm_gym.generator import generate, generate_lines, to_json

SEED = 2025


def memory_bytes(n: int) -> dict[str, int]:
    """Traced bytes of streaming ``n`` lines (nothing kept), from cold caches.

    ``peak``: the whole stream's peak; ``working``: the most memory one conversation needs while it
    is made on top of what is held before and after it (so a cache that grows is not counted);
    ``cache``: the package's ``functools`` caches at the end; ``retained``: what is still held once
    those are cleared.
    """
    clear_caches()
    tracemalloc.start()
    lines = generate_lines(n, SEED)
    peak = working = 0
    while True:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        if next(lines, None) is None:
            break
        after, line_peak = tracemalloc.get_traced_memory()  # this line's conversation was made
        peak, working = max(peak, line_peak), max(working, line_peak - max(before, after))
    current = tracemalloc.get_traced_memory()[0]
    clear_caches()
    retained = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"peak": peak, "working": working, "cache": current - retained, "retained": retained}


def clear_caches() -> None:
    """Empty every ``functools`` cache of the package's modules, then collect garbage."""
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("crm_gym", "benchmarks"):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
                    value.cache_clear()
    gc.collect()


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
    for n in (small, large):
        for key, size in memory_bytes(n).items():
            results[f"{key}_mib_{n}"] = size / 2**20
    results["memory_growth"] = results[f"working_mib_{large}"] / results[f"working_mib_{small}"]
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
        python_prefix=sys.base_prefix,
    )
    width = max(len(key) for key in results)
    for key, value in results.items():
        text = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
