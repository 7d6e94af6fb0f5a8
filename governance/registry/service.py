"""Registry rules: versions are verified on the way in and never change; reads of models,
versions and the champion."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from checks import repository as checks_repo
from core import audit
from core.auth import Principal
from core.clock import utcnow
from core.errors import InvalidInput
from governance.registry import repository
from governance.registry.errors import (
    ArtifactAlreadyRegistered,
    ArtifactMismatch,
    ModelNotFound,
    ModelVersionNotFound,
    TrainingDataMismatch,
)
from governance.registry.models import ModelAlias, ModelVersion, RegisteredModel
from governance.registry.schemas import MODEL_NAME, ModelVersionCreate
from ranker import artifact


def _check_name(name: str) -> None:
    if not re.fullmatch(MODEL_NAME, name):
        raise InvalidInput(
            f"model name {name!r} must match {MODEL_NAME}", field="name", rule="pattern"
        )


def _verify_artifact(body: ModelVersionCreate, data_dir: Path) -> int:
    path = artifact.path_of(body.artifact_uri, data_dir)
    if not path.is_file():
        raise ArtifactMismatch(
            f"no artifact at {body.artifact_uri}", field="artifact_uri", rule="exists"
        )
    actual, size = artifact.sha256_file(path)
    if actual != body.artifact_sha256:
        raise ArtifactMismatch(
            f"the artifact hashes to {actual}, not the given sha256",
            field="artifact_sha256",
            rule="sha256_matches",
        )
    return size


def _verify_training_data(session: Session, body: ModelVersionCreate) -> dict[str, list[str]]:
    """Every named batch exists, was accepted by checks, and is what the reference says."""
    ids = [ref.batch_id for ref in body.training_data]
    found = {b.id: b for b in checks_repo.batches_by_id(session, ids)}
    for i, ref in enumerate(body.training_data):
        batch = found.get(ref.batch_id)
        where = f"training_data[{i}]"
        if batch is None:
            raise TrainingDataMismatch(
                f"{where}: no batch {ref.batch_id}", field=f"{where}.batch_id", rule="exists"
            )
        if batch.status == "rejected":
            raise TrainingDataMismatch(
                f"{where}: batch {ref.batch_id} was rejected; models train on accepted data only",
                field=f"{where}.batch_id",
                rule="accepted",
            )
        for attr in ("contract_id", "contract_version", "accepted_sha256"):
            if getattr(batch, attr) != getattr(ref, attr):
                raise TrainingDataMismatch(
                    f"{where}: {attr} is {getattr(ref, attr)!r}, the batch has "
                    f"{getattr(batch, attr)!r}",
                    field=f"{where}.{attr}",
                    rule="matches_batch",
                )
    derived: dict[str, set[str]] = {}
    for ref in body.training_data:
        derived.setdefault(ref.contract_id, set()).add(ref.contract_version)
    versions = {k: sorted(v) for k, v in sorted(derived.items())}
    if (
        body.contract_versions is not None
        and {k: sorted(v) for k, v in body.contract_versions.items()} != versions
    ):
        raise TrainingDataMismatch(
            f"contract_versions {body.contract_versions} disagree with the training batches "
            f"({versions})",
            field="contract_versions",
            rule="matches_training_data",
        )
    return versions


def register_version(
    session: Session,
    actor: Principal,
    *,
    name: str,
    body: ModelVersionCreate,
    data_dir: Path,
) -> ModelVersion:
    """Verify the artifact and training data, then add the next version (creating the model)."""
    _check_name(name)
    size = _verify_artifact(body, data_dir)
    contract_versions = _verify_training_data(session, body)
    now = utcnow()
    model = repository.get_model(session, name, for_update=True)
    if model is None:
        model = RegisteredModel(
            name=name,
            description=body.description,
            latest_version=0,
            created_at=now,
            created_by=actor.name,
        )
        session.add(model)
        session.flush()
        model = repository.get_model(session, name, for_update=True)
        assert model is not None
    existing = repository.version_by_sha(session, name, body.artifact_sha256)
    if existing is not None:
        raise ArtifactAlreadyRegistered(
            f"this artifact is already version {existing.version} of {name!r}",
            field="artifact_sha256",
            rule="unique_per_model",
            extra={"version": existing.version},
        )
    version = ModelVersion(
        id=uuid.uuid4(),
        model_name=name,
        version=model.latest_version + 1,
        artifact_uri=body.artifact_uri,
        artifact_sha256=body.artifact_sha256,
        artifact_bytes=size,
        signature=body.signature.model_dump(mode="json", exclude_none=True),
        metrics=body.metrics,
        training_data=[r.model_dump(mode="json") for r in body.training_data],
        contract_versions=contract_versions,
        params=body.params,
        description=body.description,
        created_at=now,
        created_by=actor.name,
    )
    session.add(version)
    model.latest_version = version.version
    session.flush()
    _lineage(session, actor, version, batches=len(body.training_data))
    audit.record(
        session,
        actor=actor.name,
        action="model.version.register",
        object_type="model",
        object_id=f"{name}:{version.version}",
        after={
            "version": version.version,
            "artifact_sha256": version.artifact_sha256,
            "batches": len(body.training_data),
            "contract_versions": contract_versions,
        },
    )
    return version


def _lineage(session: Session, actor: Principal, version: ModelVersion, *, batches: int) -> None:
    """One `governance.register` run: read `models/<name>#v`, wrote `registry/<name>#v`.

    What produced `models/<name>#v` is the training's lineage (`ranker.train`, recorded by
    `driftgate ranker train`; a version trained elsewhere may post its own); the registry
    vouches for the artifact and the training batches it names.
    """
    from lineage import emit, naming
    from ranker.lineage_runs import model_links, model_ref

    links = model_links(version.model_name, version.version)
    emit.record_run(
        session,
        actor,
        job=naming.REGISTER_JOB,
        inputs=[model_ref(version.model_name, version.version)],
        outputs=[
            emit.DatasetRef(
                None, naming.registry(version.model_name), version=str(version.version), links=links
            )
        ],
        run_facets={
            "modelRegistration": emit.facet(
                "urn:driftgate:lineage:facets:ModelRegistrationRunFacet:1-0-0",
                artifactUri=version.artifact_uri,
                artifactSha256=version.artifact_sha256,
                artifactBytes=version.artifact_bytes,
                trainingBatches=batches,
                contractVersions=version.contract_versions,
            )
        },
        links=links,
    )


def get_model(session: Session, name: str) -> RegisteredModel:
    model = repository.get_model(session, name)
    if model is None:
        raise ModelNotFound(f"no model {name!r}", field="name")
    return model


def get_version(session: Session, name: str, version: int) -> ModelVersion:
    get_model(session, name)
    row = repository.get_version(session, name, version)
    if row is None:
        raise ModelVersionNotFound(f"model {name!r} has no version {version}", field="version")
    return row


def get_champion(session: Session, name: str) -> ModelAlias:
    get_model(session, name)
    alias = repository.get_alias(session, name)
    if alias is None:
        raise ModelVersionNotFound(f"model {name!r} has no champion yet", field="champion")
    return alias


def list_models(session: Session, *, limit: int, offset: int) -> list[dict[str, Any]]:
    models = repository.list_models(session, limit=limit, offset=offset)
    champs = repository.champions(session, [m.name for m in models])
    return [
        {
            "name": m.name,
            "description": m.description,
            "latest_version": m.latest_version,
            "champion_version": champs.get(m.name),
            "created_at": m.created_at,
            "created_by": m.created_by,
        }
        for m in models
    ]


def model_summary(session: Session, name: str) -> dict[str, Any]:
    m = get_model(session, name)
    alias = repository.get_alias(session, name)
    return {
        "name": m.name,
        "description": m.description,
        "latest_version": m.latest_version,
        "champion_version": alias.version if alias else None,
        "created_at": m.created_at,
        "created_by": m.created_by,
    }


@dataclass(frozen=True)
class ChampionRef:
    """What serving needs to load the champion and verify it."""

    model_name: str
    version: int
    artifact_uri: str
    artifact_sha256: str


def champion_ref(session: Session, name: str) -> ChampionRef | None:
    row = repository.champion_version(session, name)
    if row is None:
        return None
    return ChampionRef(name, row.version, row.artifact_uri, row.artifact_sha256)
