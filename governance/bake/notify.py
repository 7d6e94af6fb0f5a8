"""Notifying a bake guard's incident, after the rollback that opened it has committed: every
enabled notification sink that takes `page` alerts gets it once, and each outcome is audited.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core import audit
from core.clock import utcnow
from core.db import unit_of_work
from core.jsonsafe import jsonsafe
from core.settings import Settings
from governance.bake.guard import GUARD
from governance.bake.signals import BREACH
from incidents import repository as incidents_repo
from incidents import service as incidents_service
from incidents.models import Incident


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
        incident = incidents_repo.get_incident(session, incident_id)
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
        for r in results:
            incidents_service.record_event(
                session,
                incident.id,
                kind="notification",
                actor=GUARD.name,
                summary=f"page {'sent' if r['delivered'] else 'not delivered'} to {r['sink']}",
                details={**r, "event": "firing"},
                source_key=f"bake-notify:{r['sink']}",
                audited=False,  # the incident.notify event above covers them
            )
    return results
