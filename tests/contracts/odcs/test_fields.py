"""ODCS properties as fields: keys, types, bounds, patterns, PII."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from contracts.odcs.importer import import_odcs
from contracts.spec import ContractSpec, UniqueKeyRule
from tests.contracts.odcs.documents import (
    field_of,
    ignored_by_path,
    minimal,
    with_property,
)


def test_composite_primary_key_becomes_a_unique_key_rule_in_position_order() -> None:
    doc = minimal()
    doc["schema"][0]["properties"] = [
        {"name": "order_id", "logicalType": "string", "primaryKey": True, "primaryKeyPosition": 2},
        {"name": "tenant_id", "logicalType": "string", "primaryKey": True, "primaryKeyPosition": 1},
        {"name": "note", "logicalType": "string"},
    ]
    spec_doc, report = import_odcs(doc)
    spec = ContractSpec.model_validate(spec_doc)
    (rule,) = spec.dataset_rules
    assert isinstance(rule, UniqueKeyRule)
    assert rule.fields == ["tenant_id", "order_id"]
    for name in ("tenant_id", "order_id"):
        assert (field_of(spec, name).required, field_of(spec, name).unique) == (True, False)
    assert any(
        m.startswith("schema[0].properties[*].primaryKey -> dataset_rules[0]")
        for m in report.mapped
    )


def test_schema_level_duplicate_check_over_properties_becomes_a_unique_key_rule() -> None:
    doc = minimal()
    doc["schema"][0]["quality"] = [
        {"metric": "duplicateValues", "mustBe": 0, "arguments": {"properties": ["event_id", "ts"]}}
    ]
    spec_doc, _ = import_odcs(doc)
    assert spec_doc["dataset_rules"] == [{"kind": "unique_key", "fields": ["event_id", "ts"]}]


@pytest.mark.parametrize(
    ("logical", "expected"),
    [
        ("string", "string"),
        ("integer", "integer"),
        ("number", "float"),
        ("boolean", "boolean"),
        ("date", "date"),
        ("timestamp", "timestamp"),
    ],
)
def test_logical_types_map_to_driftgate_types(logical: str, expected: str) -> None:
    doc, _ = import_odcs(with_property({"name": "x", "logicalType": logical}))
    assert doc["fields"][-1] == {"name": "x", "type": expected}


@pytest.mark.parametrize(
    ("logical", "reason"),
    [
        ("time", "time-of-day"),
        ("object", "nested objects"),
        ("array", "arrays"),
        ("blob", "unknown"),
    ],
)
def test_types_without_a_driftgate_equivalent_areignored(logical: str, reason: str) -> None:
    doc, report = import_odcs(with_property({"name": "x", "logicalType": logical}))
    assert [f["name"] for f in doc["fields"]] == ["event_id", "ts"]
    assert reason in ignored_by_path(report)["schema[0].properties[2]"]


def test_missing_logical_type_is_inferred_from_the_physical_type() -> None:
    doc, report = import_odcs(with_property({"name": "n", "physicalType": "BIGINT"}))
    assert doc["fields"][-1]["type"] == "integer"
    assert any("inferred integer" in m for m in report.mapped)


def test_physical_name_names_the_column_and_resolves_references() -> None:
    prop = {"name": "placedAt", "physicalName": "placed_at", "logicalType": "timestamp"}
    sla = [{"property": "latency", "value": 30, "unit": "min", "element": "events.placedAt"}]
    doc, report = import_odcs(with_property(prop, slaProperties=sla))
    assert doc["fields"][-1]["name"] == "placed_at"
    assert doc["freshness"] == {"field": "placed_at", "max_lag": "PT30M"}
    assert "schema[0].properties[2].name" in ignored_by_path(report)


def test_unquoted_yaml_date_bounds_become_iso_strings() -> None:
    prop = yaml.safe_load(
        "{name: d, logicalType: date,"
        " logicalTypeOptions: {minimum: 2020-01-01, maximum: 2030-12-31}}"
    )
    doc, _ = import_odcs(with_property(prop))
    assert (doc["fields"][-1]["min"], doc["fields"][-1]["max"]) == ("2020-01-01", "2030-12-31")
    json.dumps(doc)  # a plain, serializable document
    ContractSpec.model_validate(doc)


def test_v30_date_with_a_time_format_is_a_timestamp_and_its_format_is_consumed() -> None:
    prop = {
        "name": "t",
        "logicalType": "date",
        "logicalTypeOptions": {"format": "yyyy-MM-dd HH:mm:ss"},
    }
    doc, report = import_odcs(with_property(prop))
    assert doc["fields"][-1]["type"] == "timestamp"
    assert "schema[0].properties[2].logicalTypeOptions.format" not in ignored_by_path(report)


def test_format_hint_on_a_v31_timestamp_is_reported() -> None:
    prop = {
        "name": "t",
        "logicalType": "timestamp",
        "logicalTypeOptions": {"format": "yyyy-MM-dd HH:mm:ss"},
    }
    _, report = import_odcs(with_property(prop))
    assert (
        "not enforced"
        in ignored_by_path(report)["schema[0].properties[2].logicalTypeOptions.format"]
    )


def test_v31_numeric_exclusive_bounds_are_exact_for_integers() -> None:
    options = {"exclusiveMinimum": -1, "exclusiveMaximum": 50}
    doc, report = import_odcs(
        with_property({"name": "p", "logicalType": "integer", "logicalTypeOptions": options})
    )
    assert (doc["fields"][-1]["min"], doc["fields"][-1]["max"]) == (0, 49)
    assert not any("exclusive" in path for path in ignored_by_path(report))


def test_exclusive_bounds_on_floats_are_approximated_and_reported() -> None:
    options = {"exclusiveMaximum": 1.0}
    doc, report = import_odcs(
        with_property({"name": "p", "logicalType": "number", "logicalTypeOptions": options})
    )
    assert doc["fields"][-1]["max"] == 1.0
    reason = ignored_by_path(report)["schema[0].properties[2].logicalTypeOptions.exclusiveMaximum"]
    assert "inclusive" in reason and "passes" in reason


def test_unsupported_options_are_reported() -> None:
    options = {"multipleOf": 5, "format": "i32", "pattern": "^x$"}
    doc, report = import_odcs(
        with_property({"name": "p", "logicalType": "integer", "logicalTypeOptions": options})
    )
    assert "pattern" not in doc["fields"][-1]
    ignored = ignored_by_path(report)
    base = "schema[0].properties[2].logicalTypeOptions"
    assert "multipleOf" in ignored[f"{base}.multipleOf"]
    assert "not enforced" in ignored[f"{base}.format"]
    assert "does not apply to a integer field" in ignored[f"{base}.pattern"]


def test_patterns_the_engine_cannot_run_are_dropped_with_the_reason() -> None:
    options = {"pattern": "^(?=a)a+$"}  # look-ahead: ECMA-262 has it, the polars engine does not
    doc, report = import_odcs(
        with_property({"name": "s", "logicalType": "string", "logicalTypeOptions": options})
    )
    assert "pattern" not in doc["fields"][-1]
    assert (
        "not usable"
        in ignored_by_path(report)["schema[0].properties[2].logicalTypeOptions.pattern"]
    )
    ContractSpec.model_validate(doc)


@pytest.mark.parametrize(
    ("prop", "pii"),
    [
        ({"classification": "restricted"}, True),
        ({"classification": "Confidential"}, True),
        ({"classification": "public"}, False),
        ({"customProperties": [{"property": "pii", "value": True}]}, True),
        ({"tags": ["pii"]}, True),
    ],
)
def test_pii_is_read_from_classification_custom_property_or_tag(
    prop: dict[str, Any], pii: bool
) -> None:
    doc, _ = import_odcs(with_property({"name": "email", "logicalType": "string", **prop}))
    assert doc["fields"][-1].get("pii", False) is pii


def test_unknown_classification_and_custom_properties_are_reported() -> None:
    prop = {
        "name": "email",
        "logicalType": "string",
        "classification": "3",
        "customProperties": [{"property": "owner_team", "value": "crm"}],
    }
    _, report = import_odcs(with_property(prop))
    ignored = ignored_by_path(report)
    assert "not a known level" in ignored["schema[0].properties[2].classification"]
    assert "owner_team" in ignored["schema[0].properties[2].customProperties[0]"]
