"""Drafting a postmortem from a built incident: times, rows, predictions, budget, links."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.incidents.postmortems.builders import Auth, built_incident, served


def test_drafts_every_figure_from_the_timeline_batches_and_predictions(
    client: TestClient, auth: Auth, db: Session
) -> None:
    built = built_incident(client, auth, db)
    t0 = built.t0
    for at in (t0 + timedelta(seconds=10), t0 + timedelta(seconds=100), t0 + timedelta(hours=1.9)):
        served(db, at)  # inside [first bad data, closing)
    served(db, t0 - timedelta(seconds=10))  # before the bad data
    served(db, t0 + timedelta(hours=3))  # after the closing
    served(db, t0 + timedelta(seconds=50), version=2)  # a version the incident does not name
    db.flush()

    resp = client.post(f"/incidents/{built.incident_id}/postmortem", headers=auth("producer"))
    assert resp.status_code == 201, resp.text
    pm = resp.json()
    assert resp.headers["location"] == f"/postmortems/{pm['id']}"
    assert (pm["status"], pm["revision"], pm["supersedes_id"]) == ("draft", 1, None)
    assert pm["title"] == "Postmortem: orders batches failing"
    m = pm["metrics"]
    assert m["time_to_detect_seconds"] == 300.0
    assert m["time_to_mitigate_seconds"] == 1800.0
    assert m["time_to_resolve_seconds"] == 7200.0
    # the clean batch came before the first bad data: only the quarantined and rejected count
    assert (m["rows_posted"], m["rows_accepted"], m["rows_quarantined"]) == (15, 8, 7)
    assert m["rows_lost"] == 0
    assert m["batches_affected"] == 2
    assert [b["batch_id"] for b in m["batches"]] == [built.quarantined["id"], built.rejected["id"]]
    assert m["predictions_affected"] == 3
    assert m["predictions_by_model_version"] == {"ranker:3": 3}
    assert m["error_budget_consumed"] == pytest.approx(0.05)
    assert [a["slo_id"] for a in m["alerts"]] == ["orders-pass"]
    assert m["alerts"][0]["fired_at"] is not None and m["alerts"][0]["resolved_at"] is not None
    assert m["runbooks"] == ["bad-batch-schema-break"]
    assert m["missing"] == {}
    kinds = [e["kind"] for e in pm["timeline"]]
    assert kinds[:4] == ["first_bad_batch", "batch_failed", "opened", "alert_firing"]
    assert kinds.count("status_change") == 2 and kinds[-1] == "status_change"
    assert (
        pm["detection"]
        == "Detected by the alert on SLO orders-pass, 5.0 min after the first bad data."
    )
    assert pm["impact"].startswith("2 batches affected: 15 rows posted, 8 accepted")


def test_an_open_incident_drafts_with_what_is_missing_named(
    client: TestClient, auth: Auth, db: Session
) -> None:
    built = built_incident(client, auth, db, closed=False)
    pm = client.post(f"/incidents/{built.incident_id}/postmortem", headers=auth("admin")).json()
    m = pm["metrics"]
    assert m["time_to_resolve_seconds"] is None and m["resolved_at"] is None
    assert "not closed" in m["missing"]["time_to_resolve_seconds"]
    assert m["time_to_detect_seconds"] == 300.0 and m["rows_lost"] == 0


def test_drafting_lands_on_the_incident_timeline_and_in_the_audit_trail(
    client: TestClient, auth: Auth, db: Session
) -> None:
    built = built_incident(client, auth, db)
    pm = client.post(f"/incidents/{built.incident_id}/postmortem", headers=auth("producer")).json()
    audit = client.get(f"/audit?object=postmortem:{pm['id']}", headers=auth("admin")).json()
    assert [e["action"] for e in audit] == ["postmortem.draft"]
    from incidents.postmortems import repository

    entries = repository.timeline(db, built.incident_id)
    assert [e.kind for e in entries].count("postmortem") == 1


def test_a_second_draft_is_409_naming_the_open_revision(
    client: TestClient, auth: Auth, db: Session
) -> None:
    built = built_incident(client, auth, db)
    first = client.post(f"/incidents/{built.incident_id}/postmortem", headers=auth("producer"))
    again = client.post(f"/incidents/{built.incident_id}/postmortem", headers=auth("producer"))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["postmortem_id"] == first.json()["id"]


def test_drafting_needs_a_known_incident_and_a_writer(
    client: TestClient, auth: Auth, db: Session
) -> None:
    missing = client.post(f"/incidents/{uuid.uuid4()}/postmortem", headers=auth("admin"))
    assert missing.status_code == 404 and missing.json()["type"].endswith("incident-not-found")
    built = built_incident(client, auth, db)
    viewer = client.post(f"/incidents/{built.incident_id}/postmortem", headers=auth("viewer"))
    assert viewer.status_code == 403
    assert client.post("/incidents/not-a-uuid/postmortem", headers=auth("admin")).status_code == 422
    none_yet = client.get(f"/incidents/{built.incident_id}/postmortem", headers=auth("viewer"))
    assert none_yet.status_code == 404 and none_yet.json()["type"].endswith("postmortem-not-found")


def test_model_versions_downstream_of_the_datasets_in_lineage_count_their_predictions(
    client: TestClient, auth: Auth, db: Session
) -> None:
    from tests.incidents.builders import lineage_model

    built = built_incident(client, auth, db)
    lineage_model(db, ["orders"], model="ranker", version=5)  # trained on orders' batches
    lineage_model(db, ["payments"], model="fraud", version=6)  # another dataset's model
    for version in (3, 5, 5):
        served(db, built.t0 + timedelta(seconds=30), version=version)
    served(db, built.t0 + timedelta(seconds=30), version=6, model="fraud")
    db.flush()
    pm = client.post(f"/incidents/{built.incident_id}/postmortem", headers=auth("admin")).json()
    m = pm["metrics"]
    assert m["predictions_by_model_version"] == {"ranker:3": 1, "ranker:5": 2}
    assert m["predictions_affected"] == 3
