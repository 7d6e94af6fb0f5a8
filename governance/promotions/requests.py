"""Promotion requests: open (gates run), re-gate when the binding changes, withdraw, expiry.

Promotion itself (the champion alias moves) is in `promotion.py`; the reads the API shows in
`views.py`.

States: `open` → `approved` | `rejected` | `expired` | `withdrawn`; `approved` → `promoted`
(or `expired`/`withdrawn`; or back to `open` when its approvals are voided because the
artifact, metrics, policy or champion changed). `rejected`, `expired`, `withdrawn` and
`promoted` are terminal. Every step locks the request row (`SELECT … FOR UPDATE`), so
concurrent callers see one another's effects and each transition happens once.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal, Role
from core.clock import utcnow
from core.errors import Forbidden, Refusal
from core.settings import Settings
from governance.promotions import gates
from governance.promotions import repository as repo
from governance.promotions.binding import (
    artifact_sha256_on_disk,
    binding_of,
    changed_parts,
    evidence_sha256,
    live_binding,
    metrics_sha256,
    why_void,
)
from governance.promotions.errors import (
    AlreadyChampion,
    PromotionRequestExists,
    PromotionRequestNotFound,
    RequestClosed,
    RequestExpired,
)
from governance.promotions.models import ACTIVE_STATES, PromotionRequest
from governance.promotions.policy_versions import active_policy
from governance.registry import repository, service
from governance.registry.models import ModelVersion

TERMINAL_STATES = ("rejected", "expired", "withdrawn", "promoted")
EXPIRY_ACTOR = "driftgate (expiry)"
OBJECT_TYPE = "promotion_request"


def _summary(req: PromotionRequest) -> dict[str, Any]:
    return {
        "model": req.model_name,
        "version": req.version,
        "state": req.state,
        "binding": asdict(binding_of(req)),
        "quorum": req.quorum,
        "blocking_gates": req.blocking_gates,
    }


def record_event(
    session: Session, actor: Principal | str, action: str, req: PromotionRequest, **details: Any
) -> None:
    """Audit a step; the actor is the principal, and the token it used is kept beside it."""
    if isinstance(actor, Principal) and actor.token_name is not None:
        details.setdefault("token", actor.token_name)
    audit.record(
        session,
        actor=actor if isinstance(actor, str) else actor.name,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=str(req.id),
        model=req.model_name,
        version=req.version,
        **details,
    )


def get_request(
    session: Session, request_id: uuid.UUID, *, for_update: bool = False
) -> PromotionRequest:
    req = repo.get_request(session, request_id, for_update=for_update)
    if req is None:
        raise PromotionRequestNotFound(f"no promotion request {request_id}", field="request_id")
    return req


def _gate(
    session: Session, version: ModelVersion, settings: Settings
) -> tuple[gates.GateReport, Any, int | None]:
    policy = active_policy(session)
    champion = repository.champion_version(session, version.model_name)
    ctx = gates.Context(version, champion, settings.data_dir, settings.lineage_namespace)
    report = gates.run_gates(session, ctx, policy.document)
    return report, policy, champion.version if champion else None


def open_request(
    session: Session,
    actor: Principal,
    *,
    name: str,
    version: int,
    justification: str,
    settings: Settings,
) -> PromotionRequest:
    """Open a request for `version` to become champion; the policy's gates run now."""
    row = service.get_version(session, name, version)
    champion = repository.get_alias(session, name)
    if champion is not None and champion.version == version:
        raise AlreadyChampion(
            f"version {version} of {name!r} is already the champion",
            field="version",
            rule="not_champion",
        )
    _refuse_duplicate(repo.active_request(session, name, version), version)
    report, policy, champion_version = _gate(session, row, settings)
    now = utcnow()
    req = PromotionRequest(
        id=uuid.uuid4(),
        model_name=name,
        version=version,
        state="open",
        justification=justification,
        requested_by=actor.name,
        requested_at=now,
        version_created_by=row.created_by,
        artifact_sha256=artifact_sha256_on_disk(row, settings.data_dir),
        metrics_sha256=metrics_sha256(row, report.evaluation),
        policy_version=policy.version,
        champion_version=champion_version,
        evidence_sha256=evidence_sha256(session, row, settings),
        quorum=policy.document.quorum,
        auto_promote=policy.document.auto_promote,
        expires_at=now + policy.document.expiry,
        gates=report.to_json(),
        blocking_gates=report.blocking,
        gates_evaluated_at=now,
        evaluation=report.evaluation,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(req)
    except IntegrityError:  # a concurrent request for the same version won the race
        _refuse_duplicate(repo.active_request(session, name, version), version)
        raise
    record_event(
        session,
        actor,
        "promotion.request.open",
        req,
        after=_summary(req),
        justification=justification,
        gates=_gate_digest(req),
    )
    return req


def _refuse_duplicate(existing: PromotionRequest | None, version: int) -> None:
    if existing is not None:
        raise PromotionRequestExists(
            f"version {version} already has an {existing.state} promotion request",
            field="version",
            rule="one_open_request",
            extra={"request_id": str(existing.id)},
        )


def _gate_digest(req: PromotionRequest) -> list[dict[str, Any]]:
    return [
        {"name": g["name"], "status": g["status"], "blocking": g["blocking"]} for g in req.gates
    ]


# --- keeping a request honest: expiry and binding -------------------------------------------


def expire_if_due(session: Session, req: PromotionRequest, now: datetime | None = None) -> bool:
    """Move an overdue open/approved request to `expired` (audited); True if it expired now."""
    now = now or utcnow()
    if req.state not in ACTIVE_STATES or now < req.expires_at:
        return False
    before = req.state
    req.state, req.decided_at, req.decided_by, req.updated_at = "expired", now, EXPIRY_ACTOR, now
    session.flush()
    record_event(
        session,
        EXPIRY_ACTOR,
        "promotion.request.expired",
        req,
        before={"state": before},
        after={"state": "expired"},
        expires_at=req.expires_at,
    )
    return True


def expire_due(session: Session, *, now: datetime | None = None) -> int:
    """Expire every overdue request (the background guard calls this)."""
    now = now or utcnow()
    return sum(expire_if_due(session, req, now) for req in repo.due_for_expiry(session, now))


def locked_request(session: Session, request_id: uuid.UUID, *states: str) -> PromotionRequest:
    """The request, locked for this transaction, provided it is in one of `states`.

    An overdue request expires first: the expiry is committed and the step refused (409).
    """
    req = get_request(session, request_id, for_update=True)
    if expire_if_due(session, req):
        raise Refusal(
            RequestExpired(
                f"the request expired at {req.expires_at.isoformat()}",
                field="request_id",
                rule="not_expired",
                extra={"state": "expired"},
            )
        )
    require_state(req, *states)
    return req


def require_state(req: PromotionRequest, *allowed: str) -> None:
    if req.state in allowed:
        return
    terminal = req.state in TERMINAL_STATES
    raise RequestClosed(
        f"the request is {req.state}"
        + (
            "; it is closed to any further decision" if terminal else f"; needs {'/'.join(allowed)}"
        ),
        field="request_id",
        rule="terminal_state" if terminal else "state",
        extra={"state": req.state},
    )


def ensure_current(
    session: Session,
    actor: Principal | str,
    req: PromotionRequest,
    version: ModelVersion,
    settings: Settings,
    *,
    force: bool = False,
) -> bool:
    """Re-gate if the artifact, metrics, policy or champion moved; void lapsed approvals.

    Returns True when approvals were voided (the binding changed).
    """
    if not force and live_binding(session, req, version, settings) == binding_of(req):
        return False
    before = binding_of(req)
    report, policy, champion_version = _gate(session, version, settings)
    now = utcnow()
    req.artifact_sha256 = artifact_sha256_on_disk(version, settings.data_dir)
    req.metrics_sha256 = metrics_sha256(version, report.evaluation)
    req.policy_version, req.champion_version = policy.version, champion_version
    req.evidence_sha256 = evidence_sha256(session, version, settings)
    req.quorum, req.auto_promote = policy.document.quorum, policy.document.auto_promote
    req.gates, req.blocking_gates = report.to_json(), report.blocking
    req.evaluation, req.gates_evaluated_at, req.updated_at = report.evaluation, now, now
    after = binding_of(req)
    changed = after != before
    voided: list[str] = []
    if changed:
        voided = repo.void_approvals(session, req.id, at=now, reason=why_void(before, after))
        req.override = None
        if req.state == "approved":
            req.state = "open"
    session.flush()
    record_event(
        session,
        actor,
        "promotion.request.regate",
        req,
        before=asdict(before),
        after=asdict(after),
        changed=changed_parts(before, after),
        voided_approvals=voided,
        gates=_gate_digest(req),
        state=req.state,
    )
    return changed


# --- requester and admin steps ---------------------------------------------------------------


def withdraw(
    session: Session, actor: Principal, *, request_id: uuid.UUID, reason: str
) -> PromotionRequest:
    req = locked_request(session, request_id, *ACTIVE_STATES)
    if actor.name != req.requested_by and actor.role != Role.admin:
        raise Forbidden(
            "only the requester or an admin may withdraw a request",
            field="Authorization",
            rule="requester_or_admin",
        )
    before, now = req.state, utcnow()
    req.state, req.decided_at, req.decided_by, req.updated_at = "withdrawn", now, actor.name, now
    session.flush()
    record_event(
        session,
        actor,
        "promotion.request.withdrawn",
        req,
        before={"state": before},
        after={"state": "withdrawn"},
        reason=reason,
    )
    return req


def rerun_gates(
    session: Session, actor: Principal, *, request_id: uuid.UUID, settings: Settings
) -> PromotionRequest:
    """Run the gates again (e.g. after an incident is resolved); changed results void approvals."""
    req = locked_request(session, request_id, *ACTIVE_STATES)
    version = service.get_version(session, req.model_name, req.version)
    ensure_current(session, actor, req, version, settings, force=True)
    return req
