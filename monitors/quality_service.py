"""Model quality per window of served predictions, from the prediction log and delayed labels.

Reads `predictions` (written by the ranker's serving path) left-joined to `prediction_labels`
(delayed clicks). A window shows realized metrics once its label coverage reaches
`monitor_label_coverage`; they are `provisional` until `monitor_label_maturity` has passed
after the window, then `mature`. The label-free CBPE estimate is computed for every window,
side by side. Everything is recomputed from the tables on each read, and the runner upserts
the last `monitor_quality_backfill` windows each run, so late labels change stored values
(and the realized-AUC SLO's budget) until a window leaves the backfill.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from checks.sketch import build
from contracts.durations import parse_duration
from core.clock import utcnow
from core.jsonsafe import jsonsafe
from core.settings import Settings
from monitors import quality, stats
from monitors.errors import InvalidWindow
from monitors.models import ModelQualityWindow
from monitors.service import align, parse_window, window_bounds
from monitors.slo_events import to_us

_SERVED = text(
    """
SELECT (floor(extract(epoch FROM p.served_at) * 1000000))::bigint AS served_us,
       hashtextextended(p.request_id::text, 0) >> 12 AS request_code,  -- exact in a float64
       p.score, p.model_version,
       CASE WHEN l.clicked IS NULL THEN -1 WHEN l.clicked THEN 1 ELSE 0 END AS label
FROM predictions p LEFT JOIN prediction_labels l ON l.prediction_id = p.prediction_id
WHERE p.model_name = :model AND p.served_at >= :start AND p.served_at < :end
"""
)
_FIRST_SERVED = text(
    "SELECT min(served_at) FROM predictions WHERE model_name = :model AND model_version = :v"
)


def served(session: Session, model: str, start: datetime, end: datetime) -> np.ndarray:
    """(served µs, request code, score, model version, label -1/0/1) rows as one array."""
    rows = session.execute(_SERVED, {"model": model, "start": start, "end": end}).all()
    if not rows:
        return np.empty((0, 5), dtype=np.float64)
    return np.asarray(rows, dtype=np.float64)


def model_names(session: Session, since: datetime) -> list[str]:
    rows = session.execute(
        text("SELECT DISTINCT model_name FROM predictions WHERE served_at >= :s"), {"s": since}
    )
    return sorted(r[0] for r in rows)


def reference_scores(session: Session, model: str, version: int) -> np.ndarray:
    """Scores of the model version's first day of serving: the baseline of score shift."""
    first = session.scalar(_FIRST_SERVED, {"model": model, "v": version})
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
) -> list[dict[str, Any]]:
    """One quality document per window in `bounds` (consecutive, equal length)."""
    data = served(session, model, bounds[0][0], bounds[-1][1])
    length_us = to_us(bounds[0][1]) - to_us(bounds[0][0])
    index = ((data[:, 0] - to_us(bounds[0][0])) // length_us).astype(np.int64)
    maturity = parse_duration(settings.monitor_label_maturity)
    baseline: dict[int, Any] = {}
    out = []
    for i, (start, end) in enumerate(bounds):
        rows = data[index == i]
        versions = sorted({int(v) for v in np.unique(rows[:, 3])})
        if versions and versions[-1] not in baseline:
            ref = reference_scores(session, model, versions[-1])
            baseline[versions[-1]] = build(ref) if ref.size else None
        ref_sketch = baseline.get(versions[-1]) if versions else None
        out.append(_window(model, start, end, rows, versions, ref_sketch, settings, now, maturity))
    return out


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
    est = quality.estimated(scores)
    shift = None
    if ref_sketch is not None and n:
        shift = stats.psi(ref_sketch, build(scores)).statistic
    real = None
    if not n:
        status = "no_data"
    elif coverage is not None and coverage < settings.monitor_label_coverage:
        status = "insufficient_labels"
    else:
        real = quality.realized(rows[labeled, 1], scores[labeled], labels[labeled] > 0)
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
        "metrics": jsonsafe({"realized": asdict(real) if real else None, "estimated": asdict(est)}),
        "estimated_auc": est.expected_auc,
        "estimated_ctr": est.expected_ctr,
        "score_psi": shift,
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
    """Realized next to estimated quality per window, each with its label coverage."""
    length = parse_window(window)
    if length is None:
        raise InvalidWindow(
            "quality windows are durations (PT1H, 1d), not batches",
            field="window",
            rule="duration_parses",
        )
    now = utcnow()
    bounds = window_bounds(length, start=start, end=end, count=count, now=now)
    windows = evaluate(session, model=model, bounds=bounds, settings=settings, now=now)
    return {"model_name": model, "window": window, "windows": windows}


def record_recent(session: Session, *, settings: Settings) -> int:
    """Upsert the last completed quality windows of every model that served recently."""
    length = parse_duration(settings.monitor_quality_window)
    now = utcnow()
    last_end = align(now, length)
    n = settings.monitor_quality_backfill
    bounds = [(last_end - (i + 1) * length, last_end - i * length) for i in reversed(range(n))]
    stored = 0
    for model in model_names(session, bounds[0][0]):
        for doc in evaluate(session, model=model, bounds=bounds, settings=settings, now=now):
            values = {**doc, "computed_at": now}
            stmt = insert(ModelQualityWindow).values(**values)
            update = {c: stmt.excluded[c] for c in values if c != "model_name"}
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["model_name", "window_start", "window_end"], set_=update
                )
            )
            stored += 1
    return stored
