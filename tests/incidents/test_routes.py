"""The incidents API through the app: list, open, read with timeline and impact, change,
notes; roles, bad input (422 naming the field), unknown ids (404), illegal moves (409)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.settings import Settings
from incidents import intake
from tests.incidents.builders import lineage_model, page

Auth = Callable[[str], dict[str, str]]
PROBLEM = "application/problem+json"


def _open(client: TestClient, auth: Auth, **body: object) -> dict:
    doc = {"title": "impressions lose item ids", "severity": "critical", **body}
    r = client.post("/incidents", json=doc, headers=auth("reviewer"))
    assert r.status_code == 201, r.text
    return r.json()


def test_open_read_change_and_note_through_the_api(
    client: TestClient, auth: Auth, settings: Settings
) -> None:
    made = _open(client, auth, datasets=["impressions"], commander="ann", summary="paged by hand")
    assert made["status"] == "active" and made["source"] == "manual"
    assert made["commander"] == "ann" and made["opened_by"] == "test-reviewer"
    r = client.patch(
        f"/incidents/{made['id']}",
        json={"status": "stable", "severity": "major", "reason": "feed paused"},
        headers=auth("admin"),
    )
    assert r.status_code == 200 and r.json()["status"] == "stable"
    assert r.json()["severity"] == "major" and r.json()["stable_at"] is not None
    r = client.post(
        f"/incidents/{made['id']}/timeline",
        json={"note": "producer rolled back"},
        headers=auth("producer"),
    )
    assert r.status_code == 201 and r.json()["kind"] == "note"
    doc = client.get(f"/incidents/{made['id']}", headers=auth("viewer")).json()
    assert [e["kind"] for e in doc["timeline"]] == [
        "opened",
        "severity_change",
        "status_change",
        "note",
    ]
    assert doc["timeline"][0]["summary"] == "paged by hand"
    assert set(doc["impact"]) >= {"window", "batches", "model_versions", "error_budget"}
    listed = client.get("/incidents?status=stable", headers=auth("viewer")).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == made["id"]
    assert client.get("/incidents?status=closed", headers=auth("viewer")).json()["total"] == 0


def test_an_alert_incident_links_its_runbook_and_shows_impact(
    client: TestClient, auth: Auth, db: Session, settings: Settings
) -> None:
    lineage_model(db, ["impressions", "clicks"])
    now = utcnow()
    intake.alert_firing(db, page("impressions", now, budget=0.9), settings=settings)
    intake.alert_firing(db, page("clicks", now + timedelta(minutes=1)), settings=settings)
    db.commit()
    [item] = client.get("/incidents", headers=auth("viewer")).json()["items"]
    assert item["runbook"] == "bad-batch-schema-break"
    assert item["runbook_url"] == f"{settings.public_url}/runbooks/bad-batch-schema-break"
    doc = client.get(f"/incidents/{item['id']}", headers=auth("viewer")).json()
    assert doc["datasets"] == ["clicks", "impressions"]
    assert [(v["model_name"], v["version"]) for v in doc["impact"]["model_versions"]] == [
        ("ranker", 1)
    ]
    assert doc["impact"]["error_budget"]["slos"][0]["at_firing"] == 0.9


def test_roles_bad_input_unknown_ids_and_illegal_moves_are_problems(
    client: TestClient, auth: Auth
) -> None:
    body = {"title": "x", "severity": "critical"}
    assert client.post("/incidents", json=body, headers=auth("producer")).status_code == 403
    assert client.post("/incidents", json=body, headers=auth("viewer")).status_code == 403
    assert client.get("/incidents").status_code == 401
    r = client.post("/incidents", json={**body, "severity": "sev1"}, headers=auth("admin"))
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["field"] == "body.severity" or "severity" in r.json()["field"]
    r = client.post("/incidents", json={**body, "model_version": 3}, headers=auth("admin"))
    assert r.status_code == 422 and r.json()["field"] == "model_version"
    r = client.post("/incidents", json={**body, "extra": 1}, headers=auth("admin"))
    assert r.status_code == 422
    missing = uuid.uuid4()
    r = client.get(f"/incidents/{missing}", headers=auth("viewer"))
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    assert client.get("/incidents/not-a-uuid", headers=auth("viewer")).status_code == 422
    made = _open(client, auth)
    url = f"/incidents/{made['id']}"
    assert client.patch(url, json={"status": "closed"}, headers=auth("producer")).status_code == 403
    assert client.patch(url, json={"status": "closed"}, headers=auth("reviewer")).status_code == 200
    r = client.patch(url, json={"status": "active"}, headers=auth("reviewer"))
    assert r.status_code == 409 and r.json()["rule"] == "closed_is_final"
    assert r.headers["content-type"].startswith(PROBLEM)
    r = client.patch(url, json={"title": None}, headers=auth("reviewer"))
    assert r.status_code in (409, 422)
    r = client.post(f"{url}/timeline", json={"note": ""}, headers=auth("producer"))
    assert r.status_code == 422 and "note" in r.json()["field"]
    r = client.post(f"{url}/timeline", json={"note": "hi"}, headers=auth("viewer"))
    assert r.status_code == 403
    r = client.post(f"/incidents/{missing}/timeline", json={"note": "hi"}, headers=auth("admin"))
    assert r.status_code == 404
    assert client.get("/incidents?limit=0", headers=auth("viewer")).status_code == 422
    assert client.get("/incidents?severity=huge", headers=auth("viewer")).status_code == 422
