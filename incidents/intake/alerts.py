"""Alerts on incidents: a `page` that fires opens one (or joins one by lineage), a `ticket`
only joins one, and a resolution lands as `alert_resolved`. Firing and resolving entries carry
`details.budget_remaining`, so the error budget consumed while the incident was open can be
computed; the oldest bad batch an alert's evidence shows is the incident's first bad batch
unless earlier bad data is already known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.auth import Principal
from core.settings import Settings
from incidents import repository, service
from incidents.grouping import find_group, reach_of
from incidents.intake.joining import MONITOR, group_window, join
from incidents.models import Incident
from incidents.runbooks import runbook_for_alert

ALERT_SEVERITY = {"page": "critical", "ticket": "minor"}


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


def first_bad_in(evidence: Mapping[str, Any]) -> datetime | None:
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


def evidence_batches(evidence: Mapping[str, Any]) -> list[str]:
    return [str(b["batch_id"]) for b in evidence.get("batches", []) or [] if b.get("batch_id")]


def alert_firing(
    session: Session, signal: AlertSignal, *, settings: Settings, actor: Principal = MONITOR
) -> Incident | None:
    """A page opens (or joins) an incident; a ticket joins one if any overlaps, else nothing."""
    attached = repository.incidents_with_alert(session, signal.alert_id)
    incident = attached[-1] if attached else None
    datasets = [signal.contract_id] if signal.contract_id else []
    first_bad = first_bad_in(signal.evidence)
    affected = {
        "alerts": [signal.alert_id],
        "slos": [signal.slo_id],
        "batches": evidence_batches(signal.evidence),
    }
    if incident is None:
        reach = reach_of(
            session, settings.lineage_namespace, datasets=datasets, model_name=signal.model_name
        )
        incident = find_group(session, reach, now=signal.at, window=group_window(settings))
        if incident is not None:
            join(
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
                runbook=runbook_for_alert(signal.slo_kind, signal.evidence),
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
    at = first_bad_in({"batches": [first]})
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
