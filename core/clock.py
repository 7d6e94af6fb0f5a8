"""Time comes from here so simulations can run days of traffic in seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to; used by tests and incident simulations.

    It reads in `UTC` like the system clock, whatever zone it was set in (a moment read back
    from PostgreSQL is `Etc/UTC`, which polars will not compare with `UTC` columns)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware moment")
        self._now = moment.astimezone(UTC)


_clock: Clock = SystemClock()


def get_clock() -> Clock:
    return _clock


def set_clock(clock: Clock) -> None:
    """Swap the process clock (simulations and tests)."""
    global _clock
    _clock = clock


def utcnow() -> datetime:
    return _clock.now()
