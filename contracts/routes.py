"""HTTP routes of the contracts domain: parse, authorize, call one service function, shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from contracts import impact, service
from contracts.loader import load_contract_document, load_contract_documents, parse_document
from contracts.models import ContractVersion
from contracts.schemas import (
    ChangeRead,
    ContractImpactRead,
    ContractRead,
    ContractsImported,
    ContractVersionCreated,
    ContractVersionRead,
    DeprecateRequest,
    DiffRead,
)
from contracts.spec import ContractSpec
from core.bounds import INT64_MAX
from core.http import Admin, DbSession, Viewer

router = APIRouter(prefix="/contracts", tags=["contracts"])

_DOCUMENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A driftgate contract or an ODCS v3 document, as YAML or JSON.",
        "content": {
            "application/yaml": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}

ImpactDepth = Annotated[int, Query(ge=0, le=100, description="How many runs (jobs) to walk.")]

Format = Annotated[
    Literal["auto", "driftgate", "odcs"],
    Query(alias="format", description="Document format; `auto` detects ODCS by `kind`."),
]


SchemaName = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=300,
        description="ODCS only: the schema object (`name` or `physicalName`) to import.",
    ),
]


async def _read_spec(
    request: Request,
    fmt: str,
    schema_name: str | None = None,
    contract_id: str | None = None,
) -> tuple[ContractSpec, str, dict[str, Any] | None]:
    doc = parse_document(await request.body())
    return load_contract_document(doc, fmt, schema_name=schema_name, contract_id=contract_id)


def _version_read(row: ContractVersion) -> ContractVersionRead:
    return ContractVersionRead.model_validate(row)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractVersionCreated | ContractsImported,
    openapi_extra=_DOCUMENT_BODY,
)
async def register_contract(
    request: Request,
    session: DbSession,
    actor: Admin,
    fmt: Format = "auto",
    schema_name: SchemaName = None,
) -> ContractVersionCreated | ContractsImported:
    """Register a new contract with its first version; an ODCS document with several schema
    objects registers one contract per object, all or none (or only `schema_name`)."""
    loaded = load_contract_documents(
        parse_document(await request.body()), fmt, schema_name=schema_name
    )
    rows = service.register_contracts(session, actor, loaded=loaded)
    created = [ContractVersionCreated.model_validate(row) for row in rows]
    return created[0] if len(created) == 1 else ContractsImported(contracts=created)


@router.get("", response_model=list[ContractRead])
def list_contracts(
    session: DbSession,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> list[ContractRead]:
    """List registered contracts."""
    return [
        ContractRead.model_validate(c)
        for c in service.list_contracts(session, limit=limit, offset=offset)
    ]


@router.get("/{contract_id}", response_model=ContractRead)
def get_contract(contract_id: str, session: DbSession, _: Viewer) -> ContractRead:
    """Show one contract."""
    return ContractRead.model_validate(service.get_contract(session, contract_id))


@router.get("/{contract_id}/versions", response_model=list[ContractVersionRead])
def list_versions(contract_id: str, session: DbSession, _: Viewer) -> list[ContractVersionRead]:
    """List a contract's versions, oldest first."""
    return [_version_read(v) for v in service.list_versions(session, contract_id)]


@router.post(
    "/{contract_id}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractVersionCreated,
    openapi_extra=_DOCUMENT_BODY,
)
async def add_version(
    contract_id: str,
    request: Request,
    session: DbSession,
    actor: Admin,
    fmt: Format = "auto",
    schema_name: SchemaName = None,
) -> ContractVersionCreated:
    """Add a version; incompatible changes without a major bump get 409 listing each one."""
    spec, source, report = await _read_spec(request, fmt, schema_name, contract_id)
    row, changes = service.add_version(
        session,
        actor,
        contract_id=contract_id,
        spec=spec,
        source_format=source,
        import_report=report,
    )
    out = ContractVersionCreated.model_validate(row)
    out.changes = [ChangeRead(**c.to_json()) for c in changes]
    return out


@router.get("/{contract_id}/versions/{version}", response_model=ContractVersionRead)
def get_version(
    contract_id: str, version: str, session: DbSession, _: Viewer
) -> ContractVersionRead:
    """Show one version with its full spec."""
    return _version_read(service.get_version(session, contract_id, version))


@router.post("/{contract_id}/versions/{version}/deprecate", response_model=ContractVersionRead)
def deprecate_version(
    contract_id: str, version: str, body: DeprecateRequest, session: DbSession, actor: Admin
) -> ContractVersionRead:
    """Deprecate a version: batches against it are flagged and it is no longer the default."""
    row = service.deprecate_version(
        session, actor, contract_id=contract_id, version=version, reason=body.reason
    )
    return _version_read(row)


@router.get("/{contract_id}/diff", response_model=DiffRead)
def diff_versions(
    contract_id: str,
    session: DbSession,
    _: Viewer,
    from_version: Annotated[str, Query(alias="from", description="Base version.")],
    to_version: Annotated[str, Query(alias="to", description="Compared version.")],
) -> DiffRead:
    """Diff two versions, classifying each change by the compatibility it breaks."""
    changes, verdicts = service.diff_versions(
        session, contract_id, from_version=from_version, to_version=to_version
    )
    return DiffRead(
        contract_id=contract_id,
        from_version=from_version,
        to_version=to_version,
        changes=[ChangeRead(**c.to_json()) for c in changes],
        breaking_under=verdicts,
    )


@router.get("/{contract_id}/expectations")
def gx_expectations(
    contract_id: str,
    session: DbSession,
    _: Viewer,
    version: Annotated[str | None, Query(description="Version; default the newest active.")] = None,
) -> dict[str, Any]:
    """The contract version as a Great Expectations 1.x expectation suite (JSON)."""
    from contracts.gx_export import to_gx_suite_json

    row = service.resolve_version(session, contract_id, version)
    return to_gx_suite_json(service.spec_of(row))


@router.get(
    "/{contract_id}/pandera",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"application/yaml": {}, "application/json": {}},
            "description": "A pandera DataFrameSchema as `to_yaml`/`to_json` write it.",
        }
    },
)
def pandera_schema(
    contract_id: str,
    session: DbSession,
    _: Viewer,
    version: Annotated[str | None, Query(description="Version; default the newest active.")] = None,
    fmt: Annotated[
        Literal["yaml", "json"], Query(alias="format", description="Serialization.")
    ] = "yaml",
) -> PlainTextResponse:
    """The contract version as a pandera schema that `DataFrameSchema.from_yaml` loads (after
    `contracts.pandera_checks.register()`)."""
    from contracts import pandera_export

    spec = service.spec_of(service.resolve_version(session, contract_id, version))
    if fmt == "json":
        return PlainTextResponse(pandera_export.to_json(spec), media_type="application/json")
    return PlainTextResponse(pandera_export.to_yaml(spec), media_type="application/yaml")


# Impact walks the lineage store, so its routes are listed under lineage too.
@router.get("/{contract_id}/impact", response_model=ContractImpactRead, tags=["lineage"])
def get_contract_impact(
    contract_id: str,
    session: DbSession,
    _: Viewer,
    version: Annotated[str, Query(max_length=100, description="The new version.")],
    against: Annotated[
        str | None, Query(max_length=100, description="Compare with; default the previous.")
    ] = None,
    depth: ImpactDepth = 10,
) -> dict[str, Any]:
    """What a contract version's dropped or changed fields reach downstream."""
    return impact.contract_version_impact(
        session, contract_id=contract_id, version=version, against=against, depth=depth
    )


@router.post(
    "/{contract_id}/impact",
    response_model=ContractImpactRead,
    tags=["lineage"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A proposed contract document (YAML or JSON, driftgate or ODCS v3).",
            "content": {
                "application/yaml": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def post_contract_impact(
    contract_id: str,
    request: Request,
    session: DbSession,
    _: Viewer,
    against: Annotated[
        str | None, Query(max_length=100, description="Compare with; default the latest.")
    ] = None,
    depth: ImpactDepth = 10,
) -> dict[str, Any]:
    """What a proposed (unregistered) contract version would reach downstream; stores nothing."""
    spec, _source, _report = await _read_spec(request, "auto", contract_id=contract_id)
    return await run_in_threadpool(
        impact.proposed_impact,
        session,
        contract_id=contract_id,
        spec=spec,
        against=against,
        depth=depth,
    )
