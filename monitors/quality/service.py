"""Model quality per window of served predictions, from the prediction log and delayed labels.

Reads `predictions` (written by the ranker's serving path) left-joined to `prediction_labels`
(delayed clicks). A window shows realized metrics once its label coverage reaches
`monitor_label_coverage`; they are `provisional` until `monitor_label_maturity` has passed
after the window, then `mature`. The label-free CBPE estimate is computed for every window,
side by side, from scores mapped through the model version's calibration (fitted on the labels
of its first `monitor_calibration_window` of serving once they are mature, stored in
`model_calibrations`); a window whose versions lack one is estimated from raw scores and says
why. Everything is recomputed from the tables on each read, and the runner upserts
the last `monitor_quality_backfill` windows each run, so late labels change stored values
(and the realized-AUC SLO's budget) until a window leaves the backfill. The run that first
stores a window with a realized AUC stamps `auc_known_at`, the first that stores it mature
stamps `mature_at`; recomputation never moves them, as the SLO counts the window's event then.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from checks.sketch import build
from contracts.durations import parse_duration
from core.clock import utcnow
from core.jsonsafe import jsonsafe
from core.settings import Settings
from monitors.drift import stats
from monitors.drift.service import align, parse_window, window_bounds
from monitors.errors import InvalidWindow
from monitors.quality import calibration, metrics, repository
from monitors.quality.models import ModelCalibration
from ranker import repository as ranker_repository

CALIBRATION_METHOD = "isotonic"


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch, the time unit of the served-prediction rows."""
    return int(moment.timestamp() * 1_000_000)


@dataclass(frozen=True)
class CalibrationState:
    """A model version's calibration, or why it has none (then the estimate is uncalibrated)."""

    version: int
    calibration: calibration.Calibration | None
    row: ModelCalibration | None
    reason: str | None

    def describe(self) -> dict[str, Any]:
        """Which calibration an estimate used: version, window, sample size, fit quality."""
        if self.row is None:
            return {"model_version": self.version, "reason": self.reason}
        r = self.row
        return {
            "model_version": r.model_version,
            "method": r.method,
            "revision": r.revision,
            "window_start": r.window_start,
            "window_end": r.window_end,
            "predictions": r.predictions,
            "labeled": r.labeled,
            "positives": r.positives,
            "sampled": r.sampled,
            "fitted_at": r.fitted_at,
            "fit": r.fit,
        }


def ensure_calibration(
    session: Session,
    *,
    model: str,
    version: int,
    settings: Settings,
    now: datetime,
    verify: bool = False,
) -> CalibrationState:
    """The version's stored calibration, fitted first when it is missing or its reference moved.

    The reference is the version's first `monitor_calibration_window` of serving, usable once
    `monitor_label_maturity` has passed after it. Reads trust a stored fit for the same window;
    with `verify` (the runner) the window's label counts are compared with the fit's, so late
    labels in the reference refit it.
    """
    stored = repository.calibration_of(session, model, version)
    first = ranker_repository.first_served_at(session, model, version)
    if first is None:
        return CalibrationState(version, None, None, f"version {version} has served nothing")
    start = first
    end = start + parse_duration(settings.monitor_calibration_window)
    mature_at = end + parse_duration(settings.monitor_label_maturity)
    if now < mature_at:
        return CalibrationState(
            version,
            None,
            None,
            f"version {version}: the labels of its reference window {start.isoformat()} .. "
            f"{end.isoformat()} are mature from {mature_at.isoformat()}",
        )
    same_window = stored is not None and (stored.window_start, stored.window_end) == (start, end)
    if stored is not None and same_window and not verify:
        return _state(stored)
    facts = ranker_repository.label_facts(session, model, version, start, end)
    fingerprint = (facts.predictions, facts.labeled, facts.positives, facts.last_label_at)
    if stored is not None and same_window and fingerprint == _fingerprint(stored):
        return _state(stored)
    reason = _ineligible(facts, settings)
    if reason is not None:
        if stored is not None:  # its reference no longer holds: do not keep using it
            repository.delete_calibration(session, stored)
        return CalibrationState(version, None, None, f"version {version}: {reason}")
    row = _fit(
        session,
        model=model,
        version=version,
        start=start,
        end=end,
        facts=facts,
        now=now,
        max_labels=settings.monitor_calibration_max_labels,
    )
    return _state(row)


def _fingerprint(row: ModelCalibration) -> tuple[Any, ...]:
    return (row.predictions, row.labeled, row.positives, row.last_label_at)


def _state(row: ModelCalibration) -> CalibrationState:
    knots = calibration.Calibration.from_lists(row.knots["scores"], row.knots["probabilities"])
    return CalibrationState(row.model_version, knots, row, None)


def _ineligible(facts: Any, settings: Settings) -> str | None:
    """Why the reference window's labels cannot be fitted, or None if they can."""
    coverage = facts.labeled / facts.predictions if facts.predictions else 0.0
    negatives = facts.labeled - facts.positives
    if facts.labeled < settings.monitor_calibration_min_labels:
        return (
            f"{facts.labeled} labelled predictions in its reference window, "
            f"monitor_calibration_min_labels is {settings.monitor_calibration_min_labels}"
        )
    if coverage < settings.monitor_label_coverage:
        return (
            f"label coverage {coverage:.3f} in its reference window is below "
            f"monitor_label_coverage {settings.monitor_label_coverage}"
        )
    if min(facts.positives, negatives) < settings.monitor_calibration_min_clicks:
        return (
            f"{facts.positives} clicks and {negatives} non-clicks in its reference window, "
            f"monitor_calibration_min_clicks is {settings.monitor_calibration_min_clicks} each"
        )
    return None


def _fit(
    session: Session,
    *,
    model: str,
    version: int,
    start: datetime,
    end: datetime,
    facts: Any,
    now: datetime,
    max_labels: int,
) -> ModelCalibration:
    """Fit the isotonic map on the (sampled) labelled predictions and upsert it."""
    cap = max_labels
    keep = 1024 if facts.labeled <= cap else max(1, math.floor(1024 * cap / facts.labeled))
    rows = ranker_repository.labelled_scores_sample(session, model, version, start, end, keep)
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    scores, labels = data[:, 0], data[:, 1] > 0
    fitted = calibration.fit_isotonic(scores, labels)
    values = {
        "model_name": model,
        "model_version": version,
        "method": CALIBRATION_METHOD,
        "window_start": start,
        "window_end": end,
        "predictions": facts.predictions,
        "labeled": facts.labeled,
        "positives": facts.positives,
        "last_label_at": facts.last_label_at,
        "sampled": int(scores.size),
        "knots": fitted.to_json(),
        "fit": jsonsafe(calibration.fit_quality(scores, labels, fitted)),
        "revision": 1,
        "fitted_at": now,
    }
    return repository.upsert_calibration(session, values)


def served(session: Session, model: str, start: datetime, end: datetime) -> np.ndarray:
    """(served µs, request code, score, model version, label -1/0/1) rows as one array."""
    rows = ranker_repository.served_predictions(session, model, start, end)
    if not rows:
        return np.empty((0, 5), dtype=np.float64)
    return np.asarray(rows, dtype=np.float64)


def reference_scores(session: Session, model: str, version: int) -> np.ndarray:
    """Scores of the model version's first day of serving: the baseline of score shift."""
    first = ranker_repository.first_served_at(session, model, version)
    if first is None:
        return np.empty(0)
    data = served(session, model, first, first + timedelta(days=1))
    return data[data[:, 3] == version, 2]


def evaluate(
    session: Session,
    *,
    model: str,
    bounds: list[tuple[datetime, datetime]],
    settings: Settings,
    now: datetime,
    verify: bool = False,
) -> list[dict[str, Any]]:
    """One quality document per window in `bounds` (consecutive, equal length)."""
    data = served(session, model, bounds[0][0], bounds[-1][1])
    return _evaluate_rows(
        session, data, model=model, bounds=bounds, settings=settings, now=now, verify=verify
    )


def _evaluate_rows(
    session: Session,
    data: np.ndarray,
    *,
    model: str,
    bounds: list[tuple[datetime, datetime]],
    settings: Settings,
    now: datetime,
    verify: bool = False,
) -> list[dict[str, Any]]:
    """`evaluate` on rows already read (all of the model's traffic, or one segment's)."""
    length_us = to_us(bounds[0][1]) - to_us(bounds[0][0])
    index = ((data[:, 0] - to_us(bounds[0][0])) // length_us).astype(np.int64)
    maturity = parse_duration(settings.monitor_label_maturity)
    baseline: dict[int, Any] = {}
    calibrations: dict[int, CalibrationState] = {}
    out = []
    for i, (start, end) in enumerate(bounds):
        rows = data[index == i]
        versions = sorted({int(v) for v in np.unique(rows[:, 3])})
        if versions and versions[-1] not in baseline:
            ref = reference_scores(session, model, versions[-1])
            baseline[versions[-1]] = build(ref) if ref.size else None
        ref_sketch = baseline.get(versions[-1]) if versions else None
        for v in versions:
            if v not in calibrations:
                calibrations[v] = ensure_calibration(
                    session, model=model, version=v, settings=settings, now=now, verify=verify
                )
        states = [calibrations[v] for v in versions]
        doc = _window(model, start, end, rows, versions, ref_sketch, settings, now, maturity)
        out.append(_with_estimate(doc, rows, states))
    return out


def _with_estimate(
    doc: dict[str, Any], rows: np.ndarray, states: list[CalibrationState]
) -> dict[str, Any]:
    """Add the CBPE estimate: calibrated when every version in the window has a calibration
    (each row mapped by its own version's), else from raw scores with the reasons why."""
    scores, versions = rows[:, 2], rows[:, 3]
    raw = metrics.estimated(scores)
    missing = [s.reason for s in states if s.calibration is None]
    est = raw
    if states and not missing:
        probabilities = np.empty(scores.size, dtype=np.float64)
        for state in states:
            mask = versions == state.version
            assert state.calibration is not None
            probabilities[mask] = state.calibration.apply(scores[mask])
        est = metrics.Estimated(
            raw.predictions,
            float(probabilities.mean()),
            metrics.expected_auc(probabilities),
            calibrated=True,
        )
    share = _reference_share(rows, states)
    described = {
        "status": "calibrated" if est.calibrated else "uncalibrated",
        "reason": None if est.calibrated else ("; ".join(str(m) for m in missing) or "no data"),
        # predictions the calibration was fitted on: there the estimate is in-sample
        "in_reference": share > 0,
        "reference_share": share,
        "versions": [s.describe() for s in states],
    }
    doc["estimated_auc"], doc["estimated_ctr"] = est.expected_auc, est.expected_ctr
    doc["metrics"] = jsonsafe(
        {
            **doc["metrics"],
            "estimated": asdict(est),
            "estimated_uncalibrated": asdict(raw),
            "calibration": described,
        }
    )
    return doc


def _reference_share(rows: np.ndarray, states: list[CalibrationState]) -> float:
    """Share of the window's predictions inside their version's calibration reference."""
    inside = np.zeros(rows.shape[0], dtype=bool)
    for state in states:
        if state.row is not None:
            lo, hi = to_us(state.row.window_start), to_us(state.row.window_end)
            served = rows[:, 0]
            inside |= (rows[:, 3] == state.version) & (served >= lo) & (served < hi)
    return float(inside.mean()) if rows.shape[0] else 0.0


def _window(
    model: str,
    start: datetime,
    end: datetime,
    rows: np.ndarray,
    versions: list[int],
    ref_sketch: Any,
    settings: Settings,
    now: datetime,
    maturity: timedelta,
) -> dict[str, Any]:
    scores, labels = rows[:, 2], rows[:, 4]
    labeled = labels >= 0
    n, k = int(rows.shape[0]), int(labeled.sum())
    coverage = k / n if n else None
    shift = None
    if ref_sketch is not None and n:
        shift = stats.psi(ref_sketch, build(scores)).statistic
    real = None
    if not n:
        status = "no_data"
    elif coverage is not None and coverage < settings.monitor_label_coverage:
        status = "insufficient_labels"
    else:
        real = metrics.realized(rows[labeled, 1], scores[labeled], labels[labeled] > 0)
        status = "mature" if now >= end + maturity else "provisional"
    return {
        "model_name": model,
        "model_versions": versions,
        "window_start": start,
        "window_end": end,
        "status": status,
        "predictions": n,
        "labeled": k,
        "coverage": coverage,
        "auc": real.auc if real else None,
        "metrics": {"realized": asdict(real) if real else None},
        "estimated_auc": None,
        "estimated_ctr": None,
        "score_psi": shift,
    }


def _bounds(
    window: str, start: datetime | None, end: datetime | None, count: int, now: datetime
) -> list[tuple[datetime, datetime]]:
    length = parse_window(window)
    if length is None:
        raise InvalidWindow(
            "quality windows are durations (PT1H, 1d), not batches",
            field="window",
            rule="duration_parses",
        )
    return window_bounds(length, start=start, end=end, count=count, now=now)


def quality_by_segment(
    session: Session,
    *,
    model: str,
    segment: str,
    window: str,
    start: datetime | None,
    end: datetime | None,
    count: int,
    settings: Settings,
    top: int = 20,
) -> dict[str, Any]:
    """`quality_series` per value of a request segment (surface, device, country), the
    busiest `top` values first: a model can hold up overall and fail one surface."""
    now = utcnow()
    bounds = _bounds(window, start, end, count, now)
    rows = ranker_repository.served_predictions_with_segment(
        session, model, bounds[0][0], bounds[-1][1], segment
    )
    numbers = np.asarray([tuple(r)[:5] for r in rows], dtype=np.float64).reshape(-1, 5)
    labels = ["(none)" if tuple(r)[5] is None else str(tuple(r)[5]) for r in rows]
    values = np.asarray(labels, dtype=np.str_)
    tally = Counter(labels)
    busiest = [str(name) for name, _ in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))]
    busiest = busiest[:top]
    segments = []
    for value in busiest:
        docs = _evaluate_rows(
            session,
            numbers[values == value],
            model=model,
            bounds=bounds,
            settings=settings,
            now=now,
        )
        for doc in docs:
            doc["calibration"] = doc["metrics"]["calibration"]
        segments.append(
            {"value": value, "predictions": int((values == value).sum()), "windows": docs}
        )
    return {
        "model_name": model,
        "window": window,
        "segment": segment,
        "segments_total": len(tally),
        "segments": segments,
    }


def quality_series(
    session: Session,
    *,
    model: str,
    window: str,
    start: datetime | None,
    end: datetime | None,
    count: int,
    settings: Settings,
) -> dict[str, Any]:
    """Realized next to estimated quality per window, each with its label coverage and the
    calibration its estimate used (or why it had none)."""
    now = utcnow()
    bounds = _bounds(window, start, end, count, now)
    windows = evaluate(session, model=model, bounds=bounds, settings=settings, now=now)
    for doc in windows:
        doc["calibration"] = doc["metrics"]["calibration"]
    return {"model_name": model, "window": window, "windows": windows}


def record_recent(session: Session, *, settings: Settings) -> int:
    """Upsert the last completed quality windows of every model that served recently."""
    length = parse_duration(settings.monitor_quality_window)
    now = utcnow()
    last_end = align(now, length)
    n = settings.monitor_quality_backfill
    bounds = [(last_end - (i + 1) * length, last_end - i * length) for i in reversed(range(n))]
    stored = 0
    for model in ranker_repository.models_served_since(session, bounds[0][0]):
        docs = evaluate(
            session, model=model, bounds=bounds, settings=settings, now=now, verify=True
        )
        for doc in docs:
            repository.upsert_quality_window(session, {**doc, **known_stamps(doc, now)})
            stored += 1
    return stored


def known_stamps(doc: dict[str, Any], now: datetime) -> dict[str, datetime | None]:
    """`computed_at`, and the candidate first-known stamps of a window computed `now` (the
    upsert keeps a stamp already stored)."""
    has_auc = doc["auc"] is not None
    return {
        "computed_at": now,
        "auc_known_at": now if has_auc else None,
        "mature_at": now if has_auc and doc["status"] == "mature" else None,
    }
