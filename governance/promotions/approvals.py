"""Reviewers decide on promotion requests, with separation of duties.

- The requester and the creator of the model version cannot decide, through any of their
  tokens; nor can a token or principal the requester issued (403; the attempt is recorded in
  the audit trail all the same).
- Each decision binds to the request's binding (artifact sha256, metrics, policy version,
  champion, gate evidence); when any of them changed, the gates run again and earlier
  decisions are void.
- A quorum of distinct reviewers (principals, not tokens) approves; one rejection closes the
  request; a reviewer decides once (a partial unique index makes this a constraint).
- The request row is locked for the whole decision, so 50 concurrent approvals make exactly
  one `open → approved` transition.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from dataclasses import asdict
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth import Principal, issuers
from core.clock import utcnow
from core.errors import Refusal
from core.settings import Settings
from governance.promotions import repository as repo
from governance.promotions.binding import binding_of
from governance.promotions.errors import AlreadyDecided, GatesFailed, SeparationOfDuties
from governance.promotions.models import PromotionApproval, PromotionRequest
from governance.promotions.promotion import promote_locked
from governance.promotions.requests import (
    ensure_current,
    locked_request,
    record_event,
)
from governance.registry import service

Decision = Literal["approve", "reject"]


def decide(
    session: Session,
    actor: Principal,
    *,
    request_id: uuid.UUID,
    decision: Decision,
    comment: str,
    settings: Settings,
) -> PromotionApproval:
    """Record one reviewer's decision and apply its consequence to the request."""
    req = locked_request(session, request_id, "open")
    _enforce_separation_of_duties(session, actor, req, decision)
    version = service.get_version(session, req.model_name, req.version)
    # A re-gate is committed even when this decision is then refused, so the refusals below
    # are `Refusal`s: the new gate results and voided approvals are kept.
    ensure_current(session, actor, req, version, settings)
    if repo.live_decision(session, req.id, actor.name) is not None:
        raise Refusal(
            AlreadyDecided(
                f"{actor.name} has already decided on this request",
                field="Authorization",
                rule="decides_once",
            )
        )
    if decision == "approve" and req.blocking_gates and not req.override_in_force:
        raise Refusal(
            GatesFailed(
                f"blocking gates: {', '.join(req.blocking_gates)}; an admin override is needed",
                field="gates",
                rule="gates_passed",
                extra={"blocking_gates": req.blocking_gates},
            )
        )
    approval = _insert(session, actor, req, decision, comment)
    record_event(
        session,
        actor,
        f"promotion.approval.{decision}",
        req,
        after={"decision": decision, "binding": asdict(binding_of(req))},
        comment=comment,
    )
    _apply(session, actor, req, decision, settings)
    return approval


def _enforce_separation_of_duties(
    session: Session, actor: Principal, req: PromotionRequest, decision: str
) -> None:
    """Names compared here are principals, so every token of one person is that person; and
    whoever issued the reviewer's token or created the reviewer's principal controls that
    identity, so on their own request counts as the reviewer too (an admin minting reviewers
    for their own request is refused). Not for the version's creator: the operator who trains
    versions is usually the one who issued everyone's tokens."""
    issued_by = issuers(session, actor)
    if actor.name == req.requested_by:
        rule, who = "requester_cannot_approve", "the requester"
    elif actor.name == req.version_created_by:
        rule, who = "creator_cannot_approve", "the creator of the model version"
    elif req.requested_by in issued_by:
        rule, who = "issuer_cannot_approve", "an identity the requester issued"
    else:
        return
    record_event(
        session,
        actor,
        "promotion.approval.refused",
        req,
        after={"decision": decision, "rule": rule},
    )
    raise Refusal(
        SeparationOfDuties(
            f"{who} cannot decide on this request (separation of duties)",
            field="Authorization",
            rule=rule,
        )
    )


def _insert(
    session: Session, actor: Principal, req: PromotionRequest, decision: str, comment: str
) -> PromotionApproval:
    approval = PromotionApproval(
        request_id=req.id,
        reviewer=actor.name,
        decision=decision,
        comment=comment,
        artifact_sha256=req.artifact_sha256,
        metrics_sha256=req.metrics_sha256,
        policy_version=req.policy_version,
        champion_version=req.champion_version,
        evidence_sha256=req.evidence_sha256,
        decided_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(approval)
    except IntegrityError:  # the partial unique index: one live decision per reviewer
        raise AlreadyDecided(
            f"{actor.name} has already decided on this request",
            field="Authorization",
            rule="decides_once",
        ) from None
    return approval


def _apply(
    session: Session, actor: Principal, req: PromotionRequest, decision: str, settings: Settings
) -> None:
    now = utcnow()
    if decision == "reject":
        req.state, req.decided_at, req.decided_by, req.updated_at = "rejected", now, actor.name, now
        session.flush()
        record_event(
            session,
            actor,
            "promotion.request.rejected",
            req,
            before={"state": "open"},
            after={"state": "rejected"},
        )
        return
    approvals = repo.count_live_approvals(session, req.id)
    if approvals < req.quorum:
        return
    req.state, req.decided_at, req.decided_by, req.updated_at = "approved", now, actor.name, now
    session.flush()
    record_event(
        session,
        actor,
        "promotion.request.approved",
        req,
        before={"state": "open"},
        after={"state": "approved"},
        approvals=approvals,
        quorum=req.quorum,
    )
    if req.auto_promote:
        # A binding that moved between the approval and the promotion puts the request back
        # to `open` (the re-gate is recorded); the approval itself stands.
        with suppress(Refusal):
            promote_locked(session, actor, req, settings=settings, auto=True)
