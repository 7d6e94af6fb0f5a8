"""The seed of the incidents domain: one table of incident records.

Today only governance writes here (the bake guard opens an incident when it rolls a new
champion back), and the promotion gates read it (an open critical incident on an upstream
dataset blocks promotion). Timelines, simulations and postmortems belong to the incidents
issue and build on this table; until then there is no incidents API of its own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base

SEVERITIES = ("critical", "major", "minor")
STATUSES = ("open", "resolved")


class Incident(Base):
    """Something went wrong that people must look at; `datasets` names what it affects."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("severity IN ('critical', 'major', 'minor')", name="severity_known"),
        CheckConstraint("status IN ('open', 'resolved')", name="status_known"),
        Index("ix_incidents_status_severity", "status", "severity"),
        Index(
            "ix_incidents_datasets",
            "datasets",
            postgresql_using="gin",
            postgresql_ops={"datasets": "jsonb_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    # Who opened it automatically (e.g. `bake_guard`), or `manual`.
    source: Mapped[str] = mapped_column(String(50))
    # Dataset ids it affects: contract ids, or `namespace:name` lineage datasets.
    datasets: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    model_name: Mapped[str | None] = mapped_column(String(100))
    model_version: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    notifications: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
