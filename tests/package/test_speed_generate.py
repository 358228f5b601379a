"""The generator speed benchmark at tiny sizes: every number it promises, and its memory split.

No timing assertions: absolute speed varies on shared machines; ``docs/data.md`` reports it.
"""

import pytest

from benchmarks.speed.generate import clear_caches, measure, memory_bytes
from crm_gym.generator import generate_lines, pools


def test_measure_reports_rates_and_memory_for_both_sizes():
    results = measure(small=10, large=30, repeats=1, workers=1)
    for n in (10, 30):
        assert results[f"generated_per_s_{n}"] > 0
        for key in ("peak", "working", "cache", "retained"):
            assert results[f"{key}_mib_{n}"] >= 0, key
        assert results[f"peak_mib_{n}"] >= results[f"working_mib_{n}"] > 0
    for key in ("lines_per_s", "linearity", "replay_per_s", "json_round_trip_per_s"):
        assert results[key] > 0, key
    assert results["memory_growth"] == pytest.approx(
        results["working_mib_30"] / results["working_mib_10"]
    )


def test_memory_starts_from_cold_caches():
    list(generate_lines(5, seed=3))
    assert pools.slug.cache_info().currsize > 0
    clear_caches()
    assert pools.slug.cache_info().currsize == 0
    sizes = memory_bytes(5)
    assert sizes["cache"] > 0 and sizes["peak"] >= sizes["working"] > 0
