"""ODCS v3 import: what maps onto a ContractSpec, what is reported as ignored, what is refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.odcs.importer import import_odcs
from contracts.odcs.report import ImportReport, OdcsImportError
from contracts.spec import ContractSpec, NullFractionRule, RowCountRule, UniqueKeyRule

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "impressions.odcs.yaml"

ORDERS_V30 = """
apiVersion: v3.0.2
kind: DataContract
id: Orders Latest
name: Orders
version: "1.0"
status: active
domain: sales
dataProduct: orders-dp
tenant: acme
description:
  purpose: Orders placed in the web shop.
  usage: Revenue reporting.
team:
  - username: jdoe
    role: Data Scientist
  - username: mroe
    role: Data Owner
    dateIn: "2024-01-01"
servers:
  - server: prod
    type: postgres
    host: db.internal
    port: 5432
    database: shop
    schema: public
schema:
  - name: orders
    physicalName: orders_v2
    physicalType: table
    description: One row per order.
    properties:
      - name: order_id
        logicalType: string
        physicalType: varchar(36)
        primaryKey: true
        primaryKeyPosition: 1
        logicalTypeOptions: {minLength: 36, maxLength: 36, format: uuid}
      - name: customer_email
        logicalType: string
        classification: confidential
        criticalDataElement: true
        logicalTypeOptions: {pattern: "^[^@]+@[^@]+$"}
      - name: amount
        logicalType: number
        required: true
        logicalTypeOptions: {minimum: 0, exclusiveMinimum: true, maximum: 100000}
      - name: quantity
        logicalType: integer
        logicalTypeOptions: {minimum: 0, exclusiveMinimum: true, maximum: 1000}
      - name: status
        logicalType: string
        required: true
        quality:
          - rule: validValues
            validValues: [placed, shipped, cancelled]
      - name: coupon_code
        logicalType: string
        quality:
          - rule: nullCheck
            mustBeLessThan: 80
            unit: percent
            name: coupon_mostly_empty
      - name: placed_at
        logicalType: date
        physicalType: timestamp
        required: true
      - name: order_date
        logicalType: date
        logicalTypeOptions: {minimum: "2020-01-01"}
      - name: is_gift
        logicalType: boolean
        examples: [true, false]
      - name: shipping_address
        logicalType: object
      - name: line_items
        logicalType: array
    quality:
      - rule: rowCount
        mustBeBetween: [100, 1000000]
        severity: error
      - type: sql
        query: SELECT COUNT(*) FROM orders_v2 WHERE amount < 0
        mustBe: 0
      - type: text
        description: Orders are never deleted.
      - type: custom
        engine: soda
        implementation: "type: duplicate_percent"
slaDefaultElement: orders_v2.placed_at
slaProperties:
  - property: latency
    value: 6
    unit: hours
  - property: frequency
    value: 1
    unit: d
  - property: retention
    value: 7
    unit: y
"""


def _orders() -> dict[str, Any]:
    return yaml.safe_load(ORDERS_V30)


def _minimal(**top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": "events",
        "version": "1.0.0",
        "status": "active",
        "team": {"name": "data-platform"},
        "schema": [
            {
                "name": "events",
                "properties": [
                    {"name": "event_id", "logicalType": "string", "required": True},
                    {"name": "ts", "logicalType": "timestamp"},
                ],
            }
        ],
    }
    doc.update(top)
    return doc


def _with_property(prop: dict[str, Any], **top: Any) -> dict[str, Any]:
    doc = _minimal(**top)
    doc["schema"][0]["properties"].append(prop)
    return doc


def _ignored(report: ImportReport) -> dict[str, str]:
    return {entry["path"]: entry["reason"] for entry in report.ignored}


def _field(spec: ContractSpec, name: str) -> Any:
    found = spec.field(name)
    assert found is not None, name
    return found


# -- a realistic document ---------------------------------------------------------------------


def test_full_v30_document_maps_to_a_valid_contract() -> None:
    doc, report = import_odcs(_orders())
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
    order_id = _field(spec, "order_id")
    assert (order_id.required, order_id.unique) == (True, True)
    assert (order_id.min_length, order_id.max_length) == (36, 36)
    assert _field(spec, "customer_email").pii is True
    assert _field(spec, "customer_email").pattern == "^[^@]+@[^@]+$"
    assert (_field(spec, "amount").type.value, _field(spec, "amount").min) == ("float", 0)
    assert (_field(spec, "quantity").min, _field(spec, "quantity").max) == (1, 1000)
    assert _field(spec, "status").allowed_values == ["placed", "shipped", "cancelled"]
    assert _field(spec, "placed_at").type.value == "timestamp"
    assert _field(spec, "order_date").bound("min").isoformat() == "2020-01-01"
    assert _field(spec, "is_gift").type.value == "boolean"

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
    _, report = import_odcs(_orders())
    ignored = _ignored(report)
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
    doc, _ = import_odcs(_orders())
    assert json.loads(json.dumps(doc)) == doc


def test_report_serializes_to_json() -> None:
    _, report = import_odcs(_orders())
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
    assert (_field(spec, "event_id").unique, _field(spec, "event_id").required) == (True, True)
    assert _field(spec, "user_id").pii is True
    assert _field(spec, "item_id").required is True
    assert (_field(spec, "position").min, _field(spec, "position").max) == (0, 49)
    assert (_field(spec, "hour").min, _field(spec, "hour").max) == (0, 23)
    assert _field(spec, "surface").allowed_values == ["feed", "search", "profile"]
    assert _field(spec, "dwell_ms").min == 0
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
    assert set(_ignored(report)) == expected | physical_types


# -- envelope and structure ------------------------------------------------------------------


def _drop_properties(doc: dict[str, Any]) -> None:
    doc["schema"][0]["properties"] = []


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.pop("apiVersion"), "apiVersion"),
        (lambda d: d.update(apiVersion="v2.2.2"), "apiVersion"),
        (lambda d: d.update(apiVersion="latest"), "apiVersion"),
        (lambda d: d.update(kind="DataProduct"), "kind"),
        (lambda d: d.pop("kind"), "kind"),
        (lambda d: d.pop("id"), "id"),
        (lambda d: d.pop("version"), "version"),
        (lambda d: d.update(version="latest"), "version"),
        (lambda d: d.pop("schema"), "schema"),
        (lambda d: d.update(schema=[]), "schema"),
        (lambda d: d.update(schema=["orders"]), "schema[0]"),
        (_drop_properties, "schema[0].properties"),
        (lambda d: d["schema"][0]["properties"].append("col"), "schema[0].properties[2]"),
        (
            lambda d: d["schema"][0]["properties"].append({"logicalType": "string"}),
            "schema[0].properties[2]",
        ),
        (lambda d: d.update(id="!!!"), "id"),
    ],
)
def test_structurally_unusable_documents_are_refused_naming_the_path(
    mutate: Any, path: str
) -> None:
    doc = _minimal()
    mutate(doc)
    with pytest.raises(OdcsImportError) as excinfo:
        import_odcs(doc)
    assert excinfo.value.path == path
    assert str(excinfo.value).startswith(f"{path}: ")


def test_non_mapping_document_is_refused() -> None:
    with pytest.raises(OdcsImportError, match=r"^\(document\): "):
        import_odcs(["not", "a", "contract"])  # type: ignore[arg-type]


def test_document_whose_properties_all_lack_a_driftgate_type_is_refused() -> None:
    doc = _minimal()
    doc["schema"][0]["properties"] = [{"name": "payload", "logicalType": "object"}]
    with pytest.raises(OdcsImportError) as excinfo:
        import_odcs(doc)
    assert excinfo.value.path == "schema[0].properties"


def test_odcs_import_error_is_a_value_error() -> None:
    assert issubclass(OdcsImportError, ValueError)


# -- id, version, owner, dataset ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.0", "1.0.0"), ("2", "2.0.0"), (1.0, "1.0.0"), (3, "3.0.0"), ("v1.2.3", "1.2.3")],
)
def test_non_semver_versions_are_normalized_and_noted(raw: Any, expected: str) -> None:
    doc, report = import_odcs(_minimal(version=raw))
    assert doc["version"] == expected
    assert ContractSpec.model_validate(doc).version == expected
    note = next(m for m in report.mapped if m.startswith("version -> version"))
    assert f"normalized {raw!r} to semver {expected!r}" in note


def test_semver_version_is_kept_without_a_note() -> None:
    doc, report = import_odcs(_minimal(version="1.4.0-rc.1"))
    assert doc["version"] == "1.4.0-rc.1"
    assert "version -> version" in report.mapped


def test_uuid_and_display_ids_become_slugs() -> None:
    doc, report = import_odcs(_minimal(id="53581432-6C55-4ba2-a65f-72344a91553a"))
    assert doc["id"] == "53581432-6c55-4ba2-a65f-72344a91553a"
    doc, report = import_odcs(_minimal(id="  Feed / Impressions (v2) "))
    assert doc["id"] == "feed-impressions-v2"
    assert any("slugified" in m for m in report.mapped)


def test_owner_comes_from_the_current_owner_member_of_a_v30_team() -> None:
    team = [
        {"username": "old", "role": "owner", "dateOut": "2023-01-01"},
        {"username": "ana", "role": "Owner"},
    ]
    doc, report = import_odcs(_minimal(team=team))
    assert doc["owner"] == "ana"
    assert "team[1].username -> owner" in report.mapped


@pytest.mark.parametrize(
    ("top", "owner", "source"),
    [
        (
            {"team": None, "dataProduct": "feed-signals", "domain": "feed"},
            "feed-signals",
            "dataProduct",
        ),
        ({"team": [{"username": "x", "role": "steward"}], "domain": "feed"}, "feed", "domain"),
    ],
)
def test_owner_falls_back_to_data_product_then_domain(
    top: dict[str, Any], owner: str, source: str
) -> None:
    doc = _minimal(**top)
    if doc["team"] is None:
        del doc["team"]
    spec_doc, report = import_odcs(doc)
    assert spec_doc["owner"] == owner
    assert f"{source} -> owner (no team owner given)" in report.mapped


def test_missing_owner_becomes_unknown_and_is_reported() -> None:
    doc = _minimal()
    del doc["team"]
    spec_doc, report = import_odcs(doc)
    assert spec_doc["owner"] == "unknown"
    assert "'unknown'" in _ignored(report)["team"]


def test_domain_becomes_the_dataset_namespace() -> None:
    doc, _ = import_odcs(_minimal(domain="feed"))
    assert doc["dataset"] == {"name": "events", "namespace": "feed"}


def test_first_schema_object_is_imported_and_the_rest_reported() -> None:
    doc = _minimal()
    doc["schema"].append({"name": "users", "properties": [{"name": "id", "logicalType": "string"}]})
    spec_doc, report = import_odcs(doc)
    assert spec_doc["dataset"]["name"] == "events"
    assert "schema_name" in _ignored(report)["schema[1]"]


def test_schema_name_selects_another_object() -> None:
    doc = _minimal()
    doc["schema"].append(
        {
            "name": "users",
            "physicalName": "users_v1",
            "properties": [{"name": "id", "logicalType": "string"}],
        }
    )
    spec_doc, report = import_odcs(doc, schema_name="users_v1")
    assert spec_doc["dataset"]["name"] == "users_v1"
    assert [f["name"] for f in spec_doc["fields"]] == ["id"]
    assert "schema[0]" in _ignored(report)
    with pytest.raises(OdcsImportError, match="no object named 'nope'"):
        import_odcs(doc, schema_name="nope")


# -- properties ----------------------------------------------------------------------------------


def test_composite_primary_key_becomes_a_unique_key_rule_in_position_order() -> None:
    doc = _minimal()
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
        assert (_field(spec, name).required, _field(spec, name).unique) == (True, False)
    assert any(
        m.startswith("schema[0].properties[*].primaryKey -> dataset_rules[0]")
        for m in report.mapped
    )


def test_schema_level_duplicate_check_over_properties_becomes_a_unique_key_rule() -> None:
    doc = _minimal()
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
    doc, _ = import_odcs(_with_property({"name": "x", "logicalType": logical}))
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
def test_types_without_a_driftgate_equivalent_are_ignored(logical: str, reason: str) -> None:
    doc, report = import_odcs(_with_property({"name": "x", "logicalType": logical}))
    assert [f["name"] for f in doc["fields"]] == ["event_id", "ts"]
    assert reason in _ignored(report)["schema[0].properties[2]"]


def test_missing_logical_type_is_inferred_from_the_physical_type() -> None:
    doc, report = import_odcs(_with_property({"name": "n", "physicalType": "BIGINT"}))
    assert doc["fields"][-1]["type"] == "integer"
    assert any("inferred integer" in m for m in report.mapped)


def test_physical_name_names_the_column_and_resolves_references() -> None:
    prop = {"name": "placedAt", "physicalName": "placed_at", "logicalType": "timestamp"}
    sla = [{"property": "latency", "value": 30, "unit": "min", "element": "events.placedAt"}]
    doc, report = import_odcs(_with_property(prop, slaProperties=sla))
    assert doc["fields"][-1]["name"] == "placed_at"
    assert doc["freshness"] == {"field": "placed_at", "max_lag": "PT30M"}
    assert "schema[0].properties[2].name" in _ignored(report)


def test_unquoted_yaml_date_bounds_become_iso_strings() -> None:
    prop = yaml.safe_load(
        "{name: d, logicalType: date,"
        " logicalTypeOptions: {minimum: 2020-01-01, maximum: 2030-12-31}}"
    )
    doc, _ = import_odcs(_with_property(prop))
    assert (doc["fields"][-1]["min"], doc["fields"][-1]["max"]) == ("2020-01-01", "2030-12-31")
    json.dumps(doc)  # a plain, serializable document
    ContractSpec.model_validate(doc)


def test_v30_date_with_a_time_format_is_a_timestamp_and_its_format_is_consumed() -> None:
    prop = {
        "name": "t",
        "logicalType": "date",
        "logicalTypeOptions": {"format": "yyyy-MM-dd HH:mm:ss"},
    }
    doc, report = import_odcs(_with_property(prop))
    assert doc["fields"][-1]["type"] == "timestamp"
    assert "schema[0].properties[2].logicalTypeOptions.format" not in _ignored(report)


def test_format_hint_on_a_v31_timestamp_is_reported() -> None:
    prop = {
        "name": "t",
        "logicalType": "timestamp",
        "logicalTypeOptions": {"format": "yyyy-MM-dd HH:mm:ss"},
    }
    _, report = import_odcs(_with_property(prop))
    assert "not enforced" in _ignored(report)["schema[0].properties[2].logicalTypeOptions.format"]


def test_v31_numeric_exclusive_bounds_are_exact_for_integers() -> None:
    options = {"exclusiveMinimum": -1, "exclusiveMaximum": 50}
    doc, report = import_odcs(
        _with_property({"name": "p", "logicalType": "integer", "logicalTypeOptions": options})
    )
    assert (doc["fields"][-1]["min"], doc["fields"][-1]["max"]) == (0, 49)
    assert not any("exclusive" in path for path in _ignored(report))


def test_exclusive_bounds_on_floats_are_approximated_and_reported() -> None:
    options = {"exclusiveMaximum": 1.0}
    doc, report = import_odcs(
        _with_property({"name": "p", "logicalType": "number", "logicalTypeOptions": options})
    )
    assert doc["fields"][-1]["max"] == 1.0
    reason = _ignored(report)["schema[0].properties[2].logicalTypeOptions.exclusiveMaximum"]
    assert "inclusive" in reason and "passes" in reason


def test_unsupported_options_are_reported() -> None:
    options = {"multipleOf": 5, "format": "i32", "pattern": "^x$"}
    doc, report = import_odcs(
        _with_property({"name": "p", "logicalType": "integer", "logicalTypeOptions": options})
    )
    assert "pattern" not in doc["fields"][-1]
    ignored = _ignored(report)
    base = "schema[0].properties[2].logicalTypeOptions"
    assert "multipleOf" in ignored[f"{base}.multipleOf"]
    assert "not enforced" in ignored[f"{base}.format"]
    assert "does not apply to a integer field" in ignored[f"{base}.pattern"]


def test_patterns_the_engine_cannot_run_are_dropped_with_the_reason() -> None:
    options = {"pattern": "^(?=a)a+$"}  # look-ahead: ECMA-262 has it, the polars engine does not
    doc, report = import_odcs(
        _with_property({"name": "s", "logicalType": "string", "logicalTypeOptions": options})
    )
    assert "pattern" not in doc["fields"][-1]
    assert "not usable" in _ignored(report)["schema[0].properties[2].logicalTypeOptions.pattern"]
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
    doc, _ = import_odcs(_with_property({"name": "email", "logicalType": "string", **prop}))
    assert doc["fields"][-1].get("pii", False) is pii


def test_unknown_classification_and_custom_properties_are_reported() -> None:
    prop = {
        "name": "email",
        "logicalType": "string",
        "classification": "3",
        "customProperties": [{"property": "owner_team", "value": "crm"}],
    }
    _, report = import_odcs(_with_property(prop))
    ignored = _ignored(report)
    assert "not a known level" in ignored["schema[0].properties[2].classification"]
    assert "owner_team" in ignored["schema[0].properties[2].customProperties[0]"]


# -- quality ----------------------------------------------------------------------------------


def _quality(
    *rules: dict[str, Any], logical: str = "string"
) -> tuple[dict[str, Any], ImportReport]:
    return import_odcs(
        _with_property({"name": "c", "logicalType": logical, "quality": list(rules)})
    )


@pytest.mark.parametrize(
    "rule",
    [
        {"metric": "nullValues", "mustBe": 0},
        {"rule": "nullCheck", "mustBeLessThan": 1, "unit": "rows"},
        {"type": "library", "rule": "notNull", "mustBeLessOrEqualTo": 0},
    ],
)
def test_no_nulls_allowed_makes_the_field_required(rule: dict[str, Any]) -> None:
    doc, _ = _quality(rule)
    assert doc["fields"][-1]["required"] is True


def test_null_percentage_becomes_a_null_fraction_rule() -> None:
    doc, _ = _quality({"metric": "nullValues", "mustBeLessOrEqualTo": 2.5, "unit": "percent"})
    assert doc["dataset_rules"] == [{"kind": "null_fraction", "field": "c", "max": 0.025}]
    ContractSpec.model_validate(doc)


@pytest.mark.parametrize(
    "operator", [{"mustBeLessThan": 10}, {"mustBeLessOrEqualTo": 1}, {"mustBeLessThan": 2}]
)
def test_null_count_tolerance_is_ignored(operator: dict[str, Any]) -> None:
    doc, report = _quality({"metric": "nullValues", "unit": "rows", **operator})
    assert "dataset_rules" not in doc and "required" not in doc["fields"][-1]
    assert "percent" in _ignored(report)["schema[0].properties[2].quality[0]"]


@pytest.mark.parametrize(
    "rule",
    [
        {"metric": "duplicateValues", "mustBe": 0},
        {"rule": "duplicateCount", "mustBe": 0},
        {"rule": "uniqueCheck", "mustBe": 0},
    ],
)
def test_no_duplicates_allowed_makes_the_field_unique(rule: dict[str, Any]) -> None:
    doc, _ = _quality(rule)
    assert doc["fields"][-1]["unique"] is True


def test_duplicate_tolerance_is_ignored() -> None:
    doc, report = _quality({"rule": "duplicateCount", "mustBeLessThan": 10, "unit": "rows"})
    assert "unique" not in doc["fields"][-1]
    assert "tolerances" in _ignored(report)["schema[0].properties[2].quality[0]"]


def test_v31_invalid_values_map_to_allowed_values_and_pattern() -> None:
    doc, _ = _quality(
        {"metric": "invalidValues", "arguments": {"validValues": ["a", "b"]}, "mustBe": 0},
        {"metric": "invalidValues", "arguments": {"pattern": "^[ab]$"}, "mustBe": 0},
    )
    assert doc["fields"][-1]["allowed_values"] == ["a", "b"]
    assert doc["fields"][-1]["pattern"] == "^[ab]$"


def test_valid_values_of_the_wrong_type_are_ignored() -> None:
    doc, report = _quality(
        {"rule": "validValues", "validValues": ["low", "high"]}, logical="integer"
    )
    assert "allowed_values" not in doc["fields"][-1]
    assert "not usable" in _ignored(report)["schema[0].properties[2].quality[0]"]


@pytest.mark.parametrize(
    ("operators", "bounds"),
    [
        ({"mustBeGreaterThan": 0}, {"min": 1}),
        ({"mustBeGreaterOrEqualTo": 500}, {"min": 500}),
        ({"mustBeLessThan": 10}, {"max": 9}),
        ({"mustBe": 42}, {"min": 42, "max": 42}),
        ({"mustBeBetween": [100, 120]}, {"min": 101, "max": 119}),
    ],
)
def test_row_count_thresholds_become_inclusive_integer_bounds(
    operators: dict[str, Any], bounds: dict[str, int]
) -> None:
    doc = _minimal()
    doc["schema"][0]["quality"] = [{"rule": "rowCount", **operators}]
    spec_doc, _ = import_odcs(doc)
    assert spec_doc["dataset_rules"] == [{"kind": "row_count", **bounds}]
    ContractSpec.model_validate(spec_doc)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"type": "sql", "query": "SELECT 1", "mustBe": 1}, "SQL"),
        ({"type": "text", "description": "looks right"}, "free-text"),
        ({"type": "custom", "engine": "greatExpectations", "implementation": "x"}, "vendor"),
        (
            {"metric": "missingValues", "arguments": {"missingValues": ["", "N/A"]}, "mustBe": 0},
            "unsupported",
        ),
        ({"metric": "rowCount", "mustNotBe": 0}, "mustNotBe"),
        ({"metric": "rowCount"}, "no threshold"),
        ({"metric": "nullValues", "mustBe": 0}, "needs a property"),
    ],
)
def test_schema_level_rules_without_an_equivalent_are_ignored(
    rule: dict[str, Any], reason: str
) -> None:
    doc = _minimal()
    doc["schema"][0]["quality"] = [rule]
    spec_doc, report = import_odcs(doc)
    assert "dataset_rules" not in spec_doc
    assert reason in _ignored(report)["schema[0].quality[0]"]


def test_quality_metadata_is_reported_per_key() -> None:
    rule = {
        "metric": "nullValues",
        "mustBe": 0,
        "dimension": "completeness",
        "schedule": "0 20 * * *",
    }
    _, report = _quality(rule)
    ignored = _ignored(report)
    assert "dimensions" in ignored["schema[0].properties[2].quality[0].dimension"]
    assert "schedules" in ignored["schema[0].properties[2].quality[0].schedule"]


def test_duplicate_dataset_rules_keep_the_first() -> None:
    doc = _minimal()
    doc["schema"][0]["quality"] = [
        {"metric": "rowCount", "mustBeGreaterThan": 0},
        {"metric": "rowCount", "mustBeLessThan": 10},
    ]
    spec_doc, report = import_odcs(doc)
    assert spec_doc["dataset_rules"] == [{"kind": "row_count", "min": 1}]
    assert "first is kept" in _ignored(report)["schema[0].quality[1]"]


# -- SLA ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "iso"),
    [
        (2, "h", "PT2H"),
        (90, "min", "PT1H30M"),
        (15, "m", "PT15M"),
        (1.5, "days", "P1DT12H"),
        (500, "ms", "PT0.5S"),
        (30, "s", "PT30S"),
        (1, "w", "P7D"),
    ],
)
def test_latency_becomes_freshness_max_lag(value: float, unit: str, iso: str) -> None:
    sla = [{"property": "latency", "value": value, "unit": unit, "element": "events.ts"}]
    doc, report = import_odcs(_minimal(slaProperties=sla))
    assert doc["freshness"] == {"field": "ts", "max_lag": iso}
    assert (
        f"slaProperties[0].value -> freshness.max_lag ({value} {unit} read as {iso})"
        in report.mapped
    )
    ContractSpec.model_validate(doc)


def test_frequency_becomes_the_cadence() -> None:
    sla = [
        {"property": "freshness", "value": 3, "unit": "hr", "element": "ts"},
        {"property": "frequency", "value": 1, "unit": "h"},
    ]
    doc, _ = import_odcs(_minimal(slaProperties=sla))
    assert doc["freshness"] == {"field": "ts", "max_lag": "PT3H", "cadence": "PT1H"}


@pytest.mark.parametrize(
    ("sla", "path", "reason"),
    [
        (
            {"property": "latency", "value": 1, "unit": "y", "element": "ts"},
            "slaProperties[0].unit",
            "calendar",
        ),
        (
            {"property": "latency", "value": 1, "unit": "d", "element": "event_id"},
            "slaProperties[0]",
            "not a timestamp",
        ),
        (
            {"property": "latency", "value": 1, "unit": "d", "element": "other.ts"},
            "slaProperties[0]",
            "imported object",
        ),
        ({"property": "latency", "value": 1, "unit": "d"}, "slaProperties[0]", "no element"),
        (
            {"property": "latency", "value": -1, "unit": "d", "element": "ts"},
            "slaProperties[0].value",
            "positive",
        ),
        ({"property": "frequency", "value": 1, "unit": "d"}, "slaProperties[0]", "needs a latency"),
        (
            {"property": "availability", "value": 99.9, "unit": "%"},
            "slaProperties[0]",
            "not checked",
        ),
    ],
)
def test_unusable_sla_properties_are_reported(sla: dict[str, Any], path: str, reason: str) -> None:
    doc, report = import_odcs(_minimal(slaProperties=[sla]))
    assert "freshness" not in doc
    assert reason in _ignored(report)[path]


def test_input_document_is_not_modified() -> None:
    original = _orders()
    snapshot = copy.deepcopy(original)
    import_odcs(original)
    assert original == snapshot
