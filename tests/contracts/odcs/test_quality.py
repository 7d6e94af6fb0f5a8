"""ODCS library quality rules as field and dataset rules; the rest reported."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.odcs.importer import import_odcs
from contracts.odcs.report import ImportReport
from contracts.spec import ContractSpec
from tests.contracts.odcs.documents import (
    ignored_by_path,
    minimal,
    with_property,
)


def _quality(
    *rules: dict[str, Any], logical: str = "string"
) -> tuple[dict[str, Any], ImportReport]:
    return import_odcs(with_property({"name": "c", "logicalType": logical, "quality": list(rules)}))


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
def test_null_count_tolerance_isignored(operator: dict[str, Any]) -> None:
    doc, report = _quality({"metric": "nullValues", "unit": "rows", **operator})
    assert "dataset_rules" not in doc and "required" not in doc["fields"][-1]
    assert "percent" in ignored_by_path(report)["schema[0].properties[2].quality[0]"]


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


def test_duplicate_tolerance_isignored() -> None:
    doc, report = _quality({"rule": "duplicateCount", "mustBeLessThan": 10, "unit": "rows"})
    assert "unique" not in doc["fields"][-1]
    assert "tolerances" in ignored_by_path(report)["schema[0].properties[2].quality[0]"]


def test_v31_invalid_values_map_to_allowed_values_and_pattern() -> None:
    doc, _ = _quality(
        {"metric": "invalidValues", "arguments": {"validValues": ["a", "b"]}, "mustBe": 0},
        {"metric": "invalidValues", "arguments": {"pattern": "^[ab]$"}, "mustBe": 0},
    )
    assert doc["fields"][-1]["allowed_values"] == ["a", "b"]
    assert doc["fields"][-1]["pattern"] == "^[ab]$"


def test_valid_values_of_the_wrong_type_areignored() -> None:
    doc, report = _quality(
        {"rule": "validValues", "validValues": ["low", "high"]}, logical="integer"
    )
    assert "allowed_values" not in doc["fields"][-1]
    assert "not usable" in ignored_by_path(report)["schema[0].properties[2].quality[0]"]


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
    doc = minimal()
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
def test_schema_level_rules_without_an_equivalent_areignored(
    rule: dict[str, Any], reason: str
) -> None:
    doc = minimal()
    doc["schema"][0]["quality"] = [rule]
    spec_doc, report = import_odcs(doc)
    assert "dataset_rules" not in spec_doc
    assert reason in ignored_by_path(report)["schema[0].quality[0]"]


def test_quality_metadata_is_reported_per_key() -> None:
    rule = {
        "metric": "nullValues",
        "mustBe": 0,
        "dimension": "completeness",
        "schedule": "0 20 * * *",
    }
    _, report = _quality(rule)
    ignored = ignored_by_path(report)
    assert "dimensions" in ignored["schema[0].properties[2].quality[0].dimension"]
    assert "schedules" in ignored["schema[0].properties[2].quality[0].schedule"]


def test_duplicate_dataset_rules_keep_the_first() -> None:
    doc = minimal()
    doc["schema"][0]["quality"] = [
        {"metric": "rowCount", "mustBeGreaterThan": 0},
        {"metric": "rowCount", "mustBeLessThan": 10},
    ]
    spec_doc, report = import_odcs(doc)
    assert spec_doc["dataset_rules"] == [{"kind": "row_count", "min": 1}]
    assert "first is kept" in ignored_by_path(report)["schema[0].quality[1]"]
