"""Every query of model quality's tables: quality windows and score calibrations.

The prediction log and its labels are the ranker's tables, read through `ranker.repository`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.orm import Session

from monitors.quality.models import ModelCalibration, ModelQualityWindow


def calibration_of(session: Session, model_name: str, version: int) -> ModelCalibration | None:
    stmt = select(ModelCalibration).where(
        ModelCalibration.model_name == model_name, ModelCalibration.model_version == version
    )
    return session.scalars(stmt).one_or_none()


def upsert_calibration(session: Session, values: dict[str, Any]) -> ModelCalibration:
    """Insert a version's calibration, or replace it with `revision` + 1; the row as stored."""
    stmt = insert(ModelCalibration).values(**values)
    update: dict[str, Any] = {
        c: stmt.excluded[c] for c in values if c not in ("model_name", "model_version")
    }
    update["revision"] = ModelCalibration.revision + 1
    upsert = stmt.on_conflict_do_update(
        index_elements=["model_name", "model_version"], set_=update
    ).returning(ModelCalibration.id)
    row_id = session.execute(upsert).scalar_one()
    row = session.get(ModelCalibration, row_id, populate_existing=True)
    assert row is not None
    return row


def delete_calibration(session: Session, row: ModelCalibration) -> None:
    session.delete(row)
    session.flush()


def upsert_quality_window(session: Session, values: dict[str, Any]) -> None:
    """Insert or recompute a window; `auc_known_at` and `mature_at` keep their first value."""
    w = ModelQualityWindow
    stmt = insert(w).values(**values)
    update: dict[str, Any] = {c: stmt.excluded[c] for c in values if c != "model_name"}
    for stamp in ("auc_known_at", "mature_at"):
        if stamp in values:
            update[stamp] = func.coalesce(getattr(w, stamp), stmt.excluded[stamp])
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["model_name", "window_start", "window_end"], set_=update
        )
    )


def _counted_at(mature_only: bool) -> Any:
    """The moment a window's AUC event counts: when it first had an AUC, or turned mature."""
    return ModelQualityWindow.mature_at if mature_only else ModelQualityWindow.auc_known_at


def _counted(model_name: str, mature_only: bool, start: datetime, end: datetime) -> list[Any]:
    """Windows with a realized AUC (mature ones only, or also provisional) counted in (start,
    end]."""
    w, at = ModelQualityWindow, _counted_at(mature_only)
    statuses = ["mature"] if mature_only else ["mature", "provisional"]
    return [
        w.model_name == model_name,
        w.status.in_(statuses),
        w.auc.is_not(None),
        at > start,
        at <= end,
    ]


def auc_events(
    session: Session,
    model_name: str,
    threshold: float,
    *,
    mature_only: bool,
    start: datetime,
    end: datetime,
) -> tuple[Sequence[int] | None, Sequence[bool] | None]:
    """When (µs, sorted) each window with a realized AUC became known in (start, end] (turned
    mature with `mature_only`), and whether its AUC is >= `threshold`, as two arrays (None
    when none)."""
    w = ModelQualityWindow
    t = func.floor(func.extract("epoch", _counted_at(mature_only)) * 1_000_000).cast(BigInteger)
    row = session.execute(
        select(
            func.array_agg(aggregate_order_by(t, t, w.window_end)),
            func.array_agg(aggregate_order_by(w.auc >= threshold, t, w.window_end)),
        ).where(*_counted(model_name, mature_only, start, end))
    ).one()
    return row[0], row[1]


def windows_below_auc(
    session: Session,
    model_name: str,
    threshold: float,
    *,
    mature_only: bool,
    start: datetime,
    end: datetime,
    limit: int,
) -> list[ModelQualityWindow]:
    """The newest `limit` windows counted in (start, end] whose realized AUC is below
    `threshold`, oldest first (by when they became known, then by window)."""
    at = _counted_at(mature_only)
    stmt = (
        select(ModelQualityWindow)
        .where(
            *_counted(model_name, mature_only, start, end),
            ModelQualityWindow.auc < threshold,
        )
        .order_by(at.desc(), ModelQualityWindow.window_end.desc())
        .limit(limit)
    )
    return list(reversed(session.scalars(stmt).all()))


# The bake guard's live-quality signal for one version since its promotion.
_LIVE_QUALITY = text(
    """
SELECT sum(auc * labeled) FILTER (WHERE auc IS NOT NULL AND status IN ('mature', 'provisional'))
         / nullif(sum(labeled) FILTER (WHERE auc IS NOT NULL
                                       AND status IN ('mature', 'provisional')), 0) AS realized,
       avg(estimated_auc) FILTER (WHERE estimated_auc IS NOT NULL) AS estimated,
       count(*) AS windows
FROM model_quality_windows
WHERE model_name = :m AND window_start >= :t AND model_versions = CAST(:versions AS jsonb)
"""
)


def live_quality(session: Session, name: str, version: int, since: datetime) -> Any:
    """Realized AUC (label-weighted) and mean estimated AUC of the quality windows served by
    this version alone since `since`: a row of (realized, estimated, windows)."""
    return session.execute(_LIVE_QUALITY, {"m": name, "t": since, "versions": f"[{version}]"}).one()
