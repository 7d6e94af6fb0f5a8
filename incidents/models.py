"""Incident records: the incident, its self-writing timeline, postmortems and their action
items, and queued incident-simulation runs.

Other domains write here only through `incidents.service` (an alert that pages, the bake
guard's rollback, a burst of failing batches) and read through `incidents.repository`
(the promotion gate refuses while an upstream incident is not closed). Status moves
active → stable (mitigated) → closed; a published postmortem is immutable in the database
itself (a trigger), amended only by a new revision.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base

SEVERITIES = ("critical", "major", "minor")
STATUSES = ("active", "stable", "closed")
NOT_CLOSED = ("active", "stable")
# What the timeline records; `details` holds the kind's own facts.
TIMELINE_KINDS = (
    "opened",
    "first_bad_batch",
    "batch_failed",
    "quarantine",
    "alert_firing",
    "alert_resolved",
    "rollback",
    "promotion_blocked",
    "notification",
    "status_change",
    "severity_change",
    "commander_change",
    "affected_change",
    "grouped",
    "note",
    "postmortem",
)
POSTMORTEM_STATUSES = ("draft", "in_review", "published")
ACTION_PRIORITIES = ("P0", "P1", "P2", "P3")
ACTION_STATUSES = ("open", "in_progress", "done", "wont_do")
SIMULATION_STATUSES = ("queued", "running", "succeeded", "failed")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Incident(Base):
    """Something went wrong that people must look at; `datasets` names what it affects."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(f"severity IN ({_in(SEVERITIES)})", name="severity_known"),
        CheckConstraint(f"status IN ({_in(STATUSES)})", name="status_known"),
        Index("ix_incidents_status_severity", "status", "severity"),
        Index("ix_incidents_opened_at", "opened_at"),
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
    # What opened it: `alert`, `bake_guard`, `batch_failures`, or `manual`.
    source: Mapped[str] = mapped_column(String(50))
    # Dataset ids it affects: contract ids, or `namespace:name` lineage datasets.
    datasets: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    model_name: Mapped[str | None] = mapped_column(String(100))
    model_version: Mapped[int | None] = mapped_column(Integer)
    # Everything else it touches: batches, model versions, SLOs, alerts (ids), by kind.
    affected: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    commander: Mapped[str | None] = mapped_column(String(200))
    runbook: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    notifications: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    # When the first bad data arrived (before detection), if known: time to detect starts here.
    first_bad_at: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(200))
    stable_at: Mapped[datetime | None]
    stable_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime | None]


class IncidentEvent(Base):
    """One line of an incident's timeline; `source_key` keeps a signal from landing twice."""

    __tablename__ = "incident_events"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(TIMELINE_KINDS)})", name="kind_known"),
        UniqueConstraint("incident_id", "source_key"),
        Index("ix_incident_events_incident_id_at", "incident_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    source_key: Mapped[str | None] = mapped_column(String(300))
    recorded_at: Mapped[datetime]


class Postmortem(Base):
    """The Google SRE postmortem template as a record; published revisions never change."""

    __tablename__ = "postmortems"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(POSTMORTEM_STATUSES)})", name="status_known"),
        UniqueConstraint("incident_id", "revision"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"))
    revision: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("postmortems.id"))
    status: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, server_default="")
    impact: Mapped[str] = mapped_column(Text, server_default="")
    root_causes: Mapped[str] = mapped_column(Text, server_default="")
    trigger: Mapped[str] = mapped_column(Text, server_default="")
    detection: Mapped[str] = mapped_column(Text, server_default="")
    resolution: Mapped[str] = mapped_column(Text, server_default="")
    went_well: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    went_badly: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    got_lucky: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # Drafted from the incident: the timeline and the measured figures (times, rows, budget).
    timeline: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(200))


class PostmortemActionItem(Base):
    """A follow-up owned by someone; its status is tracked after the postmortem is published."""

    __tablename__ = "postmortem_action_items"
    __table_args__ = (
        CheckConstraint(f"priority IN ({_in(ACTION_PRIORITIES)})", name="priority_known"),
        CheckConstraint(f"status IN ({_in(ACTION_STATUSES)})", name="status_known"),
        Index("ix_postmortem_action_items_status_priority", "status", "priority"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    postmortem_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("postmortems.id"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(12))
    due: Mapped[date | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class SimulationRun(Base):
    """An incident simulation asked for through the API; the worker runs it and fills `results`."""

    __tablename__ = "simulation_runs"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(SIMULATION_STATUSES)})", name="status_known"),
        Index("ix_simulation_runs_status_requested_at", "status", "requested_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # A scenario name from the catalog, or `catalog` for all of them.
    scenario: Mapped[str] = mapped_column(String(60))
    seeds: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(10))
    requested_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
