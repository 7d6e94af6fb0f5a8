"""Alert lifecycle: pending → firing → resolved, one open alert per (SLO, severity).

An alert opens as `pending` when a severity's burn-rate rules fire, turns `firing` once it
has held for the SLO's `pending_seconds` (at once with the default 0), and `resolved` when no
rule of its severity fires any more. Each change is a row in `alert_events`; firing and
resolving (of an alert that fired) put one notification per matching sink in the outbox, in
the same transaction, so none is lost if delivery fails or the process dies.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.jsonsafe import jsonsafe
from core.settings import Settings
from incidents import runbooks
from monitors.errors import AlertNotFound
from monitors.notify import repository as notify_repository
from monitors.notify.models import Notification
from monitors.slos import repository
from monitors.slos.evidence import evidence
from monitors.slos.models import Alert, AlertEvent, Slo
from monitors.slos.service import SloEvaluation, rule_json

SEVERITIES = ("page", "ticket")
DEFAULT_RUNBOOK = "docs/monitors.md#runbook-{kind}"


def reconcile(
    session: Session, slo: Slo, evaluation: SloEvaluation, *, settings: Settings
) -> list[tuple[Alert, str | None, str]]:
    """Move this SLO's alerts to match the evaluation; returns (alert, from, to) changes."""
    changes = []
    for severity in SEVERITIES:
        firing = evaluation.firing(severity)
        alert = repository.open_alert(session, slo.id, severity)
        if firing:
            changes += _burning(session, slo, alert, severity, evaluation, settings)
        elif alert is not None:
            changes.append(
                _transition(
                    session,
                    alert,
                    "resolved",
                    evaluation.at,
                    {
                        "reason": "no burn-rate rule of this severity fires any more",
                        "budget_remaining": evaluation.budget_remaining,
                    },
                )
            )
            if alert.fired_at is not None:
                enqueue(session, alert, slo, "resolved", evaluation.at, settings)
    return changes


def resolve_all(
    session: Session, slo: Slo, *, reason: str, at: datetime, settings: Settings
) -> list[tuple[Alert, str | None, str]]:
    """Resolve every open alert of an SLO the runner will no longer evaluate (e.g. disabled).

    Without this an alert of a disabled SLO would stay `firing` forever, since only enabled
    SLOs are reconciled; an alert that fired gets its resolve notification like any other.
    """
    changes = []
    for severity in SEVERITIES:
        alert = repository.open_alert(session, slo.id, severity)  # locked, like reconcile's
        if alert is None:
            continue
        changes.append(_transition(session, alert, "resolved", at, {"reason": reason}))
        if alert.fired_at is not None:
            enqueue(session, alert, slo, "resolved", at, settings)
    session.flush()
    return changes


def _burning(
    session: Session,
    slo: Slo,
    alert: Alert | None,
    severity: str,
    evaluation: SloEvaluation,
    settings: Settings,
) -> list[tuple[Alert, str | None, str]]:
    now = evaluation.at
    rules = evaluation.firing(severity)
    longest = max(v.long_span or v.rule.long for v in rules)  # as counted, when widened
    shown = evidence(session, slo, evaluation.events, now - longest, now, settings.public_url)
    changes: list[tuple[Alert, str | None, str]] = []
    if alert is None:
        alert = Alert(
            slo_id=slo.id,
            severity=severity,
            state="pending",
            opened_at=now,
            last_evaluated_at=now,
            summary="",
            burn_rates={},
            evidence={},
            runbook_url=slo.runbook_url or _runbook_url(slo, shown, settings),
        )
        session.add(alert)
        session.flush()
        changes.append(_record(session, alert, None, "pending", now, {"rules": len(rules)}))
    alert.summary = _summary(slo, severity, evaluation, shown)[:2000]
    alert.burn_rates = jsonsafe(
        {"windows": [rule_json(v) for v in rules], "budget_remaining": evaluation.budget_remaining}
    )
    alert.evidence = jsonsafe(shown)
    alert.last_evaluated_at = now
    held = (now - alert.opened_at).total_seconds()
    if alert.state == "pending" and held >= slo.pending_seconds:
        changes.append(_transition(session, alert, "firing", now, {"held_seconds": held}))
        alert.fired_at = now
        enqueue(session, alert, slo, "firing", now, settings)
    session.flush()
    return changes


def _runbook_url(slo: Slo, shown: dict[str, Any], settings: Settings) -> str:
    """The served runbook the alert's kind and evidence call for (`docs/runbooks/`)."""
    name = runbooks.runbook_for_alert(slo.kind, jsonsafe(shown))
    return runbooks.runbook_url(settings.public_url, name) or DEFAULT_RUNBOOK.format(kind=slo.kind)


def _summary(slo: Slo, severity: str, evaluation: SloEvaluation, shown: dict[str, Any]) -> str:
    worst = max(evaluation.firing(severity), key=lambda v: v.long_burn_rate or 0.0)
    budget = evaluation.budget_remaining
    budget_text = "n/a" if budget is None else f"{budget:.1%}"
    text = (
        f"{slo.name}: error budget burning {worst.long_burn_rate:.1f}x "
        f"(threshold {worst.threshold:.1f}x over {worst.rule.long}); "
        f"budget remaining {budget_text}"
    )
    if slo.kind == "realized_auc" and shown.get("windows"):
        text += "; " + _low_auc_text(shown["windows"])
    return text


def _low_auc_text(windows: list[dict[str, Any]], shown: int = 3) -> str:
    """The newest low-AUC windows: span, AUC and when it became known (labels are late)."""
    parts = [
        f"{w['start']:%Y-%m-%d %H:%M} to {w['end']:%H:%M} AUC {w['auc']:.3f} "
        f"known {w['counted_at']:%Y-%m-%d %H:%M}"
        for w in windows[-shown:]
        if w.get("counted_at") is not None
    ]
    more = len(windows) - len(parts)
    return "low-AUC windows: " + ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _transition(
    session: Session, alert: Alert, to_state: str, at: datetime, details: dict[str, Any]
) -> tuple[Alert, str | None, str]:
    from_state = alert.state
    alert.state = to_state
    if to_state == "resolved":
        alert.resolved_at = at
    alert.last_evaluated_at = at
    return _record(session, alert, from_state, to_state, at, details)


def _record(
    session: Session,
    alert: Alert,
    from_state: str | None,
    to_state: str,
    at: datetime,
    details: dict[str, Any],
) -> tuple[Alert, str | None, str]:
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=at,
            from_state=from_state,
            to_state=to_state,
            details=jsonsafe(details),
        )
    )
    return alert, from_state, to_state


def payload(alert: Alert, slo: Slo, event: str, settings: Settings) -> dict[str, Any]:
    """The message every sink renders: what, how bad, evidence and runbook links."""
    return jsonsafe(
        {
            "event": event,
            "alert_id": str(alert.id),
            "slo": {
                "id": slo.id,
                "name": slo.name,
                "kind": slo.kind,
                "objective": slo.objective,
                "contract_id": slo.contract_id,
            },
            "severity": alert.severity,
            "state": alert.state,
            "summary": alert.summary,
            "opened_at": alert.opened_at,
            "fired_at": alert.fired_at,
            "resolved_at": alert.resolved_at,
            "burn_rates": alert.burn_rates,
            "evidence": alert.evidence,
            "runbook_url": alert.runbook_url,
            "alert_url": f"{settings.public_url}/alerts/{alert.id}",
        }
    )


def enqueue(
    session: Session, alert: Alert, slo: Slo, event: str, now: datetime, settings: Settings
) -> list[Notification]:
    """One outbox row per enabled sink that takes this severity."""
    body = payload(alert, slo, event, settings)
    rows = [
        Notification(
            sink_id=sink.id,
            alert_id=alert.id,
            event=event,
            payload=body,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for sink in notify_repository.list_sinks(session, enabled_only=True)
        if alert.severity in sink.severities
    ]
    session.add_all(rows)
    return rows


def list_alerts(
    session: Session,
    *,
    state: str | None,
    slo_id: str | None,
    severity: str | None,
    limit: int,
    offset: int,
) -> list[Alert]:
    """Alerts, newest first, optionally of one state, SLO or severity."""
    return repository.list_alerts(
        session, state=state, slo_id=slo_id, severity=severity, limit=limit, offset=offset
    )


def with_history(session: Session, alert_id: uuid.UUID) -> tuple[Alert, list[AlertEvent]]:
    """An alert and its state changes, oldest first."""
    alert = repository.get_alert(session, alert_id)
    if alert is None:
        raise AlertNotFound(f"no alert {alert_id}", field="alert_id", rule="exists")
    return alert, repository.alert_history(session, [alert_id])
