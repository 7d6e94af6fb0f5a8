"""Every query of the model registry."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from governance.registry.models import ChampionChange, ModelAlias, ModelVersion, RegisteredModel

CHAMPION = "champion"


def posted_datasets(session: Session, contract_versions: set[tuple[str, str]]) -> set[str]:
    """`namespace:name` of the datasets these contract versions describe (what producers post)."""
    from contracts import repository as contracts_repo

    found = set()
    for contract_id, version in contract_versions:
        row = contracts_repo.get_version(session, contract_id, version)
        dataset = (row.spec or {}).get("dataset") if row is not None else None
        if isinstance(dataset, dict) and dataset.get("namespace") and dataset.get("name"):
            found.add(f"{dataset['namespace']}:{dataset['name']}")
    return found


def contract_versions(session: Session, contract_ids: list[str]) -> dict[str, dict[str, str]]:
    """For each contract: its latest version and the status of every version."""
    from contracts import repository as contracts_repo

    found: dict[str, dict[str, str]] = {}
    for contract_id in contract_ids:
        contract = contracts_repo.get_contract(session, contract_id)
        if contract is None:
            continue
        found[contract_id] = {
            "latest": contract.latest_version,
            **{v.version: v.status for v in contracts_repo.list_versions(session, contract_id)},
        }
    return found


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


def lock_champion(session: Session, name: str) -> ModelAlias | None:
    """Lock the model's row, then its champion alias, and return the alias as committed now.

    Every move of the champion takes these locks first, so "compare the champion, then move
    it" is one atomic step even when there is no alias row yet to lock (two first promotions
    once raced into a unique violation). `FOR NO KEY UPDATE` leaves the foreign-key checks of
    new versions and requests unblocked; `populate_existing` refreshes an alias this session
    read before the lock.
    """
    session.execute(
        select(RegisteredModel.name)
        .where(RegisteredModel.name == name)
        .with_for_update(key_share=True)
    )
    stmt = select(ModelAlias).where(ModelAlias.model_name == name, ModelAlias.alias == CHAMPION)
    return session.scalar(stmt.with_for_update().execution_options(populate_existing=True))


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


def champion_changes(session: Session, name: str) -> list[ChampionChange]:
    """Every move of the model's champion, oldest first."""
    return list(
        session.scalars(
            select(ChampionChange)
            .where(ChampionChange.model_name == name)
            .order_by(ChampionChange.id)
        )
    )


def champion_moved_since(session: Session, name: str, at: datetime) -> bool:
    """Whether the model's champion moved at or after `at`."""
    moved = session.scalar(
        select(ChampionChange.id)
        .where(ChampionChange.model_name == name, ChampionChange.at >= at)
        .limit(1)
    )
    return moved is not None


def training_batch_ids(session: Session, name: str, version: int) -> list[uuid.UUID]:
    """Batch ids a model version lists as its training data (entries without one skipped)."""
    rows = session.execute(
        text(
            "SELECT e->>'batch_id' FROM model_versions v, jsonb_array_elements(v.training_data) e "
            "WHERE v.model_name = :m AND v.version = :v AND e ? 'batch_id'"
        ),
        {"m": name, "v": version},
    )
    out = []
    for (raw,) in rows:
        try:
            out.append(uuid.UUID(raw))
        except (TypeError, ValueError):
            continue
    return out
