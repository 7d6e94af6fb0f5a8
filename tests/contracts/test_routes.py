"""Contract registry over HTTP: register, evolve, diff, deprecate, export, audit."""

from __future__ import annotations

from collections.abc import Callable

import yaml
from fastapi.testclient import TestClient

from tests.builders import contract

Auth = Callable[[str], dict[str, str]]


def _register(client: TestClient, auth: Auth, doc: dict | None = None):  # type: ignore[no-untyped-def]
    return client.post("/contracts", json=doc or contract(), headers=auth("admin"))


def test_registers_a_contract_and_reads_it_back(client: TestClient, auth: Auth) -> None:
    resp = _register(client, auth)
    assert resp.status_code == 201
    body = resp.json()
    assert (
        body["contract_id"] == "orders"
        and body["version"] == "1.0.0"
        and body["status"] == "active"
    )
    assert len(body["fingerprint"]) == 64
    got = client.get("/contracts/orders", headers=auth("viewer")).json()
    assert got["latest_version"] == "1.0.0" and got["compatibility"] == "BACKWARD"
    assert [c["id"] for c in client.get("/contracts", headers=auth("viewer")).json()] == ["orders"]
    version = client.get("/contracts/orders/versions/1.0.0", headers=auth("viewer")).json()
    assert version["spec"]["fields"][1]["max"] == 1000


def test_accepts_yaml_bodies(client: TestClient, auth: Auth) -> None:
    body = yaml.safe_dump(contract(id="orders-yaml"))
    resp = client.post(
        "/contracts", content=body, headers={**auth("admin"), "Content-Type": "application/yaml"}
    )
    assert resp.status_code == 201, resp.text


def test_registering_the_same_id_twice_is_409(client: TestClient, auth: Auth) -> None:
    _register(client, auth)
    resp = _register(client, auth)
    assert resp.status_code == 409 and resp.json()["field"] == "id"


def test_invalid_contract_gets_422_naming_field_and_rule(client: TestClient, auth: Auth) -> None:
    doc = contract()
    doc["fields"][1]["min"] = 5000  # min above max 1000
    resp = _register(client, auth, doc)
    assert resp.status_code == 422
    problem = resp.json()
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert problem["rule"] == "min_le_max" and problem["field"].startswith("fields[1](amount)")
    assert client.get("/contracts/orders", headers=auth("viewer")).status_code == 404


def test_unparseable_document_gets_400(client: TestClient, auth: Auth) -> None:
    resp = client.post(
        "/contracts",
        content=b"id: [unclosed",
        headers={**auth("admin"), "Content-Type": "application/yaml"},
    )
    assert resp.status_code == 400 and resp.json()["rule"] == "syntax"


def test_nul_characters_in_a_contract_are_refused(client: TestClient, auth: Auth) -> None:
    doc = contract(description="bad\u0000byte")
    resp = _register(client, auth, doc)
    assert resp.status_code == 400 and resp.json()["rule"] == "no_nul_bytes"


def test_compatible_version_is_added_with_its_changes(client: TestClient, auth: Auth) -> None:
    _register(client, auth)
    doc = contract(version="1.1.0")
    doc["fields"][1]["max"] = 5000  # loosening is BACKWARD compatible
    doc["fields"].append({"name": "coupon", "type": "string"})
    resp = client.post("/contracts/orders/versions", json=doc, headers=auth("admin"))
    assert resp.status_code == 201, resp.text
    kinds = {c["kind"] for c in resp.json()["changes"]}
    assert {"max_raised", "optional_field_added"} <= kinds
    versions = client.get("/contracts/orders/versions", headers=auth("viewer")).json()
    assert [v["version"] for v in versions] == ["1.0.0", "1.1.0"]


def test_incompatible_change_without_major_bump_is_409_listing_each_violation(
    client: TestClient, auth: Auth
) -> None:
    _register(client, auth)
    doc = contract(version="1.1.0")
    doc["fields"][1]["max"] = 500  # tightened range
    doc["fields"] = [f for f in doc["fields"] if f["name"] != "placed_at"]  # dropped required field
    doc.pop("freshness")
    resp = client.post("/contracts/orders/versions", json=doc, headers=auth("admin"))
    assert resp.status_code == 409
    paths = {e["field"] for e in resp.json()["errors"]}
    assert {"fields.amount.max", "fields.placed_at"} <= paths
    assert resp.json()["rule"] == "compatibility_backward"
    assert (
        client.get("/contracts/orders", headers=auth("viewer")).json()["latest_version"] == "1.0.0"
    )
    doc["version"] = "2.0.0"
    assert (
        client.post("/contracts/orders/versions", json=doc, headers=auth("admin")).status_code
        == 201
    )


def test_version_must_increase_and_match_the_path(client: TestClient, auth: Auth) -> None:
    _register(client, auth)
    same = client.post("/contracts/orders/versions", json=contract(), headers=auth("admin"))
    assert same.status_code == 409 and same.json()["rule"] == "version_increases"
    other = client.post(
        "/contracts/orders/versions",
        json=contract(id="other", version="1.0.1"),
        headers=auth("admin"),
    )
    assert other.status_code == 422 and other.json()["rule"] == "matches_path"
    missing = client.post(
        "/contracts/nope/versions", json=contract(id="nope", version="1.0.1"), headers=auth("admin")
    )
    assert missing.status_code == 404


def test_diff_classifies_changes_per_mode(client: TestClient, auth: Auth) -> None:
    _register(client, auth)
    doc = contract(version="2.0.0")
    doc["fields"][2]["max"] = 10
    client.post("/contracts/orders/versions", json=doc, headers=auth("admin"))
    resp = client.get("/contracts/orders/diff?from=1.0.0&to=2.0.0", headers=auth("viewer"))
    assert resp.status_code == 200
    change = next(c for c in resp.json()["changes"] if c["path"] == "fields.quantity.max")
    assert change["kind"] == "max_lowered" and change["breaks"] == ["BACKWARD"]
    bad = client.get("/contracts/orders/diff?from=1.0.0&to=9.9.9", headers=auth("viewer"))
    assert bad.status_code == 404 and bad.json()["field"] == "version"


def test_deprecated_version_is_flagged_and_skipped_as_default(
    client: TestClient, auth: Auth
) -> None:
    _register(client, auth)
    client.post("/contracts/orders/versions", json=contract(version="1.0.1"), headers=auth("admin"))
    resp = client.post(
        "/contracts/orders/versions/1.0.1/deprecate", json={"reason": "typo"}, headers=auth("admin")
    )
    assert resp.status_code == 200 and resp.json()["status"] == "deprecated"
    empty = client.post(
        "/contracts/orders/versions/1.0.0/deprecate", json={}, headers=auth("admin")
    )
    assert empty.status_code == 422 and empty.json()["field"] == "reason"
    actions = [
        e["action"]
        for e in client.get("/audit?object=contract:orders", headers=auth("viewer")).json()
    ]
    assert actions == ["contract.register", "contract.version.add", "contract.version.deprecate"]


def test_expectations_export_is_a_gx_suite(client: TestClient, auth: Auth) -> None:
    _register(client, auth)
    suite = client.get("/contracts/orders/expectations", headers=auth("viewer")).json()
    types = {e["type"] for e in suite["expectations"]}
    assert "expect_column_values_to_be_between" in types
    assert all("rule_id" in e["meta"] for e in suite["expectations"])


def test_every_contract_mutation_is_audited_and_chain_is_intact(
    client: TestClient, auth: Auth
) -> None:
    _register(client, auth)
    events = client.get("/audit?object=orders", headers=auth("viewer")).json()
    assert events[-1]["action"] == "contract.register" and events[-1]["actor"] == "test-admin"
    verdict = client.get("/audit/verify", headers=auth("viewer")).json()
    assert verdict["intact"] is True and verdict["first_broken_seq"] is None


def test_odcs_v3_document_is_imported_with_a_report(client: TestClient, auth: Auth) -> None:
    from pathlib import Path

    body = (Path(__file__).resolve().parents[2] / "examples" / "impressions.odcs.yaml").read_bytes()
    resp = client.post(
        "/contracts", content=body, headers={**auth("admin"), "Content-Type": "application/yaml"}
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["source_format"] == "odcs"
    assert created["import_report"]["mapped"] and isinstance(
        created["import_report"]["ignored"], list
    )
    names = {f["name"] for f in created["spec"]["fields"]}
    assert {"event_id", "event_time", "position"} <= names


def test_pandera_export_is_yaml_or_json_that_pandera_loads(client: TestClient, auth: Auth) -> None:
    import json

    from contracts import pandera_export

    assert _register(client, auth).status_code == 201
    resp = client.get("/contracts/orders/pandera", headers=auth("viewer"))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/yaml")
    schema = pandera_export.load(resp.text)
    assert schema.name == "orders@1.0.0"
    assert {"amount.max", "order_id.pattern", "row_count"} <= set(pandera_export.rule_ids(schema))
    as_json = client.get(
        "/contracts/orders/pandera?format=json&version=1.0.0", headers=auth("viewer")
    )
    assert as_json.headers["content-type"].startswith("application/json")
    assert json.loads(as_json.text)["columns"]["placed_at"]["dtype"] == "datetime64[ns, UTC]"
    assert pandera_export.load(as_json.text, fmt="json").name == "orders@1.0.0"
    missing = client.get("/contracts/nope/pandera", headers=auth("viewer"))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    bad = client.get("/contracts/orders/pandera?format=xml", headers=auth("viewer"))
    assert bad.status_code == 422
