"""Admin overrides of failed gates: an explicit, audited decision that blocking gates do not
block approval of one request, under the policy's `override` section (switched off, or two
admins needed). An override names exactly the blocking gates and lapses when the binding
changes (`requests.ensure_current`). The gates are brought up to date first, so an override
names what blocks *now* (a closed incident no longer needs overriding)."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from sqlalchemy.orm import Session

from core.auth import Principal
from core.clock import utcnow
from core.errors import Forbidden
from core.settings import Settings
from governance.promotions.binding import binding_of
from governance.promotions.errors import InvalidOverride, SeparationOfDuties
from governance.promotions.models import PromotionRequest
from governance.promotions.policy_versions import active_policy
from governance.promotions.requests import ensure_current, locked_request, record_event
from governance.registry import service


def override_gates(
    session: Session,
    actor: Principal,
    *,
    request_id: uuid.UUID,
    gate_names: list[str],
    reason: str,
    settings: Settings,
) -> PromotionRequest:
    """An admin's explicit, audited decision to let failed gates not block approval.

    The policy's `override` section can switch the path off, or make it take two admins: the
    first override is then pending until another principal sends the same gates.
    """
    req = locked_request(session, request_id, "open")
    rules = active_policy(session).document.override
    if not rules.enabled:
        raise Forbidden(
            "the promotion policy switches gate overrides off",
            field="override.enabled",
            rule="override_enabled",
        )
    if actor.name == req.requested_by:
        raise SeparationOfDuties(
            "the requester cannot override the gates of their own request",
            field="Authorization",
            rule="requester_cannot_override",
        )
    # stale gates (an incident closed, the policy or champion moved) are re-run first; a
    # changed binding voids approvals and any pending override, as everywhere else
    ensure_current(
        session, actor, req, service.get_version(session, req.model_name, req.version), settings
    )
    named = _overridable(req, gate_names)
    now = utcnow()
    pending = req.override if req.override and not req.override_in_force else None
    if pending is not None and pending["gates"] == sorted(named):
        if pending["by"] == actor.name:
            raise Forbidden(
                "the policy asks a second admin to confirm this override",
                field="Authorization",
                rule="second_principal",
            )
        req.override = {
            **pending,
            "confirmed": True,
            "confirmed_by": actor.name,
            "confirmed_at": now.isoformat(),
            "confirm_reason": reason,
        }
    else:
        req.override = {
            "by": actor.name,
            "at": now.isoformat(),
            "reason": reason,
            "gates": sorted(named),
            "binding": asdict(binding_of(req)),
            "confirmed": not rules.second_principal,
        }
    req.updated_at = now
    session.flush()
    record_event(session, actor, "promotion.gates.override", req, after=req.override)
    return req


def _overridable(req: PromotionRequest, gate_names: list[str]) -> set[str]:
    """The named gates, if they are exactly the blocking ones."""
    named, blocking = set(gate_names), set(req.blocking_gates)
    if not blocking:
        raise InvalidOverride(
            "no gate blocks this request", field="gates", rule="has_blocking_gates"
        )
    if named - blocking:
        raise InvalidOverride(
            f"not blocking, so nothing to override: {sorted(named - blocking)}",
            field="gates",
            rule="gate_is_blocking",
        )
    if blocking - named:
        raise InvalidOverride(
            f"the override must name every blocking gate; missing {sorted(blocking - named)}",
            field="gates",
            rule="covers_blocking_gates",
        )
    return named
