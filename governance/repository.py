"""Every query of the model registry."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from checks.models import Batch
from governance.models import ModelAlias, ModelVersion, RegisteredModel

CHAMPION = "champion"


def batches(session: Session, ids: list[uuid.UUID]) -> list[Batch]:
    """Batches a model version says it trained on."""
    return list(session.scalars(select(Batch).where(Batch.id.in_(ids)))) if ids else []


def get_model(session: Session, name: str, *, for_update: bool = False) -> RegisteredModel | None:
    stmt = select(RegisteredModel).where(RegisteredModel.name == name)
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def list_models(session: Session, *, limit: int, offset: int) -> list[RegisteredModel]:
    stmt = select(RegisteredModel).order_by(RegisteredModel.name).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def list_versions(session: Session, name: str, *, limit: int, offset: int) -> list[ModelVersion]:
    stmt = (
        select(ModelVersion)
        .where(ModelVersion.model_name == name)
        .order_by(ModelVersion.version)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def get_version(session: Session, name: str, version: int) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.model_name == name, ModelVersion.version == version)
    )


def version_by_sha(session: Session, name: str, sha256: str) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(
            ModelVersion.model_name == name, ModelVersion.artifact_sha256 == sha256
        )
    )


def get_alias(
    session: Session, name: str, alias: str = CHAMPION, *, for_update: bool = False
) -> ModelAlias | None:
    stmt = select(ModelAlias).where(ModelAlias.model_name == name, ModelAlias.alias == alias)
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def champions(session: Session, names: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(ModelAlias.model_name, ModelAlias.version).where(
            ModelAlias.alias == CHAMPION, ModelAlias.model_name.in_(names)
        )
    )
    return {name: version for name, version in rows}


def champion_version(session: Session, name: str) -> ModelVersion | None:
    """The version the `champion` alias points at, in one query."""
    return session.scalar(
        select(ModelVersion)
        .join(
            ModelAlias,
            (ModelAlias.model_name == ModelVersion.model_name)
            & (ModelAlias.version == ModelVersion.version),
        )
        .where(ModelAlias.model_name == name, ModelAlias.alias == CHAMPION)
    )
