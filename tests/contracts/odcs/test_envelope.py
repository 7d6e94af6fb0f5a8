"""The ODCS envelope: structure refused with a path; id, version, owner and dataset mapped."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.odcs.importer import import_odcs, import_odcs_all
from contracts.odcs.report import OdcsImportError
from contracts.spec import ContractSpec
from tests.contracts.odcs.documents import (
    ignored_by_path,
    minimal,
)


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
    doc = minimal()
    mutate(doc)
    with pytest.raises(OdcsImportError) as excinfo:
        import_odcs(doc)
    assert excinfo.value.path == path
    assert str(excinfo.value).startswith(f"{path}: ")


def test_non_mapping_document_is_refused() -> None:
    with pytest.raises(OdcsImportError, match=r"^\(document\): "):
        import_odcs(["not", "a", "contract"])  # type: ignore[arg-type]


def test_document_whose_properties_all_lack_a_driftgate_type_is_refused() -> None:
    doc = minimal()
    doc["schema"][0]["properties"] = [{"name": "payload", "logicalType": "object"}]
    with pytest.raises(OdcsImportError) as excinfo:
        import_odcs(doc)
    assert excinfo.value.path == "schema[0].properties"


def test_odcs_import_error_is_a_value_error() -> None:
    assert issubclass(OdcsImportError, ValueError)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.0", "1.0.0"), ("2", "2.0.0"), (1.0, "1.0.0"), (3, "3.0.0"), ("v1.2.3", "1.2.3")],
)
def test_non_semver_versions_are_normalized_and_noted(raw: Any, expected: str) -> None:
    doc, report = import_odcs(minimal(version=raw))
    assert doc["version"] == expected
    assert ContractSpec.model_validate(doc).version == expected
    note = next(m for m in report.mapped if m.startswith("version -> version"))
    assert f"normalized {raw!r} to semver {expected!r}" in note


def test_semver_version_is_kept_without_a_note() -> None:
    doc, report = import_odcs(minimal(version="1.4.0-rc.1"))
    assert doc["version"] == "1.4.0-rc.1"
    assert "version -> version" in report.mapped


def test_uuid_and_display_ids_become_slugs() -> None:
    doc, report = import_odcs(minimal(id="53581432-6C55-4ba2-a65f-72344a91553a"))
    assert doc["id"] == "53581432-6c55-4ba2-a65f-72344a91553a"
    doc, report = import_odcs(minimal(id="  Feed / Impressions (v2) "))
    assert doc["id"] == "feed-impressions-v2"
    assert any("slugified" in m for m in report.mapped)


def test_owner_comes_from_the_current_owner_member_of_a_v30_team() -> None:
    team = [
        {"username": "old", "role": "owner", "dateOut": "2023-01-01"},
        {"username": "ana", "role": "Owner"},
    ]
    doc, report = import_odcs(minimal(team=team))
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
    doc = minimal(**top)
    if doc["team"] is None:
        del doc["team"]
    spec_doc, report = import_odcs(doc)
    assert spec_doc["owner"] == owner
    assert f"{source} -> owner (no team owner given)" in report.mapped


def test_missing_owner_becomes_unknown_and_is_reported() -> None:
    doc = minimal()
    del doc["team"]
    spec_doc, report = import_odcs(doc)
    assert spec_doc["owner"] == "unknown"
    assert "'unknown'" in ignored_by_path(report)["team"]


def test_domain_becomes_the_dataset_namespace() -> None:
    doc, _ = import_odcs(minimal(domain="feed"))
    assert doc["dataset"] == {"name": "events", "namespace": "feed"}


def test_a_multi_object_document_without_a_choice_is_refused_with_the_names() -> None:
    doc = minimal()
    doc["schema"].append({"name": "users", "properties": [{"name": "id", "logicalType": "string"}]})
    with pytest.raises(OdcsImportError, match=r"2 schema objects \['events', 'users'\]"):
        import_odcs(doc)
    spec_doc, _ = import_odcs(doc, contract_id="events.users")  # adding a version to one
    assert spec_doc["dataset"]["name"] == "users"


def test_import_all_gives_one_contract_per_object_with_suffixed_ids() -> None:
    doc = minimal()
    doc["schema"].append(
        {"name": "Users!", "properties": [{"name": "id", "logicalType": "string"}]}
    )
    imported = import_odcs_all(doc)
    assert [d["id"] for d, _ in imported] == ["events.events", "events.users"]
    assert [d["dataset"]["name"] for d, _ in imported] == ["events", "Users!"]
    assert "schema[1]" not in ignored_by_path(imported[0][1])  # imported, not dropped
    for spec_doc, _ in imported:
        ContractSpec.model_validate(spec_doc)
    single = minimal()
    assert [d["id"] for d, _ in import_odcs_all(single)] == ["events"]


def test_schema_name_selects_another_object() -> None:
    doc = minimal()
    doc["schema"].append(
        {
            "name": "users",
            "physicalName": "users_v1",
            "properties": [{"name": "id", "logicalType": "string"}],
        }
    )
    spec_doc, report = import_odcs(doc, schema_name="users_v1")
    assert spec_doc["id"] == "events.users"
    assert spec_doc["dataset"]["name"] == "users_v1"
    assert [f["name"] for f in spec_doc["fields"]] == ["id"]
    assert "schema_name" in ignored_by_path(report)["schema[0]"]
    assert [d["id"] for d, _ in import_odcs_all(doc, schema_name="users")] == ["events.users"]
    with pytest.raises(OdcsImportError, match="no object named 'nope'"):
        import_odcs(doc, schema_name="nope")
