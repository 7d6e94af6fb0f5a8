"""ODCS SLA properties as freshness."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.odcs.importer import import_odcs
from contracts.spec import ContractSpec
from tests.contracts.odcs.documents import (
    ignored_by_path,
    minimal,
)


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
    doc, report = import_odcs(minimal(slaProperties=sla))
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
    doc, _ = import_odcs(minimal(slaProperties=sla))
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
            {"property": "latency", "value": 1, "unit": "d", "element": "other.missing"},
            "slaProperties[0]",
            "not an imported column",
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
    doc, report = import_odcs(minimal(slaProperties=[sla]))
    assert "freshness" not in doc
    assert reason in ignored_by_path(report)[path]


def test_an_element_whose_object_names_no_object_resolves_by_its_column() -> None:
    """As in the ODCS full example: `tab1.txn_ref_dt` on the table `tbl` / `tbl_1`."""
    sla = [{"property": "latency", "value": 4, "unit": "d", "element": "tab1.ts"}]
    doc, report = import_odcs(minimal(slaProperties=sla))
    assert doc["freshness"] == {"field": "ts", "max_lag": "P4D"}
    assert any(
        m.startswith("slaProperties[0].element -> freshness.field ('tab1'") for m in report.mapped
    )


def test_in_a_multi_table_document_the_sla_goes_to_the_object_with_its_element() -> None:
    doc = minimal(
        slaProperties=[{"property": "latency", "value": 2, "unit": "h", "element": "events.ts"}]
    )
    doc["schema"].append(
        {"name": "users", "properties": [{"name": "seen", "logicalType": "timestamp"}]}
    )
    events, _ = import_odcs(doc, "events")
    users, report_users = import_odcs(doc, "users")
    assert events["freshness"] == {"field": "ts", "max_lag": "PT2H"}
    assert "freshness" not in users
    assert "another schema object" in ignored_by_path(report_users)["slaProperties[0]"]
    doc["slaProperties"][0]["element"] = "nowhere.ts"
    users_too = dict(doc)
    users_too["schema"] = [*doc["schema"]]
    users_too["schema"][1] = {
        "name": "users",
        "properties": [{"name": "ts", "logicalType": "timestamp"}],
    }
    _, ambiguous = import_odcs(users_too, "events")
    assert "several objects" in ignored_by_path(ambiguous)["slaProperties[0]"]
