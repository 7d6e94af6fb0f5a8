"""The bake period after a promotion: watch the new champion's live signals, roll back on a
breach, confirm only on evidence.

Signals, each `ok`, `breach` or `no_data`:
- error rate of POST /rank answered by the version (5xx share), from this process's probe;
- p99 latency of those calls;
- score shift: PSI of the scores it served (prediction log) against the scores it gave on
  the gate's offline evaluation rows;
- quality: realized AUC of its served predictions (delayed labels), or the label-free
  estimate, from monitors' quality windows, against its offline AUC.

Any breach rolls back to the previous champion at once, opens an incident and notifies every
enabled notification sink that takes `page` alerts. Once the period is over the bake confirms
only if every signal the policy requires has data and none breached; otherwise it holds
(never confirms on missing data) until data arrives or a person decides.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from core import audit
from core.auth import Principal, Role
from core.clock import utcnow
from core.db import unit_of_work
from core.jsonsafe import jsonsafe
from core.settings import Settings
from governance.bake.serving_probe import RankStats
from governance.promotions import repository as repo
from governance.promotions.errors import ChampionMoved
from governance.promotions.models import PromotionRequest
from governance.promotions.policy_document import Bake
from governance.promotions.policy_versions import policy_at
from governance.promotions.requests import record_event, rollback
from governance.registry import repository
from governance.registry.errors import NoPreviousChampion
from incidents.models import Incident

log = logging.getLogger("driftgate.governance.bake")
GUARD = Principal(name="bake-guard", role=Role.admin)
OK, BREACH, NO_DATA = "ok", "breach", "no_data"
MAX_LIVE_SCORES = 200_000


@dataclass
class Signal:
    name: str
    status: str
    value: float | None = None
    threshold: float | None = None
    detail: str = ""


@dataclass
class BakeReport:
    request_id: str
    model_name: str
    version: int
    verdict: str  # baking | breach | confirm | hold | superseded
    at: datetime
    bake_until: datetime | None
    signals: list[Signal] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return jsonsafe(asdict(self))

    @property
    def breaches(self) -> list[Signal]:
        return [s for s in self.signals if s.status == BREACH]


# --- signals ---------------------------------------------------------------------------------


def serving_signals(
    stats: RankStats | None, req: PromotionRequest, bake: Bake
) -> tuple[Signal, Signal]:
    if stats is None:
        why = "this process does not serve POST /rank, so it saw no traffic"
        return Signal("error_rate", NO_DATA, detail=why), Signal("latency", NO_DATA, detail=why)
    assert req.promoted_at is not None
    summary = stats.summary(req.model_name, req.version, req.promoted_at)
    if summary.requests < bake.min_requests:
        why = f"{summary.requests} of {bake.min_requests} requests needed"
        return (
            Signal("error_rate", NO_DATA, summary.error_rate, bake.max_error_rate, why),
            Signal("latency", NO_DATA, summary.latency_p99_ms, bake.max_latency_p99_ms, why),
        )
    rate, p99 = summary.error_rate or 0.0, summary.latency_p99_ms or 0.0
    return (
        Signal(
            "error_rate",
            BREACH if rate > bake.max_error_rate else OK,
            rate,
            bake.max_error_rate,
            f"{summary.errors} errors in {summary.requests} requests",
        ),
        Signal(
            "latency",
            BREACH if p99 > bake.max_latency_p99_ms else OK,
            p99,
            bake.max_latency_p99_ms,
            f"p99 over {summary.requests} requests",
        ),
    )


_LIVE_SCORES = text(
    "SELECT score FROM predictions WHERE model_name = :m AND model_version = :v "
    "AND served_at >= :t ORDER BY served_at LIMIT :n"
)


def score_shift_signal(session: Session, req: PromotionRequest, bake: Bake) -> Signal:
    from monitors.drift.stats import psi_from_counts

    reference = (req.evaluation or {}).get("score_reference") or {}
    if not reference.get("count"):
        return Signal(
            "score_shift",
            NO_DATA,
            threshold=bake.max_score_psi,
            detail="no offline score distribution (the metrics gate did not run)",
        )
    scores = np.asarray(
        session.execute(
            _LIVE_SCORES,
            {"m": req.model_name, "v": req.version, "t": req.promoted_at, "n": MAX_LIVE_SCORES},
        )
        .scalars()
        .all(),
        dtype=np.float64,
    )
    if scores.size < bake.min_predictions:
        return Signal(
            "score_shift",
            NO_DATA,
            threshold=bake.max_score_psi,
            detail=f"{scores.size} of {bake.min_predictions} served scores needed",
        )
    edges = np.asarray(reference["edges"], dtype=np.float64)
    live = np.bincount(np.searchsorted(edges, scores, side="right"), minlength=len(edges) + 1)
    psi = psi_from_counts(np.asarray(reference["shares"]) * reference["count"], live)
    status = BREACH if psi > bake.max_score_psi else OK
    return Signal(
        "score_shift",
        status,
        psi,
        bake.max_score_psi,
        f"PSI of {scores.size} served scores vs {reference['count']} offline",
    )


_QUALITY = text(
    """
SELECT sum(auc * labeled) FILTER (WHERE auc IS NOT NULL AND status IN ('mature', 'provisional'))
         / nullif(sum(labeled) FILTER (WHERE auc IS NOT NULL
                                       AND status IN ('mature', 'provisional')), 0) AS realized,
       avg(estimated_auc) FILTER (WHERE estimated_auc IS NOT NULL) AS estimated,
       count(*) AS windows
FROM model_quality_windows
WHERE model_name = :m AND window_start >= :t AND model_versions = CAST(:versions AS jsonb)
"""
)


def quality_signal(
    session: Session, req: PromotionRequest, bake: Bake, offline: float | None
) -> Signal:
    if offline is None:
        return Signal("quality", NO_DATA, detail="no offline AUC to compare with")
    row = session.execute(
        _QUALITY, {"m": req.model_name, "t": req.promoted_at, "versions": f"[{req.version}]"}
    ).one()
    live, kind = (
        (row.realized, "realized") if row.realized is not None else (row.estimated, "estimated")
    )
    if live is None:
        return Signal(
            "quality",
            NO_DATA,
            threshold=bake.max_auc_drop,
            detail=f"no quality window served only by v{req.version} yet",
        )
    drop = offline - float(live)
    return Signal(
        "quality",
        BREACH if drop > bake.max_auc_drop else OK,
        float(live),
        bake.max_auc_drop,
        f"{kind} AUC {float(live):.4f} vs offline {offline:.4f} (drop {drop:+.4f})",
    )


def offline_auc(session: Session, req: PromotionRequest) -> float | None:
    evaluated = ((req.evaluation or {}).get("candidate") or {}).get("auc")
    if isinstance(evaluated, float):
        return evaluated
    version = repository.get_version(session, req.model_name, req.version)
    registered = ((version.metrics if version else {}).get("model") or {}).get("auc")
    return float(registered) if isinstance(registered, int | float) else None


def evaluate(
    session: Session, req: PromotionRequest, stats: RankStats | None, now: datetime | None = None
) -> BakeReport:
    """The bake verdict for a promoted request, from its signals now (reads only)."""
    now = now or utcnow()
    bake = policy_at(session, req.policy_version).document.bake
    report = BakeReport(str(req.id), req.model_name, req.version, "baking", now, req.bake_until)
    champion = repository.get_alias(session, req.model_name)
    if champion is None or champion.version != req.version:
        report.verdict = "superseded"
        return report
    report.signals = [
        *serving_signals(stats, req, bake),
        score_shift_signal(session, req, bake),
        quality_signal(session, req, bake, offline_auc(session, req)),
    ]
    by_name = {s.name: s for s in report.signals}
    if report.breaches:
        report.verdict = "breach"
    elif req.bake_until is not None and now >= req.bake_until:
        missing = [n for n in bake.require if by_name[n].status != OK]
        report.verdict = "hold" if missing else "confirm"
    return report


# --- acting on the verdict ---------------------------------------------------------------------


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
    now = report.at
    incident = Incident(
        id=uuid.uuid4(),
        title=f"bake guard rolled back {req.model_name} v{req.version} to v{restored}",
        severity="major",
        status="open",
        source="bake_guard",
        datasets=[],
        model_name=req.model_name,
        model_version=req.version,
        details={
            "promotion_request": str(req.id),
            "restored_version": restored,
            "bake": report.to_json(),
        },
        notifications=[],
        opened_at=now,
        opened_by=GUARD.name,
    )
    session.add(incident)
    session.flush()
    audit.record(
        session,
        actor=GUARD.name,
        action="incident.open",
        object_type="incident",
        object_id=str(incident.id),
        after={
            "title": incident.title,
            "severity": incident.severity,
            "model": req.model_name,
            "version": req.version,
        },
        request_id=str(req.id),
    )
    return incident


# --- notifications (after the rollback has committed) ------------------------------------------


def notification_payload(incident: Incident, settings: Settings) -> dict[str, Any]:
    """The alert-shaped message monitors' sinks render (webhook, Slack, email)."""
    bake = incident.details.get("bake", {})
    breaches = [s for s in bake.get("signals", []) if s.get("status") == BREACH]
    summary = incident.title + ": " + "; ".join(f"{s['name']} {s['detail']}" for s in breaches)
    return jsonsafe(
        {
            "event": "firing",
            "alert_id": str(incident.id),
            "incident_id": str(incident.id),
            "slo": {
                "id": f"bake:{incident.model_name}",
                "name": f"bake guard {incident.model_name}",
                "kind": "bake_guard",
                "objective": None,
                "contract_id": None,
            },
            "severity": "page",
            "state": "firing",
            "summary": summary,
            "opened_at": incident.opened_at,
            "fired_at": incident.opened_at,
            "resolved_at": None,
            "burn_rates": {},
            "evidence": {
                "signals": bake.get("signals", []),
                "promotion_request": incident.details.get("promotion_request"),
            },
            "runbook_url": None,
            "alert_url": f"{settings.public_url}/models/{incident.model_name}/history",
        }
    )


def notify(
    sessions: sessionmaker[Session], incident_id: uuid.UUID, settings: Settings
) -> list[dict[str, Any]]:
    """Send the incident to every enabled `page` sink once; record each outcome (audited)."""
    from monitors.notify import repository as monitor_repo
    from monitors.notify.sinks import DeliveryFailed, send

    with unit_of_work(sessions) as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        payload = notification_payload(incident, settings)
        sinks = [
            s for s in monitor_repo.list_sinks(session, enabled_only=True) if "page" in s.severities
        ]
        results = []
        for sink in sinks:
            try:
                send(
                    sink,
                    payload,
                    settings=settings,
                    now_ts=int(utcnow().timestamp()),
                    delivery_id=f"incident-{incident.id}",
                )
                results.append({"sink": sink.name, "delivered": True})
            except DeliveryFailed as exc:
                results.append({"sink": sink.name, "delivered": False, "error": str(exc)[:500]})
        incident.notifications = [*incident.notifications, *results]
        session.flush()
        audit.record(
            session,
            actor=GUARD.name,
            action="incident.notify",
            object_type="incident",
            object_id=str(incident.id),
            after={"notifications": results},
        )
    return results


def run_guard(
    sessions: sessionmaker[Session], settings: Settings, stats: RankStats | None
) -> GuardOutcome:
    """One guard pass in its own transaction, then notifications for new incidents."""
    with unit_of_work(sessions) as session:
        outcome = guard_once(session, stats=stats)
    for incident_id in outcome.incidents:
        try:
            notify(sessions, incident_id, settings)
        except Exception:  # a notification failure must not stop the guard
            log.exception("notifying incident %s failed", incident_id)
    return outcome


def latest_bake(session: Session, name: str) -> PromotionRequest | None:
    return session.scalar(
        select(PromotionRequest)
        .where(PromotionRequest.model_name == name, PromotionRequest.state == "promoted")
        .order_by(PromotionRequest.promoted_at.desc())
        .limit(1)
    )
