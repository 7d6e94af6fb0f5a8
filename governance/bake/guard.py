"""The bake guard acts on the verdict of a promotion still baking: a breach rolls back to the
previous champion at once and opens an incident (notified by `notify` once committed); a
confirm or a superseded champion ends the bake; a hold is recorded once and waits for data or
for a person (`confirm_bake`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.auth import Principal, Role
from core.clock import utcnow
from governance.bake.serving_probe import RankStats
from governance.bake.signals import BREACH, OK, BakeReport, Signal, evaluate
from governance.promotions import repository as repo
from governance.promotions.errors import ChampionMoved, RequestClosed, SeparationOfDuties
from governance.promotions.models import PromotionRequest
from governance.promotions.requests import get_request, record_event, require_state
from governance.promotions.rollback import rollback
from governance.registry.errors import NoPreviousChampion
from incidents import intake
from incidents.models import Incident

log = logging.getLogger("driftgate.governance.bake")
GUARD = Principal(name="bake-guard", role=Role.admin)


@dataclass
class GuardOutcome:
    expired: int = 0
    rolled_back: list[dict[str, Any]] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    holding: list[str] = field(default_factory=list)
    incidents: list[uuid.UUID] = field(default_factory=list)


def guard_once(
    session: Session, *, stats: RankStats | None, now: datetime | None = None
) -> GuardOutcome:
    """Expire overdue requests and act on every baking promotion, in the caller's transaction."""
    from governance.promotions.requests import expire_due

    now = now or utcnow()
    outcome = GuardOutcome(expired=expire_due(session, now=now))
    for req in repo.baking(session):
        report = evaluate(session, req, stats, now)
        if report.verdict == "breach":
            _roll_back(session, req, report, outcome)
        elif report.verdict in ("confirm", "superseded"):
            _finish(
                session, req, report, "confirmed" if report.verdict == "confirm" else "superseded"
            )
            if report.verdict == "confirm":
                outcome.confirmed.append(str(req.id))
        elif report.verdict == "hold":
            outcome.holding.append(str(req.id))
            if (req.bake_result or {}).get("verdict") != "hold":
                req.bake_result = report.to_json()
                session.flush()
                record_event(
                    session,
                    GUARD,
                    "promotion.bake.holding",
                    req,
                    after={"missing": [s.name for s in report.signals if s.status != OK]},
                )
    return outcome


def _finish(session: Session, req: PromotionRequest, report: BakeReport, state: str) -> None:
    req.bake_state, req.bake_result, req.updated_at = state, report.to_json(), report.at
    session.flush()
    record_event(
        session,
        GUARD,
        f"promotion.bake.{state}",
        req,
        before={"bake_state": "baking"},
        after={"bake_state": state},
        signals=report.to_json()["signals"],
    )


def _roll_back(
    session: Session, req: PromotionRequest, report: BakeReport, outcome: GuardOutcome
) -> None:
    reasons = "; ".join(f"{s.name}: {s.detail}" for s in report.breaches)
    try:
        done = rollback(
            session,
            GUARD,
            name=req.model_name,
            reason=f"bake guard breach: {reasons}",
            expected_version=req.version,
            via="auto_rollback",
        )
    except (ChampionMoved, NoPreviousChampion) as exc:
        log.warning(
            "bake breach on %s v%s but cannot roll back: %s",
            req.model_name,
            req.version,
            exc.detail,
        )
        report.signals.append(Signal("rollback", BREACH, detail=exc.detail))
        req.bake_result = report.to_json()
        session.flush()
        return
    req.bake_state, req.bake_result = "rolled_back", report.to_json()
    incident = open_incident(session, req, report, restored=done.to_version)
    outcome.rolled_back.append(
        {
            "request_id": str(req.id),
            "from": done.from_version,
            "to": done.to_version,
            "incident": str(incident.id),
        }
    )
    outcome.incidents.append(incident.id)


def open_incident(
    session: Session, req: PromotionRequest, report: BakeReport, *, restored: int
) -> Incident:
    """The rollback's incident (audited), with a `rollback` entry on its timeline."""
    return intake.bake_rollback(
        session,
        GUARD,
        model_name=req.model_name,
        version=req.version,
        restored=restored,
        request_id=str(req.id),
        reasons="; ".join(f"{s.name}: {s.detail}" for s in report.breaches),
        details={
            "promotion_request": str(req.id),
            "restored_version": restored,
            "bake": report.to_json(),
        },
        at=report.at,
        promoted_at=req.promoted_at,
    )


def confirm_bake(
    session: Session, actor: Principal, *, request_id: uuid.UUID, reason: str
) -> PromotionRequest:
    """A person ends a bake that holds for missing data (audited; never the requester)."""
    req = get_request(session, request_id, for_update=True)
    require_state(req, "promoted")
    if req.bake_state != "baking":
        raise RequestClosed(
            f"the bake period is {req.bake_state or 'not running'}",
            field="request_id",
            rule="baking",
            extra={"bake_state": req.bake_state},
        )
    if actor.name == req.requested_by:
        raise SeparationOfDuties(
            "the requester cannot confirm their own promotion's bake period",
            field="Authorization",
            rule="requester_cannot_confirm",
        )
    now = utcnow()
    req.bake_state, req.updated_at = "confirmed", now
    req.bake_result = {**(req.bake_result or {}), "confirmed_by": actor.name, "reason": reason}
    session.flush()
    record_event(
        session,
        actor,
        "promotion.bake.confirmed",
        req,
        before={"bake_state": "baking"},
        after={"bake_state": "confirmed"},
        by_person=True,
        reason=reason,
    )
    return req
