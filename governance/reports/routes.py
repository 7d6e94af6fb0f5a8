"""HTTP routes of a model's read-only reports: its history and its model cards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from core.bounds import INT32_MAX
from core.http import AppSettings, DbSession, Viewer
from governance.registry.schemas import MODEL_NAME
from governance.reports import card, history
from governance.reports.schemas import HistoryEntry

router = APIRouter(tags=["promotions"])

ModelName = Annotated[str, Path(pattern=MODEL_NAME, description="Model name.")]
VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="Version number.")]


@router.get("/models/{name}/history", response_model=list[HistoryEntry])
def model_history(
    name: ModelName,
    session: DbSession,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[HistoryEntry]:
    """The model's timeline from the audit trail: requests, gates, approvals, promotions,
    rollbacks, bake verdicts, incidents."""
    return [
        HistoryEntry.model_validate(e) for e in history.model_history(session, name, limit=limit)
    ]


@router.get(
    "/models/{name}/versions/{version}/card",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {}}, "description": "The model card."}},
)
def model_card(
    name: ModelName, version: VersionNumber, session: DbSession, _: Viewer, settings: AppSettings
) -> PlainTextResponse:
    """The version's model card in Markdown."""
    text = card.model_card(session, name=name, version=version, settings=settings)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
