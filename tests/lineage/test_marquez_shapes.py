"""`GET /api/v1/lineage` and `/api/v1/column-lineage` answer as Marquez does for the same events.

The expected documents are Marquez's own: a recorded job node of its web UI's test mocks (for
the seed events of its docker demo), and the node documents of its API test resources. Key
sets are checked against Marquez's models (`api/src/main/java/marquez/service/models/`),
values against the recorded documents. Where a recorded document predates a model field, or
disagrees with the events, the comment says so.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from tests.lineage.events import dataset, facet, run_event
from tests.lineage.upstream import FIXTURES, load

URL = "/api/v1/lineage"
COLUMNS = "/api/v1/column-lineage"

# Serialized properties of Marquez's models (Jackson writes every getter, nulls included;
# @JsonIgnore'd ones such as uuid, inputUuids, namespaceName are left out).
DATASET_DATA = {
    "id", "type", "name", "physicalName", "createdAt", "updatedAt", "namespace", "sourceName",
    "fields", "tags", "lastModifiedAt", "description", "lastLifecycleState",
}  # fmt: skip
JOB_DATA = {
    "id", "type", "name", "simpleName", "parentJobName", "parentJobUuid", "currentRunUuid",
    "createdAt", "updatedAt", "namespace", "inputs", "outputs", "location", "description",
    "latestRun",
}  # fmt: skip
RUN = {
    "id", "createdAt", "updatedAt", "nominalStartTime", "nominalEndTime", "state", "startedAt",
    "endedAt", "durationMs", "args", "jobVersion", "inputDatasetVersions",
    "outputDatasetVersions", "facets",
}  # fmt: skip
FIELD = {"name", "type", "tags", "description"}
COLUMN_NODE_DATA = {
    "namespace", "dataset", "datasetVersion", "field", "fieldType",
    "transformationDescription", "transformationType", "inputFields",
}  # fmt: skip
INPUT_FIELD_NODE_DATA = {
    "namespace", "dataset", "datasetVersion", "field", "transformationDescription",
    "transformationType",
}  # fmt: skip
DRIFTGATE_DATASET_EXTRAS = {"currentVersion", "facets"}
DRIFTGATE_JOB_EXTRAS = {"facets"}


def recorded_job_node() -> dict[str, Any]:
    """The web UI mock: a `JobData` recorded from Marquez for the demo's etl_orders_7_days."""
    text = (FIXTURES / "marquez/web_mock_LineageJob.ts").read_text(encoding="utf-8")
    return json.loads(text[text.index("= {") + 2 :])


def post(client: Any, auth: Any, event: dict[str, Any]) -> None:
    resp = client.post(URL, json=event, headers=auth("producer"))
    assert resp.status_code == 201, resp.text


def graph(client: Any, auth: Any, node_id: str, path: str = URL) -> dict[str, Any]:
    params = {"nodeId": node_id}
    if path != URL:  # column lineage, with downstream
        params["withDownstream"] = "true"
    resp = client.get(path, params=params, headers=auth("viewer"))
    assert resp.status_code == 200, resp.text
    return {n["id"]: n for n in resp.json()["graph"]}


def test_the_job_node_matches_marquez_recorded_response_for_the_same_events(client, auth) -> None:
    expected = recorded_job_node()
    run = expected["latestRun"]
    times = {
        "{{RUN_START_TIME}}": run["startedAt"],
        "{{RUN_END_TIME_AFTER_7_MINUTES}}": run["endedAt"],
    }
    for event in load("marquez/metadata_etl_orders_7_days.json"):
        event["eventTime"] = times[event["eventTime"]]
        post(client, auth, event)
    nodes = graph(client, auth, "job:food_delivery:etl_orders_7_days")
    job = nodes["job:food_delivery:etl_orders_7_days"]["data"]

    assert set(job) == JOB_DATA | DRIFTGATE_JOB_EXTRAS
    assert set(job["latestRun"]) == RUN
    # The recording predates two model properties (JobData.currentRunUuid,
    # Run.input/outputDatasetVersions); every key it has, driftgate has.
    assert set(expected) <= set(job) and set(run) <= set(job["latestRun"])
    for key in ("id", "type", "name", "simpleName", "parentJobName", "parentJobUuid",
                "createdAt", "updatedAt", "namespace", "location"):  # fmt: skip
        assert job[key] == expected[key], key
    assert sorted(job["inputs"], key=str) == sorted(expected["inputs"], key=str)
    assert job["outputs"] == expected["outputs"]
    # The demo's events now carry a documentation facet; the recorded seed did not.
    assert job["description"] == "Loads newly placed orders weekly."
    assert job["currentRunUuid"] == run["id"]

    latest = job["latestRun"]
    for key in ("id", "createdAt", "updatedAt", "state", "startedAt", "endedAt", "durationMs",
                "args", "jobVersion"):  # fmt: skip
        assert latest[key] == run[key], key
    # jobVersion is Marquez's own UUID for the job's namespace, name, inputs and outputs.
    assert latest["jobVersion"]["version"] == "2ced85f2-4274-378d-b9e2-fa4ea6e68c71"
    # Today's Marquez fills the nominal times from the nominalTime facet (the recording's
    # older server left them null); the facet itself is the same.
    assert latest["nominalStartTime"] == latest["nominalEndTime"] == "2020-02-22T22:00:00Z"
    assert set(latest["facets"]) == set(run["facets"]) == {"nominalTime"}
    assert [v["datasetVersionId"]["name"] for v in latest["outputDatasetVersions"]] == [
        "public.orders_7_days"
    ]
    assert len(latest["inputDatasetVersions"]) == 4

    out = nodes["dataset:food_delivery:public.orders_7_days"]["data"]
    assert set(out) == DATASET_DATA | DRIFTGATE_DATASET_EXTRAS
    assert all(set(f) == FIELD for f in out["fields"])
    assert out["fields"][0] == {
        "name": "order_id", "type": "INTEGER", "tags": [], "description": "The ID of the order.",
    }  # fmt: skip
    assert out["lastModifiedAt"] == run["endedAt"]  # written by a completed run
    assert out["sourceName"] == "food_delivery_db"  # the dataSource facet's name
    # An input no event describes: Marquez's defaults.
    menus = nodes["dataset:food_delivery:public.menus"]["data"]
    assert (menus["sourceName"], menus["fields"], menus["description"]) == ("default", [], None)
    assert menus["lastModifiedAt"] is None
    assert list(nodes) == sorted(nodes)  # Marquez sorts the graph by node id


def test_the_dataset_node_matches_marquez_lineage_node_resource(client, auth) -> None:
    expected = load("marquez/lineage_node.json")
    columns = [
        {"name": f["name"], "type": f["type"], "description": f["description"]}
        for f in expected["data"]["fields"]
    ]
    common = {
        "namespace": "namespace",
        "name": "commonDataset",
        "facets": {
            "schema": facet(fields=columns),
            "documentation": facet(description="the dataset documentation"),
            "dataSource": facet(name="the source", uri="postgres://db"),
        },
    }
    # The writer is still running: no completed write yet, so lastModifiedAt stays null.
    post(client, auth, run_event("writeJob", namespace="namespace", event_type="START",
                                 outputs=[common]))  # fmt: skip
    reader = run_event("readJob19<-commonDataset", namespace="namespace")
    reader["inputs"] = [{"namespace": "namespace", "name": "commonDataset"}]
    post(client, auth, reader)
    node = graph(client, auth, "dataset:namespace:commonDataset")["dataset:namespace:commonDataset"]
    data, want = node["data"], expected["data"]
    # The resource predates DatasetData.lastLifecycleState; everything else is there.
    assert set(data) == DATASET_DATA | DRIFTGATE_DATASET_EXTRAS
    assert set(want) | {"lastLifecycleState"} == DATASET_DATA
    for key in ("id", "type", "name", "physicalName", "namespace", "sourceName", "fields",
                "tags", "lastModifiedAt", "description"):  # fmt: skip
        assert data[key] == want[key], key
    assert data["lastLifecycleState"] is None
    assert node["inEdges"] == expected["inEdges"]
    assert node["outEdges"] == expected["outEdges"]


def test_job_parent_location_description_type_and_dataset_lifecycle_and_tags(client, auth) -> None:
    parent_run = str(uuid.uuid4())
    tags = facet(tags=[
        {"key": "pii", "value": "true", "source": "manual"},
        {"key": "classification", "value": "restricted", "source": "manual", "field": "email"},
    ])  # fmt: skip
    users = dataset("users", fields=("id", "email"), tags=tags)
    users["facets"]["lifecycleStateChange"] = facet(lifecycleStateChange="OVERWRITE")
    event = run_event(
        "nightly.load_users",
        outputs=[users],
        run_facets={
            "parent": facet(run={"runId": parent_run}, job={"namespace": "etl", "name": "nightly"}),
            "nominalTime": facet(nominalStartTime="2026-11-23T02:00:00.5+02:00"),
        },
        job_facets={
            "sourceCodeLocation": facet(type="git", url="https://git.example/etl/users.py"),
            "documentation": facet(description="Loads users."),
            "jobType": facet(processingType="STREAMING", integration="FLINK", jobType="JOB"),
        },
    )
    post(client, auth, event)
    nodes = graph(client, auth, "job:etl:nightly.load_users")
    job = nodes["job:etl:nightly.load_users"]["data"]
    assert (job["simpleName"], job["parentJobName"]) == ("load_users", "nightly")
    assert uuid.UUID(job["parentJobUuid"]).version == 3
    assert job["location"] == "https://git.example/etl/users.py"
    assert (job["description"], job["type"]) == ("Loads users.", "STREAM")
    latest = job["latestRun"]
    assert latest["args"] == {
        "nominal_start_time": "2026-11-23T02:00:00.500+02:00",
        "run_id": parent_run,
        "name": "nightly",
        "namespace": "etl",
    }
    assert latest["nominalEndTime"] is None and latest["durationMs"] is None  # no START seen
    data = nodes["dataset:warehouse:users"]["data"]
    assert data["lastLifecycleState"] == "OVERWRITE"
    assert data["tags"] == ["pii"]
    assert [f["tags"] for f in data["fields"]] == [[], ["classification:restricted"]]


def test_a_running_job_has_no_job_version_yet(client, auth) -> None:
    post(client, auth, run_event("slow", event_type="START", outputs=[dataset("out")]))
    job = graph(client, auth, "job:etl:slow")["job:etl:slow"]["data"]
    assert job["latestRun"]["state"] == "RUNNING" and job["latestRun"]["jobVersion"] is None
    assert job["latestRun"]["durationMs"] is None


def test_dbt_child_jobs_name_their_parent(client, auth) -> None:
    from tests.lineage.upstream import complete

    events = [
        complete(t, seed="dbt", minutes=i)
        for i, t in enumerate(load("openlineage/dbt_build_result.json"))
    ]
    for event in events:
        post(client, auth, event)
    name = events[3]["job"]["name"]
    job = graph(client, auth, f"job:job-namespace:{name}")[f"job:job-namespace:{name}"]["data"]
    assert job["parentJobName"] == "dbt-job-name"
    assert job["simpleName"] == name  # not prefixed with the parent's name
    assert job["latestRun"]["state"] == "COMPLETED"
    assert job["latestRun"]["args"]["namespace"] == "dbt"


# --- column lineage ------------------------------------------------------------------------


def column_pipeline(client: Any, auth: Any) -> None:
    """otherDataset.columnB -> commonDataset.columnA -> otherDataset.columnC (the resource)."""
    lineage = facet(fields={"columnA": {
        "inputFields": [{"namespace": "namespace", "name": "otherDataset", "field": "columnB"}],
        "transformationDescription": "identical",
        "transformationType": "IDENTITY",
    }})  # fmt: skip
    common = {"namespace": "namespace", "name": "commonDataset", "facets": {
        "schema": facet(fields=[{"name": "columnA", "type": "integer"}]),
        "columnLineage": lineage,
        "version": facet(datasetVersion="v1"),
    }}  # fmt: skip
    back = facet(fields={"columnC": {"inputFields": [{
        "namespace": "namespace", "name": "commonDataset", "field": "columnA",
        "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION", "description": "sum"}],
    }]}})  # fmt: skip
    source = dataset("otherDataset", namespace="namespace")
    copy = run_event("copy", namespace="namespace", minutes=1, inputs=[source], outputs=[common])
    post(client, auth, copy)
    post(client, auth, run_event("agg", namespace="namespace", minutes=2, outputs=[{
        "namespace": "namespace", "name": "otherDataset", "facets": {"columnLineage": back},
    }]))  # fmt: skip


def test_a_column_node_matches_marquez_column_lineage_node_resource(client, auth) -> None:
    column_pipeline(client, auth)
    expected = load("marquez/column_lineage_node.json")
    nodes = graph(client, auth, expected["id"] + "", path=COLUMNS)
    node = nodes[expected["id"]]
    data, want = node["data"], expected["data"]
    assert set(data) == COLUMN_NODE_DATA | {"depth"}
    assert node["type"] == want["type"] if "type" in want else node["type"] == "DATASET_FIELD"
    for key in ("namespace", "field", "fieldType", "transformationDescription",
                "transformationType"):  # fmt: skip
        assert data[key] == want[key], key
    # The resource's `dataset` says otherDataset while its id says commonDataset; the node
    # is commonDataset's field, as the id (and every edge) says.
    assert data["dataset"] == "commonDataset"
    assert [{k: f[k] for k in ("namespace", "dataset", "field")} for f in data["inputFields"]] == (
        want["inputFields"]
    )
    assert all(set(f) == INPUT_FIELD_NODE_DATA for f in data["inputFields"])
    assert node["inEdges"] == expected["inEdges"] and node["outEdges"] == expected["outEdges"]
    # The newer per-input `transformations` list fills the Marquez fields when they are absent.
    sink = nodes["datasetField:namespace:otherDataset:columnC"]["data"]
    assert (sink["transformationType"], sink["transformationDescription"]) == ("DIRECT", "sum")
    assert sink["inputFields"][0]["transformations"][0]["subtype"] == "AGGREGATION"


def test_column_lineage_accepts_dataset_and_versioned_node_ids(client, auth) -> None:
    column_pipeline(client, auth)
    path = COLUMNS
    whole = graph(client, auth, "dataset:namespace:commonDataset", path=path)
    assert "datasetField:namespace:commonDataset:columnA" in whole
    assert "datasetField:namespace:otherDataset:columnB" in whole
    versioned = graph(client, auth, "datasetField:namespace:commonDataset:columnA#v1", path=path)
    assert "datasetField:namespace:commonDataset:columnA#v1" in versioned
    node = versioned["datasetField:namespace:commonDataset:columnA#v1"]
    assert node["data"]["datasetVersion"] == "v1"
    # Every id carries its dataset's version current at v1's time (none for otherDataset's
    # input before `agg` wrote it: that id stays unversioned).
    assert all(re.match(r"datasetField:.*(#.+)?$", i) for i in versioned)
    assert "datasetField:namespace:otherDataset:columnB" in versioned
    by_dataset = graph(client, auth, "dataset:namespace:commonDataset#v1", path=path)
    assert "datasetField:namespace:commonDataset:columnA#v1" in by_dataset
    missing = client.get(
        "/api/v1/column-lineage",
        params={"nodeId": "datasetField:namespace:commonDataset:columnA#v9"},
        headers=auth("viewer"),
    )
    assert missing.status_code == 404  # neither a version nor a field named 'columnA#v9'
    # A job's node id: the column lineage of the datasets it writes (Marquez takes it too).
    by_job = graph(client, auth, "job:namespace:copy", path=COLUMNS)
    assert "datasetField:namespace:commonDataset:columnA" in by_job
    wrong_kind = client.get(
        COLUMNS, params={"nodeId": f"run:{uuid.uuid4()}"}, headers=auth("viewer")
    )
    assert wrong_kind.status_code == 422 and wrong_kind.json()["rule"] == "node_kind"


# --- symlinks ------------------------------------------------------------------------------


def test_a_symlinked_name_resolves_to_the_same_node(client, auth) -> None:
    table = dataset("/warehouse/orders", namespace="s3://bucket")
    table["facets"]["symlinks"] = facet(
        identifiers=[{"namespace": "hive://metastore", "name": "sales.orders", "type": "TABLE"}]
    )
    post(client, auth, run_event("spark_write", outputs=[table]))
    # Another producer names the table by its metastore name.
    alias = {"namespace": "hive://metastore", "name": "sales.orders"}
    post(client, auth, run_event("report", minutes=5, inputs=[alias]))
    primary = "dataset:s3://bucket:/warehouse/orders"
    for node_id in (primary, "dataset:hive://metastore:sales.orders", "job:etl:report"):
        nodes = graph(client, auth, node_id)
        assert set(nodes) == {primary, "job:etl:spark_write", "job:etl:report"}, node_id
        assert nodes[primary]["outEdges"] == [{"origin": primary, "destination": "job:etl:report"}]
    report = graph(client, auth, "job:etl:report")["job:etl:report"]["data"]
    assert report["inputs"] == [{"namespace": "s3://bucket", "name": "/warehouse/orders"}]


def test_a_name_only_a_symlink_knows_resolves_too(client, auth) -> None:
    table = dataset("/warehouse/events", namespace="s3://bucket")
    table["facets"]["symlinks"] = facet(
        identifiers=[{"namespace": "hive://metastore", "name": "raw.events", "type": "TABLE"}]
    )
    post(client, auth, run_event("ingest", outputs=[table]))
    nodes = graph(client, auth, "dataset:hive://metastore:raw.events")
    assert "dataset:s3://bucket:/warehouse/events" in nodes
    missing = client.get(URL, params={"nodeId": "dataset:hive://metastore:raw.nope"},
                         headers=auth("viewer"))  # fmt: skip
    assert missing.status_code == 404


def test_a_symlink_into_driftgates_namespace_is_refused(client, auth) -> None:
    """A symlink merges nodes: one naming driftgate's own dataset would take it over."""
    table = dataset("models", namespace="ml")
    table["facets"]["symlinks"] = facet(
        identifiers=[{"namespace": "driftgate", "name": "models/ranker#champion", "type": "TABLE"}]
    )
    for key in ("inputs", "outputs"):
        resp = client.post(
            URL, json=run_event("sneaky", **{key: [table]}), headers=auth("producer")
        )
        body = resp.json()
        assert resp.status_code == 403 and body["rule"] == "reserved_namespace"
        assert body["field"] == f"$.{key}[0].facets.symlinks.identifiers[0].namespace"
