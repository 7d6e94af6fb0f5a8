"""HTTP routes of runbooks: the catalog, and one runbook as Markdown or JSON."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from core.http import Viewer
from core.schemas import ResponseModel
from incidents import runbooks

router = APIRouter(tags=["runbooks"])
MARKDOWN = "text/markdown; charset=utf-8"


class RunbookSummary(ResponseModel):
    name: str = Field(description="Runbook name (`docs/runbooks/<name>.md`).")
    title: str = Field(description="Its first heading.")
    applies_to: str = Field(description="The alerts and incidents it is for.")


class RunbookRead(RunbookSummary):
    markdown: str = Field(description="The whole runbook as Markdown.")


@router.get("/runbooks", response_model=list[RunbookSummary])
def list_runbooks(_: Viewer) -> list[RunbookSummary]:
    """Every runbook: name, title and what it applies to."""
    return [RunbookSummary.model_validate(r) for r in runbooks.list_runbooks()]


@router.get(
    "/runbooks/{name}",
    response_model=RunbookRead,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
def get_runbook(
    name: Annotated[str, Path(max_length=100, description="Runbook name.")],
    _: Viewer,
    format: Annotated[
        Literal["markdown", "json"], Query(description="`markdown` (default) or `json`.")
    ] = "markdown",
) -> Response | RunbookRead:
    """One runbook, as Markdown (default) or JSON with its title."""
    book = runbooks.read_runbook(name)
    if format == "json":
        return RunbookRead.model_validate(book)
    return Response(book.markdown, media_type=MARKDOWN)
