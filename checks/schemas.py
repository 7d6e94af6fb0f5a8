"""API shapes of the checks domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from core.schemas import ResponseModel


class RuleResultRead(ResponseModel):
    rule_id: str = Field(description="Rule id, e.g. `price.max` or `unique_key:user_id+item_id`.")
    kind: str = Field(description="Rule kind (min, max, required, type, pattern, row_count, …).")
    field: str | None = Field(default=None, description="The field the rule checks, if one.")
    action: str = Field(description="What a violation does: warn, quarantine or reject.")
    passed: bool = Field(description="Whether the batch satisfied the rule.")
    observed: Any = Field(
        default=None, description="Observed value (extreme, fraction, count, lag)."
    )
    threshold: Any = Field(default=None, description="The rule's threshold.")
    failing_rows: int = Field(description="Rows that broke the rule.")
    examples: list[Any] = Field(description="A few failing values.")
    message: str = Field(description="Human-readable verdict.")


class BatchRead(ResponseModel):
    id: uuid.UUID = Field(description="Batch id.")
    contract_id: str = Field(description="Contract the batch was checked against.")
    contract_version: str = Field(description="Contract version used.")
    status: str = Field(description="passed, warned, quarantined or rejected.")
    rows_received: int = Field(description="Rows in the posted batch.")
    rows_accepted: int = Field(description="Rows stored as accepted data.")
    rows_quarantined: int = Field(description="Rows set aside with reasons.")
    format: str = Field(description="parquet, csv or ndjson.")
    body_bytes: int = Field(description="Size of the posted body.")
    body_sha256: str = Field(description="SHA-256 of the posted body.")
    received_at: datetime = Field(description="When driftgate received it.")
    newest_event_at: datetime | None = Field(
        default=None, description="Newest freshness timestamp."
    )
    submitted_by: str = Field(description="Token name of the producer.")
    accepted_sha256: str = Field(description="SHA-256 of the stored accepted Parquet file.")
    quarantine_sha256: str = Field(description="SHA-256 of the stored quarantine Parquet file.")
    validation_ms: int = Field(
        description="Time spent validating, profiling and writing the batch files."
    )


class BatchCounts(ResponseModel):
    passed: int = Field(description="Batches that passed every rule.")
    warned: int = Field(description="Batches accepted with warn-level findings.")
    quarantined: int = Field(description="Batches accepted with some rows quarantined.")
    rejected: int = Field(description="Batches refused whole.")
    total: int = Field(description="All batches in the range.")


class BatchDetail(BatchRead):
    rules: list[RuleResultRead] = Field(description="One entry per rule.")


class QuarantinePage(ResponseModel):
    batch_id: uuid.UUID = Field(description="Batch id.")
    total: int = Field(description="Quarantined rows in the batch.")
    offset: int = Field(description="Offset of this page.")
    rows: list[dict[str, Any]] = Field(
        description="Rows with original values plus `_row`, `_rule_ids` and `_reasons`."
    )


class ProfileRead(ResponseModel):
    batch_id: uuid.UUID = Field(description="Batch id.")
    columns: dict[str, dict[str, Any]] = Field(description="Per-field profile of accepted rows.")


class FreshnessRead(ResponseModel):
    contract_id: str = Field(description="Contract id.")
    status: str = Field(description="fresh, late (batches stopped), stale (data too old), no_data.")
    checked_at: datetime = Field(description="When this was evaluated.")
    batches: int = Field(description="Batches received so far.")
    last_batch_at: datetime | None = Field(default=None, description="Newest batch arrival.")
    seconds_since_last_batch: float | None = Field(default=None, description="Since that arrival.")
    expected_cadence_seconds: float | None = Field(default=None, description="Contract cadence.")
    newest_event_at: datetime | None = Field(
        default=None, description="Newest accepted event time."
    )
    lag_seconds: float | None = Field(default=None, description="Now minus newest event time.")
    max_lag_seconds: float | None = Field(default=None, description="The freshness SLA.")
    freshness_field: str | None = Field(default=None, description="Field measured.")
