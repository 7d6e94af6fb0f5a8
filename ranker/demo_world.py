"""The small ranker a first `driftgate demo` trains: which hours of the feed, which model size.

The hours are the last ones of the feed `driftgate ranker train` posts for its default window
(the same origin, seven days before the current hour, and the same world), which is also the
feed the demo's batches are drawn from, so the demo's batches, the seeded ranker's training
data and a later `ranker train` all describe one population. Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

FEED_DAYS = 7  # `driftgate ranker train`'s default window: its feed's origin
SPAN_HOURS = 48  # the hours posted: both windows must be longer than 3 attribution windows
CHAMPION_HOURS = 36  # the champion sees the first 36, the candidate all 48


def small_train_config() -> Any:
    """A network small and short enough to train in seconds on two cores (a few epochs)."""
    from ranker.nn import TrainConfig  # lazy: torch

    return TrainConfig(hidden=(32, 16), max_epochs=4, patience=1)


@dataclass(frozen=True)
class DemoWindows:
    origin: datetime  # the feed's origin
    start: datetime  # first hour posted
    champion_end: datetime
    end: datetime  # the current hour's start: the feed is posted up to it

    @property
    def hours(self) -> int:
        return int((self.end - self.start) // timedelta(hours=1))


def demo_windows(now: datetime) -> DemoWindows:
    """The feed's origin, the span posted and the two training windows, ending at `now`'s hour."""
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=SPAN_HOURS)
    return DemoWindows(
        origin=end - timedelta(days=FEED_DAYS),
        start=start,
        champion_end=start + timedelta(hours=CHAMPION_HOURS),
        end=end,
    )
