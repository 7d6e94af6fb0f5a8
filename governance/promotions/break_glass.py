"""The break-glass path: an admin moves the champion without a promotion request.

It bypasses gates and approvals, so the promotion policy controls it (`break_glass`): it can
be switched off, it always needs a reason, and with `second_principal: true` the first admin's
call only proposes the move (audited, `model.champion.proposed`) and a second admin (another
principal) must repeat the same move within an hour for it to happen. A model with no champion
yet is exempt from the switch and the second admin (nothing is served, so nothing is bypassed:
`driftgate ranker train` crowns version 1 this way), but not from the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core import audit, audit_repository
from core.auth import Principal, Role
from core.clock import utcnow
from core.errors import Forbidden, InvalidInput
from governance.promotions.policy_versions import active_policy
from governance.registry import repository, service
from governance.registry.champion import move_champion
from governance.registry.errors import ChampionNeedsAdmin
from governance.registry.models import ModelAlias

PROPOSED = "model.champion.proposed"
PROPOSAL_TTL = timedelta(hours=1)


@dataclass(frozen=True)
class Proposal:
    """A break-glass move waiting for a second admin."""

    model_name: str
    version: int
    proposed_by: str
    reason: str
    proposed_at: datetime
    expires_at: datetime


def set_champion(
    session: Session, actor: Principal, *, name: str, version: int, reason: str = ""
) -> ModelAlias | Proposal:
    """Point `champion` at a version (admins only); serving picks it up without a restart.

    It bypasses promotion requests, gates and approvals (and says so in the audit trail), so
    the policy controls it as far as the module says. Normal promotion goes through
    `governance.promotions.requests`.
    """
    if actor.role != Role.admin:
        raise ChampionNeedsAdmin(
            "only an admin may set the champion", field="Authorization", rule="role"
        )
    service.get_model(session, name)
    alias = repository.lock_champion(session, name)
    if alias is not None and alias.version == version:
        return alias  # nothing moves
    if not reason.strip():
        raise InvalidInput(
            "moving the champion without approvals needs a reason", field="reason", rule="required"
        )
    if alias is not None:
        rules = active_policy(session).document.break_glass
        if not rules.enabled:
            raise Forbidden(
                "the promotion policy switches the break-glass path off; promote through a "
                "request, or roll back",
                field="break_glass.enabled",
                rule="break_glass_enabled",
            )
        if rules.second_principal:
            pending = pending_proposal(session, name)
            if pending is None or pending.version != version:
                return _propose(session, actor, name=name, version=version, reason=reason)
            if pending.proposed_by == actor.name:
                raise Forbidden(
                    "the policy asks a second admin to confirm this move",
                    field="Authorization",
                    rule="second_principal",
                )
            reason = f"{reason} (proposed by {pending.proposed_by}: {pending.reason})"
    return move_champion(session, actor, name=name, version=version, via="set", reason=reason)


def _propose(
    session: Session, actor: Principal, *, name: str, version: int, reason: str
) -> Proposal:
    now = utcnow()
    audit.record(
        session,
        actor=actor.name,
        action=PROPOSED,
        object_type="model",
        object_id=name,
        after={"version": version},
        reason=reason,
    )
    return Proposal(name, version, actor.name, reason, now, now + PROPOSAL_TTL)


def pending_proposal(session: Session, name: str) -> Proposal | None:
    """The latest proposal for the model, if it is younger than an hour and the champion has
    not moved since."""
    event = audit_repository.latest_model_event(session, name, PROPOSED)
    if event is None or event.occurred_at + PROPOSAL_TTL <= utcnow():
        return None
    if repository.champion_moved_since(session, name, event.occurred_at):
        return None
    return Proposal(
        name,
        int(event.payload["after"]["version"]),
        event.actor,
        str(event.payload.get("reason", "")),
        event.occurred_at,
        event.occurred_at + PROPOSAL_TTL,
    )
