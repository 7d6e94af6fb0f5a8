"""SLOs' tables: SLOs, and their burn-rate alerts with a history of state changes."""

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
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


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
