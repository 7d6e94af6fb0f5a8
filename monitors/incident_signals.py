"""Monitors' side of automatic incidents: turn alert changes, failing batches and delivered
notifications into `incidents.intake` calls (monitors sit above incidents and may call it).

Each call runs in its own savepoint and logs instead of raising, so an incident that cannot
be written never costs the runner its SLO evaluation or its delivery.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.db import unit_of_work
from core.settings import Settings
from incidents import intake
from monitors.notify import repository as notify_repository
from monitors.slos.models import Alert, Slo

log = logging.getLogger("driftgate.monitors.incidents")


def signal_of(alert: Alert, slo: Slo, at: datetime, settings: Settings) -> intake.AlertSignal:
    burn = alert.burn_rates or {}
    return intake.AlertSignal(
        alert_id=str(alert.id),
        slo_id=slo.id,
        slo_name=slo.name,
        slo_kind=slo.kind,
        severity=alert.severity,
        at=at,
        summary=alert.summary,
        contract_id=slo.contract_id,
        model_name=(slo.params or {}).get("model_name") if slo.kind == "realized_auc" else None,
        budget_remaining=burn.get("budget_remaining"),
        burn_rates=burn,
        evidence=alert.evidence or {},
        alert_url=f"{settings.public_url}/alerts/{alert.id}",
    )


def on_alert_change(
    session: Session,
    slo: Slo,
    alert: Alert,
    to_state: str,
    *,
    at: datetime,
    budget_remaining: float | None,
    settings: Settings,
) -> str | None:
    """A firing alert opens or joins an incident; a resolved one that had fired is recorded.

    Returns an error message to report, or None."""
    if to_state not in ("firing", "resolved") or (to_state == "resolved" and not alert.fired_at):
        return None
    signal = signal_of(alert, slo, at, settings)
    try:
        with session.begin_nested():
            if to_state == "firing":
                intake.alert_firing(session, signal, settings=settings)
            else:
                intake.alert_resolved(session, replace(signal, budget_remaining=budget_remaining))
    except Exception as exc:
        log.exception("recording alert %s on its incident failed", alert.id)
        return f"incident for alert {alert.id}: {exc}"
    return None


def on_batches(session: Session, *, settings: Settings) -> str | None:
    """Failing batches of the last window: a burst opens an incident, others join theirs."""
    try:
        with session.begin_nested():
            intake.batch_failures(session, now=utcnow(), settings=settings)
    except Exception as exc:
        log.exception("evaluating failing batches for incidents failed")
        return f"incidents from batches: {exc}"
    return None


def record_notifications(sessions: sessionmaker[Session], *, settings: Settings) -> str | None:
    """Notifications delivered (or dead) for alerts attached to open incidents, once each."""
    try:
        with unit_of_work(sessions) as session:
            for alert_id in intake.attached_alert_ids(session):
                for status in ("delivered", "dead"):
                    for row in notify_repository.list_notifications(
                        session, status=status, alert_id=uuid.UUID(alert_id), limit=100, offset=0
                    ):
                        sink = notify_repository.get_sink(session, row.sink_id)
                        intake.notification_sent(
                            session,
                            alert_id=alert_id,
                            notification_id=row.id,
                            sink=sink.name if sink else str(row.sink_id),
                            event=row.event,
                            delivered=status == "delivered",
                            at=row.delivered_at or row.created_at,
                            error=row.last_error,
                        )
    except Exception as exc:
        log.exception("recording notifications on incidents failed")
        return f"incident notifications: {exc}"
    return None
