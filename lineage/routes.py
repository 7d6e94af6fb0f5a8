"""HTTP routes of lineage: Marquez-compatible ingest and reads, impact, provenance, columns."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.auth import Principal, Role, authenticate
from core.errors import DriftgateError, PayloadTooLarge, UnsupportedMediaType
from core.http import DbSession, Viewer, header_bearer_token, require
from lineage import emit, graph, service
from lineage.schemas import Graph, ImpactRead, ProvenanceRead, RunRead
from lineage.validate import parse_body, warm_up
from lineage.writer import DedicatedConnection, GroupCommitWriter

PRODUCER_ROLES = (Role.producer, Role.admin)
_may_post = require(*PRODUCER_ROLES)
# Events up to this size are validated on the event loop (well under a millisecond); larger
# ones in a worker thread, so one huge event cannot stall every other request.
INLINE_PREPARE_BYTES = 64 * 1024


def authorize_producer(session: Session, token: str) -> Principal:
    """The token's principal, if it may post lineage (401 unknown/revoked, 403 wrong role)."""
    return _may_post(authenticate(session, token))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Give the app's sessions the lineage namespace and forwarder; compile the validators;
    start the group-commit writer of ingest."""
    settings = app.state.settings
    forwarder = emit.http_forwarder(settings)
    info: dict[str, Any] = {}
    emit.configure_sessions(info, settings, forwarder)
    factory = getattr(app.state, "session_factory", None)
    writer = connection = None
    if factory is not None:
        factory.configure(info=info)
        connection = DedicatedConnection(factory)
        writer = GroupCommitWriter(connection, authorize_producer, roles=PRODUCER_ROLES)
        writer.start()
        app.state.lineage_writer = writer
    await run_in_threadpool(warm_up)
    try:
        yield
    finally:
        if writer is not None:
            await run_in_threadpool(writer.stop)
        if connection is not None:
            connection.close()
        if forwarder is not None:
            await run_in_threadpool(forwarder.flush, 5.0)


async def lineage_writer(request: Request) -> GroupCommitWriter:
    """The app's ingest writer (a dependency, so tests can hand in their own)."""
    writer: GroupCommitWriter = request.app.state.lineage_writer
    return writer


Writer = Annotated[GroupCommitWriter, Depends(lineage_writer)]


router = APIRouter(tags=["lineage"], lifespan=lifespan)

Depth = Annotated[int, Query(ge=0, le=100, description="How many runs (jobs) to walk.")]
NodeParam = Annotated[
    str,
    Query(
        min_length=3,
        max_length=4000,
        description="`dataset:NS:NAME[#VERSION]`, `job:NS:NAME`, `run:ID` or "
        "`datasetField:NS:NAME:FIELD[#VERSION]`.",
    ),
]
DirectionParam = Annotated[
    Literal["upstream", "downstream", "both"], Query(description="Which way to walk.")
]

_EVENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One OpenLineage RunEvent, DatasetEvent or JobEvent (JSON, optionally "
        "gzip Content-Encoding), as openlineage-python's HttpTransport sends it.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    # The token is read by the route itself (see post_lineage), not by a dependency.
    "security": [{"HTTPBearer": []}],
}


async def _event_body(request: Request, limit: int) -> bytes:
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(
            f"send OpenLineage events as application/json, not {media}",
            field="Content-Type",
            rule="application_json",
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(
                f"an OpenLineage event may be at most {limit} bytes",
                field="body",
                rule="lineage_max_event_bytes",
            )
    if request.headers.get("content-encoding", "").lower() == "gzip":
        return _gunzip(bytes(body), limit)
    return bytes(body)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        from lineage.errors import UnreadableLineageEvent

        raise UnreadableLineageEvent(
            f"the gzip body cannot be decoded: {exc}", field="body", rule="gzip"
        ) from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(
            f"the decoded OpenLineage event exceeds {limit} bytes",
            field="body",
            rule="lineage_max_event_bytes",
        )
    return out


@router.post(
    "/api/v1/lineage",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    openapi_extra=_EVENT_BODY,
    responses={201: {"description": "Stored (or already stored: redelivery is a no-op)."}},
)
async def post_lineage(request: Request, writer: Writer) -> Response:
    """Accept one OpenLineage event exactly as Marquez does (201, empty body)."""
    return await ingest(request, writer)


async def ingest(request: Request, writer: GroupCommitWriter) -> Response:
    """The ingest route's work, also served ahead of the router (`api.lineage_ingest`)."""
    token = header_bearer_token(request)
    try:
        raw = await _event_body(request, request.app.state.settings.lineage_max_event_bytes)
        namespace = request.app.state.settings.lineage_namespace
        if len(raw) <= INLINE_PREPARE_BYTES:
            event = _prepare(raw, namespace)
        else:
            event = await run_in_threadpool(_prepare, raw, namespace)
    except DriftgateError:
        # As with any other route, who you are is checked before what you sent.
        await writer.authorize(token)
        raise
    # The writer authorizes the token in the transaction that writes the event.
    result = await writer.submit(token, event)
    headers = {"Lineage-Duplicate": "true" if result.duplicate else "false"}
    if event.lenient:  # accepted as Marquez would; the audit entry lists the paths
        headers["Lineage-Lenient"] = str(len(event.lenient))
    return Response(status_code=status.HTTP_201_CREATED, headers=headers)


def _prepare(raw: bytes, namespace: str) -> service.PreparedEvent:
    """Events from outside may not write driftgate's own jobs (`service.refuse_reserved`)."""
    return service.prepare_event(
        parse_body(raw), check_nul=b"\\u0000" in raw, reserved_namespace=namespace
    )


@router.get("/lineage/graph", response_model=Graph)
def get_graph(
    session: DbSession,
    _: Viewer,
    node: NodeParam,
    depth: Depth = 5,
    direction: DirectionParam = "both",
) -> dict[str, Any]:
    """The lineage graph around a node, shaped like Marquez's `GET /api/v1/lineage`."""
    return graph.lineage_graph(session, node=node, depth=depth, direction=direction)


@router.get("/api/v1/lineage", response_model=Graph)
def get_marquez_lineage(
    session: DbSession,
    _: Viewer,
    node_id: Annotated[str, Query(alias="nodeId", min_length=3, max_length=4000)],
    depth: Depth = 20,
) -> dict[str, Any]:
    """Marquez's lineage read, for tools that already speak it."""
    return graph.lineage_graph(session, node=node_id, depth=depth, direction="both")


@router.get("/lineage/columns", response_model=Graph)
def get_columns(
    session: DbSession,
    _: Viewer,
    node: NodeParam,
    depth: Depth = 10,
    direction: DirectionParam = "both",
) -> dict[str, Any]:
    """Column-level lineage around a field (`datasetField:NS:NAME:FIELD[#VERSION]`) or every
    field of a dataset (`dataset:NS:NAME[#VERSION]`), from columnLineage facets."""
    return graph.column_graph(session, node=node, depth=depth, direction=direction)


@router.get("/api/v1/column-lineage", response_model=Graph)
def get_marquez_column_lineage(
    session: DbSession,
    _: Viewer,
    node_id: Annotated[str, Query(alias="nodeId", min_length=3, max_length=4000)],
    depth: Depth = 20,
    with_downstream: Annotated[bool, Query(alias="withDownstream")] = False,
) -> dict[str, Any]:
    """Marquez's column-lineage read (upstream, plus downstream when asked); `dataset:` and
    `datasetField:` node ids, versioned or not, as Marquez takes them."""
    return graph.column_graph(
        session, node=node_id, depth=depth, direction="both" if with_downstream else "upstream"
    )


@router.get("/lineage/impact", response_model=ImpactRead)
def get_impact(
    session: DbSession,
    _: Viewer,
    dataset: Annotated[
        str | None, Query(max_length=4000, description="`NS:NAME` or `dataset:NS:NAME`.")
    ] = None,
    version: Annotated[
        str | None, Query(max_length=500, description="Dataset version; default the newest.")
    ] = None,
    batch: Annotated[uuid.UUID | None, Query(description="A driftgate batch id instead.")] = None,
    run: Annotated[uuid.UUID | None, Query(description="A run id: its outputs.")] = None,
    depth: Depth = 10,
) -> dict[str, Any]:
    """Everything downstream of a dataset version: datasets, model versions, predictions."""
    return graph.impact(
        session, dataset=dataset, version=version, batch=batch, run=run, depth=depth
    )


@router.get("/lineage/provenance", response_model=ProvenanceRead)
def get_provenance(
    session: DbSession, _: Viewer, node: NodeParam, depth: Depth = 10
) -> dict[str, Any]:
    """Everything upstream of a node: datasets, runs, batches, contract versions, checks."""
    return graph.provenance(session, node=node, depth=depth)


@router.get("/lineage/runs/{run_id}", response_model=RunRead)
def get_run(run_id: uuid.UUID, session: DbSession, _: Viewer) -> dict[str, Any]:
    """A run: state, state history, parent and children, inputs, outputs, facets."""
    return graph.run_detail(session, run_id)
