"""Good and bad events of each SLO kind, read from Postgres as sorted numpy arrays.

Every SLO is "good events / all events over a window"; what an event is depends on the kind:

| kind | event | good when |
|---|---|---|
| batch_pass_rate | a batch received | its status is one of `good_statuses` (passed, warned) |
| freshness | a tick every `step_seconds` | the newest accepted event time is within the SLA then |
| drift_free | a 5-minute slot (`step_seconds`) with judged windows | no window in it alerted |
| realized_auc | a quality window with enough labels | its realized AUC >= `threshold` |

Events are read once per evaluation for the whole span (period plus the longest rule window),
and all window counts come from one cumulative sum, so 30 days of minute-level events cost a
few milliseconds after the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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

    def bad_times(self, start: datetime, end: datetime, limit: int) -> list[datetime]:
        lo = np.searchsorted(self.times, to_us(start), side="right")
        hi = np.searchsorted(self.times, to_us(end), side="right")
        idx = np.flatnonzero(~self.good[lo:hi])[-limit:] + lo
        return [from_us(int(t)) for t in self.times[idx]]


def to_us(moment: datetime) -> int:
    return int(moment.timestamp() * US)


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / US, tz=UTC)


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
    """Windows with realized AUC (enough labels); good when AUC >= threshold."""
    statuses = (
        ["mature", "provisional"] if slo.params.get("include_provisional", True) else ["mature"]
    )
    return _events(
        *quality_repository.auc_events(
            session, slo.params["model_name"], float(slo.params["threshold"]), statuses, start, end
        )
    )


LOADERS: dict[str, Any] = {
    "batch_pass_rate": _batch_pass_rate,
    "freshness": _freshness,
    "drift_free": _drift_free,
    "realized_auc": _realized_auc,
}
