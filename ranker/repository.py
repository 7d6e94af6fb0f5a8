"""Every query of the ranker domain: feed batches to train on, feed runs, predictions, labels."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from checks.models import Batch
from ranker.models import FeedRun, Prediction, PredictionLabel


def feed_batches(
    session: Session, contract_id: str, *, start: datetime, end: datetime
) -> list[Batch]:
    """Non-rejected batches of a contract that may hold rows in [start, end) and had arrived
    by `end` (data that arrived later did not exist at training time)."""
    stmt = (
        select(Batch)
        .where(
            Batch.contract_id == contract_id,
            Batch.status != "rejected",
            Batch.rows_accepted > 0,
            Batch.received_at <= end,
            or_(Batch.newest_event_at.is_(None), Batch.newest_event_at >= start),
        )
        .order_by(Batch.received_at, Batch.id)
    )
    return list(session.scalars(stmt))


def batches_by_id(session: Session, ids: Sequence[uuid.UUID]) -> list[Batch]:
    if not ids:
        return []
    return list(session.scalars(select(Batch).where(Batch.id.in_(ids)).order_by(Batch.received_at)))


def feed_runs_overlapping(session: Session, *, start: datetime, end: datetime) -> list[FeedRun]:
    stmt = (
        select(FeedRun)
        .where(FeedRun.window_start < end, FeedRun.window_end > start)
        .order_by(FeedRun.created_at)
    )
    return list(session.scalars(stmt))


def get_prediction(session: Session, prediction_id: uuid.UUID) -> Prediction | None:
    return session.get(Prediction, prediction_id)


def get_label(session: Session, prediction_id: uuid.UUID) -> PredictionLabel | None:
    return session.get(PredictionLabel, prediction_id)


def prediction_counts(session: Session, model_name: str) -> tuple[int, int]:
    """Predictions logged for a model, and how many have a label."""
    row = session.execute(
        select(func.count(Prediction.prediction_id), func.count(PredictionLabel.prediction_id))
        .select_from(Prediction)
        .outerjoin(PredictionLabel, PredictionLabel.prediction_id == Prediction.prediction_id)
        .where(Prediction.model_name == model_name)
    ).one()
    return int(row[0]), int(row[1])


def latest_feed_run(session: Session) -> FeedRun | None:
    return session.scalar(select(FeedRun).order_by(FeedRun.window_end.desc()).limit(1))
