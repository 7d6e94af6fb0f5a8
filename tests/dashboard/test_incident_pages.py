"""Incidents, postmortems and runbooks pages against the real API: what they show is what the
API holds, and every change is made (and audited) as the signed-in person."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import no_failure
from tests.dashboard.live_api import Seeded
from tests.dashboard.test_pages import texts

Open = Callable[..., AppTest]


def open_incident(api: Seeded, title: str) -> dict[str, Any]:
    resp = httpx.post(
        f"{api.url}/incidents",
        json={"title": title, "severity": "major", "datasets": ["impressions"]},
        headers={"Authorization": f"Bearer {api.tokens['root']}"},
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def on_page(dashboard: Open, who: str, page: str, **state: Any) -> AppTest:
    """Signed in as `who`, with `state` set before the page first runs (a chosen object)."""
    at = dashboard(who)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(f"pages/{page}.py").run()
    no_failure(at)
    return at


def test_the_incidents_page_shows_the_incident_and_its_timeline(
    dashboard: Open, api: Seeded, api_get: Callable[..., Any]
) -> None:
    incident = open_incident(api, f"impressions late {uuid.uuid4().hex[:6]}")
    at = on_page(dashboard, "vic", "incidents", incident_id=incident["id"])
    shown = texts(at)
    assert incident["title"] in shown and "root" in shown
    detail = api_get(f"/incidents/{incident['id']}")
    assert detail["timeline"] and all(e["summary"] in shown for e in detail["timeline"])
    # a viewer reads only
    assert not at.text_area and not [b for b in at.button if b.label == "Save changes"]


def test_a_reviewer_stabilises_leads_and_notes_the_incident_as_themself(
    dashboard: Open, api: Seeded, api_get: Callable[..., Any]
) -> None:
    incident = open_incident(api, f"null spike {uuid.uuid4().hex[:6]}")
    iid = incident["id"]
    at = on_page(dashboard, "rita", "incidents", incident_id=iid)
    at.selectbox(key=f"status_{iid}").set_value("stable")
    at.text_input(key=f"commander_{iid}").input("rita")
    at.text_input(key=f"reason_{iid}").input("bad rows quarantined, feed fixed upstream")
    at.button(key=f"save_{iid}").click().run()
    no_failure(at)
    at.text_area(key=f"note_text_{iid}").input("watching the next three batches")
    at.button(key=f"add_note_{iid}").click().run()
    no_failure(at)

    detail = api_get(f"/incidents/{iid}")
    assert detail["status"] == "stable" and detail["commander"] == "rita"
    by_kind = {e["kind"]: e for e in detail["timeline"]}
    assert by_kind["status_change"]["actor"] == "rita"
    assert by_kind["note"]["actor"] == "rita"
    assert "watching the next three batches" in by_kind["note"]["summary"]
    assert "watching the next three batches" in texts(at)


def test_a_postmortem_is_drafted_submitted_and_published_from_the_pages(
    dashboard: Open, api: Seeded, api_get: Callable[..., Any]
) -> None:
    incident = open_incident(api, f"unit change {uuid.uuid4().hex[:6]}")
    iid = incident["id"]
    at = on_page(dashboard, "rita", "incidents", incident_id=iid)
    at.button(key=f"postmortem_{iid}").click().run()
    no_failure(at)
    pm = api_get(f"/incidents/{iid}/postmortem")
    assert pm["status"] == "draft" and pm["created_by"] == "rita"

    at = on_page(dashboard, "rita", "postmortems", postmortem_incident=iid)
    assert {m.label for m in at.metric} >= {"rows lost", "time to detect (s)"}
    at.text_area(key=f"pm_summary_{pm['id']}").input("Position arrived in the wrong unit.")
    at.button(key=f"pm_save_{pm['id']}").click().run()
    no_failure(at)
    assert api_get(f"/postmortems/{pm['id']}")["summary"] == "Position arrived in the wrong unit."
    at.button(key=f"submit_{pm['id']}").click().run()
    no_failure(at)
    at.button(key=f"publish_{pm['id']}").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "422 Invalid input: write the root_causes before publishing "
        "(field `root_causes`, rule `required_to_publish`)"
    ]
    at.text_area(key=f"pm_root_causes_{pm['id']}").input("No unit in the contract.")
    at.text_area(key=f"pm_resolution_{pm['id']}").input("Quarantined; producer fixed the unit.")
    at.button(key=f"pm_save_{pm['id']}").click().run()
    no_failure(at)
    at.button(key=f"publish_{pm['id']}").click().run()
    no_failure(at)
    published = api_get(f"/postmortems/{pm['id']}")
    assert published["status"] == "published" and published["published_by"] == "rita"
    # published: read-only text, and the amend control instead of the editor
    assert "Position arrived in the wrong unit." in texts(at)
    assert not at.text_area and [b for b in at.button if b.label == "Amend (new revision)"]


def test_the_runbooks_page_renders_what_the_api_serves(
    dashboard: Open, api_get: Callable[..., Any]
) -> None:
    books = api_get("/runbooks")
    name = books[-1]["name"]
    at = on_page(dashboard, "vic", "runbooks", runbook=name)
    doc = api_get(f"/runbooks/{name}", format="json")
    first_heading = next(line for line in doc["markdown"].splitlines() if line.startswith("#"))
    assert any(first_heading.lstrip("# ") in m.value for m in at.markdown)
    assert at.selectbox[0].value == name


@pytest.mark.parametrize("page", ["incidents", "postmortems"])
def test_a_viewer_gets_no_incident_write_controls(dashboard: Open, api: Seeded, page: str) -> None:
    incident = open_incident(api, f"viewer check {uuid.uuid4().hex[:6]}")
    at = on_page(dashboard, "vic", page, incident_id=incident["id"])
    writes = {"Save changes", "Add note", "Draft the postmortem", "Draft it now", "Publish"}
    assert not {b.label for b in at.button} & writes
