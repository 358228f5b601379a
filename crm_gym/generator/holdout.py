"""Held-out sides of the generator's vocabulary: phrasings and names a trained model never saw.

A learning claim needs held-out tasks that differ from the training tasks in more than their ids:
``Mix(holdout="train")`` draws request patterns (``phrasebook.PATTERNS``) and entity names
(company name heads, first and last names, deal owners) from the training side only,
``holdout="held_out"`` from the held-out side only, and ``"all"`` (the default) from both, byte
for byte as without a split. A name's side is a stable function of its text (CRC-32), the same
on every machine and unmoved when a pool grows; a pattern's side is its position among its
intent's patterns (every third, from the second), so every intent has patterns on both sides.

Example:
    >>> from crm_gym.generator.pools import FIRST_NAMES
    >>> train, held_out = on_side(FIRST_NAMES, "train"), on_side(FIRST_NAMES, "held_out")
    >>> set(train).isdisjoint(held_out), len(train) + len(held_out) == len(FIRST_NAMES)
    (True, True)
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Literal, TypeVar

Side = Literal["all", "train", "held_out"]
SIDES: tuple[Side, ...] = ("all", "train", "held_out")
HELD_OUT_EVERY = 3
"""About one pattern or name in three is held out."""

T = TypeVar("T", bound=str)


def is_held_out(name: str) -> bool:
    """Whether a name belongs to the held-out side."""
    return zlib.crc32(name.encode()) % HELD_OUT_EVERY == 0


def is_held_out_pattern(position: int) -> bool:
    """Whether an intent's pattern at this position (0-based) belongs to the held-out side."""
    return position % HELD_OUT_EVERY == 1


@lru_cache(maxsize=4096)
def on_side(items: tuple[T, ...], side: Side) -> tuple[T, ...]:
    """The items of one side (``"all"``: every item), in their order; never empty.

    Raises:
        ValueError: when the side has none of ``items`` (a pool too small to split).
    """
    if side == "all":
        return items
    kept = tuple(item for item in items if is_held_out(item) == (side == "held_out"))
    if not kept:
        raise ValueError(f"no item of {items!r} is on the {side!r} side")
    return kept
