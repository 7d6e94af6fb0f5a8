"""HTTP routes of promotion governance: policy, requests, approvals, promotion, rollback and
bake status."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from core.auth import Principal, Role
from core.bounds import INT32_MAX, INT64_MAX
from core.http import Admin, AppSettings, DbSession, Producer, Reviewer, Viewer, require
from governance.bake import guard, signals
from governance.promotions import (
    approvals,
    overrides,
    policy_versions,
    promotion,
    requests,
    views,
)
from governance.promotions import rollback as rollbacks
from governance.promotions.models import PromotionRequest
from governance.promotions.schemas import (
    ApprovalCreate,
    BakeRead,
    OverrideCreate,
    PolicyRead,
    PromotionRequestCreate,
    PromotionRequestRead,
    RollbackCreate,
    RollbackRead,
    WithdrawCreate,
)
from governance.registry.schemas import MODEL_NAME

router = APIRouter(tags=["promotions"])

ModelName = Annotated[str, Path(pattern=MODEL_NAME, description="Model name.")]
VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="Version number.")]
RequestId = Annotated[uuid.UUID, Path(description="Promotion request id.")]
State = Literal["open", "approved", "rejected", "expired", "withdrawn", "promoted"]
# Whoever may move an approved request forward: the approvals are the authorization.
Promoter = Annotated[Principal, Depends(require(Role.producer, Role.reviewer, Role.admin))]
_YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The promotion policy as YAML (see GET /promotion-policy for the default).",
        "content": {"application/yaml": {"schema": {"type": "object"}}},  # a mapping
    }
}


def _request_doc(session: Session, req: PromotionRequest) -> PromotionRequestRead:
    return PromotionRequestRead.model_validate(views.describe(session, req))


# --- policy ----------------------------------------------------------------------------------


@router.get("/promotion-policy", response_model=PolicyRead, tags=["policy"])
def get_policy(session: DbSession, _: Viewer) -> PolicyRead:
    """The promotion policy in force (version 0 is the built-in default)."""
    return PolicyRead.model_validate(policy_versions.active_policy(session).to_json())


@router.put(
    "/promotion-policy", response_model=PolicyRead, tags=["policy"], openapi_extra=_YAML_BODY
)
async def publish_policy(
    request: Request,
    session: DbSession,
    actor: Admin,
    comment: Annotated[str, Query(max_length=2000, description="Why it changes.")] = "",
) -> PolicyRead:
    """Publish a new policy version (admin); open requests re-gate at their next step."""
    body = await request.body()
    return PolicyRead.model_validate(
        policy_versions.publish_policy(session, actor, source=body, comment=comment).to_json()
    )


@router.get("/promotion-policy/versions", response_model=list[PolicyRead], tags=["policy"])
def list_policy_versions(session: DbSession, _: Viewer) -> list[PolicyRead]:
    """Every policy version, oldest first."""
    return [PolicyRead.model_validate(p.to_json()) for p in policy_versions.list_versions(session)]


@router.get("/promotion-policy/versions/{version}", response_model=PolicyRead, tags=["policy"])
def get_policy_version(
    version: Annotated[int, Path(ge=0, le=INT32_MAX)], session: DbSession, _: Viewer
) -> PolicyRead:
    """One policy version."""
    return PolicyRead.model_validate(policy_versions.policy_at(session, version).to_json())


# --- requests --------------------------------------------------------------------------------


@router.post(
    "/models/{name}/versions/{version}/promotion-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=PromotionRequestRead,
)
def open_request(
    name: ModelName,
    version: VersionNumber,
    body: PromotionRequestCreate,
    response: Response,
    session: DbSession,
    actor: Producer,
    settings: AppSettings,
) -> PromotionRequestRead:
    """Request that a version become the champion; the policy's gates run now."""
    req = requests.open_request(
        session,
        actor,
        name=name,
        version=version,
        justification=body.justification,
        settings=settings,
    )
    response.headers["Location"] = f"/promotion-requests/{req.id}"
    return PromotionRequestRead.model_validate(views.describe(session, req))


@router.get("/promotion-requests", response_model=list[PromotionRequestRead])
def list_requests(
    session: DbSession,
    _: Viewer,
    model: Annotated[str | None, Query(pattern=MODEL_NAME)] = None,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> list[PromotionRequestRead]:
    """Promotion requests, newest first, by model and state."""
    rows = views.list_requests(session, name=model, state=state, limit=limit, offset=offset)
    return [PromotionRequestRead.model_validate(r) for r in rows]


@router.get("/promotion-requests/{request_id}", response_model=PromotionRequestRead)
def get_request(request_id: RequestId, session: DbSession, _: Viewer) -> PromotionRequestRead:
    """One request with its gate results, binding and every decision."""
    return PromotionRequestRead.model_validate(views.describe_by_id(session, request_id))


@router.post(
    "/promotion-requests/{request_id}/approvals",
    status_code=status.HTTP_201_CREATED,
    response_model=PromotionRequestRead,
    responses={403: {"description": "Separation of duties (audited)."}},
)
def decide(
    request_id: RequestId,
    body: ApprovalCreate,
    session: DbSession,
    actor: Reviewer,
    settings: AppSettings,
) -> PromotionRequestRead:
    """Approve or reject (reviewer); the requester and the version's creator cannot."""
    approvals.decide(
        session,
        actor,
        request_id=request_id,
        decision=body.decision,
        comment=body.comment,
        settings=settings,
    )
    return _request_doc(session, requests.get_request(session, request_id))


@router.post("/promotion-requests/{request_id}/withdraw", response_model=PromotionRequestRead)
def withdraw(
    request_id: RequestId,
    body: WithdrawCreate,
    session: DbSession,
    actor: Producer,
) -> PromotionRequestRead:
    """Withdraw a request (its requester or an admin)."""
    result = requests.withdraw(session, actor, request_id=request_id, reason=body.reason)
    return _request_doc(session, result)


@router.post("/promotion-requests/{request_id}/override", response_model=PromotionRequestRead)
def override(
    request_id: RequestId,
    body: OverrideCreate,
    session: DbSession,
    actor: Admin,
    settings: AppSettings,
) -> PromotionRequestRead:
    """Let named failed gates not block approval (admin, with a reason; audited). Stale gates
    are re-run first, so the override names the gates that block now."""
    result = overrides.override_gates(
        session,
        actor,
        request_id=request_id,
        gate_names=list(body.gates),
        reason=body.reason,
        settings=settings,
    )
    return _request_doc(session, result)


@router.post("/promotion-requests/{request_id}/gates", response_model=PromotionRequestRead)
def rerun_gates(
    request_id: RequestId,
    session: DbSession,
    actor: Producer,
    settings: AppSettings,
) -> PromotionRequestRead:
    """Run the gates again; if results changed, earlier approvals are void."""
    result = requests.rerun_gates(session, actor, request_id=request_id, settings=settings)
    return _request_doc(session, result)


@router.post("/promotion-requests/{request_id}/promote", response_model=PromotionRequestRead)
def promote(
    request_id: RequestId,
    session: DbSession,
    actor: Promoter,
    settings: AppSettings,
) -> PromotionRequestRead:
    """Make an approved version the champion; serving swaps to it within seconds."""
    result = promotion.promote(session, actor, request_id=request_id, settings=settings)
    return _request_doc(session, result)


@router.get("/promotion-requests/{request_id}/bake", response_model=BakeRead)
def bake_status(request_id: RequestId, request: Request, session: DbSession, _: Viewer) -> BakeRead:
    """The bake guard's verdict right now for a promoted request (reads only)."""
    req = requests.get_request(session, request_id)
    requests.require_state(req, "promoted")
    stats = getattr(request.app.state, "serving_stats", None)
    return BakeRead.model_validate(signals.evaluate(session, req, stats).to_json())


@router.post("/promotion-requests/{request_id}/bake/confirm", response_model=PromotionRequestRead)
def confirm_bake(
    request_id: RequestId,
    body: WithdrawCreate,
    session: DbSession,
    actor: Reviewer,
) -> PromotionRequestRead:
    """End a bake period that holds for missing data (reviewer or admin, not the requester)."""
    req = guard.confirm_bake(session, actor, request_id=request_id, reason=body.reason)
    return _request_doc(session, req)


# --- model-level: rollback ----------------------------------------------------------------------


@router.post("/models/{name}/rollback", response_model=RollbackRead)
def rollback(
    name: ModelName, body: RollbackCreate, session: DbSession, actor: Reviewer
) -> RollbackRead:
    """Restore the previous champion now (reviewer or admin; no quorum; audited)."""
    done = rollbacks.rollback(
        session, actor, name=name, reason=body.reason, expected_version=body.from_version
    )
    return RollbackRead.model_validate(done, from_attributes=True)
