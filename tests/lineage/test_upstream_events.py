"""The OpenLineage and Marquez repositories' own example events go in as they go into Marquez.

Lenient where Marquez is (facets without `_producer`/`_schemaURL`, `dataQualityMetrics`
without `columnMetrics`), and each leniency is recorded; an event that breaks the core
RunEvent schema is still refused with its JSON path.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from tests.lineage.upstream import FIXTURES, complete, load

URL = "/api/v1/lineage"

CLIENT_EXAMPLES = [
    "openlineage/client_serde_example_run_event.json",
    "openlineage/client_serde_example_dataset_event.json",
    "openlineage/client_serde_example_job_event.json",
    "openlineage/client_example_full_event.json",
    "marquez/event_full.json",
    "marquez/event_simple.json",
    "marquez/event_required_only.json",
    "marquez/event_unicode.json",
    "marquez/event_dataset_event.json",
    "marquez/event_job_event.json",
    "marquez/null_nominal_end_time.json",
]


@pytest.mark.parametrize("name", CLIENT_EXAMPLES)
def test_every_example_event_is_accepted(client, auth, name: str) -> None:
    resp = client.post(URL, json=load(name), headers=auth("producer"))
    assert resp.status_code == 201, resp.text


def test_metrics_without_column_metrics_are_accepted_and_recorded(
    client, auth, db: Session
) -> None:
    """Marquez's event_full.json sends `dataQualityMetrics` with only rowCount and bytes."""
    event = load("marquez/event_full.json")
    metrics = event["inputs"][0]["inputFacets"]["dataQualityMetrics"]
    assert "columnMetrics" not in metrics
    resp = client.post(URL, json=event, headers=auth("producer"))
    assert resp.status_code == 201 and resp.headers["Lineage-Lenient"] == "1"
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "lineage.event.ingest")).one()
    assert audit.payload["after"]["lenient"] == [
        "$.inputs[0].inputFacets.dataQualityMetrics.columnMetrics"
    ]
    # Stored verbatim: nothing is filled in.
    run = client.get(f"/lineage/runs/{event['run']['runId']}", headers=auth("viewer")).json()
    assert run["state"] == "COMPLETED"
    strict = client.post(URL, json=load("marquez/event_simple.json"), headers=auth("producer"))
    assert "Lineage-Lenient" not in strict.headers


def test_a_spec_conforming_event_records_no_leniency(client, auth, db: Session) -> None:
    event = load("openlineage/client_serde_example_run_event.json")
    assert client.post(URL, json=event, headers=auth("producer")).status_code == 201
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "lineage.event.ingest")).one()
    assert "lenient" not in audit.payload["after"]


def test_a_facet_example_of_the_spec_goes_in_wrapped_in_an_event(client, auth) -> None:
    event = load("marquez/event_simple.json")
    event["inputs"][0]["inputFacets"] = load(
        "openlineage/spec_tests/DataQualityMetricsInputDatasetFacet_1.json"
    )
    event["outputs"][0]["facets"] = load("openlineage/spec_tests/SymlinksDatasetFacet_1.json")
    resp = client.post(URL, json=event, headers=auth("producer"))
    assert resp.status_code == 201, resp.text
    assert "Lineage-Lenient" not in resp.headers


SPEC_FACET_EXAMPLES = sorted(p.name for p in (FIXTURES / "openlineage/spec_tests").glob("*.json"))


def in_an_event(kind: str, facets: dict[str, Any]) -> dict[str, Any]:
    """Marquez's event_simple.json with these facets where their class says they go."""
    event = load("marquez/event_simple.json")
    run, job = event["run"].setdefault("facets", {}), event["job"].setdefault("facets", {})
    inputs = event["inputs"][0].setdefault("inputFacets", {})
    outputs = event["outputs"][0].setdefault("outputFacets", {})
    for name, facet in facets.items():
        if kind.endswith("RunFacet"):
            run[name] = facet
        elif kind.endswith("JobFacet"):
            job[name] = facet
        elif kind.endswith("InputDatasetFacet") or "InputSubset" in facet.get("_schemaURL", ""):
            inputs[name] = facet
        elif kind.endswith("OutputDatasetFacet") or "OutputSubset" in facet.get("_schemaURL", ""):
            outputs[name] = facet
        else:
            event["outputs"][0].setdefault("facets", {})[name] = facet
    return event


@pytest.mark.parametrize("name", SPEC_FACET_EXAMPLES)
def test_every_facet_example_of_the_spec_is_accepted_as_is(client, auth, name: str) -> None:
    """The spec's own test documents (spec/tests/<Facet>/<n>.json), each in an event."""
    event = in_an_event(name.rsplit("_", 1)[0], load(f"openlineage/spec_tests/{name}"))
    resp = client.post(URL, json=event, headers=auth("producer"))
    assert resp.status_code == 201, resp.text
    assert "Lineage-Lenient" not in resp.headers  # they carry their base fields


def post_all(client: Any, auth: Any, events: list[dict[str, Any]]) -> list[Any]:
    return [client.post(URL, json=e, headers=auth("producer")) for e in events]


def test_dbt_expected_events_go_in_with_their_bare_facets(client, auth) -> None:
    events = [
        complete(t, seed="dbt", minutes=i)
        for i, t in enumerate(load("openlineage/dbt_build_result.json"))
    ]
    responses = post_all(client, auth, events)
    assert [r.status_code for r in responses] == [201] * len(events), responses[0].text
    # Every COMPLETE carries `parent` and `dbt_version` facets without the base fields.
    completes = [r for r, e in zip(responses, events, strict=True) if e["eventType"] == "COMPLETE"]
    assert all(int(r.headers["Lineage-Lenient"]) >= 4 for r in completes)


def test_spark_and_flink_expected_events_go_in(client, auth) -> None:
    spark = complete(load("openlineage/spark_pysparkCLLEnd.json"), seed="spark")
    flink = complete(load("openlineage/flink_expected_kafka.json"), seed="flink")
    for event in (spark, flink):
        resp = client.post(URL, json=event, headers=auth("producer"))
        assert resp.status_code == 201, resp.text
        assert int(resp.headers["Lineage-Lenient"]) > 0
    column = client.get(
        "/api/v1/column-lineage",
        params={"nodeId": "datasetField:file:/tmp/cll_test/tbl1:ident"},
        headers=auth("viewer"),
    ).json()
    ids = {n["id"] for n in column["graph"]}
    assert "datasetField:file:/tmp/cll_test/cll_source1:b" in ids


def test_events_breaking_the_core_schema_are_still_refused_with_the_path(client, auth) -> None:
    # Marquez itself accepts this one; the spec requires schemaURL, and so does driftgate.
    no_url = client.post(
        URL, json=load("marquez/event_without_schema_url.json"), headers=auth("producer")
    )
    assert no_url.status_code == 422
    assert no_url.headers["content-type"].startswith("application/problem+json")
    assert (no_url.json()["field"], no_url.json()["rule"]) == ("$.schemaURL", "required")
    template = load("openlineage/flink_expected_kafka.json")
    cases = [
        (("run", "runId"), "${json-unit.any-string}", "$.run.runId", "format"),
        (("eventType",), "STARTED", "$.eventType", "enum"),
        (("inputs", 0, "name"), None, "$.inputs[0].name", "type"),
    ]
    for path, value, field, rule in cases:
        event = complete(copy.deepcopy(template), seed="broken")
        target: Any = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        body = client.post(URL, json=event, headers=auth("producer")).json()
        assert (body["field"], body["rule"]) == (field, rule), body
    # A facet's own fields still follow the spec, base fields or not.
    event = complete(copy.deepcopy(template), seed="broken-facet")
    event["inputs"][0]["facets"]["schema"]["fields"] = "id, version"
    body = client.post(URL, json=event, headers=auth("producer")).json()
    assert body["field"] == "$.inputs[0].facets.schema.fields" and body["rule"] == "type"
