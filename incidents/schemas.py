"""API shapes of incidents: the record, its timeline entries, its impact, edits and notes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from core.bounds import INT32_MAX
from core.schemas import RequestModel, ResponseModel

Severity = Literal["critical", "major", "minor"]
Status = Literal["active", "stable", "closed"]


class IncidentCreate(RequestModel):
    title: str = Field(min_length=1, max_length=500, description="What is wrong, in one line.")
    severity: Severity = Field(description="critical, major or minor.")
    datasets: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Contract ids (or `namespace:name` lineage datasets) it affects.",
    )
    model_name: str | None = Field(
        default=None, min_length=1, max_length=100, description="Model it affects, if any."
    )
    model_version: int | None = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description="Model version it affects, if any (needs model_name).",
    )
    commander: str | None = Field(
        default=None, max_length=200, description="Who leads the response."
    )
    summary: str | None = Field(
        default=None, max_length=10_000, description="First timeline entry; default the title."
    )


class IncidentUpdate(RequestModel):
    status: Status | None = Field(
        default=None, description="active → stable → closed (closed is final; 409 otherwise)."
    )
    severity: Severity | None = Field(default=None, description="New severity.")
    commander: str | None = Field(default=None, max_length=200, description="New commander.")
    title: str | None = Field(default=None, min_length=1, max_length=500, description="New title.")
    reason: str | None = Field(
        default=None, max_length=2000, description="Why: kept in the audit trail and timeline."
    )


class NoteCreate(RequestModel):
    note: str = Field(min_length=1, max_length=10_000, description="A person's timeline note.")


class TimelineEntry(ResponseModel):
    id: int = Field(description="Entry id (increases in the order recorded).")
    at: datetime = Field(description="When it happened (the signal's own time).")
    kind: str = Field(
        description="opened, first_bad_batch, batch_failed, quarantine, alert_firing, "
        "alert_resolved, rollback, promotion_blocked, notification, status_change, "
        "severity_change, commander_change, affected_change, grouped, note or postmortem."
    )
    actor: str = Field(description="Who or what recorded it (a person, monitor-runner, …).")
    summary: str = Field(description="One readable line.")
    details: dict[str, Any] = Field(description="The kind's own facts (ids, budget, rows).")


class IncidentRead(ResponseModel):
    id: uuid.UUID = Field(description="Incident id.")
    title: str = Field(description="What is wrong.")
    severity: str = Field(description="critical, major or minor.")
    status: str = Field(description="active, stable (mitigated) or closed.")
    source: str = Field(description="What opened it: alert, bake_guard, batch_failures, manual.")
    commander: str | None = Field(description="Who leads the response.")
    runbook: str | None = Field(description="Runbook name (`docs/runbooks/<name>.md`).")
    runbook_url: str | None = Field(description="Where the API serves that runbook.")
    datasets: list[str] = Field(description="Datasets (contract ids) it affects.")
    affected: dict[str, Any] = Field(
        description="Ids it touches by kind: alerts, slos, batches, model_versions, "
        "promotion_requests."
    )
    model_name: str | None = Field(description="Model it names, if any.")
    model_version: int | None = Field(description="Model version it names, if any.")
    first_bad_at: datetime | None = Field(
        description="When the first bad data arrived (time to detect starts here)."
    )
    opened_at: datetime = Field(description="When it was opened.")
    opened_by: str = Field(description="Who or what opened it.")
    stable_at: datetime | None = Field(description="When it was mitigated.")
    closed_at: datetime | None = Field(description="When it was closed.")
    closed_by: str | None = Field(description="Who closed it.")
    updated_at: datetime | None = Field(description="Last change of the record itself.")


class IncidentPage(ResponseModel):
    total: int = Field(description="Incidents matching the filters.")
    offset: int = Field(description="Offset of this page.")
    items: list[IncidentRead] = Field(description="This page, newest first.")


class IncidentDetail(IncidentRead):
    timeline: list[TimelineEntry] = Field(description="Everything that happened, in order.")
    impact: dict[str, Any] = Field(
        description="Through lineage: window, datasets, batches (rows), model_versions (each "
        "with predictions served in the window), predictions_served, error_budget."
    )
