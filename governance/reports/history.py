"""A model's story, read from the audit trail: versions, requests, gate results, approvals,
overrides, promotions, rollbacks, bake verdicts and incidents, each as one readable line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from core import audit_repository
from core.audit import AuditEvent
from governance.promotions import repository as repo
from governance.registry import service
from incidents import repository as incidents_repo


def _v(doc: Any, key: str = "version") -> str:
    value = (doc or {}).get(key) if isinstance(doc, dict) else None
    return f"v{value}" if value is not None else "none"


def _gates(p: dict[str, Any]) -> str:
    gates = p.get("gates") or []
    by: dict[str, list[str]] = {}
    for g in gates:
        by.setdefault(g["status"], []).append(g["name"])
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(by.items())) or "no gates"


def _req(p: dict[str, Any]) -> str:
    return f"v{p.get('version')}"


SUMMARIES: dict[str, Callable[[AuditEvent, dict[str, Any]], str]] = {
    "model.version.register": lambda e, p: f"{_v(p.get('after'))} registered by {e.actor}",
    "model.champion.set": lambda e, p: (
        f"champion set {_v(p.get('before'))} → {_v(p.get('after'))} directly by admin "
        f"{e.actor} (break-glass, no approvals): {p.get('reason') or 'no reason given'}"
    ),
    "model.champion.proposed": lambda e, p: (
        f"admin {e.actor} proposed {_v(p.get('after'))} as champion (break-glass, waits for "
        f"a second admin): {p.get('reason')}"
    ),
    "model.champion.promote": lambda e, p: (
        f"champion {_v(p.get('before'))} → {_v(p.get('after'))} by promotion request "
        f"{p.get('request_id')}"
    ),
    "model.champion.rollback": lambda e, p: (
        f"champion rolled back {_v(p.get('before'))} → {_v(p.get('after'))} by {e.actor}"
        f"{' (automatic)' if p.get('via') == 'auto_rollback' else ''}: {p.get('reason')}"
    ),
    "model.load_refused": lambda e, p: (
        f"serving refused to load {e.object_id}: {(p.get('after') or {}).get('error')}"
    ),
    "promotion.request.open": lambda e, p: (
        f"{e.actor} requested promotion of {_req(p)}: {p.get('justification')} — gates {_gates(p)}"
    ),
    "promotion.request.regate": lambda e, p: (
        f"gates re-ran for {_req(p)} ({', '.join(p.get('changed') or []) or 'binding unchanged'})"
        f"; voided approvals: {', '.join(p.get('voided_approvals') or []) or 'none'}"
        f" — gates {_gates(p)}"
    ),
    "promotion.approval.approve": lambda e, p: f"{e.actor} approved {_req(p)}: {p.get('comment')}",
    "promotion.approval.reject": lambda e, p: f"{e.actor} rejected {_req(p)}: {p.get('comment')}",
    "promotion.approval.refused": lambda e, p: (
        f"{e.actor} was not allowed to decide on {_req(p)} ({(p.get('after') or {}).get('rule')})"
    ),
    "promotion.request.approved": lambda e, p: (
        f"{_req(p)} approved ({p.get('approvals')} of {p.get('quorum')} reviewers)"
    ),
    "promotion.request.rejected": lambda e, p: f"{_req(p)} rejected by {e.actor}",
    "promotion.request.expired": lambda e, p: f"request for {_req(p)} expired",
    "promotion.request.withdrawn": lambda e, p: (
        f"{e.actor} withdrew the request for {_req(p)}: {p.get('reason')}"
    ),
    "promotion.gates.override": lambda e, p: (
        f"admin {e.actor} overrode failed gates "
        f"{', '.join((p.get('after') or {}).get('gates', []))} of {_req(p)}: "
        f"{(p.get('after') or {}).get('reason')}"
    ),
    "promotion.request.promoted": lambda e, p: (
        f"{_req(p)} promoted by {e.actor}{' (automatically)' if p.get('auto') else ''}; "
        f"bake period until {p.get('bake_until')}"
    ),
    "promotion.bake.confirmed": lambda e, p: (
        f"bake period of {_req(p)} confirmed"
        + (f" by {e.actor}: {p.get('reason')}" if p.get("by_person") else " by the bake guard")
    ),
    "promotion.bake.holding": lambda e, p: (
        f"bake period of {_req(p)} over but holding: no data for "
        f"{', '.join((p.get('after') or {}).get('missing', []))}"
    ),
    "promotion.bake.rolled_back": lambda e, p: f"bake period of {_req(p)} ended by a rollback",
    "promotion.bake.superseded": lambda e, p: f"bake period of {_req(p)} superseded",
    "incident.open": lambda e, p: f"incident opened: {(p.get('after') or {}).get('title')}",
    "incident.notify": lambda e, p: (
        "incident notified: "
        + (
            ", ".join(
                f"{n['sink']} {'ok' if n['delivered'] else 'failed'}"
                for n in (p.get("after") or {}).get("notifications", [])
            )
            or "no sink takes page alerts"
        )
    ),
}


def summarize(event: AuditEvent) -> str:
    payload = event.payload or {}
    describe = SUMMARIES.get(event.action)
    if describe is None:
        return f"{event.action} on {event.object_type}:{event.object_id} by {event.actor}"
    try:
        return describe(event, payload)
    except (KeyError, TypeError, AttributeError):  # an older payload shape: say what we know
        return f"{event.action} on {event.object_type}:{event.object_id} by {event.actor}"


def model_history(session: Session, name: str, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The model's timeline, oldest first, straight from the audit trail."""
    service.get_model(session, name)
    ids = [str(i) for i in repo.request_ids_of_model(session, name)]
    ids += [str(i.id) for i in incidents_repo.incidents_of_model(session, name)]
    return [
        {
            "seq": e.seq,
            "at": e.occurred_at,
            "actor": e.actor,
            "action": e.action,
            "object": f"{e.object_type}:{e.object_id}",
            "summary": summarize(e),
            "details": e.payload,
        }
        for e in audit_repository.model_audit_events(session, name, ids, limit=limit)
    ]
