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
    stmt = insert(ModelQualityWindow).values(**values)
    update = {c: stmt.excluded[c] for c in values if c != "model_name"}
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["model_name", "window_start", "window_end"], set_=update
        )
    )


def auc_events(
    session: Session,
    model_name: str,
    threshold: float,
    statuses: Sequence[str],
    start: datetime,
    end: datetime,
) -> tuple[Sequence[int] | None, Sequence[bool] | None]:
    """Ends (µs, sorted) of the windows with a realized AUC in these statuses ending in
    (start, end], and whether each AUC is >= `threshold`, as two arrays (None when none)."""
    w = ModelQualityWindow
    t = func.floor(func.extract("epoch", w.window_end) * 1_000_000).cast(BigInteger)
    row = session.execute(
        select(
            func.array_agg(aggregate_order_by(t, t)),
            func.array_agg(aggregate_order_by(w.auc >= threshold, t)),
        ).where(
            w.model_name == model_name,
            w.status.in_(statuses),
            w.auc.is_not(None),
            w.window_end > start,
            w.window_end <= end,
        )
    ).one()
    return row[0], row[1]


def windows_below_auc(
    session: Session, model_name: str, threshold: float, start: datetime, end: datetime
) -> list[ModelQualityWindow]:
    """Windows ending in (start, end] whose realized AUC is below `threshold`, oldest first."""
    stmt = (
        select(ModelQualityWindow)
        .where(
            ModelQualityWindow.model_name == model_name,
            ModelQualityWindow.auc < threshold,
            ModelQualityWindow.window_end > start,
            ModelQualityWindow.window_end <= end,
        )
        .order_by(ModelQualityWindow.window_end)
    )
    return list(session.scalars(stmt))


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
