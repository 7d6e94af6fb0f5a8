"""Outside lineage may read driftgate's datasets but never write or describe them.

driftgate's datasets are evidence: monitors take the champion's model version from the
newest version of `models/<name>#champion`, gates and cards follow its runs' inputs. An outside
producer that could add a version or a schema to them could steer those readings. Each
forgery below is refused with a 403 naming the field, and leaves the store as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from core.auth import CLI_OPERATOR, Role, create_token
from core.settings import Settings

LINEAGE = "/api/v1/lineage"
CHAMPION = {"namespace": "driftgate", "name": "models/ranker#champion"}


@pytest.fixture
def posted(committed_db: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Any]]:
    engine = create_engine(committed_db)
    with sessionmaker(bind=engine).begin() as s:
        token = create_token(s, CLI_OPERATOR, name="etl", role=Role.producer, prefix="dg_")
    settings = Settings(
        data_dir=tmp_path / "data",
        monitor_runner=False,
        ranker_serving=False,
        governance_bake_guard=False,
        audit_checkpointer=False,
    )
    app = create_app(settings, database_url=committed_db)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}, engine
    engine.dispose()


def run_event(**parts: Any) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2030-01-01T00:00:00Z",
        "producer": "https://example.com/etl",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "etl", "name": "warehouse.load"},
        "inputs": [],
        "outputs": [],
        **parts,
    }


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": "https://example.com/etl", "_schemaURL": "https://example.com/f", **fields}


def driftgate_rows(engine: Any) -> tuple[int, int, int]:
    """Datasets, dataset versions and dataset facets in driftgate's namespace."""
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM lineage_datasets WHERE namespace = 'driftgate'),"
                    " (SELECT count(*) FROM lineage_dataset_versions v JOIN lineage_datasets d"
                    "   ON d.id = v.dataset_id WHERE d.namespace = 'driftgate'),"
                    " (SELECT count(*) FROM lineage_facets f JOIN lineage_datasets d"
                    "   ON f.owner_kind = 'dataset' AND f.owner_id = d.id"
                    "   WHERE d.namespace = 'driftgate')"
                )
            ).one()
        )


FORGERIES = {
    "output version of the champion": (
        run_event(outputs=[{**CHAMPION, "facets": {"version": facet(datasetVersion="99")}}]),
        "$.outputs[0].namespace",
    ),
    "plain output into the namespace": (
        run_event(outputs=[{"namespace": "driftgate", "name": "contracts/impressions/accepted"}]),
        "$.outputs[0].namespace",
    ),
    "input carrying a version": (
        run_event(inputs=[{**CHAMPION, "facets": {"version": facet(datasetVersion="99")}}]),
        "$.inputs[0].facets",
    ),
    "input carrying a schema": (
        run_event(
            inputs=[
                {
                    **CHAMPION,
                    "facets": {"schema": facet(fields=[{"name": "score", "type": "double"}])},
                }
            ]
        ),
        "$.inputs[0].facets",
    ),
    "dataset event": (
        {
            "eventTime": "2030-01-01T00:00:00Z",
            "producer": "https://example.com/etl",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
            "dataset": {**CHAMPION, "facets": {"version": facet(datasetVersion="99")}},
        },
        "$.dataset.namespace",
    ),
    "job event writing the namespace": (
        {
            "eventTime": "2030-01-01T00:00:00Z",
            "producer": "https://example.com/etl",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
            "job": {"namespace": "etl", "name": "warehouse.load"},
            "inputs": [],
            "outputs": [CHAMPION],
        },
        "$.outputs[0].namespace",
    ),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_an_outside_event_cannot_write_driftgates_datasets(posted: Any, name: str) -> None:
    client, headers, engine = posted
    event, field = FORGERIES[name]
    before = driftgate_rows(engine)
    resp = client.post(LINEAGE, json=event, headers=headers)
    assert resp.status_code == 403, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["rule"] == "reserved_namespace" and problem["field"] == field
    assert driftgate_rows(engine) == before


def test_an_outside_job_may_read_a_driftgate_dataset_by_name(posted: Any) -> None:
    client, headers, engine = posted
    event = run_event(
        inputs=[
            {
                **CHAMPION,
                "inputFacets": {
                    "dataQualityMetrics": facet(rowCount=10, columnMetrics={}),
                },
            }
        ]
    )
    resp = client.post(LINEAGE, json=event, headers=headers)
    assert resp.status_code == 201, resp.text
    datasets, versions, facets = driftgate_rows(engine)
    assert (versions, facets) == (0, 0) and datasets == 1
