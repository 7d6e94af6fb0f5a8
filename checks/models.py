"""Batches, their rule results, column profiles and idempotency keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint("rows_accepted + rows_quarantined = rows_received", name="rows_add_up"),
        Index("ix_batches_contract_received", "contract_id", "received_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    contract_version: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    rows_received: Mapped[int] = mapped_column(BigInteger)
    rows_accepted: Mapped[int] = mapped_column(BigInteger)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(20))
    body_bytes: Mapped[int] = mapped_column(BigInteger)
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    newest_event_at: Mapped[datetime | None]
    submitted_by: Mapped[str] = mapped_column(String(200))
    accepted_path: Mapped[str] = mapped_column(String(1000))
    accepted_sha256: Mapped[str] = mapped_column(String(64))
    quarantine_path: Mapped[str] = mapped_column(String(1000))
    quarantine_sha256: Mapped[str] = mapped_column(String(64))
    validation_ms: Mapped[int] = mapped_column(Integer)


class RuleResult(Base):
    __tablename__ = "rule_results"
    __table_args__ = (UniqueConstraint("batch_id", "rule_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    passed: Mapped[bool] = mapped_column(Boolean)
    observed: Mapped[Any] = mapped_column(JSONB, nullable=True)
    threshold: Mapped[Any] = mapped_column(JSONB, nullable=True)
    failing_rows: Mapped[int] = mapped_column(BigInteger)
    examples: Mapped[list[Any]] = mapped_column(JSONB)
    message: Mapped[str] = mapped_column(String(2000))


class ColumnProfile(Base):
    __tablename__ = "column_profiles"

    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    field: Mapped[str] = mapped_column(String(200), primary_key=True)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONB)


class IdempotencyKey(Base):
    """A client's retry key: the same key and body always map to the same stored batch."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    contract_id: Mapped[str] = mapped_column(String(100))
    # The version as requested (NULL: newest active) and the body's format: both change the
    # outcome, so a replay must match them. Keys stored before they were recorded have no
    # body_format and are matched on body and contract alone.
    requested_version: Mapped[str | None] = mapped_column(String(100))
    body_format: Mapped[str | None] = mapped_column(String(20))
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.id"))
    created_at: Mapped[datetime]
