"""Governance writes incident timelines: a promotion refused by the incidents gate, and the
bake guard's rollback (its end-to-end path is tests/governance/bake/test_serving.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from core.auth import Principal, Role
from core.clock import utcnow
from core.settings import Settings
from incidents import intake, service
from tests.governance.conftest import Gov, gov, loadable_artifact  # noqa: F401  (fixtures)
from tests.incidents.builders import audit_count, page

GUARD = Principal(name="bake-guard", role=Role.admin)


def test_a_promotion_blocked_by_an_open_incident_lands_on_its_timeline_once(
    gov: Gov,  # noqa: F811
    settings: Settings,
) -> None:
    incident = intake.alert_firing(gov.db, page("impressions", utcnow()), settings=settings)
    assert incident is not None
    gov.db.commit()
    doc = gov.open(gov.register())
    [gate] = [g for g in doc["gates"] if g["name"] == "incidents"]
    assert gate["status"] == "failed" and gate["blocking"]
    again = gov.client.post(f"/promotion-requests/{doc['id']}/gates", headers=gov.as_("test-admin"))
    assert again.status_code == 200
    blocked = [e for e in service.timeline(gov.db, incident.id) if e.kind == "promotion_blocked"]
    assert len(blocked) == 1 and blocked[0].details["version"] == doc["version"]
    assert incident.affected["promotion_requests"]


def test_a_bake_rollback_opens_an_incident_with_a_rollback_entry(db: Session) -> None:
    at = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
    promoted = datetime(2026, 11, 5, 11, 0, tzinfo=UTC)
    incident = intake.bake_rollback(
        db,
        GUARD,
        model_name="ranker",
        version=3,
        restored=2,
        request_id="r-1",
        reasons="latency: p99 40 ms over 25 ms",
        details={"bake": {"signals": []}},
        at=at,
        promoted_at=promoted,
    )
    assert (incident.source, incident.severity, incident.model_version) == (
        "bake_guard",
        "major",
        3,
    )
    assert incident.runbook == "bad-promotion-rollback" and incident.first_bad_at == promoted
    kinds = [e.kind for e in service.timeline(db, incident.id)]
    assert kinds == ["opened", "rollback"]
    assert audit_count(db, str(incident.id), "incident.open") == 1
    assert audit_count(db, str(incident.id), "incident.timeline") == 1
