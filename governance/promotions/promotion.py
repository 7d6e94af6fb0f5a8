"""Promotion: an approved request moves the champion alias, atomically and audited, and
starts the bake."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from core.auth import Principal
from core.clock import utcnow
from core.errors import Refusal
from core.settings import Settings
from governance.promotions.errors import BindingChanged, GatesFailed
from governance.promotions.models import PromotionRequest
from governance.promotions.policy_versions import policy_at
from governance.promotions.requests import ensure_current, locked_request, record_event
from governance.registry import repository, service
from governance.registry.champion import move_champion


def promote(
    session: Session,
    actor: Principal,
    *,
    request_id: uuid.UUID,
    settings: Settings,
    auto: bool = False,
) -> PromotionRequest:
    """Move the champion alias to the approved version (atomically, audited); start the bake."""
    req = locked_request(session, request_id, "approved")
    return promote_locked(session, actor, req, settings=settings, auto=auto)


def promote_locked(
    session: Session,
    actor: Principal,
    req: PromotionRequest,
    *,
    settings: Settings,
    auto: bool = False,
) -> PromotionRequest:
    """`promote` for a request row the caller already holds locked in state `approved`.

    The champion is locked before the binding is checked and stays locked until the move
    commits: of two approved requests bound to the same champion, the second to get the lock
    sees the champion moved, its approvals are void and it answers 409 `binding_changed`.
    """
    version = service.get_version(session, req.model_name, req.version)
    repository.lock_champion(session, req.model_name)
    if ensure_current(session, actor, req, version, settings):
        raise Refusal(
            BindingChanged(
                "the artifact, metrics, policy, champion or gate evidence changed since "
                "approval; the gates ran again and the approvals are void",
                field="request_id",
                rule="binding_changed",
                extra={"state": req.state, "blocking_gates": req.blocking_gates},
            )
        )
    if req.artifact_sha256 != version.artifact_sha256:
        raise GatesFailed(
            "the artifact on disk does not match the registry",
            field="artifact_sha256",
            rule="sha256_matches",
        )
    if req.blocking_gates and not req.override_in_force:
        raise GatesFailed(
            f"blocking gates: {', '.join(req.blocking_gates)}",
            field="gates",
            rule="gates_passed",
            extra={"blocking_gates": req.blocking_gates},
        )
    current = repository.get_alias(session, req.model_name)  # locked above
    previous = current.version if current else None
    move_champion(
        session,
        actor,
        name=req.model_name,
        version=req.version,
        via="promote",
        reason=req.justification,
        request_id=req.id,
    )
    bake = policy_at(session, req.policy_version).document.bake
    now = utcnow()
    req.state, req.promoted_at, req.promoted_by = "promoted", now, actor.name
    req.previous_version, req.updated_at = previous, now
    req.bake_state = "baking" if bake.enabled else None
    req.bake_until = now + bake.period if bake.enabled else None
    session.flush()
    record_event(
        session,
        actor,
        "promotion.request.promoted",
        req,
        before={"state": "approved", "champion": previous},
        after={
            "state": "promoted",
            "champion": req.version,
            "artifact_sha256": version.artifact_sha256,
        },
        auto=auto,
        bake_until=req.bake_until,
    )
    return req
