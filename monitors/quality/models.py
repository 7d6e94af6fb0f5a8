"""Model quality's tables: quality per window of served predictions, score calibrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class ModelQualityWindow(Base):
    """Realized and label-free estimated quality of one window of served predictions."""

    __tablename__ = "model_quality_windows"
    __table_args__ = (
        UniqueConstraint("model_name", "window_start", "window_end"),
        Index("ix_model_quality_windows_model_end", "model_name", "window_end"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(100))
    model_versions: Mapped[list[int]] = mapped_column(JSONB)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    # no_data | insufficient_labels | provisional | mature
    status: Mapped[str] = mapped_column(String(20))
    predictions: Mapped[int] = mapped_column(BigInteger)
    labeled: Mapped[int] = mapped_column(BigInteger)
    coverage: Mapped[float | None] = mapped_column(Float)
    auc: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB)
    estimated_auc: Mapped[float | None] = mapped_column(Float)
    estimated_ctr: Mapped[float | None] = mapped_column(Float)
    score_psi: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime]
    # When the runner first computed a realized AUC for the window (provisional or mature),
    # and first computed it as mature: the realized-AUC SLO counts the window's event then,
    # not at window_end, as labels make it known hours later. Set once, never moved.
    auc_known_at: Mapped[datetime | None]
    mature_at: Mapped[datetime | None]


class ModelCalibration(Base):
    """A model version's score calibration, fitted on its reference window's labelled
    predictions; the label-free CBPE estimate maps served scores through it.

    One row per model version, replaced (with `revision` + 1) when its reference changes: a
    new window setting, or labels in the window added or changed since the fit (`labeled`,
    `positives` and `last_label_at` are that fingerprint).
    """

    __tablename__ = "model_calibrations"
    __table_args__ = (UniqueConstraint("model_name", "model_version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(20))  # isotonic
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    predictions: Mapped[int] = mapped_column(BigInteger)
    labeled: Mapped[int] = mapped_column(BigInteger)
    positives: Mapped[int] = mapped_column(BigInteger)
    last_label_at: Mapped[datetime | None]
    sampled: Mapped[int] = mapped_column(BigInteger)  # labelled predictions the fit used
    # knots of the piecewise-linear map: {"scores": [...], "probabilities": [...]}
    knots: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fit: Mapped[dict[str, Any]] = mapped_column(JSONB)  # monitors.quality.calibration.fit_quality
    revision: Mapped[int] = mapped_column(Integer)
    fitted_at: Mapped[datetime]
