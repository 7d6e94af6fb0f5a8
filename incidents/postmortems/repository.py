"""Every query of postmortems and their action items, and the incident reads drafting needs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from incidents.models import Incident, IncidentEvent, Postmortem, PostmortemActionItem


def get_incident(session: Session, incident_id: uuid.UUID) -> Incident | None:
    return session.get(Incident, incident_id)


def timeline(session: Session, incident_id: uuid.UUID) -> list[IncidentEvent]:
    """The incident's timeline, oldest first (by time, then as recorded)."""
    stmt = (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    )
    return list(session.scalars(stmt))


def add_timeline_entry(session: Session, values: dict[str, Any]) -> None:
    """One timeline line; a `source_key` already on the incident leaves it as it was."""
    session.execute(
        insert(IncidentEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["incident_id", "source_key"])
    )


def get_postmortem(
    session: Session, postmortem_id: uuid.UUID, *, for_update: bool = False
) -> Postmortem | None:
    return session.get(Postmortem, postmortem_id, with_for_update=for_update)


def revisions_of(session: Session, incident_id: uuid.UUID) -> list[Postmortem]:
    """Every revision of an incident's postmortem, newest first."""
    stmt = (
        select(Postmortem)
        .where(Postmortem.incident_id == incident_id)
        .order_by(Postmortem.revision.desc())
    )
    return list(session.scalars(stmt))


def lock_incident(session: Session, incident_id: uuid.UUID) -> Incident | None:
    """The incident, locked: drafting and revising are serialized per incident, so two drafts
    cannot both pass the "no open revision" check."""
    return session.get(Incident, incident_id, with_for_update=True)


def action_items(session: Session, postmortem_id: uuid.UUID) -> list[PostmortemActionItem]:
    stmt = (
        select(PostmortemActionItem)
        .where(PostmortemActionItem.postmortem_id == postmortem_id)
        .order_by(PostmortemActionItem.position)
    )
    return list(session.scalars(stmt))


def get_action_item(session: Session, item_id: uuid.UUID) -> PostmortemActionItem | None:
    return session.get(PostmortemActionItem, item_id, with_for_update=True)


def delete_action_items(session: Session, ids: Sequence[uuid.UUID]) -> None:
    if ids:
        session.execute(delete(PostmortemActionItem).where(PostmortemActionItem.id.in_(ids)))


def _latest_revisions() -> Any:
    """Each incident's newest postmortem revision: its action items are the live ones."""
    newest = (
        select(Postmortem.incident_id, func.max(Postmortem.revision).label("revision"))
        .group_by(Postmortem.incident_id)
        .subquery()
    )
    return select(Postmortem.id).join(
        newest,
        (Postmortem.incident_id == newest.c.incident_id)
        & (Postmortem.revision == newest.c.revision),
    )


def newest_revision(session: Session, incident_id: uuid.UUID) -> int:
    """The incident's highest revision number (0 without a postmortem)."""
    stmt = select(func.max(Postmortem.revision)).where(Postmortem.incident_id == incident_id)
    return int(session.scalar(stmt) or 0)


OPEN_FIRST = ("open", "in_progress")


def list_action_items(
    session: Session, *, status: str | None, owner: str | None, limit: int, offset: int
) -> tuple[int, list[tuple[PostmortemActionItem, Postmortem]]]:
    """Action items of every incident's newest revision: open ones first (open, in progress),
    then by priority (P0 first), due date (none last) and age."""
    stmt = (
        select(PostmortemActionItem, Postmortem)
        .join(Postmortem, Postmortem.id == PostmortemActionItem.postmortem_id)
        .where(PostmortemActionItem.postmortem_id.in_(_latest_revisions()))
    )
    if status:
        stmt = stmt.where(PostmortemActionItem.status == status)
    if owner:
        stmt = stmt.where(PostmortemActionItem.owner == owner)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    still_open = case((PostmortemActionItem.status.in_(OPEN_FIRST), 0), else_=1)
    stmt = stmt.order_by(
        still_open,
        PostmortemActionItem.priority,
        PostmortemActionItem.due.asc().nulls_last(),
        PostmortemActionItem.created_at,
        PostmortemActionItem.position,
        PostmortemActionItem.id,
    )
    rows = session.execute(stmt.limit(limit).offset(offset)).all()
    return int(total), [(r[0], r[1]) for r in rows]
