"""The model registry: registered models, their immutable versions, aliases (`champion`), and
the history of every champion move (which rollback walks back through)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class RegisteredModel(Base):
    __tablename__ = "registered_models"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    latest_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class ModelVersion(Base):
    """One trained artifact. Rows never change once written (a trigger refuses UPDATE/DELETE)."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_name", "version"),
        UniqueConstraint("model_name", "artifact_sha256"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    model_name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"))
    version: Mapped[int] = mapped_column(Integer)
    artifact_uri: Mapped[str] = mapped_column(String(1000))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_bytes: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[dict[str, Any]] = mapped_column(JSONB)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB)
    training_data: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    contract_versions: Mapped[dict[str, list[str]]] = mapped_column(JSONB)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class ModelAlias(Base):
    """A movable name for one version of a model; `champion` is the version /rank serves."""

    __tablename__ = "model_aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_name", "version"],
            ["model_versions.model_name", "model_versions.version"],
            name="fk_model_aliases_version_model_versions",
        ),
    )

    model_name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(2000), default="")
    set_at: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(String(200))


class ChampionChange(Base):
    """Every move of a model's champion alias, in order; rollback replays these as a stack."""

    __tablename__ = "champion_changes"
    __table_args__ = (
        CheckConstraint("via IN ('set', 'promote', 'rollback', 'auto_rollback')", name="via_known"),
        Index("ix_champion_changes_model_id", "model_name", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    model_name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"))
    version: Mapped[int] = mapped_column(Integer)
    previous_version: Mapped[int | None] = mapped_column(Integer)
    via: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("promotion_requests.id"))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(4000))
    at: Mapped[datetime]
