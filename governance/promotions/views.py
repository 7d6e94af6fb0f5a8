"""The reads the API and CLI show: a request with its binding, gates and every decision."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from governance.promotions import gate_verdicts
from governance.promotions import repository as repo
from governance.promotions.binding import Binding, binding_of
from governance.promotions.models import PromotionRequest
from governance.promotions.requests import get_request
from governance.registry import service


def describe(session: Session, req: PromotionRequest) -> dict[str, Any]:
    """A request with its binding and every decision, as the API shows it."""
    decisions = repo.approvals(session, req.id)
    doc = {c.name: getattr(req, c.name) for c in PromotionRequest.__table__.columns}
    doc["binding"] = asdict(binding_of(req))
    doc["gates"] = gate_verdicts.as_shown(req.gates, req.override)
    doc["blocking_gates"] = [g["name"] for g in doc["gates"] if g["blocking"]]
    doc["approvals_live"] = sum(
        1 for a in decisions if a.decision == "approve" and a.voided_at is None
    )
    doc["approvals"] = [
        {
            "reviewer": a.reviewer,
            "decision": a.decision,
            "comment": a.comment,
            "decided_at": a.decided_at,
            "binding": asdict(
                Binding(
                    a.artifact_sha256,
                    a.metrics_sha256,
                    a.policy_version,
                    a.champion_version,
                    a.evidence_sha256,
                )
            ),
            "voided_at": a.voided_at,
            "void_reason": a.void_reason,
        }
        for a in decisions
    ]
    return doc


def describe_by_id(session: Session, request_id: uuid.UUID) -> dict[str, Any]:
    return describe(session, get_request(session, request_id))


def list_requests(
    session: Session, *, name: str | None, state: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    if name is not None:
        service.get_model(session, name)
    rows = repo.list_requests(session, name=name, state=state, limit=limit, offset=offset)
    return [describe(session, r) for r in rows]
