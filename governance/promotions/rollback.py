"""Rollback: restore the previous champion at once, with no quorum (it was approved before),
audited; a bake still running on the rolled-back version ends as `rolled_back`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core.auth import Principal
from core.clock import utcnow
from governance.promotions import repository as repo
from governance.promotions.errors import ChampionMoved
from governance.promotions.requests import record_event
from governance.registry import service
from governance.registry.champion import move_champion, rollback_target


@dataclass(frozen=True)
class RollbackOutcome:
    model_name: str
    from_version: int
    to_version: int
    reason: str
    at: datetime
    by: str


def rollback(
    session: Session,
    actor: Principal,
    *,
    name: str,
    reason: str,
    expected_version: int | None = None,
    via: str = "rollback",
) -> RollbackOutcome:
    """Restore the previous champion at once: no quorum, it was approved before. Audited.

    `expected_version` guards against rolling back twice: when the champion is no longer that
    version (someone else already rolled back), nothing moves and the answer is 409.
    """
    service.get_model(session, name)
    current, target = rollback_target(session, name)
    if expected_version is not None and current != expected_version:
        raise ChampionMoved(
            f"the champion is version {current}, not {expected_version}; nothing was rolled back",
            field="from_version",
            rule="is_current_champion",
            extra={"champion_version": current},
        )
    baking = repo.latest_promotion_of(session, name, current)
    move_champion(
        session,
        actor,
        name=name,
        version=target,
        via=via,  # type: ignore[arg-type]
        reason=reason,
        request_id=baking.id if baking else None,
    )
    now = utcnow()
    if baking is not None and baking.bake_state == "baking":
        baking.bake_state, baking.updated_at = "rolled_back", now
        session.flush()
        record_event(
            session,
            actor,
            "promotion.bake.rolled_back",
            baking,
            before={"bake_state": "baking"},
            after={"bake_state": "rolled_back"},
            reason=reason,
            automatic=via == "auto_rollback",
        )
    return RollbackOutcome(name, current, target, reason, now, actor.name)
