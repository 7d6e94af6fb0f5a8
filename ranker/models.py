"""Synthetic feed runs, the prediction log and the delayed labels joined to it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    REAL,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class FeedRun(Base):
    """One generation of the synthetic feed: its config (so the oracle can be recomputed) and
    the batches it posted through the contracts."""

    __tablename__ = "feed_runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    origin: Mapped[datetime]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    batch_ids: Mapped[list[str]] = mapped_column(JSONB)
    batches_rejected: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class Prediction(Base):
    """One served score. Written in bulk by the prediction logger, never updated.

    A prediction id is its request id plus its position in the low 12 bits, so a request's
    predictions are one primary-key range (no extra index on the write path).
    """

    __tablename__ = "predictions"
    __table_args__ = (
        Index("ix_predictions_model_served", "model_name", "model_version", "served_at"),
    )

    prediction_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    request_id: Mapped[uuid.UUID]
    served_at: Mapped[datetime]
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(SmallInteger)
    score: Mapped[float] = mapped_column(REAL)
    surface: Mapped[str | None] = mapped_column(String(20))
    device: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(20))
    hour: Mapped[int] = mapped_column(SmallInteger)
    # Raw (untransformed) numeric model inputs, in signature order, packed as little-endian
    # float32 (`numpy.frombuffer(features, "<f4")`): a third cheaper to COPY than REAL[] text.
    features: Mapped[bytes] = mapped_column(LargeBinary)


class PredictionLabel(Base):
    """The delayed outcome of a prediction; a later label replaces an earlier one."""

    __tablename__ = "prediction_labels"

    prediction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("predictions.prediction_id"), primary_key=True
    )
    clicked: Mapped[bool] = mapped_column(Boolean)
    dwell_ms: Mapped[float | None] = mapped_column(Float)
    label_time: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime]
    received_by: Mapped[str] = mapped_column(String(200))
