"""POST /api/v1/lineage: Marquez-compatible ingest, validated against the OpenLineage schema."""

from __future__ import annotations

import copy
import gzip
import json
import uuid
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from lineage.models import LineageEvent, LineageRun
from tests.lineage.events import dataset, facet, run_event

URL = "/api/v1/lineage"


def post(client: Any, headers: dict[str, str], event: Any) -> Any:
    return client.post(URL, json=event, headers=headers)


def test_accepts_a_run_event_with_201_and_an_empty_body_like_marquez(client, auth) -> None:
    event = run_event("daily", inputs=[dataset("raw")], outputs=[dataset("clean")])
    resp = post(client, auth("producer"), event)
    assert resp.status_code == 201, resp.text
    assert resp.content == b"" and resp.headers["Lineage-Duplicate"] == "false"
    graph = client.get("/lineage/graph?node=job:etl:daily", headers=auth("viewer")).json()
    ids = {n["id"] for n in graph["graph"]}
    assert ids == {"job:etl:daily", "dataset:warehouse:raw", "dataset:warehouse:clean"}


def test_admin_may_post_but_viewer_gets_403_and_no_token_401(client, auth) -> None:
    event = run_event("daily")
    assert post(client, auth("admin"), event).status_code == 201
    forbidden = post(client, auth("viewer"), run_event("daily"))
    assert forbidden.status_code == 403 and forbidden.json()["rule"] == "role"
    anonymous = client.post(URL, json=run_event("daily"))
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")


def test_the_same_event_twice_changes_nothing_and_audits_once(client, auth, db: Session) -> None:
    event = run_event("daily", inputs=[dataset("raw")], outputs=[dataset("clean")])
    audits = db.scalar(select(func.count()).select_from(AuditEvent))
    assert post(client, auth("producer"), event).headers["Lineage-Duplicate"] == "false"
    # Same content, different key order and whitespace: still the same event.
    reordered = json.dumps(dict(reversed(list(event.items()))), indent=2)
    again = client.post(
        URL, content=reordered, headers={**auth("producer"), "Content-Type": "application/json"}
    )
    assert again.status_code == 201 and again.headers["Lineage-Duplicate"] == "true"
    assert db.scalar(select(func.count()).select_from(LineageEvent)) == 1
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == audits + 1
    assert client.get("/audit/verify", headers=auth("viewer")).json()["intact"] is True


def test_a_late_start_never_regresses_a_completed_run(client, auth, db: Session) -> None:
    run_id = str(uuid.uuid4())
    done = run_event("daily", run_id=run_id, event_type="COMPLETE", minutes=10)
    start = run_event("daily", run_id=run_id, event_type="START", minutes=0)
    running = run_event("daily", run_id=run_id, event_type="RUNNING", minutes=5)
    for event in (done, start, running):
        assert post(client, auth("producer"), event).status_code == 201
    run = db.scalar(select(LineageRun).where(LineageRun.run_uuid == uuid.UUID(run_id)))
    assert run is not None and run.state == "COMPLETED"
    assert run.started_at.isoformat().startswith("2026-11-23T10:00")
    assert run.ended_at.isoformat().startswith("2026-11-23T10:10")
    detail = client.get(f"/lineage/runs/{run_id}", headers=auth("viewer")).json()
    assert [h["eventType"] for h in detail["history"]] == ["START", "RUNNING", "COMPLETE"]


def test_dataset_and_job_events_are_accepted_too(client, auth) -> None:
    dataset_event = {
        "eventTime": "2026-11-23T10:00:00Z",
        "producer": "https://example.com/catalog",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": dataset("dim_users", fields=("user_id", "country")),
    }
    job_event = {
        "eventTime": "2026-11-23T10:00:00Z",
        "producer": "https://example.com/catalog",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
        "job": {"namespace": "etl", "name": "users_rollup", "facets": {}},
        "inputs": [dataset("dim_users")],
        "outputs": [dataset("users_by_country")],
    }
    for event in (dataset_event, job_event):
        assert post(client, auth("producer"), event).status_code == 201
    graph = client.get(
        "/lineage/graph?node=dataset:warehouse:dim_users&direction=downstream",
        headers=auth("viewer"),
    ).json()["graph"]
    by_id = {n["id"]: n for n in graph}
    assert set(by_id) == {
        "dataset:warehouse:dim_users",
        "job:etl:users_rollup",
        "dataset:warehouse:users_by_country",
    }
    fields = by_id["dataset:warehouse:dim_users"]["data"]["fields"]
    assert [f["name"] for f in fields] == ["user_id", "country"]


def test_custom_facets_are_kept_verbatim(client, auth, db: Session) -> None:
    custom = facet(nested={"a": [1, 2.5, None, "ü"]}, flag=True)
    event = run_event(
        "daily", outputs=[dataset("clean", acme_quality=custom)], run_facets={"acme": custom}
    )
    assert post(client, auth("producer"), event).status_code == 201
    stored = db.execute(
        text("SELECT name, facet FROM lineage_facets WHERE name IN ('acme', 'acme_quality')")
    ).all()
    assert {r.name for r in stored} == {"acme", "acme_quality"}
    assert all(r.facet == custom for r in stored)
    graph = client.get(
        "/lineage/graph?node=dataset:warehouse:clean", headers=auth("viewer")
    ).json()["graph"]
    clean = next(n for n in graph if n["id"] == "dataset:warehouse:clean")
    assert clean["data"]["facets"]["acme_quality"] == custom


def test_gzip_bodies_are_accepted_as_openlineage_clients_send_them(client, auth) -> None:
    body = gzip.compress(json.dumps(run_event("zipped")).encode())
    resp = client.post(
        URL,
        content=body,
        headers={
            **auth("producer"),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert resp.status_code == 201, resp.text


# --- bad input: 400/422 problem documents naming the JSON path ------------------------------


def problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    return dict(resp.json())


def test_malformed_json_is_400(client, auth) -> None:
    resp = client.post(
        URL,
        content=b'{"eventTime": ',
        headers={**auth("producer"), "Content-Type": "application/json"},
    )
    assert problem(resp, 400)["rule"] == "json"
    nan = client.post(
        URL, content=b'{"x": NaN}', headers={**auth("producer"), "Content-Type": "application/json"}
    )
    assert problem(nan, 400)["rule"] == "json"


def test_a_bad_run_id_names_its_path(client, auth) -> None:
    event = run_event("daily")
    event["run"]["runId"] = "not-a-uuid"
    body = problem(post(client, auth("producer"), event), 422)
    assert body["field"] == "$.run.runId" and body["rule"] == "format"
    assert body["type"] == "urn:driftgate:problem:invalid-lineage-event"


def test_missing_fields_are_named_with_their_full_path(client, auth) -> None:
    event = run_event("daily", inputs=[dataset("raw")])
    del event["eventTime"]
    del event["inputs"][0]["namespace"]
    body = problem(post(client, auth("producer"), event), 422)
    fields = {(e["field"], e["rule"]) for e in body["errors"]}
    assert ("$.eventTime", "required") in fields
    assert ("$.inputs[0].namespace", "required") in fields


def test_wrong_types_enums_and_time_formats_are_rejected(client, auth) -> None:
    cases = [
        (("eventType",), "FINISHED", "$.eventType", "enum"),
        (("eventTime",), "yesterday", "$.eventTime", "format"),
        (("job", "name"), 42, "$.job.name", "type"),
        (("inputs",), {"not": "a list"}, "$.inputs", "type"),
    ]
    for path, value, field, rule in cases:
        event = run_event("daily")
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        body = problem(post(client, auth("producer"), event), 422)
        assert (body["field"], body["rule"]) == (field, rule), (path, body)


def test_facets_are_checked_against_their_spec_but_may_lack_the_base_fields(client, auth) -> None:
    """As in Marquez, a facet without `_producer`/`_schemaURL` is accepted; its own fields
    are still checked against the spec."""
    event = run_event("daily", inputs=[dataset("raw", fields=("a",))])
    event["inputs"][0]["facets"]["schema"]["fields"][0] = {"type": "STRING"}  # no name
    event["inputs"][0]["facets"]["mine"] = {"anything": 1}  # no _producer/_schemaURL
    body = problem(post(client, auth("producer"), event), 422)
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"$.inputs[0].facets.schema.fields[0].name"}
    del event["inputs"][0]["facets"]["schema"]
    accepted = post(client, auth("producer"), event)
    assert accepted.status_code == 201 and accepted.headers["Lineage-Lenient"] == "2"


def test_not_an_object_wrong_media_type_and_nul_are_refused(client, auth) -> None:
    assert problem(post(client, auth("producer"), [1, 2]), 422)["field"] == "$"
    xml = client.post(
        URL, content=b"<event/>", headers={**auth("producer"), "Content-Type": "application/xml"}
    )
    assert problem(xml, 415)["field"] == "Content-Type"
    event = run_event("daily")
    event["job"]["name"] = "bad\x00name"
    assert problem(post(client, auth("producer"), event), 422)["field"] == "$.job.name"


def test_a_run_id_cannot_move_to_another_job(client, auth, db: Session) -> None:
    run_id = str(uuid.uuid4())
    assert post(client, auth("producer"), run_event("a", run_id=run_id)).status_code == 201
    body = problem(post(client, auth("producer"), run_event("b", run_id=run_id, minutes=1)), 422)
    assert body["field"] == "$.run.runId" and body["rule"] == "run_belongs_to_one_job"
    assert db.scalar(select(func.count()).select_from(LineageEvent)) == 1


def test_over_long_names_and_oversized_events_are_refused(client, auth, app) -> None:
    event = run_event("x" * 2001)
    assert problem(post(client, auth("producer"), event), 422)["rule"] == "max_length"
    app.state.settings.lineage_max_event_bytes = 2000
    big = run_event("daily", run_facets={"blob": facet(data="z" * 5000)})
    assert problem(post(client, auth("producer"), big), 413)["rule"] == "lineage_max_event_bytes"


def test_invalid_events_write_nothing(client, auth, db: Session) -> None:
    good = run_event("daily", outputs=[dataset("clean")])
    bad = copy.deepcopy(good)
    bad["run"]["runId"] = "nope"
    post(client, auth("producer"), bad)
    assert db.scalar(select(func.count()).select_from(LineageEvent)) == 0
    assert db.execute(text("SELECT count(*) FROM lineage_datasets")).scalar() == 0


def test_the_declared_route_answers_like_the_middleware_in_front_of_it(
    app, auth, monkeypatch
) -> None:
    """`api.lineage_ingest` serves the exact path; behind a root_path the router's declared
    route serves it instead, with the same answers."""
    from fastapi.testclient import TestClient

    from lineage import routes

    served_by: list[Any] = []  # the endpoint FastAPI matched (None: the middleware)
    ingest = routes.ingest

    async def spy(request: Any, writer: Any) -> Any:
        served_by.append(request.scope.get("endpoint"))
        return await ingest(request, writer)

    event = run_event("daily", inputs=[dataset("raw")], outputs=[dataset("clean")])
    with TestClient(app, root_path="/driftgate", raise_server_exceptions=False) as prefixed:
        monkeypatch.setattr(routes, "ingest", spy)  # the router's route calls it by name
        first = prefixed.post("/driftgate" + URL, json=event, headers=auth("producer"))
        again = prefixed.post("/driftgate" + URL, json=event, headers=auth("producer"))
        bad = prefixed.post("/driftgate" + URL, json={"eventTime": "x"}, headers=auth("producer"))
        anonymous = prefixed.post("/driftgate" + URL, json=event)
    with TestClient(app, raise_server_exceptions=False) as plain:
        assert plain.post(URL, json=event, headers=auth("producer")).status_code == 201
    assert served_by == [routes.post_lineage] * 4 + [None]
    assert first.status_code == 201 and first.headers["Lineage-Duplicate"] == "false"
    assert again.status_code == 201 and again.headers["Lineage-Duplicate"] == "true"
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
