"""HTTP routes of postmortems and their action items."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from core.auth import Principal, Role
from core.bounds import INT64_MAX
from core.http import AppSettings, DbSession, Reviewer, Viewer, require
from incidents.models import Postmortem
from incidents.postmortems import action_items, markdown, records, service
from incidents.postmortems.schemas import (
    ActionItemPage,
    ActionItemPatch,
    ActionItemRead,
    ItemStatus,
    PostmortemRead,
    PostmortemUpdate,
)

router = APIRouter(tags=["postmortems"])

IncidentId = Annotated[uuid.UUID, Path(description="Incident id.")]
PostmortemId = Annotated[uuid.UUID, Path(description="Postmortem revision id.")]
ItemId = Annotated[uuid.UUID, Path(description="Action item id.")]
# Whoever was on call writes the draft; publishing takes a reviewer.
Writer = Annotated[Principal, Depends(require(Role.producer, Role.reviewer, Role.admin))]
MARKDOWN = "text/markdown; charset=utf-8"


def _read(session: Session, pm: Postmortem) -> PostmortemRead:
    return PostmortemRead.model_validate(records.describe(session, pm))


@router.post(
    "/incidents/{incident_id}/postmortem",
    status_code=status.HTTP_201_CREATED,
    response_model=PostmortemRead,
)
def draft(
    incident_id: IncidentId,
    response: Response,
    session: DbSession,
    actor: Writer,
    settings: AppSettings,
) -> PostmortemRead:
    """Draft the incident's postmortem: timeline, times, rows, predictions, budget."""
    pm = service.draft_postmortem(session, actor, incident_id, namespace=settings.lineage_namespace)
    response.headers["Location"] = f"/postmortems/{pm.id}"
    return _read(session, pm)


@router.get("/incidents/{incident_id}/postmortem", response_model=PostmortemRead)
def latest(incident_id: IncidentId, session: DbSession, _: Viewer) -> PostmortemRead:
    """The incident's newest postmortem revision."""
    return _read(session, records.latest_for_incident(session, incident_id))


@router.get("/postmortems/{postmortem_id}", response_model=PostmortemRead)
def get(postmortem_id: PostmortemId, session: DbSession, _: Viewer) -> PostmortemRead:
    """One postmortem revision."""
    return _read(session, records.get_postmortem(session, postmortem_id))


@router.patch("/postmortems/{postmortem_id}", response_model=PostmortemRead)
def update(
    postmortem_id: PostmortemId, body: PostmortemUpdate, session: DbSession, actor: Writer
) -> PostmortemRead:
    """Edit the narrative, lessons and action items of a draft or in-review revision."""
    changes = body.model_dump(exclude_unset=True)
    pm = service.update_postmortem(session, actor, postmortem_id, changes=changes)
    return _read(session, pm)


@router.post("/postmortems/{postmortem_id}/submit", response_model=PostmortemRead)
def submit(postmortem_id: PostmortemId, session: DbSession, actor: Writer) -> PostmortemRead:
    """Send a draft for review."""
    return _read(session, service.submit(session, actor, postmortem_id))


@router.post("/postmortems/{postmortem_id}/publish", response_model=PostmortemRead)
def publish(postmortem_id: PostmortemId, session: DbSession, actor: Reviewer) -> PostmortemRead:
    """Publish a revision in review (reviewer or admin); it never changes afterwards."""
    return _read(session, service.publish(session, actor, postmortem_id))


@router.post(
    "/postmortems/{postmortem_id}/revisions",
    status_code=status.HTTP_201_CREATED,
    response_model=PostmortemRead,
)
def revise(
    postmortem_id: PostmortemId, response: Response, session: DbSession, actor: Writer
) -> PostmortemRead:
    """Amend a published revision: a new draft revision copying it."""
    pm = service.revise(session, actor, postmortem_id)
    response.headers["Location"] = f"/postmortems/{pm.id}"
    return _read(session, pm)


@router.get(
    "/postmortems/{postmortem_id}/markdown",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
def as_markdown(
    postmortem_id: PostmortemId, session: DbSession, _: Viewer, settings: AppSettings
) -> Response:
    """The revision as Markdown (the SRE template's sections, figures and timeline)."""
    doc = _read(session, records.get_postmortem(session, postmortem_id)).model_dump(mode="json")
    text = markdown.render(doc, runbook_base=f"{settings.public_url.rstrip('/')}/runbooks")
    return Response(text, media_type=MARKDOWN)


@router.get("/action-items", response_model=ActionItemPage)
def list_action_items(
    session: DbSession,
    _: Viewer,
    status_: Annotated[
        ItemStatus | None, Query(alias="status", description="Only this status.")
    ] = None,
    owner: Annotated[str | None, Query(max_length=200, description="Only this owner.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> ActionItemPage:
    """Action items across postmortems (newest revisions): open ones first, then priority."""
    return ActionItemPage.model_validate(
        action_items.list_action_items(
            session, status=status_, owner=owner, limit=limit, offset=offset
        )
    )


@router.patch("/action-items/{item_id}", response_model=ActionItemRead)
def update_action_item(
    item_id: ItemId, body: ActionItemPatch, session: DbSession, actor: Writer
) -> ActionItemRead:
    """Change an action item's status (also after its postmortem is published)."""
    item = action_items.update_action_item(session, actor, item_id, status=body.status)
    return ActionItemRead.model_validate(item)
