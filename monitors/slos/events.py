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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import numpy as np
from sqlalchemy import BigInteger, ColumnElement, cast, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from checks.models import Batch
from contracts.models import Contract
from monitors.drift import repository
from monitors.drift.models import DriftWindow
from monitors.drift.service import MAX_WINDOWS
from monitors.quality.models import ModelQualityWindow
from monitors.slos.models import Slo

US = 1_000_000


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


def epoch_us(column: Any) -> ColumnElement[int]:
    """Microseconds since the epoch, computed in SQL so no Python loop converts datetimes."""
    return cast(func.floor(func.extract("epoch", column) * US), BigInteger)


def _fetch(session: Session, moment: Any, good: Any, *where: Any) -> Events:
    """Event times and verdicts as two Postgres arrays in one row, sorted in SQL: 43,200 rows
    arrive as two arrays instead of 43,200 Python row objects."""
    t = epoch_us(moment)
    row = session.execute(
        select(
            func.array_agg(aggregate_order_by(t, t)),
            func.array_agg(aggregate_order_by(good, t)),
        ).where(*where)
    ).one()
    if row[0] is None:
        return Events(np.empty(0, np.int64), np.empty(0, bool))
    return Events(np.asarray(row[0], dtype=np.int64), np.asarray(row[1], dtype=bool))


def load_events(session: Session, slo: Slo, start: datetime, end: datetime) -> Events:
    loader = LOADERS[slo.kind]
    return loader(session, slo, start, end)


def _batch_pass_rate(session: Session, slo: Slo, start: datetime, end: datetime) -> Events:
    good_statuses = slo.params.get("good_statuses", ["passed", "warned"])
    return _fetch(
        session,
        Batch.received_at,
        Batch.status.in_(good_statuses),
        Batch.contract_id == slo.contract_id,
        Batch.received_at > start,
        Batch.received_at <= end,
    )


def _freshness(session: Session, slo: Slo, start: datetime, end: datetime) -> Events:
    """One tick per step: fresh if the newest accepted event then is within `max_lag_seconds`."""
    step = int(float(slo.params["step_seconds"]) * US)
    max_lag = int(float(slo.params["max_lag_seconds"]) * US)
    created = session.scalar(select(Contract.created_at).where(Contract.id == slo.contract_id))
    first = max(to_us(start), to_us(created) if created else 0)
    first = (first // step + 1) * step
    ticks = np.arange(first, to_us(end) + 1, step, dtype=np.int64)
    usable = (
        Batch.contract_id == slo.contract_id,
        Batch.status != "rejected",
        Batch.newest_event_at.is_not(None),
    )
    # the newest data known at `start` carries into the span; later arrivals are fetched
    carry = session.scalar(
        select(func.max(epoch_us(Batch.newest_event_at))).where(*usable, Batch.received_at <= start)
    )
    t = epoch_us(Batch.received_at)
    row = session.execute(
        select(
            func.array_agg(aggregate_order_by(t, t)),
            func.array_agg(aggregate_order_by(epoch_us(Batch.newest_event_at), t)),
        ).where(*usable, Batch.received_at > start, Batch.received_at <= end)
    ).one()
    arrived = np.asarray(row[0] or [], dtype=np.int64)
    newest = np.asarray(row[1] or [], dtype=np.int64)
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
    bad = list(slo.params.get("bad_verdicts", ["alert"]))
    step_us = int(float(slo.params.get("step_seconds", DEFAULT_DRIFT_STEP_SECONDS)) * US)
    t = epoch_us(DriftWindow.window_end)
    slot = t // step_us
    slots = (
        select(
            func.max(t).label("t"),
            func.bool_and(DriftWindow.verdict.not_in(bad)).label("good"),
        )
        .where(
            DriftWindow.contract_id == slo.contract_id,
            DriftWindow.kind.in_(DRIFT_EVENT_KINDS),
            DriftWindow.verdict != "no_data",
            DriftWindow.window_end > start,
            DriftWindow.window_end <= end,
        )
        .group_by(slot)
        .subquery()
    )
    row = session.execute(
        select(
            func.array_agg(aggregate_order_by(slots.c.t, slots.c.t)),
            func.array_agg(aggregate_order_by(slots.c.good, slots.c.t)),
        )
    ).one()
    if row[0] is None:
        return Events(np.empty(0, np.int64), np.empty(0, bool))
    return Events(np.asarray(row[0], dtype=np.int64), np.asarray(row[1], dtype=bool))


def _realized_auc(session: Session, slo: Slo, start: datetime, end: datetime) -> Events:
    """Windows with realized AUC (enough labels); good when AUC >= threshold."""
    statuses = (
        ["mature", "provisional"] if slo.params.get("include_provisional", True) else ["mature"]
    )
    return _fetch(
        session,
        ModelQualityWindow.window_end,
        ModelQualityWindow.auc >= float(slo.params["threshold"]),
        ModelQualityWindow.model_name == slo.params["model_name"],
        ModelQualityWindow.status.in_(statuses),
        ModelQualityWindow.auc.is_not(None),
        ModelQualityWindow.window_end > start,
        ModelQualityWindow.window_end <= end,
    )


LOADERS: dict[str, Any] = {
    "batch_pass_rate": _batch_pass_rate,
    "freshness": _freshness,
    "drift_free": _drift_free,
    "realized_auc": _realized_auc,
}


def evidence(
    session: Session, slo: Slo, events: Events, start: datetime, end: datetime, base_url: str
) -> dict[str, Any]:
    """Links to what went wrong in (start, end]: bad batches, drifted windows, freshness."""
    contract = slo.contract_id
    out: dict[str, Any] = {"window": {"start": start, "end": end}}
    if slo.kind == "batch_pass_rate":
        good_statuses = slo.params.get("good_statuses", ["passed", "warned"])
        rows = session.execute(
            select(Batch.id, Batch.status, Batch.received_at)
            .where(
                Batch.contract_id == contract,
                Batch.received_at > start,
                Batch.received_at <= end,
                Batch.status.not_in(good_statuses),
            )
            .order_by(Batch.received_at.desc())
            .limit(20)
        ).all()
        out["batches"] = [
            {
                "batch_id": str(r.id),
                "status": r.status,
                "received_at": r.received_at,
                "url": f"{base_url}/batches/{r.id}",
            }
            for r in rows
        ]
    elif slo.kind == "drift_free":
        bad = list(slo.params.get("bad_verdicts", ["alert"]))
        windows = repository.bad_drift_windows(
            session, str(contract), DRIFT_EVENT_KINDS, bad, start, end, limit=20
        )
        out["windows"] = [_drift_evidence(w, contract, base_url) for w in reversed(windows)]
    elif slo.kind == "realized_auc":
        low = session.scalars(
            select(ModelQualityWindow)
            .where(
                ModelQualityWindow.model_name == slo.params["model_name"],
                ModelQualityWindow.auc < float(slo.params["threshold"]),
                ModelQualityWindow.window_end > start,
                ModelQualityWindow.window_end <= end,
            )
            .order_by(ModelQualityWindow.window_end)
        ).all()
        out["windows"] = [
            {
                "start": w.window_start,
                "end": w.window_end,
                "auc": w.auc,
                "estimated_auc": w.estimated_auc,
                "coverage": w.coverage,
                "status": w.status,
                "url": f"{base_url}/monitors/quality?"
                + urlencode(
                    {
                        "model": w.model_name,
                        "start": w.window_start.isoformat(),
                        "end": w.window_end.isoformat(),
                    }
                ),
            }
            for w in low
        ][-20:]
    elif slo.kind == "freshness":
        out["stale_ticks"] = events.bad_times(start, end, 5)
        out["url"] = f"{base_url}/contracts/{contract}/freshness"
    return out


def _drift_evidence(w: DriftWindow, contract: str | None, base_url: str) -> dict[str, Any]:
    """A drifted window (sliding or one batch): its fields, and links to each of its batches."""
    doc = w.fields or {}
    return {
        "kind": w.kind,
        "start": w.window_start,
        "end": w.window_end,
        "length_seconds": (w.window_end - w.window_start).total_seconds(),
        "verdict": w.verdict,
        "fields": sorted(
            name for name, f in (doc.get("fields") or {}).items() if f.get("severity") == "alert"
        ),
        "reason": doc.get("reason"),
        "batches": w.batches,
        "reference": doc.get("reference"),
        # each batch of the window on its own: `count` asks for all of them (up to the API's
        # limit), as a window of minute-level batches holds more than the default 24
        "url": f"{base_url}/monitors/drift?"
        + urlencode(
            {
                "dataset": contract,
                "window": "batch",
                "start": w.window_start.isoformat(),
                "end": (w.window_end + timedelta(microseconds=1)).isoformat(),
                "count": min(max(w.batches, 1), MAX_WINDOWS),
            }
        ),
        "batches_url": doc.get("batches_url"),
    }


def span(period: timedelta, longest: timedelta) -> timedelta:
    return max(period, longest)
