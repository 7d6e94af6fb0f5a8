"""Good and bad events of each SLO kind, read from Postgres as sorted numpy arrays.

Every SLO is "good events / all events over a window"; what an event is depends on the kind:

| kind | event | good when |
|---|---|---|
| batch_pass_rate | a batch received | its status is one of `good_statuses` (passed, warned) |
| freshness | a tick every `step_seconds` | the newest accepted event time is within the SLA then |
| drift_free | a 5-minute slot (`step_seconds`) with judged windows | no window in it alerted |
| realized_auc | a quality window with enough labels, once its AUC is known | AUC >= `threshold` |

A realized-AUC event is stamped when the window's AUC first became known (`auc_known_at`, or
`mature_at` without `include_provisional`), hours after the window ended, so the burn-rate
rules see it in their short windows on the run that learns it. Such events are sparse (one per
quality window), so that kind's rule windows are widened to hold its newest events
(`widened_start`): an empty short window between two windows is no news, not recovery.

Events are read once per evaluation for the whole span (period plus the longest rule window),
and all window counts come from one cumulative sum, so 30 days of minute-level events cost a
few milliseconds after the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from checks import repository as checks_repository
from contracts import repository as contracts_repository
from monitors.drift import repository as drift_repository
from monitors.quality import repository as quality_repository
from monitors.slos.models import Slo

US = 1_000_000
DEFAULT_GOOD_STATUSES = ["passed", "warned"]


@dataclass(frozen=True)
class Events:
    """Event times (µs since epoch, sorted) and whether each was good."""

    times: np.ndarray
    good: np.ndarray

    def counts(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(good, total) of events in (start, end]."""
        lo = np.searchsorted(self.times, to_us(start), side="right")
        hi = np.searchsorted(self.times, to_us(end), side="right")
        total = int(hi - lo)
        good = int(self._cum[hi] - self._cum[lo])
        return good, total

    @property
    def _cum(self) -> np.ndarray:
        cached = getattr(self, "_cumsum", None)
        if cached is None:
            cached = np.concatenate([[0], np.cumsum(self.good, dtype=np.int64)])
            object.__setattr__(self, "_cumsum", cached)
        return cached

    def widened_start(self, start: datetime, end: datetime, n: int, floor: datetime) -> datetime:
        """`start`, or earlier so that (start, end] holds the newest `n` events up to `end`,
        never reaching back to `floor` or before."""
        lo = int(np.searchsorted(self.times, to_us(start), side="right"))
        hi = int(np.searchsorted(self.times, to_us(end), side="right"))
        if n <= 0 or hi - lo >= n:
            return start
        first = max(hi - n, int(np.searchsorted(self.times, to_us(floor), side="right")))
        if first >= lo:
            return start
        return from_us(int(self.times[first]) - 1)

    def bad_times(self, start: datetime, end: datetime, limit: int) -> list[datetime]:
        lo = np.searchsorted(self.times, to_us(start), side="right")
        hi = np.searchsorted(self.times, to_us(end), side="right")
        idx = np.flatnonzero(~self.good[lo:hi])[-limit:] + lo
        return [from_us(int(t)) for t in self.times[idx]]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch, exact (a float timestamp can be a microsecond off)."""
    if moment.tzinfo is None:
        return int(moment.timestamp() * US)
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _events(times: Sequence[int] | None, good: Sequence[bool] | None) -> Events:
    """Events from the two arrays a repository read returns (None when nothing matched)."""
    if times is None or good is None:
        return Events(np.empty(0, np.int64), np.empty(0, bool))
    return Events(np.asarray(times, dtype=np.int64), np.asarray(good, dtype=bool))


def load_events(session: Session, slo: Slo, start: datetime, end: datetime) -> Events:
    loader = LOADERS[slo.kind]
    return loader(session, slo, start, end)


def _batch_pass_rate(session: Session, slo: Slo, start: datetime, end: datetime) -> Events:
    good_statuses = slo.params.get("good_statuses", DEFAULT_GOOD_STATUSES)
    return _events(
        *checks_repository.batch_status_events(
            session, str(slo.contract_id), good_statuses, start, end
        )
    )


def _freshness(session: Session, slo: Slo, start: datetime, end: datetime) -> Events:
    """One tick per step: fresh if the newest accepted event then is within `max_lag_seconds`."""
    step = int(float(slo.params["step_seconds"]) * US)
    max_lag = int(float(slo.params["max_lag_seconds"]) * US)
    contract = contracts_repository.get_contract(session, str(slo.contract_id))
    created = contract.created_at if contract is not None else None
    first = max(to_us(start), to_us(created) if created else 0)
    first = (first // step + 1) * step
    ticks = np.arange(first, to_us(end) + 1, step, dtype=np.int64)
    # the newest data known at `start` carries into the span; later arrivals are fetched
    carry = checks_repository.newest_event_known_at(session, str(slo.contract_id), start)
    times, newest_times = checks_repository.newest_events_by_arrival(
        session, str(slo.contract_id), start, end
    )
    arrived = np.asarray(times or [], dtype=np.int64)
    newest = np.asarray(newest_times or [], dtype=np.int64)
    if carry is not None:
        arrived, newest = np.r_[to_us(start), arrived], np.r_[int(carry), newest]
    if arrived.size == 0:
        return Events(ticks, np.zeros(ticks.size, dtype=bool))
    newest = np.maximum.accumulate(newest)
    idx = np.searchsorted(arrived, ticks, side="right") - 1
    known = idx >= 0
    lag = np.where(known, ticks - newest[np.maximum(idx, 0)], np.iinfo(np.int64).max)
    return Events(ticks, known & (lag <= max_lag))


DRIFT_EVENT_KINDS = ("sliding", "batch")
DEFAULT_DRIFT_STEP_SECONDS = 300.0


def _drift_free(session: Session, slo: Slo, start: datetime, end: datetime) -> Events:
    """One event per `step_seconds` slot (epoch-aligned, by window end) in which the runner
    judged a sliding window or a batch with data; bad if any of them had a bad verdict.

    The event's time is the end of the slot's newest window, so the slot the runner is in now
    counts on this very evaluation. However many overlapping windows or runs saw a drift in a
    slot, it is one event, so the budget is a share of time: a drifted hour of hourly batches
    (the 60-minute sliding window alerts for the hour after it arrives) costs 12 of the 8,640
    five-minute slots of 30 days, the 1/720 an hourly window cost before.
    """
    step_us = int(float(slo.params.get("step_seconds", DEFAULT_DRIFT_STEP_SECONDS)) * US)
    return _events(
        *drift_repository.drift_free_slots(
            session,
            str(slo.contract_id),
            DRIFT_EVENT_KINDS,
            bad_drift_verdicts(slo),
            step_us,
            start,
            end,
        )
    )


def bad_drift_verdicts(slo: Slo) -> list[str]:
    """The verdicts that make a drift-free SLO's slot bad."""
    return list(slo.params.get("bad_verdicts", ["alert"]))


def _realized_auc(session: Session, slo: Slo, start: datetime, end: datetime) -> Events:
    """Windows with a realized AUC (enough labels), at the moment it became known (mature
    only without `include_provisional`); good when AUC >= threshold."""
    return _events(
        *quality_repository.auc_events(
            session,
            slo.params["model_name"],
            float(slo.params["threshold"]),
            mature_only=mature_only(slo),
            start=start,
            end=end,
        )
    )


def mature_only(slo: Slo) -> bool:
    """A realized-AUC SLO counts mature windows only (at `mature_at`) without
    `include_provisional`."""
    return not slo.params.get("include_provisional", True)


# Kinds whose events are sparse: (default newest events a rule window holds at least, default
# seconds it may stretch back past its length for them). Stored SLOs may lack the params.
SPARSE_DEFAULTS: dict[str, tuple[int, float]] = {"realized_auc": (1, 3600.0)}


def sparse_widening(slo: Slo) -> tuple[int, timedelta] | None:
    """(newest events each rule window holds at least, how far back past its length it may
    reach for them), for a sparse kind; None for the others."""
    defaults = SPARSE_DEFAULTS.get(slo.kind)
    if defaults is None:
        return None
    n = int(slo.params.get("min_window_events", defaults[0]))
    stretch = float(slo.params.get("max_window_stretch_seconds", defaults[1]))
    return n, timedelta(seconds=stretch)


LOADERS: dict[str, Any] = {
    "batch_pass_rate": _batch_pass_rate,
    "freshness": _freshness,
    "drift_free": _drift_free,
    "realized_auc": _realized_auc,
}
