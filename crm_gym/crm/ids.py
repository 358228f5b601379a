"""Where new record ids come from: random (as upstream) or seeded (reproducible episodes)."""

from __future__ import annotations

import random
import uuid
from typing import Protocol

_VERSION_MASK = ~(0xF000 << 64) & ~(0xC000 << 48)
_VERSION_BITS = (0x4000 << 64) | (0x8000 << 48)


class IdSource(Protocol):
    """Produces fresh primary keys."""

    def new_id(self) -> str:
        """A new lowercase canonical UUID string."""
        ...


class RandomIds:
    """Random version-4 UUIDs from the operating system, like upstream."""

    def new_id(self) -> str:
        """A fresh random UUID4."""
        return str(uuid.uuid4())


class SeededIds:
    """Version-4 UUIDs drawn from a seeded generator: the same seed gives the same ids.

    Example:
        >>> SeededIds(0).new_id() == SeededIds(0).new_id()
        True
        >>> len(SeededIds(1).new_id())
        36
    """

    def __init__(self, seed: int):
        self.seed = seed
        self._rng: random.Random | None = None
        self._pending: object = None
        """A state from ``set_state`` not yet loaded into a generator."""
        self._state: object = None
        """``state()`` since the last draw (a tuple of 625 ints: worth not rebuilding)."""

    @property
    def rng(self) -> random.Random:
        """The generator, made on first use (seeding one costs more than a whole reset)."""
        if self._rng is None:
            self._rng = random.Random(self.seed)
            if self._pending is not None:
                self._rng.setstate(self._pending)  # type: ignore[arg-type]
                self._pending = None
        return self._rng

    def new_id(self) -> str:
        """The next UUID4 of this seed's stream (formatted without building a UUID object)."""
        rng = self._rng or self.rng  # the property only until the generator exists
        bits = (rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS
        self._state = None
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def state(self) -> object:
        """The position in the stream, for ``set_state`` (an env restarts mid-conversation).

        ``(UNTOUCHED, seed)`` while no id was drawn, so a checkpoint does not seed a generator
        for it. A state names its stream: ``set_state`` continues it whatever this seed is.
        """
        if self._pending is not None:
            return self._pending
        if self._rng is None:
            return (UNTOUCHED, self.seed)
        if self._state is None:
            self._state = self._rng.getstate()
        return self._state

    def set_state(self, state: object) -> None:
        """Continue the stream from a position taken with ``state`` (loaded on first use)."""
        self._rng, self._state, self._pending = None, None, state
        if isinstance(state, tuple) and len(state) == 2 and state[0] == UNTOUCHED:
            self.seed, self._pending = state[1], None  # the start of that seed's stream


UNTOUCHED = "untouched"
"""Marks ``SeededIds.state()`` of a stream that has not drawn an id yet: ``(UNTOUCHED, seed)``."""
