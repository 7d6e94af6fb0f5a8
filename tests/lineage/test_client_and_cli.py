"""Done-when: openlineage-python's own HTTP client, pointed at a real uvicorn, feeds the graph;
and `driftgate lineage show` prints it as a tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client import event_v2 as ol
from openlineage.client.generated import schema_dataset
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from core.auth import CLI_OPERATOR, Role, create_token
from core.settings import Settings
from tests.support.servers import serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(committed_db: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    engine = create_engine(committed_db)
    with sessionmaker(bind=engine).begin() as s:
        tokens = {
            role: create_token(s, CLI_OPERATOR, name=role, role=Role(role), prefix="dg_")
            for role in ("producer", "viewer")
        }
    engine.dispose()
    settings = Settings(data_dir=tmp_path / "data")
    with serve(create_app(settings, database_url=committed_db)) as base:
        yield base, tokens


@pytest.mark.slow
def test_openlineage_python_http_client_delivers_events_into_the_graph(
    server: tuple[str, dict[str, str]], committed_db: str, tmp_path: Path
) -> None:
    base, tokens = server
    client = OpenLineageClient(
        transport=HttpTransport(
            HttpConfig(url=base, auth=ApiKeyTokenProvider({"apiKey": tokens["producer"]}))
        )
    )
    run = ol.Run(runId=str(uuid.uuid4()))
    job = ol.Job(namespace="airflow", name="orders_dag.load")
    raw = ol.InputDataset(namespace="s3://lake", name="raw/orders")
    table = ol.OutputDataset(
        namespace="postgres://wh:5432",
        name="public.orders",
        facets={
            "schema": schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name="id", type="INT")]
            )
        },
    )
    for state in (ol.RunState.START, ol.RunState.COMPLETE):
        client.emit(
            ol.RunEvent(
                eventType=state,
                eventTime=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                run=run,
                job=job,
                inputs=[raw],
                outputs=[table],
                producer="https://example.com/airflow",
            )
        )
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        graph = http.get(
            "/lineage/graph", params={"node": "job:airflow:orders_dag.load"}, headers=viewer
        ).json()["graph"]
        by_id = {n["id"]: n for n in graph}
        assert set(by_id) == {
            "job:airflow:orders_dag.load",
            "dataset:s3://lake:raw/orders",
            "dataset:postgres://wh:5432:public.orders",
        }
        latest = by_id["job:airflow:orders_dag.load"]["data"]["latestRun"]
        assert latest == {**latest, "id": run.runId, "state": "COMPLETED"}
        denied = http.post("/api/v1/lineage", json={}, headers=viewer)
        assert denied.status_code == 403

    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")}
    env.update({"DATABASE_URL": committed_db, "DRIFTGATE_DATA_DIR": str(tmp_path / "data")})
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "lineage", "show", "dataset:s3://lake:raw/orders"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "dataset:s3://lake:raw/orders"
    assert lines[1] == "downstream:"
    assert lines[2].startswith("└── job:airflow:orders_dag.load  [COMPLETED")
    assert lines[3] == f"    └── dataset:postgres://wh:5432:public.orders  (version {run.runId})"
    missing = subprocess.run(
        [sys.executable, "-m", "cli.main", "lineage", "show", "job:airflow:nope"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and "no job" in missing.stderr
