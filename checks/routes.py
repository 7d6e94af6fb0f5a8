"""HTTP routes of batch intake and results."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from checks import service
from checks.schemas import (
    BatchCounts,
    BatchDetail,
    BatchRead,
    FreshnessRead,
    ProfileRead,
    QuarantinePage,
    RuleResultRead,
)
from checks.uploads import spool_batch_body
from core.bounds import INT64_MAX, IsoDateTime
from core.http import AppSettings, DbSession, Producer, Viewer

router = APIRouter(tags=["batches"])

_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "description": "The batch as Parquet, CSV or NDJSON (raw body or multipart `file`).",
        "content": {
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.post(
    "/batches",
    status_code=status.HTTP_201_CREATED,
    response_model=BatchDetail,
    openapi_extra=_BATCH_BODY,
)
async def submit_batch(
    request: Request,
    response: Response,
    session: DbSession,
    actor: Producer,
    settings: AppSettings,
    contract: Annotated[str, Query(min_length=1, max_length=100, description="Contract id.")],
    version: Annotated[
        str | None, Query(max_length=100, description="Contract version; default newest active.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=255, description="Retry key."),
    ] = None,
) -> BatchDetail:
    """Validate a batch against its contract; bad rows are quarantined with reasons."""
    body = await spool_batch_body(request, settings.data_dir / "incoming")
    try:
        submission = await run_in_threadpool(
            service.submit_batch,
            session,
            actor,
            contract_id=contract,
            version=version,
            body=body,
            data_dir=settings.data_dir,
            idempotency_key=idempotency_key,
            example_values=settings.example_values,
            category_cap=settings.profile_category_cap,
        )
    finally:
        body.path.unlink(missing_ok=True)
    if submission.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/batches/{submission.batch.id}"
    return _detail(session, submission.batch.id)


def _detail(session: DbSession, batch_id: uuid.UUID) -> BatchDetail:
    batch, rules = service.batch_details(session, batch_id)
    return BatchDetail(
        **BatchRead.model_validate(batch).model_dump(),
        rules=[RuleResultRead.model_validate(r) for r in rules],
    )


@router.get("/batches", response_model=list[BatchRead])
def list_batches(
    session: DbSession,
    _: Viewer,
    contract: Annotated[
        str | None, Query(max_length=100, description="Only this contract.")
    ] = None,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(passed|warned|quarantined|rejected)$")
    ] = None,
    since: Annotated[IsoDateTime | None, Query(description="Received at or after.")] = None,
    until: Annotated[IsoDateTime | None, Query(description="Received before (exclusive).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> list[BatchRead]:
    """List batches, newest first."""
    rows = service.list_batches(
        session,
        contract_id=contract,
        status=status_,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return [BatchRead.model_validate(b) for b in rows]


@router.get("/batches/counts", response_model=BatchCounts)
def count_batches(
    session: DbSession,
    _: Viewer,
    contract: Annotated[
        str | None, Query(max_length=100, description="Only this contract.")
    ] = None,
    since: Annotated[IsoDateTime | None, Query(description="Received at or after.")] = None,
    until: Annotated[IsoDateTime | None, Query(description="Received before (exclusive).")] = None,
) -> BatchCounts:
    """Count batches by status (e.g. the last 24 hours) without reading them."""
    counts = service.batch_counts(session, contract_id=contract, since=since, until=until)
    return BatchCounts.model_validate(counts)


@router.get("/batches/{batch_id}", response_model=BatchDetail)
def get_batch(batch_id: uuid.UUID, session: DbSession, _: Viewer) -> BatchDetail:
    """Show a batch with one result per rule."""
    return _detail(session, batch_id)


@router.get("/batches/{batch_id}/quarantine", response_model=QuarantinePage)
def get_quarantine(
    batch_id: uuid.UUID,
    session: DbSession,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> QuarantinePage:
    """The quarantined rows with their original values, rule ids and reasons."""
    batch, rows = service.quarantined_rows(session, batch_id, limit=limit, offset=offset)
    return QuarantinePage(batch_id=batch.id, total=batch.rows_quarantined, offset=offset, rows=rows)


@router.get("/batches/{batch_id}/profile", response_model=ProfileRead)
def get_profile(batch_id: uuid.UUID, session: DbSession, _: Viewer) -> ProfileRead:
    """Per-column profile of the accepted rows (counts, moments, sketch, top values)."""
    profiles = service.batch_profile(session, batch_id)
    return ProfileRead(batch_id=batch_id, columns={p.field: p.profile for p in profiles})


@router.get("/contracts/{contract_id}/freshness", response_model=FreshnessRead, tags=["contracts"])
def get_freshness(contract_id: str, session: DbSession, _: Viewer) -> FreshnessRead:
    """Whether batches arrive on cadence and the newest data is within the freshness SLA."""
    return FreshnessRead(**service.contract_freshness(session, contract_id))
