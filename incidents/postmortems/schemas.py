"""Request and response models of postmortems and action items."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from core.schemas import RequestModel, ResponseModel

Priority = Literal["P0", "P1", "P2", "P3"]
ItemStatus = Literal["open", "in_progress", "done", "wont_do"]
PostmortemStatus = Literal["draft", "in_review", "published"]
Narrative = str  # free text; length bounded per field below
LESSONS_MAX = 50
# One line of went_well / went_badly / got_lucky: not blank, and bounded like an item title.
Lesson = Annotated[str, Field(min_length=1, max_length=5000, pattern=r"\S")]
ITEMS_MAX = 100


class ActionItemWrite(RequestModel):
    id: uuid.UUID | None = Field(
        default=None,
        description="An existing item of this revision to keep and change; omit to add a new one.",
    )
    title: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="What to do.")
    owner: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Who owns it.")
    priority: Priority = Field(description="P0 (most urgent) to P3.")
    status: ItemStatus = Field(default="open", description="open, in_progress, done, wont_do.")
    due: date | None = Field(default=None, description="Due date (YYYY-MM-DD).")


class PostmortemUpdate(RequestModel):
    """Narrative fields people write; any subset. `action_items` replaces the whole list."""

    title: str | None = Field(
        default=None, min_length=1, max_length=500, pattern=r"\S", description="Title."
    )
    summary: str | None = Field(default=None, max_length=20000, description="What happened.")
    impact: str | None = Field(default=None, max_length=20000, description="Who was affected.")
    root_causes: str | None = Field(default=None, max_length=20000, description="Why.")
    trigger: str | None = Field(default=None, max_length=20000, description="What set it off.")
    detection: str | None = Field(default=None, max_length=20000, description="How we knew.")
    resolution: str | None = Field(default=None, max_length=20000, description="How it ended.")
    went_well: list[Lesson] | None = Field(
        default=None, max_length=LESSONS_MAX, description="What went well."
    )
    went_badly: list[Lesson] | None = Field(
        default=None, max_length=LESSONS_MAX, description="What went wrong."
    )
    got_lucky: list[Lesson] | None = Field(
        default=None, max_length=LESSONS_MAX, description="Where we got lucky."
    )
    action_items: list[ActionItemWrite] | None = Field(
        default=None, max_length=ITEMS_MAX, description="The action items, in order."
    )


class ActionItemPatch(RequestModel):
    status: ItemStatus = Field(description="open, in_progress, done or wont_do.")


class ActionItemRead(ResponseModel):
    id: uuid.UUID = Field(description="Action item id.")
    postmortem_id: uuid.UUID = Field(description="The revision it belongs to.")
    position: int = Field(description="Order within the postmortem.")
    title: str = Field(description="What to do.")
    owner: str = Field(description="Who owns it.")
    priority: Priority = Field(description="P0 to P3.")
    status: ItemStatus = Field(description="open, in_progress, done or wont_do.")
    due: date | None = Field(description="Due date.")
    created_at: datetime = Field(description="Created.")
    updated_at: datetime = Field(description="Last changed.")
    updated_by: str = Field(description="Who changed it last.")


class ActionItemListed(ActionItemRead):
    incident_id: uuid.UUID = Field(description="The incident its postmortem is about.")
    postmortem_title: str = Field(description="Its postmortem's title.")
    postmortem_status: PostmortemStatus = Field(description="Its postmortem's status.")


class ActionItemPage(ResponseModel):
    total: int = Field(description="Items matching the filter.")
    offset: int = Field(description="Offset of the first item shown.")
    items: list[ActionItemListed] = Field(description="Open ones first, then by priority.")


class TimelineLine(ResponseModel):
    at: datetime = Field(description="When.")
    kind: str = Field(description="Timeline kind (alert_firing, quarantine, note, ...).")
    actor: str = Field(description="Who or what wrote it.")
    summary: str = Field(description="What happened.")
    details: dict[str, Any] = Field(description="The kind's own facts.")


class PostmortemRead(ResponseModel):
    id: uuid.UUID = Field(description="Postmortem revision id.")
    incident_id: uuid.UUID = Field(description="Its incident.")
    revision: int = Field(description="1 for the first draft; amendments count up.")
    supersedes_id: uuid.UUID | None = Field(description="The published revision it amends.")
    status: PostmortemStatus = Field(description="draft, in_review or published.")
    title: str = Field(description="Title.")
    summary: str = Field(description="What happened.")
    impact: str = Field(description="Who was affected and how much.")
    root_causes: str = Field(description="Why it happened.")
    trigger: str = Field(description="What set it off.")
    detection: str = Field(description="How it was detected.")
    resolution: str = Field(description="How it was mitigated and resolved.")
    went_well: list[str] = Field(description="What went well.")
    went_badly: list[str] = Field(description="What went wrong.")
    got_lucky: list[str] = Field(description="Where we got lucky.")
    timeline: list[TimelineLine] = Field(description="The incident's timeline when drafted.")
    metrics: dict[str, Any] = Field(
        description="Measured figures: time_to_detect/mitigate/resolve_seconds, rows_posted, "
        "rows_accepted, rows_quarantined, rows_lost, predictions_affected, "
        "error_budget_consumed, alerts, batches, runbooks, and `missing` (why a figure is null)."
    )
    action_items: list[ActionItemRead] = Field(description="Follow-ups, in order.")
    created_at: datetime = Field(description="Drafted.")
    created_by: str = Field(description="Who drafted it.")
    updated_at: datetime = Field(description="Last changed.")
    updated_by: str = Field(description="Who changed it last.")
    submitted_at: datetime | None = Field(description="Sent for review.")
    published_at: datetime | None = Field(description="Published (immutable since).")
    published_by: str | None = Field(description="Who published it.")
