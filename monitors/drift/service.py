"""Drift over time: per batch or per sliding window, from stored profiles, never raw rows."""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from checks import repository as checks_repository
from contracts import repository as contracts_repository
from contracts.durations import parse_duration
from core.clock import utcnow
from core.settings import Settings
from monitors.drift import repository, rollups
from monitors.drift.buckets import WEEK, align, snap, tile
from monitors.drift.compare import (
    DriftPolicy,
    MonitoredField,
    WindowDrift,
    compare_window,
    contract_policy,
    monitored_fields,
)
from monitors.drift.models import MonitorReference
from monitors.drift.profiles import FieldProfile
from monitors.drift.reference_views import reference_view
from monitors.drift.references import coverage, current_spec, pending_reason, slice_minimum
from monitors.drift.rollup_refresh import Refreshed, refresh
from monitors.drift.seasons import Minimum
from monitors.errors import DatasetNotMonitored, InvalidWindow

MAX_WINDOWS = 2000
MAX_BATCH_IDS = 100  # batch ids listed per window, newest first; GET /batches lists them all


@dataclass(frozen=True)
class EvaluatedWindow:
    kind: str  # window | batch
    start: datetime
    end: datetime
    batch_count: int
    first_batch_at: datetime | None
    last_batch_at: datetime | None
    batch_ids: list[uuid.UUID]  # the newest MAX_BATCH_IDS, newest first
    drift: WindowDrift
    reference: dict[str, Any] | None = None  # what it was compared with (slice, batches, rows)

    @property
    def batch_ids_truncated(self) -> bool:
        return self.batch_count > len(self.batch_ids)


def policy_of(settings: Settings) -> DriftPolicy:
    return DriftPolicy(
        min_rows=settings.monitor_min_rows,
        alpha=settings.monitor_significance,
        drift_share=settings.monitor_drift_share,
        prediction_fields=tuple(settings.monitor_prediction_fields),
    )


def resolve_contract_id(session: Session, dataset: str) -> str:
    contract = contracts_repository.find_by_dataset(session, dataset)
    if contract is None:
        raise DatasetNotMonitored(
            f"no contract or dataset named {dataset!r}", field="dataset", rule="exists"
        )
    return contract.id


def parse_window(window: str) -> timedelta | None:
    """`batch` (None) or a duration such as PT1H, 1h, P1D."""
    if window == "batch":
        return None
    try:
        length = parse_duration(window)
    except ValueError as exc:
        raise InvalidWindow(str(exc), field="window", rule="duration_parses") from None
    if length < timedelta(seconds=1):
        raise InvalidWindow("a window is at least one second", field="window", rule="min_window")
    return length


def window_bounds(
    length: timedelta, *, start: datetime | None, end: datetime | None, count: int, now: datetime
) -> list[tuple[datetime, datetime]]:
    """Consecutive aligned windows covering [start, end); by default the last `count`."""
    end = end or now
    last = align(end - timedelta(microseconds=1), length)  # the window holding `end`'s instant
    # an explicit start is honoured as given; otherwise windows are epoch-aligned buckets
    first = start if start else last - length * (count - 1)
    if first >= end:
        raise InvalidWindow("start must be before end", field="start", rule="start_before_end")
    n = int((end - first) / length) + (1 if (end - first) % length else 0)
    if n > MAX_WINDOWS:
        raise InvalidWindow(
            f"{n} windows requested; at most {MAX_WINDOWS}", field="window", rule="max_windows"
        )
    return [(first + i * length, min(first + (i + 1) * length, end)) for i in range(n)]


def evaluate_windows(
    session: Session,
    *,
    contract_id: str,
    reference: MonitorReference | None,
    length: timedelta | None,
    bounds: Sequence[tuple[datetime, datetime]],
    settings: Settings,
    last: int | None = None,
    pending: str | None = None,
) -> list[EvaluatedWindow]:
    """Drift of each window (or each batch, when `length` is None) inside `bounds`.

    Whole weeks, days, 6 hours, hours, 10 minutes and minutes come from valid rollups
    (monitors/rollups.py) when the runner has built them; every other batch contributes its own
    stored profile. With `last`, only the newest `last` batches are judged (batch mode).
    Without a reference every window is `no_data`, its reason `pending` (what is missing).
    """
    spec = current_spec(session, contract_id)
    if reference is None and pending is None:
        pending = pending_reason(session, contract_id, settings=settings)
    judge = Judge(
        reference,
        monitored_fields(spec),
        contract_policy(spec, policy_of(settings)),
        slice_minimum(settings),
        pending,
    )
    if length is None:
        return _judge_batches(session, contract_id, judge, bounds, last)
    return _judge_windows(session, contract_id, judge, bounds)


@dataclass(frozen=True)
class Judge:
    """What every window is compared with: the reference (the slices of the window's hours
    when it is seasonal), the monitored fields, the policy."""

    reference: MonitorReference | None
    fields: list[MonitoredField]
    policy: DriftPolicy
    slice_minimum: Minimum
    pending: str | None = None  # why there is no reference

    def __call__(
        self,
        current: dict[str, FieldProfile],
        rows: int,
        first: datetime | None,
        last: datetime | None,
    ) -> tuple[WindowDrift, dict[str, Any] | None]:
        if self.reference is None:
            drift = compare_window({}, current, self.fields, self.policy, rows=rows)
            drift.reason = self.pending or drift.reason
            return drift, None
        ref, info = reference_view(self.reference, first, last, self.slice_minimum)
        return compare_window(ref, current, self.fields, self.policy, rows=rows), info


def _judge_batches(
    session: Session,
    contract_id: str,
    judge: Judge,
    bounds: Sequence[tuple[datetime, datetime]],
    last: int | None,
) -> list[EvaluatedWindow]:
    """Each batch received in `bounds` (the newest `last`) on its own, from its profile."""
    batches = checks_repository.usable_batches_between(
        session, contract_id, bounds[0][0], bounds[-1][1]
    )
    batches = batches[-last:] if last else batches
    names = [f.name for f in judge.fields]
    by_batch = rollups.batch_profiles(session, [b.id for b in batches], names)
    out = []
    for b in batches:
        at = b.received_at
        drift, ref = judge(by_batch.get(b.id, {}), int(b.rows_accepted), at, at)
        out.append(EvaluatedWindow("batch", at, at, 1, at, at, [b.id], drift, ref))
    return out


def _judge_windows(
    session: Session,
    contract_id: str,
    judge: Judge,
    bounds: Sequence[tuple[datetime, datetime]],
) -> list[EvaluatedWindow]:
    """Each window from the rollups that cover it and the profiles of the batches left over.

    Batches are counted in PostgreSQL per bucket (`rollups.LiveStats`); only the batches no
    valid rollup covers (parts of minutes at the edges, buckets not rolled up yet) are listed,
    plus the newest `MAX_BATCH_IDS` ids of each window.
    """
    names = [f.name for f in judge.fields]
    stats = rollups.LiveStats(session, contract_id)
    edges = checks_repository.usable_window_edges(session, contract_id, bounds)
    # the same batches, in the window with the most aligned edges (no batch between the two)
    spans = [
        snap(s, e, before=x.before, first=x.first, last=x.last, after=x.after)
        for (s, e), x in zip(bounds, edges, strict=True)
    ]
    tiles = [tile(s, e) for s, e in spans]
    found = rollups.cover(session, contract_id, sorted({b for t in tiles for b in t}), stats, names)
    used = [rollups.used_buckets(t, found, stats) for t in tiles]
    holes = [g for (s, e), u in zip(spans, used, strict=True) for g in rollups.gaps(s, e, u)]
    alone = checks_repository.usable_batches_in(session, contract_id, holes)
    by_batch = rollups.batch_profiles(session, [b.id for b in alone], names)
    newest = checks_repository.newest_usable_batch_ids(session, contract_id, bounds, MAX_BATCH_IDS)
    arrivals = [b.received_at for b in alone]
    out = []
    for (start, end), u, ids in zip(bounds, used, newest, strict=True):
        mine = alone[bisect_left(arrivals, start) : bisect_left(arrivals, end)]
        parts = [found[k] for k in u] + [by_batch.get(b.id, {}) for b in mine]
        total = _totals(
            [stats.ranges[k] for k in u]
            + [
                rollups.RangeStat(1, b.received_at, b.received_at, int(b.rows_accepted))
                for b in mine
            ]
        )
        drift, ref = judge(rollups.merge_parts(parts), total.rows, total.first, total.newest)
        out.append(
            EvaluatedWindow(
                "window", start, end, total.batches, total.first, total.newest, ids, drift, ref
            )
        )
    return out


def _totals(ranges: Sequence[rollups.RangeStat]) -> rollups.RangeStat:
    """The batches, first and newest arrival and rows of disjoint ranges taken together."""
    filled = [r for r in ranges if r.batches]
    return rollups.RangeStat(
        sum(r.batches for r in filled),
        max((r.newest for r in filled if r.newest is not None), default=None),
        min((r.first for r in filled if r.first is not None), default=None),
        sum(r.rows for r in filled),
    )


def drift_series(
    session: Session,
    *,
    dataset: str,
    window: str,
    start: datetime | None,
    end: datetime | None,
    count: int,
    settings: Settings,
) -> dict[str, Any]:
    """The drift time series of a dataset: one entry per window (or batch), per field."""
    contract_id = resolve_contract_id(session, dataset)
    length = parse_window(window)
    now = utcnow()
    if start is not None and end is not None and start >= end:
        raise InvalidWindow("start must be before end", field="start", rule="start_before_end")
    if length is None:
        # batches received at this very instant count (simulations post and read at once)
        bounds = [(start or now - timedelta(days=1), end or now + timedelta(microseconds=1))]
    else:
        bounds = window_bounds(length, start=start, end=end, count=count, now=now)
    reference = repository.active_reference(session, contract_id)
    pending = None if reference else pending_reason(session, contract_id, settings=settings)
    evaluated = evaluate_windows(
        session,
        contract_id=contract_id,
        reference=reference,
        length=length,
        bounds=bounds,
        settings=settings,
        last=count if length is None else None,
        pending=pending,
    )
    return {
        "contract_id": contract_id,
        "window": window,
        "reference": reference_summary(reference),
        "reference_pending": pending,
        "windows": [window_json(w, contract_id, settings.public_url) for w in evaluated],
        "fields": _per_field(evaluated),
    }


def reference_summary(reference: MonitorReference | None) -> dict[str, Any] | None:
    return coverage(reference) if reference is not None else None


def window_json(w: EvaluatedWindow, contract_id: str, base_url: str) -> dict[str, Any]:
    prediction = w.drift.prediction
    return {
        "kind": w.kind,
        "start": w.start,
        "end": w.end,
        "verdict": w.drift.verdict,
        "reason": w.drift.reason,
        "rows": w.drift.rows,
        "batch_count": w.batch_count,
        "first_batch_at": w.first_batch_at,
        "last_batch_at": w.last_batch_at,
        "batch_ids": [str(b) for b in w.batch_ids],
        "batch_ids_truncated": w.batch_ids_truncated,
        "batches_url": batches_url(w, contract_id, base_url),
        "drifted_share": w.drift.drifted_share,
        "reference": w.reference,
        "prediction_drift": prediction.to_json() if prediction else None,
        "fields": {name: f.to_json() for name, f in w.drift.fields.items()},
    }


def batches_url(w: EvaluatedWindow, contract_id: str, base_url: str) -> str:
    """Where to list every batch of a window (`GET /batches`, newest first), or a batch itself."""
    if w.kind == "batch":
        return f"{base_url}/batches/{w.batch_ids[0]}"
    query = {"contract": contract_id, "since": w.start.isoformat(), "until": w.end.isoformat()}
    return f"{base_url}/batches?{urlencode(query)}"


def _per_field(evaluated: list[EvaluatedWindow]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for w in evaluated:
        for name, f in w.drift.fields.items():
            out.setdefault(name, []).append(
                {
                    "start": w.start,
                    "end": w.end,
                    "method": f.method,
                    "statistic": f.statistic,
                    "p_value": f.adjusted_p_value if f.adjusted_p_value is not None else f.p_value,
                    "severity": f.severity,
                }
            )
    return out


def record_recent_windows(
    session: Session,
    *,
    contract_id: str,
    reference: MonitorReference | None,
    settings: Settings,
    pending: str | None = None,
) -> list[EvaluatedWindow]:
    """Re-evaluate the last completed windows and their batches, and store the verdicts.

    Re-evaluating a backfill of windows on every run is what picks up late batches: a
    window's verdict is recomputed until it leaves the backfill. The batches run up to this
    instant, so the newest batch is judged on the cycle after it arrives.
    """
    length = parse_duration(settings.monitor_window)
    now = utcnow()
    if reference is None and pending is None:
        pending = pending_reason(session, contract_id, settings=settings)
    last_end = align(now, length)
    bounds = [
        (last_end - (i + 1) * length, last_end - i * length)
        for i in reversed(range(settings.monitor_backfill_windows))
    ]
    common: dict[str, Any] = {
        "contract_id": contract_id,
        "reference": reference,
        "settings": settings,
        "pending": pending,
    }
    windows = evaluate_windows(session, length=length, bounds=bounds, **common)
    batches = evaluate_windows(
        session, length=None, bounds=[(bounds[0][0], now + timedelta(microseconds=1))], **common
    )
    for w in [*windows, *batches]:
        repository.upsert_drift_window(
            session, _stored(contract_id, reference, w, now, settings.public_url)
        )
    return windows


def sliding_lengths(settings: Settings) -> list[timedelta]:
    """The sliding windows' lengths (`monitor_sliding_windows`), shortest first."""
    out = set()
    for raw in settings.monitor_sliding_windows:
        length = parse_window(raw)
        if length is None:
            raise InvalidWindow(
                "a sliding window is a duration, not `batch`",
                field="monitor_sliding_windows",
                rule="duration_parses",
            )
        out.add(length)
    return sorted(out)


def record_sliding_windows(
    session: Session,
    *,
    contract_id: str,
    reference: MonitorReference | None,
    settings: Settings,
    pending: str | None = None,
) -> list[EvaluatedWindow]:
    """Evaluate the windows ending now (`monitor_sliding_windows`) and store their verdicts.

    Unlike the aligned windows these are stored once and never re-evaluated: each row is what
    the monitor saw at that cycle, against the reference active then, which is what the
    drift-free SLO counts (one event per time slot, see `slos.events`). A batch received at
    this very instant counts. Rows older than `monitor_sliding_retention` are deleted.
    """
    now = utcnow()
    if reference is None and pending is None:
        pending = pending_reason(session, contract_id, settings=settings)
    edge = now + timedelta(microseconds=1)
    out = []
    # one evaluation per length: the windows overlap, and a window's loose batches are
    # looked up per range
    for length in sliding_lengths(settings):
        (w,) = evaluate_windows(
            session,
            contract_id=contract_id,
            reference=reference,
            length=length,
            bounds=[(edge - length, edge)],
            settings=settings,
            pending=pending,
        )
        out.append(replace(w, kind="sliding", start=now - length, end=now))
    for w in out:
        repository.upsert_drift_window(
            session, _stored(contract_id, reference, w, now, settings.public_url)
        )
    retention = parse_duration(settings.monitor_sliding_retention)
    repository.delete_sliding_windows_before(session, contract_id, now - retention)
    return out


def refresh_rollups(session: Session, *, contract_id: str, settings: Settings) -> Refreshed:
    """Bring the rollups of the last `monitor_rollup_days` closer to current (bounded work)."""
    names = [f.name for f in monitored_fields(current_spec(session, contract_id))]
    now = utcnow()
    # from a week boundary, so the oldest week of the range is whole and can be rolled up
    start = align(now - timedelta(days=settings.monitor_rollup_days), WEEK)
    return refresh(session, contract_id=contract_id, fields=names, start=start, end=now)


def _stored(
    contract_id: str,
    reference: MonitorReference | None,
    w: EvaluatedWindow,
    now: datetime,
    base_url: str,
) -> dict[str, Any]:
    from core.jsonsafe import jsonsafe

    doc = window_json(w, contract_id, base_url)
    return {
        "contract_id": contract_id,
        "kind": w.kind,
        "window_start": w.start,
        "window_end": w.end,
        "batch_id": w.batch_ids[0] if w.kind == "batch" else None,
        "reference_id": reference.id if reference else None,
        "verdict": w.drift.verdict,
        "rows": w.drift.rows,
        "batches": w.batch_count,
        "drifted_share": w.drift.drifted_share,
        "fields": jsonsafe(
            {
                "reason": doc["reason"],
                **{
                    k: doc[k]
                    for k in ("batch_ids", "batch_ids_truncated", "batches_url", "reference")
                },
                "fields": doc["fields"],
            }
        ),
        "computed_at": now,
    }
