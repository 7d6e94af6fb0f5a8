"""Bugs a review of incidents and postmortems found, each pinned by the test that showed it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.auth import Principal, Role
from core.settings import Settings
from incidents import intake, service
from incidents.errors import InvalidIncident
from incidents.impact import impact
from incidents.postmortems import drafting
from incidents.postmortems.drafting import Entry, IncidentFacts
from tests.incidents.builders import audit_count, lineage_model, page
from tests.monitors.factory import batch_row, register

Auth = Callable[[str], dict[str, str]]
PROBLEM = "application/problem+json"
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ADMIN = Principal(name="ann", role=Role.admin)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _drafted(client: TestClient, auth: Auth) -> dict[str, Any]:
    made = client.post(
        "/incidents", json={"title": "feed broke", "severity": "minor"}, headers=auth("reviewer")
    )
    assert made.status_code == 201, made.text
    pm = client.post(f"/incidents/{made.json()['id']}/postmortem", headers=auth("producer"))
    assert pm.status_code == 201, pm.text
    return pm.json()


def test_a_model_version_past_the_integer_column_is_a_422_not_a_500(
    client: TestClient, auth: Auth
) -> None:
    body = {"title": "x", "severity": "minor", "model_name": "ranker", "model_version": 2**31}
    r = client.post("/incidents", json=body, headers=auth("reviewer"))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["field"] == "model_version"


def test_the_service_refuses_a_model_version_past_the_integer_column(db: Session) -> None:
    # the CLI (`driftgate incidents open --version`) calls the service without the API's schema
    body = {"title": "x", "severity": "minor", "model_name": "ranker", "model_version": 2**31}
    with pytest.raises(InvalidIncident) as caught:
        service.open_manual(db, ADMIN, body=body)
    assert caught.value.field == "model_version"


def test_budget_is_unknown_while_another_alert_of_the_same_slo_still_fires() -> None:
    # a page and a ticket alert of one SLO fire together; the ticket resolving first must not
    # make the postmortem report a consumed budget while the page still burns it
    def entry(at: float, kind: str, alert: str, budget: float) -> Entry:
        return Entry(
            _at(at), kind, "m", kind, {"slo_id": "s", "alert_id": alert, "budget_remaining": budget}
        )

    entries = [
        entry(0, "alert_firing", "page", 0.9),
        entry(60, "alert_firing", "ticket", 0.85),
        entry(120, "alert_resolved", "ticket", 0.7),
    ]
    total, per_slo = drafting.error_budget(entries)
    assert total is None and per_slo[0]["firing"] is True and per_slo[0]["consumed"] is None
    total, _ = drafting.error_budget([*entries, entry(300, "alert_resolved", "page", 0.6)])
    assert total == pytest.approx(0.3)


def test_the_detection_sentence_reads_without_a_doubled_article() -> None:
    incident = IncidentFacts(id="i", title="t", source="manual", severity="minor", opened_at=_at(0))
    figures = drafting.metrics(incident, [], [], {})
    text = drafting.detection_text(figures)
    assert "the the" not in text and text.startswith("Detected by the incident's opening")
    fired = [Entry(_at(5), "alert_firing", "m", "f", {"alert_id": "a", "slo_id": "s"})]
    text = drafting.detection_text(drafting.metrics(incident, fired, [], {}))
    assert text.startswith("Detected by the alert on SLO s")


def test_a_blank_postmortem_title_is_a_422(client: TestClient, auth: Auth) -> None:
    pm = _drafted(client, auth)
    r = client.patch(f"/postmortems/{pm['id']}", json={"title": "   "}, headers=auth("producer"))
    assert r.status_code == 422 and r.json()["field"] == "title"


def test_a_lesson_line_past_its_limit_is_a_422_naming_it(client: TestClient, auth: Auth) -> None:
    pm = _drafted(client, auth)
    r = client.patch(
        f"/postmortems/{pm['id']}", json={"went_well": ["ok", "x" * 5001]}, headers=auth("producer")
    )
    assert r.status_code == 422 and r.json()["field"] == "went_well.1"
    r = client.patch(
        f"/postmortems/{pm['id']}", json={"got_lucky": [" "]}, headers=auth("producer")
    )
    assert r.status_code == 422 and r.json()["field"] == "got_lucky.0"


def test_an_earlier_bad_batch_in_a_joining_alerts_evidence_lands_as_the_first_bad_batch(
    db: Session, settings: Settings
) -> None:
    # the batch sweep records a rejected batch first; a page then shows a quarantined batch
    # that came before it: the timeline's first bad batch must move with `first_bad_at`
    register(db)
    t0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    early = batch_row(db, t0, "quarantined")
    for minute in (1, 2, 3):
        batch_row(db, t0 + timedelta(minutes=minute), "rejected")
    db.flush()
    [incident] = intake.batch_failures(db, now=t0 + timedelta(minutes=4), settings=settings)
    assert incident.first_bad_at == t0 + timedelta(minutes=1)
    alert = replace(
        page("events", t0 + timedelta(minutes=5)),
        evidence={"batches": [{"batch_id": str(early.id), "received_at": t0.isoformat()}]},
    )
    for _ in range(2):  # a second runner cycle adds nothing
        intake.alert_firing(db, alert, settings=settings)
    assert incident.first_bad_at == t0
    firsts = [e for e in service.timeline(db, incident.id) if e.kind == "first_bad_batch"]
    assert [e.at for e in firsts] == [t0, t0 + timedelta(minutes=1)]
    assert firsts[0].details["batch_id"] == str(early.id)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model_name", "m" * 101),
        ("model_name", "  "),
        ("commander", "c" * 201),
        ("summary", "s" * 10_001),
    ],
)
def test_the_service_bounds_what_the_cli_passes_like_the_api_does(
    db: Session, field: str, value: str
) -> None:
    # `driftgate incidents open --model/--commander/--summary` skip the API's schema
    body = {"title": "x", "severity": "minor", "model_name": "ranker", field: value}
    with pytest.raises(InvalidIncident) as caught:
        service.open_manual(db, ADMIN, body=body)
    assert caught.value.field == field


def test_impact_skips_a_model_version_lineage_names_without_a_number(
    db: Session, settings: Settings
) -> None:
    # lineage accepts OpenLineage events from any pipeline: a model version named "v2" must
    # not turn GET /incidents/{id} into a 500
    lineage_model(db, ["events"], model="scorer", version="v2")  # type: ignore[arg-type]
    lineage_model(db, ["events"], model="ranker", version=3)
    incident = service.open_manual(
        db, ADMIN, body={"title": "events broke", "severity": "minor", "datasets": ["events"]}
    )
    found = impact(db, incident, namespace=settings.lineage_namespace)
    assert [(v["model_name"], v["version"]) for v in found["model_versions"]] == [("ranker", 3)]


def test_an_alert_joining_an_incident_without_a_runbook_gives_it_the_alerts(
    db: Session, settings: Settings
) -> None:
    # a person opened it on `events` with no runbook; the page that joins it knows which one
    incident = service.open_manual(
        db, ADMIN, body={"title": "events look odd", "severity": "minor", "datasets": ["events"]}
    )
    assert incident.runbook is None
    intake.alert_firing(db, page("events", incident.opened_at), settings=settings)
    assert incident.runbook == "bad-batch-schema-break"
    [grouped] = [e for e in service.timeline(db, incident.id) if e.kind == "grouped"]
    assert grouped.details["runbook"] == "bad-batch-schema-break"
    assert audit_count(db, str(incident.id), "incident.runbook") == 1
    # one that has a runbook keeps it
    stale = replace(page("events", incident.opened_at), slo_kind="freshness")
    intake.alert_firing(db, stale, settings=settings)
    assert incident.runbook == "bad-batch-schema-break"
