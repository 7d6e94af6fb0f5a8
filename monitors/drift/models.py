"""Monitors' tables: references, drift windows, SLOs, alerts with history, sinks and outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class MonitorReference(Base):
    """One version of a contract's reference profile: what drift is measured against."""

    __tablename__ = "monitor_references"
    __table_args__ = (UniqueConstraint("contract_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # champion_training | pinned_window | trailing_window
    source: Mapped[str] = mapped_column(String(30))
    model_name: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(200))
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    batch_ids: Mapped[list[str]] = mapped_column(JSONB)
    row_count: Mapped[int] = mapped_column(BigInteger)
    batch_count: Mapped[int] = mapped_column(Integer)
    # arrivals of the first and the last batch it covers (its time range, whatever the source)
    first_batch_at: Mapped[datetime | None]
    last_batch_at: Mapped[datetime | None]
    # field -> merged profile (type, count, sketch or category counts)
    profiles: Mapped[dict[str, Any]] = mapped_column(JSONB, deferred=True)
    # hour_of_day | hour_of_week | None: the contract's `monitoring.reference.seasonality`
    seasonality: Mapped[str | None] = mapped_column(String(20))
    # slice key ("h13", "d2h13") -> {"batches", "rows", "profiles"}; None without seasonality
    slices: Mapped[dict[str, Any] | None] = mapped_column(JSONB, deferred=True)
    # set when the reference stops being usable and nothing replaces it yet (e.g. the
    # champion changed and its training data is below the minimum): drift is then no_data
    retired_at: Mapped[datetime | None]
    retired_reason: Mapped[str | None] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class DriftWindow(Base):
    """The drift verdict of one window (or one batch) of a contract's data, per field."""

    __tablename__ = "drift_windows"
    __table_args__ = (
        # A batch's row names the batch; windows have none (NULLs compare equal here).
        UniqueConstraint(
            "contract_id",
            "kind",
            "window_start",
            "window_end",
            "batch_id",
            name="uq_drift_windows_key",
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_drift_windows_contract_end", "contract_id", "window_end"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    # window (epoch-aligned, re-evaluated while in the backfill) | batch | sliding (ending at
    # a runner cycle, stored once: what the monitor saw then)
    kind: Mapped[str] = mapped_column(String(10))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("batches.id"))
    reference_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("monitor_references.id"))
    verdict: Mapped[str] = mapped_column(String(10))  # ok | warn | alert | no_data
    rows: Mapped[int] = mapped_column(BigInteger)
    batches: Mapped[int] = mapped_column(Integer)
    drifted_share: Mapped[float | None] = mapped_column(Float)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONB)
    computed_at: Mapped[datetime]


class Slo(Base):
    """A service level objective with a good/bad event definition computed from Postgres."""

    __tablename__ = "slos"
    __table_args__ = (
        CheckConstraint("objective > 0 AND objective < 1", name="objective_in_range"),
        CheckConstraint("time_scale > 0", name="time_scale_positive"),
    )

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30))
    contract_id: Mapped[str | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    objective: Mapped[float] = mapped_column(Float)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    period_seconds: Mapped[int] = mapped_column(BigInteger)
    time_scale: Mapped[float] = mapped_column(Float)
    min_events: Mapped[int] = mapped_column(Integer)
    pending_seconds: Mapped[float] = mapped_column(Float)
    runbook_url: Mapped[str | None] = mapped_column(String(2000))
    enabled: Mapped[bool] = mapped_column(Boolean)
    last_evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class Alert(Base):
    """A burn-rate alert; at most one open (pending or firing) per SLO and severity."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_slo_severity",
            "slo_id",
            "severity",
            unique=True,
            postgresql_where=text("state <> 'resolved'"),
        ),
        Index("ix_alerts_state_opened", "state", "opened_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slo_id: Mapped[str] = mapped_column(ForeignKey("slos.id"), index=True)
    severity: Mapped[str] = mapped_column(String(10))  # page | ticket
    state: Mapped[str] = mapped_column(String(10))  # pending | firing | resolved
    opened_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    last_evaluated_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(String(2000))
    burn_rates: Mapped[dict[str, Any]] = mapped_column(JSONB)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    runbook_url: Mapped[str | None] = mapped_column(String(2000))


class AlertEvent(Base):
    """One state change of an alert, in order: the alert's history."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)


class NotificationSink(Base):
    """Where alert notifications go: a signed webhook, a Slack webhook or email."""

    __tablename__ = "notification_sinks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # webhook | slack | email
    target: Mapped[str] = mapped_column(String(2000))  # URL, or comma-separated addresses
    # HMAC key of webhook sinks; never returned by the API.
    secret: Mapped[str | None] = mapped_column(String(500))
    severities: Mapped[list[str]] = mapped_column(JSONB)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class Notification(Base):
    """The outbox: one message for one sink, written with the alert change, delivered later."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sink_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notification_sinks.id"), index=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.id"), index=True)
    event: Mapped[str] = mapped_column(String(20))  # firing | resolved
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(10))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


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


class ProfileRollup(Base):
    """One field's profile merged over a minute, 10 minutes, an hour, 6 hours, a day or a week
    of batches.

    Reading a long window's sketches from every batch's JSON profile costs more than the
    comparison itself; the runner keeps these rollups so a week is one row per field. A rollup
    is used only while its batch count and newest arrival still match the batches table. A
    field no batch of the bucket profiled has a row of type `absent` (so the bucket still
    counts as complete) that contributes nothing.
    """

    __tablename__ = "profile_rollups"
    __table_args__ = (
        CheckConstraint("level IN ('min', '10m', 'hour', '6h', 'day', 'week')", name="level_known"),
    )

    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), primary_key=True)
    # min | 10m | hour | 6h | day | week
    level: Mapped[str] = mapped_column(String(4), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    field: Mapped[str] = mapped_column(String(200), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(BigInteger)
    nulls: Mapped[int] = mapped_column(BigInteger)
    # numeric fields: the sketch in monitors.sketch_codec's layout (int32 keys and counts)
    sketch: Mapped[bytes | None] = mapped_column(LargeBinary)
    categories: Mapped[dict[str, int] | None] = mapped_column(JSONB)
    batches: Mapped[int] = mapped_column(Integer)
    last_received_at: Mapped[datetime]
    computed_at: Mapped[datetime]


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
    fit: Mapped[dict[str, Any]] = mapped_column(JSONB)  # monitors.calibration.fit_quality
    revision: Mapped[int] = mapped_column(Integer)
    fitted_at: Mapped[datetime]
