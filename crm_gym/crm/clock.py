"""Where the CRM's notion of "now" comes from.

Upstream read the wall clock, so replays depended on the day they ran. An injectable clock lets an
episode fix "today" (the close-date rule) and makes timestamps reproducible.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Protocol

DEFAULT_EPOCH = datetime(2025, 1, 6, 9, 0, 0, tzinfo=timezone.utc)


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """The timestamp to stamp on a record created now."""
        ...

    def today(self) -> date:
        """The date that the close-date rule calls today."""
        ...


class SystemClock:
    """The machine's clock: UTC timestamps, local "today" (as upstream)."""

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(timezone.utc)

    def today(self) -> date:
        """Current local date."""
        return date.today()


class VirtualClock:
    """A deterministic clock that advances ``tick`` each time a timestamp is taken.

    Example:
        >>> clock = VirtualClock(DEFAULT_EPOCH)
        >>> clock.now().isoformat(), clock.now().isoformat()
        ('2025-01-06T09:00:00+00:00', '2025-01-06T09:00:01+00:00')
        >>> clock.today().isoformat()
        '2025-01-06'
    """

    def __init__(self, start: datetime = DEFAULT_EPOCH, tick: timedelta = timedelta(seconds=1)):
        self.current = start
        self.tick = tick

    def now(self) -> datetime:
        """The current virtual time, then advance it by one tick."""
        stamp = self.current
        self.current = stamp + self.tick
        return stamp

    def today(self) -> date:
        """The current virtual date (does not advance the clock)."""
        return self.current.date()
