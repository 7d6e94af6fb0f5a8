"""Action items: replaced as a list while their revision is editable, and their status moved
on afterwards, also after publishing (what was decided stays; whether it is done moves on),
but only on the incident's newest revision. Listed across postmortems, open ones first.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal
from core.clock import utcnow
from incidents.models import Postmortem, PostmortemActionItem
from incidents.postmortems import repository as repo
from incidents.postmortems.errors import (
    ActionItemNotFound,
    ActionItemSuperseded,
    InvalidActionItems,
)
from incidents.postmortems.records import get_postmortem, item_json


def update_action_item(
    session: Session, actor: Principal, item_id: uuid.UUID, *, status: str
) -> PostmortemActionItem:
    """Change an action item's status (also after publishing): the newest revision's only."""
    item = repo.get_action_item(session, item_id)
    if item is None:
        raise ActionItemNotFound(f"action item {item_id} not found", field="id")
    pm = get_postmortem(session, item.postmortem_id)
    newest = repo.newest_revision(session, pm.incident_id)
    if pm.revision != newest:
        raise ActionItemSuperseded(
            f"this item belongs to revision {pm.revision}; revision {newest} carries it now",
            field="id",
            rule="newest_revision_only",
        )
    before = item.status
    item.status, item.updated_at, item.updated_by = status, utcnow(), actor.name
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="postmortem.action_item.update",
        object_type="postmortem_action_item",
        object_id=str(item.id),
        before={"status": before},
        after={"status": status},
        postmortem_id=str(pm.id),
    )
    return item


def list_action_items(
    session: Session, *, status: str | None, owner: str | None, limit: int, offset: int
) -> dict[str, Any]:
    total, rows = repo.list_action_items(
        session, status=status, owner=owner, limit=limit, offset=offset
    )
    items = [
        {
            **item_json(item),
            "incident_id": pm.incident_id,
            "postmortem_title": pm.title,
            "postmortem_status": pm.status,
        }
        for item, pm in rows
    ]
    return {"total": total, "offset": offset, "items": items}


def replace_items(
    session: Session,
    actor: Principal,
    pm: Postmortem,
    items: Sequence[Mapping[str, Any]],
    now: datetime,
) -> None:
    """The revision's items become exactly `items`: kept by id, added without, others dropped."""
    current = {i.id: i for i in repo.action_items(session, pm.id)}
    kept: set[uuid.UUID] = set()
    for position, data in enumerate(items):
        fields = {k: data[k] for k in ("title", "owner", "priority", "status", "due") if k in data}
        item_id = data.get("id")
        if item_id is not None:
            item = current.get(item_id)
            if item is None:
                raise InvalidActionItems(
                    f"action item {item_id} is not one of this revision's",
                    field=f"action_items.{position}.id",
                    rule="item_of_this_revision",
                )
            if item_id in kept:
                raise InvalidActionItems(
                    f"action item {item_id} is listed twice",
                    field=f"action_items.{position}.id",
                    rule="unique_items",
                )
            for k, v in fields.items():
                setattr(item, k, v)
            item.position, item.updated_at, item.updated_by = position, now, actor.name
            kept.add(item_id)
        else:
            session.add(
                PostmortemActionItem(
                    postmortem_id=pm.id,
                    position=position,
                    **{"status": "open", **fields},
                    created_at=now,
                    updated_at=now,
                    updated_by=actor.name,
                )
            )
    repo.delete_action_items(session, [i for i in current if i not in kept])
    session.flush()
