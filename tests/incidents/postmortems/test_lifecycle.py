"""Editing, submitting, publishing and amending a postmortem; published ones never change."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc, text
from sqlalchemy.orm import Session

from core.auth import Principal, Role
from incidents.postmortems import service
from incidents.postmortems.errors import PostmortemPublished
from tests.incidents.postmortems.builders import Auth, built_incident

NARRATIVE: dict[str, Any] = {
    "summary": "Orders batches broke the contract for two hours.",
    "root_causes": "The shop exporter started writing negative refunds as amounts.",
    "trigger": "Exporter release 4.2.",
    "resolution": "Exporter rolled back; bad rows stayed in quarantine.",
    "went_well": ["Quarantine held every bad row"],
    "went_badly": ["The page came 5 minutes late"],
    "got_lucky": ["Low traffic hour"],
    "action_items": [
        {
            "title": "Add a refund field",
            "owner": "shop-team",
            "priority": "P1",
            "due": "2026-12-20",
        },
        {"title": "Alert on exporter releases", "owner": "sre", "priority": "P2"},
    ],
}


def _draft(client: TestClient, auth: Auth, db: Session) -> dict[str, Any]:
    built = built_incident(client, auth, db)
    resp = client.post(f"/incidents/{built.incident_id}/postmortem", headers=auth("producer"))
    assert resp.status_code == 201, resp.text
    return resp.json()


def _published(client: TestClient, auth: Auth, db: Session) -> dict[str, Any]:
    pm = _draft(client, auth, db)
    assert (
        client.patch(
            f"/postmortems/{pm['id']}", json=NARRATIVE, headers=auth("producer")
        ).status_code
        == 200
    )
    assert (
        client.post(f"/postmortems/{pm['id']}/submit", headers=auth("producer")).status_code == 200
    )
    resp = client.post(f"/postmortems/{pm['id']}/publish", headers=auth("reviewer"))
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_people_edit_the_narrative_and_action_items_of_a_draft(
    client: TestClient, auth: Auth, db: Session
) -> None:
    pm = _draft(client, auth, db)
    resp = client.patch(f"/postmortems/{pm['id']}", json=NARRATIVE, headers=auth("producer"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["summary"] == NARRATIVE["summary"] and body["got_lucky"] == ["Low traffic hour"]
    assert body["detection"] == pm["detection"]  # untouched fields keep the draft's text
    items = body["action_items"]
    assert [(i["title"], i["priority"], i["status"], i["due"]) for i in items] == [
        ("Add a refund field", "P1", "open", "2026-12-20"),
        ("Alert on exporter releases", "P2", "open", None),
    ]
    # keep the second by id (now first, done), drop the first, add a new one
    keep = {**NARRATIVE["action_items"][1], "id": items[1]["id"], "status": "done"}
    new = {"title": "Runbook for refunds", "owner": "sre", "priority": "P3"}
    again = client.patch(
        f"/postmortems/{pm['id']}", json={"action_items": [keep, new]}, headers=auth("admin")
    ).json()
    assert [
        (i["id"] == items[1]["id"], i["status"], i["position"]) for i in again["action_items"]
    ] == [
        (True, "done", 0),
        (False, "open", 1),
    ]
    actions = [
        e["action"]
        for e in client.get(f"/audit?object=postmortem:{pm['id']}", headers=auth("admin")).json()
    ]
    assert actions == ["postmortem.draft", "postmortem.update", "postmortem.update"]


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (
            {"action_items": [{"title": "x", "owner": "o", "priority": "P4"}]},
            "action_items.0.priority",
            "literal_error",
        ),
        (
            {"action_items": [{"title": "x", "owner": "o", "priority": "P1", "due": "tomorrow"}]},
            "action_items.0.due",
            "date_from_datetime_parsing",
        ),
        (
            {"action_items": [{"title": "x", "owner": "o", "priority": "P1", "status": "closed"}]},
            "action_items.0.status",
            "literal_error",
        ),
        (
            {"action_items": [{"title": " ", "owner": "o", "priority": "P1"}]},
            "action_items.0.title",
            "string_pattern_mismatch",
        ),
        ({"severity": "critical"}, "severity", "extra_forbidden"),
        ({"went_well": "not a list"}, "went_well", "list_type"),
        ({"title": ""}, "title", "string_too_short"),
    ],
)
def test_bad_edits_are_422_naming_the_field(
    client: TestClient, auth: Auth, db: Session, body: dict[str, Any], field: str, rule: str
) -> None:
    pm = _draft(client, auth, db)
    resp = client.patch(f"/postmortems/{pm['id']}", json=body, headers=auth("producer"))
    assert resp.status_code == 422
    problem = resp.json()
    assert resp.headers["content-type"] == "application/problem+json"
    assert problem["field"] == field and problem["rule"].startswith(rule.split("_from")[0])


def test_an_item_of_another_revision_or_listed_twice_is_422(
    client: TestClient, auth: Auth, db: Session
) -> None:
    pm = _draft(client, auth, db)
    item = {"title": "x", "owner": "o", "priority": "P1", "id": str(uuid.uuid4())}
    resp = client.patch(
        f"/postmortems/{pm['id']}", json={"action_items": [item]}, headers=auth("producer")
    )
    assert resp.status_code == 422 and resp.json()["field"] == "action_items.0.id"
    made = client.patch(f"/postmortems/{pm['id']}", json=NARRATIVE, headers=auth("producer")).json()
    twice = [{**NARRATIVE["action_items"][0], "id": made["action_items"][0]["id"]}] * 2
    resp = client.patch(
        f"/postmortems/{pm['id']}", json={"action_items": twice}, headers=auth("producer")
    )
    assert resp.status_code == 422 and resp.json()["field"] == "action_items.1.id"


def test_submit_then_publish_by_a_reviewer_with_the_narrative_written(
    client: TestClient, auth: Auth, db: Session
) -> None:
    pm = _draft(client, auth, db)
    assert (
        client.post(f"/postmortems/{pm['id']}/publish", headers=auth("reviewer")).status_code == 409
    )
    sub = client.post(f"/postmortems/{pm['id']}/submit", headers=auth("producer"))
    assert sub.status_code == 200 and sub.json()["status"] == "in_review"
    assert sub.json()["submitted_at"] is not None
    assert (
        client.post(f"/postmortems/{pm['id']}/submit", headers=auth("producer")).status_code == 409
    )
    assert (
        client.post(f"/postmortems/{pm['id']}/publish", headers=auth("producer")).status_code == 403
    )
    incomplete = client.post(f"/postmortems/{pm['id']}/publish", headers=auth("reviewer"))
    assert incomplete.status_code == 422 and incomplete.json()["field"] == "summary"
    # in review it can still be edited
    assert (
        client.patch(
            f"/postmortems/{pm['id']}", json=NARRATIVE, headers=auth("producer")
        ).status_code
        == 200
    )
    pub = client.post(f"/postmortems/{pm['id']}/publish", headers=auth("reviewer"))
    assert pub.status_code == 200, pub.text
    body = pub.json()
    assert body["status"] == "published" and body["published_by"] == "test-reviewer"
    assert body["published_at"] is not None


def test_a_published_postmortem_is_refused_by_the_service_and_by_the_database(
    client: TestClient, auth: Auth, db: Session
) -> None:
    pm = _published(client, auth, db)
    pid = pm["id"]
    patched = client.patch(
        f"/postmortems/{pid}", json={"summary": "rewritten"}, headers=auth("admin")
    )
    assert patched.status_code == 409 and patched.json()["type"].endswith("postmortem-published")
    assert client.post(f"/postmortems/{pid}/submit", headers=auth("admin")).status_code == 409
    assert client.post(f"/postmortems/{pid}/publish", headers=auth("admin")).status_code == 409
    with pytest.raises(PostmortemPublished):
        service.update_postmortem(
            db, Principal("alice", Role.admin), uuid.UUID(pid), changes={"summary": "x"}
        )
    for statement in (
        "UPDATE postmortems SET summary = 'rewritten' WHERE id = :id",
        "UPDATE postmortems SET status = 'draft' WHERE id = :id",
        "DELETE FROM postmortems WHERE id = :id",
    ):
        with (
            pytest.raises(exc.DBAPIError, match="is published and cannot change"),
            db.begin_nested(),
        ):
            db.execute(text(statement), {"id": pid})
    db.expire_all()
    stored = client.get(f"/postmortems/{pid}", headers=auth("viewer")).json()
    assert stored["summary"] == NARRATIVE["summary"] and stored["status"] == "published"


def test_a_published_postmortem_is_amended_by_a_new_revision(
    client: TestClient, auth: Auth, db: Session
) -> None:
    pm = _published(client, auth, db)
    resp = client.post(f"/postmortems/{pm['id']}/revisions", headers=auth("producer"))
    assert resp.status_code == 201, resp.text
    rev = resp.json()
    assert (rev["revision"], rev["status"], rev["supersedes_id"]) == (2, "draft", pm["id"])
    assert rev["summary"] == pm["summary"] and rev["metrics"] == pm["metrics"]
    assert [i["title"] for i in rev["action_items"]] == [i["title"] for i in pm["action_items"]]
    assert {i["id"] for i in rev["action_items"]}.isdisjoint(i["id"] for i in pm["action_items"])
    edited = client.patch(
        f"/postmortems/{rev['id']}", json={"summary": "Amended."}, headers=auth("producer")
    )
    assert edited.json()["summary"] == "Amended."
    assert (
        client.get(f"/postmortems/{pm['id']}", headers=auth("viewer")).json()["summary"]
        == pm["summary"]
    )
    latest = client.get(f"/incidents/{pm['incident_id']}/postmortem", headers=auth("viewer")).json()
    assert latest["id"] == rev["id"]
    # the old one is superseded, the new one is a draft: neither can be revised now
    assert (
        client.post(f"/postmortems/{pm['id']}/revisions", headers=auth("producer")).status_code
        == 409
    )
    assert (
        client.post(f"/postmortems/{rev['id']}/revisions", headers=auth("producer")).status_code
        == 409
    )
    # a new draft for the incident is refused while revision 2 is open
    again = client.post(f"/incidents/{pm['incident_id']}/postmortem", headers=auth("producer"))
    assert again.status_code == 409 and again.json()["postmortem_id"] == rev["id"]


def test_markdown_export_has_the_template_sections(
    client: TestClient, auth: Auth, db: Session
) -> None:
    pm = _published(client, auth, db)
    resp = client.get(f"/postmortems/{pm['id']}/markdown", headers=auth("viewer"))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/markdown")
    md = resp.text
    assert md.startswith("# Postmortem: orders batches failing\n")
    for section in (
        "## Summary",
        "## Impact",
        "## Root causes",
        "## Trigger",
        "## Detection",
        "## Resolution",
        "## Figures",
        "## Action items",
        "## Lessons learned",
        "### What went well",
        "### What went wrong",
        "### Where we got lucky",
        "## Timeline",
    ):
        assert f"\n{section}\n" in md, section
    assert md.index("## Summary") < md.index("## Root causes") < md.index("## Timeline")
    assert "| Rows lost | 0 |" in md and "| Time to detect | 300 s |" in md
    assert "| Add a refund field | shop-team | P1 | open | 2026-12-20 |" in md
    assert "- Quarantine held every bad row" in md and "**published**" in md
    assert "/runbooks/bad-batch-schema-break)" in md
    assert (
        client.get(f"/postmortems/{uuid.uuid4()}/markdown", headers=auth("viewer")).status_code
        == 404
    )


def test_unknown_postmortems_are_404_problems(client: TestClient, auth: Auth) -> None:
    for method, path in (
        ("GET", f"/postmortems/{uuid.uuid4()}"),
        ("PATCH", f"/postmortems/{uuid.uuid4()}"),
        ("POST", f"/postmortems/{uuid.uuid4()}/submit"),
        ("POST", f"/postmortems/{uuid.uuid4()}/publish"),
        ("POST", f"/postmortems/{uuid.uuid4()}/revisions"),
        ("GET", f"/incidents/{uuid.uuid4()}/postmortem"),
    ):
        resp = client.request(
            method, path, json={} if method == "PATCH" else None, headers=auth("admin")
        )
        assert resp.status_code == 404, (method, path, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
    assert client.get(f"/postmortems/{uuid.uuid4()}").status_code == 401
