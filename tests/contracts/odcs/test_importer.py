"""ODCS v3 import end to end: a realistic document, the shipped example, the input kept intact."""

from __future__ import annotations

import copy
import json

import yaml

from contracts.odcs.importer import import_odcs
from contracts.spec import ContractSpec, NullFractionRule, RowCountRule
from tests.contracts.odcs.documents import (
    EXAMPLE,
    field_of,
    ignored_by_path,
    orders,
)


def test_full_v30_document_maps_to_a_valid_contract() -> None:
    doc, report = import_odcs(orders())
    spec = ContractSpec.model_validate(doc)

    assert spec.id == "orders-latest"
    assert spec.version == "1.0.0"
    assert spec.owner == "mroe"
    assert (spec.dataset.namespace, spec.dataset.name) == ("sales", "orders_v2")
    assert spec.description.startswith("Purpose: Orders placed in the web shop.")
    assert "One row per order." in spec.description
    assert [f.name for f in spec.fields] == [
        "order_id",
        "customer_email",
        "amount",
        "quantity",
        "status",
        "coupon_code",
        "placed_at",
        "order_date",
        "is_gift",
    ]
    order_id = field_of(spec, "order_id")
    assert (order_id.required, order_id.unique) == (True, True)
    assert (order_id.min_length, order_id.max_length) == (36, 36)
    assert field_of(spec, "customer_email").pii is True
    assert field_of(spec, "customer_email").pattern == "^[^@]+@[^@]+$"
    assert (field_of(spec, "amount").type.value, field_of(spec, "amount").min) == ("float", 0)
    assert (field_of(spec, "quantity").min, field_of(spec, "quantity").max) == (1, 1000)
    assert field_of(spec, "status").allowed_values == ["placed", "shipped", "cancelled"]
    assert field_of(spec, "placed_at").type.value == "timestamp"
    assert field_of(spec, "order_date").bound("min").isoformat() == "2020-01-01"
    assert field_of(spec, "is_gift").type.value == "boolean"

    null_rule, row_rule = spec.dataset_rules
    assert isinstance(null_rule, NullFractionRule)
    assert (null_rule.id, null_rule.field, null_rule.max) == (
        "coupon_mostly_empty",
        "coupon_code",
        0.8,
    )
    assert isinstance(row_rule, RowCountRule)
    assert (row_rule.min, row_rule.max, row_rule.severity) == (101, 999_999, "reject")

    assert spec.freshness is not None
    assert (spec.freshness.field, spec.freshness.max_lag, spec.freshness.cadence) == (
        "placed_at",
        "PT6H",
        "P1D",
    )
    assert "slaDefaultElement -> freshness.field" in report.mapped


def test_full_document_reports_every_dropped_concept() -> None:
    _, report = import_odcs(orders())
    ignored = ignored_by_path(report)
    base = "schema[0]"

    assert "nested objects" in ignored[f"{base}.properties[9]"]
    assert "arrays" in ignored[f"{base}.properties[10]"]
    assert "SQL" in ignored[f"{base}.quality[1]"]
    assert "free-text" in ignored[f"{base}.quality[2]"]
    assert "vendor" in ignored[f"{base}.quality[3]"]
    assert "approximated" in ignored[f"{base}.properties[2].logicalTypeOptions.exclusiveMinimum"]
    assert "approximated" in ignored[f"{base}.properties[5].quality[0]"]
    assert "format" in ignored[f"{base}.properties[0].logicalTypeOptions.format"]
    assert "criticality" in ignored[f"{base}.properties[1].criticalDataElement"]
    assert "sample values" in ignored[f"{base}.properties[8].examples"]
    assert "retention" in ignored["slaProperties[2]"]
    assert "servers" in ignored["servers"]
    for key in ("name", "status", "tenant", "dataProduct", "team"):
        assert key in ignored, key


def test_imported_document_is_plain_json() -> None:
    doc, _ = import_odcs(orders())
    assert json.loads(json.dumps(doc)) == doc


def test_report_serializes_to_json() -> None:
    _, report = import_odcs(orders())
    body = json.loads(report.to_json())
    assert body["mapped"] == report.mapped
    assert body["ignored"] == report.ignored


# -- the shipped example -------------------------------------------------------------------------


def test_impressions_example_imports_cleanly() -> None:
    doc, report = import_odcs(yaml.safe_load(EXAMPLE.read_text()))
    spec = ContractSpec.model_validate(doc)

    assert (spec.id, spec.version, spec.owner) == ("feed-impressions", "2.1.0", "feed-ranking")
    assert (spec.dataset.namespace, spec.dataset.name) == ("feed", "impressions")
    types = {f.name: f.type.value for f in spec.fields}
    assert types == {
        "event_id": "string",
        "event_time": "timestamp",
        "user_id": "string",
        "item_id": "string",
        "position": "integer",
        "surface": "string",
        "hour": "integer",
        "dwell_ms": "float",
    }
    assert (field_of(spec, "event_id").unique, field_of(spec, "event_id").required) == (True, True)
    assert field_of(spec, "user_id").pii is True
    assert field_of(spec, "item_id").required is True
    assert (field_of(spec, "position").min, field_of(spec, "position").max) == (0, 49)
    assert (field_of(spec, "hour").min, field_of(spec, "hour").max) == (0, 23)
    assert field_of(spec, "surface").allowed_values == ["feed", "search", "profile"]
    assert field_of(spec, "dwell_ms").min == 0
    null_rule, row_rule = spec.dataset_rules
    assert isinstance(null_rule, NullFractionRule)
    assert (null_rule.field, null_rule.max, null_rule.severity) == ("dwell_ms", 0.05, "warn")
    assert isinstance(row_rule, RowCountRule)
    assert (row_rule.id, row_rule.min, row_rule.max) == ("impressions_min_volume", 1000, None)
    assert spec.freshness is not None
    assert (spec.freshness.field, spec.freshness.max_lag, spec.freshness.cadence) == (
        "event_time",
        "PT2H",
        "PT1H",
    )
    # Only catalogue metadata is dropped; no rule or constraint is.
    physical_types = {f"schema[0].properties[{i}].physicalType" for i in range(8)}
    expected = {"team", "schema[0].physicalType", "name", "status", "dataProduct"}
    assert set(ignored_by_path(report)) == expected | physical_types


def test_input_document_is_not_modified() -> None:
    original = orders()
    snapshot = copy.deepcopy(original)
    import_odcs(original)
    assert original == snapshot
