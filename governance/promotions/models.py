"""Promotion governance tables: versioned policies, promotion requests and approvals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base

REQUEST_STATES = ("open", "approved", "rejected", "expired", "withdrawn", "promoted")
ACTIVE_STATES = ("open", "approved")
BAKE_STATES = ("baking", "confirmed", "rolled_back", "superseded")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PromotionPolicy(Base):
    """One version of the promotion policy (YAML as an admin sent it, and its parsed form)."""

    __tablename__ = "promotion_policies"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sha256: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class PromotionRequest(Base):
    """A request to make one model version the champion, with its gate results and binding.

    The binding (artifact sha256, metrics hash, policy version, champion version, and the hash
    of the gate evidence: contract versions, batch records, open incidents) is what approvals
    are given for; when any part changes the gates run again and approvals are void.
    """

    __tablename__ = "promotion_requests"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_name", "version"],
            ["model_versions.model_name", "model_versions.version"],
            name="fk_promotion_requests_version_model_versions",
        ),
        CheckConstraint(_in("state", REQUEST_STATES), name="state_known"),
        CheckConstraint(
            f"bake_state IS NULL OR {_in('bake_state', BAKE_STATES)}", name="bake_state_known"
        ),
        CheckConstraint("quorum >= 1", name="quorum_positive"),
        # One open (or approved, not yet promoted) request per version: a constraint, not a check.
        Index(
            "uq_promotion_requests_active_version",
            "model_name",
            "version",
            unique=True,
            postgresql_where=text("state IN ('open', 'approved')"),
        ),
        Index("ix_promotion_requests_model_requested", "model_name", "requested_at"),
        Index(
            "ix_promotion_requests_baking",
            "bake_state",
            postgresql_where=text("bake_state = 'baking'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    model_name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    justification: Mapped[str] = mapped_column(String(4000))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    version_created_by: Mapped[str] = mapped_column(String(200))
    # binding
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    metrics_sha256: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    champion_version: Mapped[int | None] = mapped_column(Integer)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    # policy-derived, fixed by the server (never by the requester)
    quorum: Mapped[int] = mapped_column(Integer)
    auto_promote: Mapped[bool] = mapped_column(Boolean)
    expires_at: Mapped[datetime]
    # gates
    gates: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    blocking_gates: Mapped[list[str]] = mapped_column(JSONB)
    gates_evaluated_at: Mapped[datetime]
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    override: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # outcome
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    promoted_at: Mapped[datetime | None]
    promoted_by: Mapped[str | None] = mapped_column(String(200))
    previous_version: Mapped[int | None] = mapped_column(Integer)
    # bake period after promotion
    bake_state: Mapped[str | None] = mapped_column(String(20))
    bake_until: Mapped[datetime | None]
    bake_result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime]

    @property
    def override_in_force(self) -> bool:
        """An override counts once confirmed (by a second admin where the policy asks)."""
        override = self.override or {}
        return bool(override) and bool(override.get("confirmed", True))


class PromotionApproval(Base):
    """One reviewer's decision on a request, bound to the request's binding when given."""

    __tablename__ = "promotion_approvals"
    __table_args__ = (
        CheckConstraint("decision IN ('approve', 'reject')", name="decision_known"),
        # A reviewer decides once per binding: voided decisions leave room for a new one.
        Index(
            "uq_promotion_approvals_live_reviewer",
            "request_id",
            "reviewer",
            unique=True,
            postgresql_where=text("voided_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("promotion_requests.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(String(4000))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    metrics_sha256: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    champion_version: Mapped[int | None] = mapped_column(Integer)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime]
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(1000))
