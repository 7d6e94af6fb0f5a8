"""HTTP routes of ranking, delayed labels and the prediction log."""

from __future__ import annotations

import uuid
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from core.auth import Principal
from core.clock import utcnow
from core.http import Credentials, DbSession, Producer, Viewer, bearer_token
from ranker import ranking, repository
from ranker.callers import CallerCache
from ranker.errors import NoChampionServed, PredictionNotFound
from ranker.features import NUMERIC_FEATURES
from ranker.labels import record_labels
from ranker.prediction_rows import unpack
from ranker.predlog import PredictionLogger
from ranker.schemas import (
    LabelsCreate,
    LabelsReport,
    PredictionRead,
    RankRequest,
    RankResponse,
    ServingStatus,
)
from ranker.serving import ModelHolder

router = APIRouter(tags=["ranking"])


class Serving(Protocol):
    model_name: str
    holder: ModelHolder
    logger: PredictionLogger | None
    max_candidates: int


def _serving(request: Request) -> Serving:
    serving: Serving | None = getattr(request.app.state, "ranker", None)
    if serving is None:
        raise NoChampionServed("ranking is switched off in this process", rule="serving_enabled")
    return serving


async def rank_caller(request: Request, credentials: Credentials) -> Principal:
    """Any role may rank; the token is checked against a short-lived in-memory cache (made in
    the app's lifespan: `api.app`)."""
    token = bearer_token(credentials)
    state = request.app.state
    cache: CallerCache = state.rank_callers
    return await cache.principal(token, state.session_factory)


RankCaller = Annotated[Principal, Depends(rank_caller)]


@router.post(
    "/rank",
    response_model=RankResponse,
    responses={503: {"description": "No champion is loaded yet."}},
)
async def rank(body: RankRequest, request: Request, _: RankCaller) -> Response:
    """Order candidate items for a user with the champion model; every score is logged."""
    serving = _serving(request)
    body_json = ranking.rank(
        serving.holder,
        serving.logger,
        body,
        now=utcnow(),
        max_candidates=serving.max_candidates,
        model_name=serving.model_name,
    )
    return Response(body_json, media_type="application/json")


@router.get("/rank/status", response_model=ServingStatus)
def rank_status(request: Request, _: Viewer) -> ServingStatus:
    """Which version (and artifact sha256) is served, which is champion, and the log backlog."""
    serving = _serving(request)
    current, champion, logger = serving.holder.current, serving.holder.champion, serving.logger
    return ServingStatus(
        model_name=serving.model_name,
        serving=current is not None,
        served_version=current.ref.version if current else None,
        served_sha256=current.ref.sha256 if current else None,
        champion_version=champion.version if champion else None,
        champion_sha256=champion.sha256 if champion else None,
        checked_at=serving.holder.checked_at,
        poll_seconds=serving.holder.poll_seconds,
        last_load_seconds=serving.holder.last_load_seconds,
        loaded_at=current.loaded_at if current else None,
        swaps=serving.holder.swaps,
        last_error=serving.holder.last_error,
        features_as_of=current.features_as_of if current else None,
        feature_refreshes=current.feature_refreshes if current else 0,
        last_feature_error=serving.holder.last_feature_error,
        pending_predictions=logger.pending_rows if logger else 0,
        written_predictions=logger.written_rows if logger else 0,
    )


@router.post("/labels", response_model=LabelsReport)
async def post_labels(
    body: LabelsCreate, request: Request, session: DbSession, actor: Producer
) -> LabelsReport:
    """Record delayed outcomes; each joins its logged prediction, unknown ones are reported."""
    serving: Serving | None = getattr(request.app.state, "ranker", None)
    if serving is not None and serving.logger is not None:
        # Predictions still buffered in this process must be in Postgres before the join.
        await run_in_threadpool(serving.logger.flush)
    report = await run_in_threadpool(record_labels, session, actor, labels=body.labels)
    return LabelsReport.model_validate(report, from_attributes=True)


@router.get("/predictions/{prediction_id}", response_model=PredictionRead)
def get_prediction(prediction_id: uuid.UUID, session: DbSession, _: Viewer) -> PredictionRead:
    """One logged prediction with its features by name and its joined label, if any."""
    row = repository.get_prediction(session, prediction_id)
    if row is None:
        raise PredictionNotFound(f"no logged prediction {prediction_id}", field="prediction_id")
    label = repository.get_label(session, prediction_id)
    return PredictionRead(
        prediction_id=row.prediction_id,
        request_id=row.request_id,
        served_at=row.served_at,
        model_name=row.model_name,
        model_version=row.model_version,
        user_id=row.user_id,
        item_id=row.item_id,
        position=row.position,
        score=row.score,
        surface=row.surface,
        features=dict(zip(NUMERIC_FEATURES, unpack(row.features).tolist(), strict=False)),
        label=None
        if label is None
        else {
            "clicked": label.clicked,
            "dwell_ms": label.dwell_ms,
            "label_time": label.label_time.isoformat(),
        },
    )
