"""Timing shared by the speed benchmarks: rates after a garbage collection, medians of repeats."""

from __future__ import annotations

import gc
import statistics
import time
from typing import Callable


def rate(work: Callable[[], int]) -> float:
    """Operations per second of one run of ``work`` (which returns how many it did).

    Collects garbage first, so every run starts alike.
    """
    gc.collect()
    start = time.perf_counter()
    count = work()
    return count / (time.perf_counter() - start)


def median_rate(work: Callable[[], int], repeats: int) -> float:
    """Median of ``rate(work)`` over ``repeats`` runs."""
    return statistics.median(rate(work) for _ in range(repeats))
