"""Drift's tables: reference profiles, judged drift windows and profile rollups."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
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
    # numeric fields: the sketch in drift.sketch_codec's layout (int32 keys and counts)
    sketch: Mapped[bytes | None] = mapped_column(LargeBinary)
    categories: Mapped[dict[str, int] | None] = mapped_column(JSONB)
    batches: Mapped[int] = mapped_column(Integer)
    last_received_at: Mapped[datetime]
    computed_at: Mapped[datetime]
