"""HTTP routes of the model registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import JSONResponse

from core.bounds import INT32_MAX, INT64_MAX
from core.http import Admin, AppSettings, DbSession, Producer, Viewer
from governance.promotions import break_glass
from governance.promotions.break_glass import Proposal
from governance.registry import repository, service
from governance.registry.schemas import (
    MODEL_NAME,
    BreakGlassProposalRead,
    ChampionRead,
    ChampionSet,
    ModelRead,
    ModelVersionCreate,
    ModelVersionRead,
)

router = APIRouter(prefix="/models", tags=["models"])

ModelName = Annotated[str, Path(pattern=MODEL_NAME, description="Model name.")]
VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="Version number.")]


@router.post(
    "/{name}/versions", status_code=status.HTTP_201_CREATED, response_model=ModelVersionRead
)
def register_version(
    name: ModelName,
    body: ModelVersionCreate,
    response: Response,
    session: DbSession,
    actor: Producer,
    settings: AppSettings,
) -> ModelVersionRead:
    """Register a new immutable version: artifact (sha256-verified), signature, metrics, data."""
    row = service.register_version(session, actor, name=name, body=body, data_dir=settings.data_dir)
    response.headers["Location"] = f"/models/{name}/versions/{row.version}"
    return ModelVersionRead.model_validate(row)


@router.get("", response_model=list[ModelRead])
def list_models(
    session: DbSession,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> list[ModelRead]:
    """List registered models with their latest and champion versions."""
    return [
        ModelRead.model_validate(m)
        for m in service.list_models(session, limit=limit, offset=offset)
    ]


@router.get("/{name}", response_model=ModelRead)
def get_model(name: ModelName, session: DbSession, _: Viewer) -> ModelRead:
    """Show a model with its latest and champion versions."""
    return ModelRead.model_validate(service.model_summary(session, name))


@router.get("/{name}/versions", response_model=list[ModelVersionRead])
def list_versions(
    name: ModelName,
    session: DbSession,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> list[ModelVersionRead]:
    """List a model's versions, oldest first."""
    service.get_model(session, name)
    rows = repository.list_versions(session, name, limit=limit, offset=offset)
    return [ModelVersionRead.model_validate(r) for r in rows]


@router.get("/{name}/versions/{version}", response_model=ModelVersionRead)
def get_version(
    name: ModelName, version: VersionNumber, session: DbSession, _: Viewer
) -> ModelVersionRead:
    """Show one version with its artifact, signature, metrics and training data."""
    return ModelVersionRead.model_validate(service.get_version(session, name, version))


@router.get("/{name}/champion", response_model=ChampionRead)
def get_champion(name: ModelName, session: DbSession, _: Viewer) -> ChampionRead:
    """Which version the `champion` alias points at."""
    return ChampionRead.model_validate(service.get_champion(session, name))


@router.put(
    "/{name}/champion",
    response_model=ChampionRead,
    responses={
        202: {
            "model": BreakGlassProposalRead,
            "description": "Proposed; a second "
            "admin must repeat the same move (policy `break_glass.second_principal`).",
        }
    },
)
def set_champion(
    name: ModelName, body: ChampionSet, session: DbSession, actor: Admin
) -> ChampionRead | JSONResponse:
    """Break glass: point `champion` at a version without approvals (admin, reason, audited)."""
    result = break_glass.set_champion(
        session, actor, name=name, version=body.version, reason=body.reason
    )
    if isinstance(result, Proposal):
        doc = BreakGlassProposalRead.model_validate(result, from_attributes=True)
        return JSONResponse(doc.model_dump(mode="json"), status_code=202)
    return ChampionRead.model_validate(result)
