"""Automatic incidents: what opens one, and what lands on an open one's timeline.

Called from above (monitors' runner, the bake guard, the promotion gates) with plain facts,
since incidents sits below those layers and imports none of them:

- a `page` alert that fires opens an incident (critical), or joins one by lineage
  (`grouping.py`); a `ticket` alert only joins one. Its resolution adds `alert_resolved`.
  Firing and resolving entries carry `details.budget_remaining` (the SLO's error budget left
  at that moment), so the budget consumed while the incident was open can be computed;
- the bake guard's rollback opens one (major) with a `rollback` entry;
- a burst of failing batches of one contract (rejected, or quarantine-heavy) opens one
  (major); every failing batch of a contract with an open incident lands as `batch_failed`
  or `quarantine`, and the earliest sets `first_bad_at` with a `first_bad_batch` entry;
- a promotion refused by the incidents gate adds `promotion_blocked` (once per request);
- a notification delivered (or given up on) for an attached alert adds `notification`.

Every entry has a `source_key`, so running the same step twice changes nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from checks import repository as checks_repo
from core.auth import Principal, Role
from core.settings import Settings
from incidents import repository, service
from incidents.grouping import Reach, find_group, reach_of
from incidents.models import SEVERITIES, Incident
from incidents.runbooks import runbook_for_alert

MONITOR = Principal(name="monitor-runner", role=Role.admin)
ALERT_SEVERITY = {"page": "critical", "ticket": "minor"}
BURST_SEVERITY = "major"
ROLLBACK_SEVERITY = "major"
MAX_LISTED = 1000  # batch ids an incident lists in `affected.batches`


@dataclass(frozen=True)
class AlertSignal:
    """An alert's state change, as monitors describe it (incidents cannot read alerts)."""

    alert_id: str
    slo_id: str
    slo_name: str
    slo_kind: str
    severity: str  # page | ticket
    at: datetime
    summary: str = ""
    contract_id: str | None = None
    model_name: str | None = None
    budget_remaining: float | None = None
    burn_rates: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    alert_url: str | None = None

    def details(self, state: str) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "slo_id": self.slo_id,
            "slo_kind": self.slo_kind,
            "severity": self.severity,
            "state": state,
            "budget_remaining": self.budget_remaining,
            "burn_rates": dict(self.burn_rates),
            "evidence": dict(self.evidence),
            "alert_url": self.alert_url,
        }


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.incident_group_window_minutes)


def _first_bad_in(evidence: Mapping[str, Any]) -> datetime | None:
    """The earliest bad batch the alert's evidence shows: a failing batch's arrival, or a
    drifted one-batch window. A sliding window only bounds when bad data came (anywhere in
    its length), so it does not count."""
    times = [b.get("received_at") for b in evidence.get("batches", []) or []]
    times += [w.get("start") for w in evidence.get("windows", []) or [] if w.get("kind") == "batch"]
    parsed = []
    for t in times:
        if isinstance(t, datetime):
            parsed.append(t)
        elif isinstance(t, str):
            try:
                parsed.append(datetime.fromisoformat(t))
            except ValueError:
                continue
    return min(parsed) if parsed else None


def _evidence_batches(evidence: Mapping[str, Any]) -> list[str]:
    return [str(b["batch_id"]) for b in evidence.get("batches", []) or [] if b.get("batch_id")]


def _join(
    session: Session,
    incident: Incident,
    reach: Reach,
    *,
    actor: Principal,
    at: datetime,
    key: str,
    what: str,
    affected: Mapping[str, Iterable[Any]],
    first_bad_at: datetime | None = None,
    severity: str | None = None,
) -> None:
    """A signal joins an incident by lineage: merge what it touches, record `grouped`, and
    raise the severity to the signal's if that is higher (never lower it)."""
    service.attach(
        incident,
        datasets=reach.datasets,
        affected={**affected, "model_versions": sorted(reach.model_versions)},
        first_bad_at=first_bad_at,
    )
    session.flush()
    service.record_event(
        session,
        incident.id,
        kind="grouped",
        actor=actor.name,
        summary=f"{what} joined this incident (shared datasets or model versions)",
        at=at,
        details={
            "datasets": sorted(reach.datasets),
            "model_versions": sorted(reach.model_versions),
        },
        source_key=f"grouped:{key}",
    )
    if severity is not None and SEVERITIES.index(severity) < SEVERITIES.index(incident.severity):
        service.update_incident(
            session, actor, incident.id, changes={"severity": severity}, reason=f"{what} joined"
        )


# --- alerts -----------------------------------------------------------------------------------


def alert_firing(
    session: Session, signal: AlertSignal, *, settings: Settings, actor: Principal = MONITOR
) -> Incident | None:
    """A page opens (or joins) an incident; a ticket joins one if any overlaps, else nothing."""
    attached = repository.incidents_with_alert(session, signal.alert_id)
    incident = attached[-1] if attached else None
    datasets = [signal.contract_id] if signal.contract_id else []
    first_bad = _first_bad_in(signal.evidence)
    affected = {
        "alerts": [signal.alert_id],
        "slos": [signal.slo_id],
        "batches": _evidence_batches(signal.evidence),
    }
    if incident is None:
        reach = reach_of(
            session, settings.lineage_namespace, datasets=datasets, model_name=signal.model_name
        )
        incident = find_group(session, reach, now=signal.at, window=_window(settings))
        if incident is not None:
            _join(
                session,
                incident,
                reach,
                actor=actor,
                at=signal.at,
                key=f"alert:{signal.alert_id}",
                what=f"{signal.severity} alert on SLO {signal.slo_id}",
                affected=affected,
                first_bad_at=first_bad,
                severity=ALERT_SEVERITY[signal.severity] if signal.severity == "page" else None,
            )
        elif signal.severity == "page":
            incident = service.open_incident(
                session,
                actor,
                title=f"{signal.slo_name}: error budget burning ({signal.slo_kind})",
                severity=ALERT_SEVERITY[signal.severity],
                source="alert",
                datasets=reach.datasets,
                model_name=signal.model_name,
                affected={**affected, "model_versions": sorted(reach.model_versions)},
                details={"alert": signal.details("firing")},
                first_bad_at=first_bad,
                runbook=runbook_for_alert(signal.slo_kind, signal.evidence),
                summary=f"opened by a page alert on SLO {signal.slo_id}",
                at=signal.at,
            )
        else:
            return None
    _first_bad_from_evidence(session, incident, signal, actor)
    service.record_event(
        session,
        incident.id,
        kind="alert_firing",
        actor=actor.name,
        summary=signal.summary or f"{signal.severity} alert on SLO {signal.slo_id} fires",
        at=signal.at,
        details=signal.details("firing"),
        source_key=f"alert:{signal.alert_id}:firing",
    )
    return incident


def _first_bad_from_evidence(
    session: Session, incident: Incident, signal: AlertSignal, actor: Principal
) -> None:
    """The earliest bad batch the alert shows is the incident's first bad batch, unless
    earlier bad data is already known."""
    batches = [b for b in signal.evidence.get("batches", []) or [] if b.get("received_at")]
    if not batches:
        return
    first = min(batches, key=lambda b: str(b["received_at"]))
    at = _first_bad_in({"batches": [first]})
    if at is None or (incident.first_bad_at is not None and incident.first_bad_at < at):
        return
    if incident.first_bad_at is None or at < incident.first_bad_at:
        incident.first_bad_at = at
        session.flush()
    service.record_event(
        session,
        incident.id,
        kind="first_bad_batch",
        actor=actor.name,
        summary=f"first bad batch {first.get('batch_id')} ({first.get('status')})",
        at=at,
        details={**first, "contract_id": signal.contract_id, "from": "alert evidence"},
        source_key=f"first_bad_batch:{first.get('batch_id')}",
    )


def alert_resolved(
    session: Session, signal: AlertSignal, *, actor: Principal = MONITOR
) -> list[Incident]:
    """An attached alert resolved: an `alert_resolved` entry with the budget left now."""
    incidents = repository.incidents_with_alert(session, signal.alert_id)
    for incident in incidents:
        service.record_event(
            session,
            incident.id,
            kind="alert_resolved",
            actor=actor.name,
            summary=f"{signal.severity} alert on SLO {signal.slo_id} resolved",
            at=signal.at,
            details=signal.details("resolved"),
            source_key=f"alert:{signal.alert_id}:resolved",
        )
    return incidents


# --- batches ----------------------------------------------------------------------------------


def _failing_batches(session: Session, since: datetime, now: datetime, rate: float) -> list[Any]:
    rejected = checks_repo.list_batches(
        session, contract_id=None, status="rejected", since=since, limit=MAX_LISTED, offset=0
    )
    quarantined = checks_repo.list_batches(
        session, contract_id=None, status="quarantined", since=since, limit=MAX_LISTED, offset=0
    )
    heavy = [
        b for b in quarantined if b.rows_received and b.rows_quarantined / b.rows_received >= rate
    ]
    return sorted(
        (b for b in rejected + heavy if b.received_at <= now), key=lambda b: b.received_at
    )


def batch_failures(
    session: Session, *, now: datetime, settings: Settings, actor: Principal = MONITOR
) -> list[Incident]:
    """Evaluate failing batches of the last window; returns the incidents that got entries."""
    window = timedelta(minutes=settings.incident_batch_failure_window_minutes)
    by_contract: dict[str, list[Any]] = defaultdict(list)
    for batch in _failing_batches(
        session, now - window, now, settings.incident_batch_quarantine_rate
    ):
        by_contract[batch.contract_id].append(batch)
    touched = []
    for contract_id, bad in sorted(by_contract.items()):
        existing = repository.not_closed_on(session, contract_id)
        if not existing:
            # a batch an incident already recorded (one closed meanwhile) never counts again
            seen = repository.recorded_sources(session, [f"batch:{b.id}" for b in bad])
            bad = [b for b in bad if f"batch:{b.id}" not in seen]
        incident = (
            existing[0]
            if existing
            else _burst_incident(session, contract_id, bad, now, settings, actor)
        )
        if incident is not None:
            _record_batches(session, incident, bad, actor)
            touched.append(incident)
    return touched


def _burst_incident(
    session: Session,
    contract_id: str,
    bad: list[Any],
    now: datetime,
    settings: Settings,
    actor: Principal,
) -> Incident | None:
    """For a burst, the incident it groups into by lineage, or a new one; else None."""
    if not bad or len(bad) < settings.incident_batch_failure_burst:
        return None
    reach = reach_of(session, settings.lineage_namespace, datasets=[contract_id])
    affected = {"batches": [str(b.id) for b in bad]}
    group = find_group(session, reach, now=now, window=_window(settings))
    if group is not None:
        _join(
            session,
            group,
            reach,
            actor=actor,
            at=bad[-1].received_at,
            key=f"batches:{contract_id}:{bad[0].id}",
            what=f"{len(bad)} failing batches of {contract_id}",
            affected=affected,
        )
        return group
    minutes = settings.incident_batch_failure_window_minutes
    return service.open_incident(
        session,
        actor,
        title=f"{len(bad)} failing batches of {contract_id} within {minutes:g} minutes",
        severity=BURST_SEVERITY,
        source="batch_failures",
        datasets=reach.datasets,
        affected={**affected, "model_versions": sorted(reach.model_versions)},
        details={
            "contract_id": contract_id,
            "failing_batches": len(bad),
            "statuses": sorted({b.status for b in bad}),
            "window_minutes": minutes,
            "threshold": settings.incident_batch_failure_burst,
        },
        first_bad_at=bad[0].received_at,
        at=now,
    )


def _record_batches(session: Session, incident: Incident, bad: list[Any], actor: Principal) -> None:
    listed = set(incident.affected.get("batches", []))
    new_ids = [str(b.id) for b in bad if str(b.id) not in listed]
    if new_ids and len(listed) < MAX_LISTED:
        service.attach(incident, affected={"batches": new_ids[: MAX_LISTED - len(listed)]})
    first = bad[0]
    if incident.first_bad_at is None or first.received_at < incident.first_bad_at:
        incident.first_bad_at = first.received_at
    session.flush()
    if incident.first_bad_at == first.received_at:
        service.record_event(
            session,
            incident.id,
            kind="first_bad_batch",
            actor=actor.name,
            summary=f"first bad batch {first.id} of {first.contract_id} ({first.status})",
            at=first.received_at,
            details=_batch_details(first),
            source_key=f"first_bad_batch:{first.id}",
        )
    for b in bad:
        service.record_event(
            session,
            incident.id,
            kind="batch_failed" if b.status == "rejected" else "quarantine",
            actor=actor.name,
            summary=(
                f"batch {b.id} of {b.contract_id} rejected"
                if b.status == "rejected"
                else f"batch {b.id} of {b.contract_id}: {b.rows_quarantined} of "
                f"{b.rows_received} rows quarantined"
            ),
            at=b.received_at,
            details=_batch_details(b),
            source_key=f"batch:{b.id}",
        )


def _batch_details(b: Any) -> dict[str, Any]:
    return {
        "batch_id": str(b.id),
        "contract_id": b.contract_id,
        "contract_version": b.contract_version,
        "status": b.status,
        "rows_received": b.rows_received,
        "rows_accepted": b.rows_accepted,
        "rows_quarantined": b.rows_quarantined,
        "received_at": b.received_at,
    }


# --- governance ------------------------------------------------------------------------------


def bake_rollback(
    session: Session,
    actor: Principal,
    *,
    model_name: str,
    version: int,
    restored: int,
    request_id: str,
    reasons: str,
    details: Mapping[str, Any],
    at: datetime,
    promoted_at: datetime | None = None,
) -> Incident:
    """The bake guard rolled a promotion back: a new incident with a `rollback` entry."""
    incident = service.open_incident(
        session,
        actor,
        title=f"bake guard rolled back {model_name} v{version} to v{restored}",
        severity=ROLLBACK_SEVERITY,
        source="bake_guard",
        model_name=model_name,
        model_version=version,
        affected={
            "promotion_requests": [request_id],
            "model_versions": [f"{model_name}:{version}"],
        },
        details=details,
        first_bad_at=promoted_at,
        at=at,
    )
    service.record_event(
        session,
        incident.id,
        kind="rollback",
        actor=actor.name,
        summary=f"rolled back {model_name} v{version} → v{restored}: {reasons}",
        at=at,
        details={
            "model_name": model_name,
            "from_version": version,
            "to_version": restored,
            "promotion_request": request_id,
            "reasons": reasons,
        },
        source_key=f"rollback:{request_id}",
    )
    return incident


def promotion_blocked(
    session: Session,
    *,
    incident_ids: Iterable[uuid.UUID | str],
    request_id: uuid.UUID | str,
    model_name: str,
    version: int,
    at: datetime,
    actor: str = "promotion-gates",
) -> int:
    """Each blocking incident records the refused promotion of a model version once (a
    version has at most one active promotion request; `request_id` is the one seen first)."""
    added = 0
    for raw in incident_ids:
        incident = repository.get_incident(session, uuid.UUID(str(raw)))
        if incident is None:
            continue
        entry = service.record_event(
            session,
            incident.id,
            kind="promotion_blocked",
            actor=actor,
            summary=f"promotion of {model_name} v{version} blocked by this incident",
            at=at,
            details={"promotion_request": str(request_id), "model": model_name, "version": version},
            source_key=f"promotion:{model_name}:v{version}",
        )
        if entry is not None:
            service.attach(incident, affected={"promotion_requests": [str(request_id)]})
            added += 1
    session.flush()
    return added


# --- notifications ---------------------------------------------------------------------------


def attached_alert_ids(session: Session) -> list[str]:
    """Alerts attached to incidents not closed (whose notifications the timeline records)."""
    ids: list[str] = []
    for incident in repository.not_closed(session):
        ids += [a for a in (incident.affected or {}).get("alerts", []) if a not in ids]
    return ids


def notification_sent(
    session: Session,
    *,
    alert_id: str,
    notification_id: int | str,
    sink: str,
    event: str,
    delivered: bool,
    at: datetime,
    error: str | None = None,
    actor: str = MONITOR.name,
) -> int:
    """A notification for an attached alert was delivered (or given up on): one entry each."""
    added = 0
    for incident in repository.incidents_with_alert(session, alert_id):
        entry = service.record_event(
            session,
            incident.id,
            kind="notification",
            actor=actor,
            summary=(
                f"{event} notification {'sent' if delivered else 'not delivered'} to {sink}"
                + ("" if delivered or not error else f": {error[:200]}")
            ),
            at=at,
            details={
                "alert_id": alert_id,
                "notification_id": str(notification_id),
                "sink": sink,
                "event": event,
                "delivered": delivered,
                "error": error,
            },
            source_key=f"notification:{notification_id}",
        )
        if entry is not None:
            incident.notifications = [
                *incident.notifications,
                {"sink": sink, "delivered": delivered, "event": event, "alert_id": alert_id},
            ]
            added += 1
    session.flush()
    return added
