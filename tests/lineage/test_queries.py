"""Graph, impact, provenance and column-lineage reads over a small pipeline."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.lineage.events import column_lineage, dataset, facet, run_event

URL = "/api/v1/lineage"
EXTRACT1, EXTRACT2, TRANSFORM1, TRANSFORM2, TRAIN, SERVE = (
    str(uuid.UUID(int=i)) for i in range(11, 17)
)


@pytest.fixture
def pipeline(client, auth) -> dict[str, str]:
    """raw (2 unversioned writes) → clean (read unversioned) → model v7 → predictions window."""
    clean = dataset("clean", fields=("id", "amount_usd"))
    clean["facets"]["columnLineage"] = column_lineage(
        amount_usd=[("warehouse", "raw", "amount")], id=[("warehouse", "raw", "id")]
    )
    # An outside pipeline's model and predictions, in its own namespace (driftgate's is reserved);
    # the `driftgate` links facet marks them as a model version and a prediction window.
    model = dataset("models/ranker", namespace="ml", version="7")
    model["facets"]["driftgate"] = facet(model_name="ranker", model_version="7")
    model["facets"]["columnLineage"] = column_lineage(
        weights=[("warehouse", "clean", "amount_usd")]
    )
    window = dataset("predictions/ranker", namespace="ml", version="2026-11-23T12:00Z/PT1H")
    window["facets"]["driftgate"] = facet(prediction_window="2026-11-23T12:00Z/PT1H")
    events = [
        run_event(
            "extract", run_id=EXTRACT1, minutes=0, outputs=[dataset("raw", fields=("id", "amount"))]
        ),
        run_event(
            "transform", run_id=TRANSFORM1, minutes=5, inputs=[dataset("raw")], outputs=[clean]
        ),
        run_event("extract", run_id=EXTRACT2, minutes=10, outputs=[dataset("raw")]),
        run_event(
            "transform", run_id=TRANSFORM2, minutes=15, inputs=[dataset("raw")], outputs=[clean]
        ),
        run_event(
            "train",
            run_id=TRAIN,
            minutes=20,
            inputs=[dataset("clean", version=TRANSFORM1)],
            outputs=[model],
        ),
        run_event(
            "serve",
            run_id=SERVE,
            minutes=30,
            inputs=[dataset("models/ranker", namespace="ml", version="7")],
            outputs=[window],
        ),
    ]
    for e in events:
        assert client.post(URL, json=e, headers=auth("producer")).status_code == 201
    return auth("viewer")


def ids(graph: dict[str, Any]) -> set[str]:
    return {n["id"] for n in graph["graph"]}


def test_job_graph_has_marquez_shape_and_respects_direction_and_depth(client, pipeline) -> None:
    down = client.get(
        "/lineage/graph?node=dataset:warehouse:raw&direction=downstream&depth=1", headers=pipeline
    ).json()
    assert ids(down) == {"dataset:warehouse:raw", "job:etl:transform", "dataset:warehouse:clean"}
    raw = next(n for n in down["graph"] if n["id"] == "dataset:warehouse:raw")
    assert raw["type"] == "DATASET"
    assert {"origin": "dataset:warehouse:raw", "destination": "job:etl:transform"} in raw[
        "outEdges"
    ]
    job = next(n for n in down["graph"] if n["id"] == "job:etl:transform")
    assert job["data"]["latestRun"]["id"] == TRANSFORM2
    assert job["data"]["latestRun"]["state"] == "COMPLETED"
    both = client.get("/lineage/graph?node=job:etl:transform&depth=5", headers=pipeline).json()
    assert {"job:etl:extract", "job:etl:train", "job:etl:serve"} <= ids(both)
    up = client.get(
        "/lineage/graph?node=job:etl:transform&direction=upstream", headers=pipeline
    ).json()
    assert "job:etl:train" not in ids(up) and "job:etl:extract" in ids(up)
    marquez = client.get("/api/v1/lineage?nodeId=job:etl:transform", headers=pipeline).json()
    assert ids(marquez) == ids(both) | ids(
        client.get("/lineage/graph?node=job:etl:transform&depth=20", headers=pipeline).json()
    )


def test_run_level_graph_shows_versions_and_runs(client, pipeline) -> None:
    graph = client.get(
        f"/lineage/graph?node=run:{TRAIN}&direction=upstream&depth=2", headers=pipeline
    ).json()
    found = ids(graph)
    assert f"run:{TRAIN}" in found and f"run:{TRANSFORM1}" in found
    assert f"dataset:warehouse:clean#{TRANSFORM1}" in found
    assert f"run:{TRANSFORM2}" not in found  # train read the first clean version, explicitly


def test_impact_of_the_first_raw_version_names_what_it_touched(client, pipeline) -> None:
    body = client.get(
        f"/lineage/impact?dataset=warehouse:raw&version={EXTRACT1}", headers=pipeline
    ).json()
    datasets = {(d["name"], d["version"]) for d in body["datasets"]}
    # transform1 read raw between the two extracts, so only its output derives from EXTRACT1.
    assert datasets == {("clean", TRANSFORM1)}
    assert [m["version"] for m in body["model_versions"]] == ["7"]
    assert [p["version"] for p in body["prediction_windows"]] == ["2026-11-23T12:00Z/PT1H"]
    assert {r["id"] for r in body["runs"]} == {TRANSFORM1, TRAIN, SERVE}
    second = client.get(
        f"/lineage/impact?dataset=dataset:warehouse:raw&version={EXTRACT2}", headers=pipeline
    ).json()
    assert {(d["name"], d["version"]) for d in second["datasets"]} == {("clean", TRANSFORM2)}
    assert second["model_versions"] == [] and second["prediction_windows"] == []
    shallow = client.get(
        f"/lineage/impact?dataset=warehouse:raw&version={EXTRACT1}&depth=1", headers=pipeline
    ).json()
    assert shallow["model_versions"] == []


def test_impact_and_provenance_reject_unknown_or_ambiguous_roots(client, pipeline) -> None:
    assert client.get("/lineage/impact?dataset=warehouse:nope", headers=pipeline).status_code == 404
    assert (
        client.get(
            "/lineage/impact?dataset=warehouse:raw&version=nope", headers=pipeline
        ).status_code
        == 404
    )
    both = client.get(f"/lineage/impact?dataset=warehouse:raw&run={TRAIN}", headers=pipeline)
    assert both.status_code == 422 and both.json()["rule"] == "one_root"
    bad = client.get("/lineage/graph?node=table:x:y", headers=pipeline)
    assert bad.status_code == 422 and bad.json()["rule"] == "node_id"
    assert client.get(f"/lineage/runs/{uuid.uuid4()}", headers=pipeline).status_code == 404


def test_provenance_walks_upstream_through_resolved_versions(client, pipeline) -> None:
    body = client.get(
        "/lineage/provenance?node=dataset:ml:predictions/ranker", headers=pipeline
    ).json()
    versions = {(d["name"], d["version"]) for d in body["datasets"]}
    assert ("models/ranker", "7") in versions and ("clean", TRANSFORM1) in versions
    assert ("raw", EXTRACT1) in versions and ("raw", EXTRACT2) not in versions
    assert {r["id"] for r in body["runs"]} == {SERVE, TRAIN, TRANSFORM1, EXTRACT1}


def test_column_lineage_follows_the_column_lineage_facets(client, pipeline) -> None:
    graph = client.get(
        "/lineage/columns?node=datasetField:warehouse:raw:amount&direction=downstream",
        headers=pipeline,
    ).json()
    assert ids(graph) == {
        "datasetField:warehouse:raw:amount",
        "datasetField:warehouse:clean:amount_usd",
        "datasetField:ml:models/ranker:weights",
    }
    clean = next(n for n in graph["graph"] if n["id"].endswith("clean:amount_usd"))
    assert clean["type"] == "DATASET_FIELD"
    assert clean["data"]["inputFields"][0] == {  # Marquez's InputFieldNodeData
        "namespace": "warehouse",
        "dataset": "raw",
        "datasetVersion": None,
        "field": "amount",
        "transformationDescription": None,
        "transformationType": None,
    }
    upstream = client.get(
        "/api/v1/column-lineage?nodeId=datasetField:ml:models/ranker:weights",
        headers=pipeline,
    ).json()
    assert "datasetField:warehouse:raw:amount" in ids(upstream)
    assert "datasetField:warehouse:raw:id" not in ids(upstream)


def test_namespaces_with_colons_resolve(client, auth) -> None:
    ns = "postgres://db.internal:5432"
    event = run_event("load", inputs=[dataset("public.orders", namespace=ns)])
    assert client.post(URL, json=event, headers=auth("producer")).status_code == 201
    graph = client.get(
        f"/lineage/graph?node=dataset:{ns}:public.orders", headers=auth("viewer")
    ).json()
    assert f"dataset:{ns}:public.orders" in ids(graph)
