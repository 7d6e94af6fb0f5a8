"""Action items across postmortems: open ones first, status changes after publishing."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.incidents.postmortems.builders import Auth, built_incident

WRITTEN = {
    "summary": "s",
    "root_causes": "r",
    "resolution": "fixed",
}


def _with_items(
    client: TestClient, auth: Auth, db: Session, title: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    built = built_incident(client, auth, db, title=title)
    pm = client.post(f"/incidents/{built.incident_id}/postmortem", headers=auth("producer")).json()
    resp = client.patch(
        f"/postmortems/{pm['id']}",
        json={**WRITTEN, "action_items": items},
        headers=auth("producer"),
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def _publish(client: TestClient, auth: Auth, pm: dict[str, Any]) -> None:
    assert (
        client.post(f"/postmortems/{pm['id']}/submit", headers=auth("producer")).status_code == 200
    )
    assert client.post(f"/postmortems/{pm['id']}/publish", headers=auth("admin")).status_code == 200


def test_lists_open_items_first_then_by_priority_and_due(
    client: TestClient, auth: Auth, db: Session
) -> None:
    _with_items(
        client,
        auth,
        db,
        "first",
        [
            {"title": "a done P0", "owner": "sre", "priority": "P0", "status": "done"},
            {"title": "b open P2", "owner": "sre", "priority": "P2"},
            {"title": "c open P0 late", "owner": "shop", "priority": "P0", "due": "2027-01-10"},
        ],
    )
    _with_items(
        client,
        auth,
        db,
        "second",
        [
            {"title": "d wont_do P1", "owner": "sre", "priority": "P1", "status": "wont_do"},
            {
                "title": "e in progress P1",
                "owner": "shop",
                "priority": "P1",
                "status": "in_progress",
            },
            {"title": "f open P0 soon", "owner": "sre", "priority": "P0", "due": "2026-12-10"},
        ],
    )
    page = client.get("/action-items", headers=auth("viewer")).json()
    assert page["total"] == 6 and page["offset"] == 0
    assert [i["title"] for i in page["items"]] == [
        "f open P0 soon",
        "c open P0 late",
        "e in progress P1",
        "b open P2",
        "a done P0",
        "d wont_do P1",
    ]
    assert page["items"][0]["postmortem_title"] == "Postmortem: second"
    only_open = client.get("/action-items?status=open", headers=auth("viewer")).json()
    assert [i["title"] for i in only_open["items"]] == [
        "f open P0 soon",
        "c open P0 late",
        "b open P2",
    ]
    shop = client.get("/action-items?owner=shop&limit=1&offset=1", headers=auth("viewer")).json()
    assert shop["total"] == 2 and [i["title"] for i in shop["items"]] == ["e in progress P1"]
    bad = client.get("/action-items?status=closed", headers=auth("viewer"))
    assert bad.status_code == 422 and bad.json()["field"] == "query.status"


def test_item_status_changes_after_publishing_and_is_audited(
    client: TestClient, auth: Auth, db: Session
) -> None:
    pm = _with_items(client, auth, db, "x", [{"title": "fix it", "owner": "sre", "priority": "P1"}])
    _publish(client, auth, pm)
    item_id = pm["action_items"][0]["id"]
    resp = client.patch(
        f"/action-items/{item_id}", json={"status": "done"}, headers=auth("producer")
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "done" and resp.json()["updated_by"] == "test-producer"
    events = client.get(
        f"/audit?object=postmortem_action_item:{item_id}", headers=auth("admin")
    ).json()
    assert [(e["action"], e["payload"]["before"], e["payload"]["after"]) for e in events] == [
        ("postmortem.action_item.update", {"status": "open"}, {"status": "done"})
    ]
    # the published postmortem itself did not change
    stored = client.get(f"/postmortems/{pm['id']}", headers=auth("viewer")).json()
    assert stored["status"] == "published" and stored["action_items"][0]["status"] == "done"


def test_after_a_revision_only_the_newest_revisions_items_are_live(
    client: TestClient, auth: Auth, db: Session
) -> None:
    pm = _with_items(client, auth, db, "x", [{"title": "fix it", "owner": "sre", "priority": "P1"}])
    _publish(client, auth, pm)
    rev = client.post(f"/postmortems/{pm['id']}/revisions", headers=auth("producer")).json()
    listed = client.get("/action-items", headers=auth("viewer")).json()
    assert [i["id"] for i in listed["items"]] == [rev["action_items"][0]["id"]]
    old = client.patch(
        f"/action-items/{pm['action_items'][0]['id']}",
        json={"status": "done"},
        headers=auth("producer"),
    )
    assert old.status_code == 409 and old.json()["type"].endswith("action-item-superseded")


def test_bad_item_changes_are_refused(client: TestClient, auth: Auth, db: Session) -> None:
    pm = _with_items(client, auth, db, "x", [{"title": "fix it", "owner": "sre", "priority": "P1"}])
    item_id = pm["action_items"][0]["id"]
    for body, field in (
        ({"status": "closed"}, "status"),
        ({"status": "done", "owner": "me"}, "owner"),
        ({}, "status"),
    ):
        resp = client.patch(f"/action-items/{item_id}", json=body, headers=auth("producer"))
        assert resp.status_code == 422 and resp.json()["field"] == field, resp.text
    assert (
        client.patch(
            f"/action-items/{item_id}", json={"status": "done"}, headers=auth("viewer")
        ).status_code
        == 403
    )
    missing = client.patch(
        f"/action-items/{uuid.uuid4()}", json={"status": "done"}, headers=auth("admin")
    )
    assert missing.status_code == 404 and missing.json()["type"].endswith("action-item-not-found")
