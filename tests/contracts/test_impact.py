"""Contract impact: what a new or proposed contract version's changed fields reach downstream."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import contract, orders, parquet_bytes
from tests.lineage.events import column_lineage, dataset, facet, run_event
from tests.lineage.writer_fixture import app  # noqa: F401 (lineage ingest in the test's session)


@pytest.fixture
def bad_batch(client, auth) -> dict[str, Any]:
    assert client.post("/contracts", json=contract(), headers=auth("admin")).status_code == 201
    resp = client.post(
        "/batches?contract=orders",
        content=parquet_bytes(orders(20, amount=[5000.0] + [10.0] * 19)),
        headers={**auth("producer"), "Content-Type": "application/vnd.apache.parquet"},
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


@pytest.mark.usefixtures("bad_batch")
def test_contract_impact_lists_columns_models_and_unknown_readers(client, auth) -> None:
    # Outside jobs read driftgate's accepted rows by name and write under their own namespaces.
    accepted = ("driftgate", "contracts/orders/accepted")
    features = dataset("features/orders_daily", namespace="etl")
    features["facets"]["columnLineage"] = column_lineage(
        total=[(*accepted, "amount")], n=[(*accepted, "quantity")]
    )
    model = dataset("models/ranker", namespace="etl", version="3")
    model["facets"]["driftgate"] = facet(model_name="ranker", model_version="3")
    model["facets"]["columnLineage"] = column_lineage(
        weights=[("etl", "features/orders_daily", "total")]
    )
    events = [
        run_event(
            "features",
            namespace="etl",
            minutes=1,
            inputs=[dataset(accepted[1], namespace="driftgate")],
            outputs=[features],
        ),
        run_event(
            "train",
            namespace="etl",
            minutes=2,
            inputs=[dataset("features/orders_daily", namespace="etl")],
            outputs=[model],
        ),
        run_event(
            "dashboard",
            namespace="bi",
            minutes=3,
            inputs=[dataset(accepted[1], namespace="driftgate")],
            outputs=[dataset("orders_board", "bi")],
        ),
    ]
    for e in events:
        assert client.post("/api/v1/lineage", json=e, headers=auth("producer")).status_code == 201
    v2 = contract(version="2.0.0")
    v2["fields"] = [f for f in v2["fields"] if f["name"] != "amount"]
    resp = client.post("/contracts/orders/versions", json=v2, headers=auth("admin"))
    assert resp.status_code == 201, resp.text

    body = client.get("/contracts/orders/impact?version=2.0.0", headers=auth("viewer")).json()
    assert body["against"] == "1.0.0"
    [amount] = body["fields"]
    assert amount["field"] == "amount" and amount["changes"] == ["field_removed"]
    reached = {(d["dataset"], d["field"]) for d in amount["downstream"]}
    assert {
        ("dataset:driftgate:contracts/orders/accepted", "amount"),
        ("dataset:etl:features/orders_daily", "total"),
        ("dataset:etl:models/ranker", "weights"),
    } <= reached
    assert ("dataset:etl:features/orders_daily", "n") not in reached
    assert [m["version"] for m in body["model_versions"]] == ["3"]
    assert body["may_be_affected"] == ["dataset:bi:orders_board"]

    proposed = contract(version="3.0.0")
    proposed["fields"] = [f for f in proposed["fields"] if f["name"] != "quantity"]
    resp = client.post(
        "/contracts/orders/impact?against=1.0.0", json=proposed, headers=auth("viewer")
    )
    assert resp.status_code == 200, resp.text
    [quantity] = resp.json()["fields"]
    assert ("dataset:etl:features/orders_daily", "n") in {
        (d["dataset"], d["field"]) for d in quantity["downstream"]
    }
    assert resp.json()["model_versions"] == []


def test_contract_impact_without_lineage_is_a_404_naming_why(client, auth) -> None:
    assert client.post("/contracts", json=contract(), headers=auth("admin")).status_code == 201
    resp = client.get("/contracts/orders/impact?version=1.0.0", headers=auth("viewer"))
    assert resp.status_code == 404 and resp.json()["rule"] == "has_lineage"
    missing = client.get("/contracts/orders/impact?version=9.9.9", headers=auth("viewer"))
    assert missing.status_code == 404
