"""The ODCS repository's own examples go in: every schema object, SLA and tolerance mapped.

The documents under `bitol/` are copied unchanged from bitol-io/open-data-contract-standard.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from fastapi.testclient import TestClient

from checks.engine import validate
from contracts.loader import load_spec
from contracts.odcs.importer import import_odcs, import_odcs_all
from contracts.odcs.report import OdcsImportError
from tests.contracts.odcs.documents import ignored_by_path

Auth = Callable[[str], dict[str, str]]
BITOL = Path(__file__).resolve().parent / "bitol"
EXAMPLES = sorted(p.name for p in BITOL.glob("*.odcs.yaml") if p.name != "kafka-server.odcs.yaml")
FULL_ID = "53581432-6c55-4ba2-a65f-72344a91553a"


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((BITOL / name).read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_imports_as_valid_contracts(name: str) -> None:
    imported = import_odcs_all(example(name))
    assert imported
    for spec_doc, report in imported:
        spec = load_spec(spec_doc)
        assert report.mapped and {f.name for f in spec.fields}
        assert all(i["reason"] for i in report.ignored)


def test_an_object_without_properties_is_refused_naming_it() -> None:
    with pytest.raises(OdcsImportError, match=r"schema\[0\]\.properties"):
        import_odcs_all(example("kafka-server.odcs.yaml"))


def test_full_example_imports_both_tables_with_the_freshness_sla_on_its_table() -> None:
    (tbl, tbl_report), (receivers, rec_report) = import_odcs_all(example("full-example.odcs.yaml"))

    assert (tbl["id"], receivers["id"]) == (f"{FULL_ID}.tbl", f"{FULL_ID}.receivers")
    assert (tbl["dataset"]["name"], receivers["dataset"]["name"]) == ("tbl_1", "receivers_master")
    # latency 4 d and frequency 1 d on `tab1.txn_ref_dt`: the column of `tbl` only
    assert tbl["freshness"] == {"field": "txn_ref_dt", "max_lag": "P4D", "cadence": "P1D"}
    assert "freshness" not in receivers
    assert "another schema object" in ignored_by_path(rec_report)["slaProperties[0]"]
    assert receivers["dataset_rules"] == [{"kind": "unique_key", "fields": ["id", "country_code"]}]
    ignored = ignored_by_path(tbl_report)
    for i, what in [(1, "generalAvailability"), (4, "retention"), (6, "timeOfAvailability")]:
        assert what in ignored[f"slaProperties[{i}]"]
    assert "schema[1]" not in ignored  # imported as its own contract, not dropped


def test_full_example_without_a_choice_is_refused_by_the_single_import() -> None:
    with pytest.raises(OdcsImportError, match=r"\['tbl', 'receivers'\]"):
        import_odcs(example("full-example.odcs.yaml"))


def test_adventureworks_is_68_contracts() -> None:
    imported = import_odcs_all(example("postgresql-adventureworks-contract.odcs.yaml"))
    ids = [d["id"] for d, _ in imported]
    assert len(ids) == len(set(ids)) == 68
    assert ids[0] == "6aeafdc1-ed62-4c8f-bf0a-da1061c98cdb.department"


def test_nested_only_objects_are_skipped_and_named_in_the_report() -> None:
    imported = import_odcs_all(example("all-schema-types.odcs.yaml"))
    assert [d["id"] for d, _ in imported] == [f"{FULL_ID}.tbl"]
    ignored = ignored_by_path(imported[0][1])
    assert ignored["schema[1]"].startswith("AnObject not imported")
    assert ignored["schema[2]"].startswith("AnotherObject not imported")


def test_invalid_values_tolerance_becomes_an_invalid_fraction_rule_the_engine_applies() -> None:
    (spec_doc, report), *_ = import_odcs_all(example("column-validity.odcs.yaml"))
    assert spec_doc["dataset_rules"] == [
        {
            "kind": "invalid_fraction",
            "field": "air_quality_status",
            "max": 0.05,
            "allowed_values": ["", "n/a"],
            "severity": "reject",
        }
    ]
    assert any("null listed as valid" in m for m in report.mapped)
    spec = load_spec(spec_doc)
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def verdict(bad: int) -> bool:
        values = ["n/a"] * (100 - bad) + ["good"] * bad
        v = validate(pl.DataFrame({"air_quality_status": values}), spec, received_at=at)
        o = next(o for o in v.outcomes if o.rule_id == "invalid_fraction:air_quality_status")
        return o.passed

    assert verdict(5) and not verdict(6)


@pytest.mark.parametrize(
    ("quality", "expected"),
    [
        ({"mustBeLessThan": 5, "unit": "rows"}, {"max_rows": 4}),
        ({"mustBeLessOrEqualTo": 5}, {"max_rows": 5}),
        ({"mustBeLessThan": 2, "unit": "percent"}, {"max": 0.02}),
    ],
)
def test_invalid_values_tolerances_in_rows_and_percent(
    quality: dict[str, Any], expected: dict[str, Any]
) -> None:
    """As in the ODCS data-quality docs: `line_item_unit` in ['pounds', 'kg'], < 5 rows."""
    doc = example("column-validity.odcs.yaml")
    prop = doc["schema"][0]["properties"][0]
    prop["quality"] = [
        {"metric": "invalidValues", "arguments": {"validValues": ["pounds", "kg"]}, **quality}
    ]
    (spec_doc, _), *_ = import_odcs_all(doc)
    rule = spec_doc["dataset_rules"][0]
    assert {k: rule[k] for k in expected} == expected
    assert rule["allowed_values"] == ["pounds", "kg"]
    load_spec(spec_doc)


# --- over HTTP -------------------------------------------------------------------------------


def _post(client: TestClient, auth: Auth, name: str, query: str = "") -> Any:
    return client.post(
        f"/contracts{query}",
        content=(BITOL / name).read_bytes(),
        headers={**auth("admin"), "Content-Type": "application/yaml"},
    )


def test_posting_a_multi_table_document_registers_every_table_at_once(
    client: TestClient, auth: Auth
) -> None:
    resp = _post(client, auth, "full-example.odcs.yaml")
    assert resp.status_code == 201, resp.text
    created = resp.json()["contracts"]
    assert [c["contract_id"] for c in created] == [f"{FULL_ID}.tbl", f"{FULL_ID}.receivers"]
    assert all(c["source_format"] == "odcs" and c["import_report"] for c in created)
    listed = {c["id"] for c in client.get("/contracts", headers=auth("viewer")).json()}
    assert listed == {f"{FULL_ID}.tbl", f"{FULL_ID}.receivers"}
    again = _post(client, auth, "full-example.odcs.yaml")
    assert again.status_code == 409 and again.json()["rule"] == "unique"


def test_a_conflict_on_one_table_registers_none_of_them(client: TestClient, auth: Auth) -> None:
    first = _post(client, auth, "full-example.odcs.yaml", "?schema_name=receivers")
    assert first.status_code == 201 and first.json()["contract_id"] == f"{FULL_ID}.receivers"
    resp = _post(client, auth, "full-example.odcs.yaml")
    assert resp.status_code == 409, resp.text
    listed = {c["id"] for c in client.get("/contracts", headers=auth("viewer")).json()}
    assert listed == {f"{FULL_ID}.receivers"}  # tbl was not left registered


def test_schema_name_chooses_one_table_and_new_versions_find_theirs_by_id(
    client: TestClient, auth: Auth
) -> None:
    resp = _post(client, auth, "full-example.odcs.yaml", "?schema_name=tbl_1")
    assert resp.status_code == 201, resp.text
    assert resp.json()["contract_id"] == f"{FULL_ID}.tbl"
    assert resp.json()["spec"]["freshness"]["max_lag"] == "P4D"
    doc = example("full-example.odcs.yaml")
    doc["version"] = "1.2.0"
    resp = client.post(
        f"/contracts/{FULL_ID}.tbl/versions",
        content=yaml.safe_dump(doc),
        headers={**auth("admin"), "Content-Type": "application/yaml"},
    )
    assert resp.status_code == 201, resp.text
    assert (resp.json()["contract_id"], resp.json()["version"]) == (f"{FULL_ID}.tbl", "1.2.0")


def test_bad_schema_names_are_422_naming_the_field(client: TestClient, auth: Auth) -> None:
    resp = _post(client, auth, "full-example.odcs.yaml", "?schema_name=nope")
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert (resp.json()["field"], resp.json()["rule"]) == ("schema_name", "odcs_structure")
    assert "['tbl', 'receivers']" in resp.json()["detail"]
    from tests.builders import contract

    resp = client.post("/contracts?schema_name=x", json=contract(), headers=auth("admin"))
    assert resp.status_code == 422 and resp.json()["rule"] == "odcs_only"
