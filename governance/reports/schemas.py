"""API shapes of a model's reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from core.schemas import ResponseModel


class HistoryEntry(ResponseModel):
    seq: int = Field(description="Audit sequence number.")
    at: datetime = Field(description="When.")
    actor: str = Field(description="Who.")
    action: str = Field(description="Audit action.")
    object: str = Field(description="`type:id` of what it concerns.")
    summary: str = Field(description="What happened, in words.")
    details: dict[str, Any] = Field(description="The audit event's payload.")
