"""Validation of the contract document itself: every rule names the field path and the rule.

Also the two small value languages a contract uses: durations (ISO 8601 and short forms) and
semantic versions with semver 2.0 precedence.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.durations import parse_duration
from contracts.errors import InvalidContractSpec
from contracts.loader import load_spec, parse_document
from contracts.semver import SemVer
from contracts.spec import Action, ContractSpec, NullFractionRule
from tests.builders import contract

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "impressions.contract.yaml"

# Field indexes in tests.builders.BASE_CONTRACT.
ORDER_ID, AMOUNT, QUANTITY, STATUS, PLACED_AT = range(5)


def invalid(doc: dict[str, Any]) -> InvalidContractSpec:
    with pytest.raises(InvalidContractSpec) as info:
        load_spec(doc)
    err = info.value
    assert err.errors, "an invalid contract must list its errors"
    assert err.field == err.errors[0]["field"]
    assert err.rule == err.errors[0]["rule"]
    for e in err.errors:
        assert set(e) == {"field", "rule", "message"}
        assert e["message"]
    return err


_DROP = object()


def with_field(index: int, **changes: Any) -> dict[str, Any]:
    doc = contract()
    field = doc["fields"][index]
    for key, value in changes.items():
        if value is _DROP:
            field.pop(key, None)
        else:
            field[key] = value
    return doc


# --- the base documents are valid ------------------------------------------------------------


def test_builder_contract_is_valid() -> None:
    spec = load_spec(contract())
    assert [f.name for f in spec.fields] == [
        "order_id",
        "amount",
        "quantity",
        "status",
        "placed_at",
    ]
    assert spec.semver == SemVer(1, 0, 0)


def test_example_impressions_contract_loads() -> None:
    doc = parse_document(EXAMPLE.read_bytes())
    spec = load_spec(doc)
    assert spec.id == "impressions"
    assert spec.version == "1.0.0"
    assert spec.dataset.name == "feed.impressions"
    assert spec.field("position") is not None
    assert spec.field("position").min == 0  # type: ignore[union-attr]
    assert spec.field("surface").allowed_values == ["feed", "search", "profile"]  # type: ignore[union-attr]
    assert spec.freshness is not None
    assert spec.freshness.max_lag_delta == timedelta(hours=2)
    assert spec.freshness.cadence_delta == timedelta(hours=1)
    assert {r.kind for r in spec.dataset_rules} == {
        "row_count",
        "null_fraction",
        "unique_key",
        "expression",
    }
    assert spec.policy.field == Action.quarantine
    # The canonical document is itself a valid contract with the same fingerprint.
    again = load_spec(spec.to_document())
    assert again == spec
    assert again.fingerprint() == spec.fingerprint()


def test_dataset_shorthand_is_a_name() -> None:
    spec = load_spec(contract(dataset="shop.orders"))
    assert spec.dataset.name == "shop.orders"
    assert spec.dataset.namespace == "driftgate"


# --- field-level rules: the path names the field by index and name ---------------------------


@pytest.mark.parametrize(
    ("doc", "field", "rule"),
    [
        pytest.param(with_field(AMOUNT, min=5000), "fields[1](amount)", "min_le_max", id="min>max"),
        pytest.param(
            with_field(PLACED_AT, min="2025-01-02T00:00:00Z", max="2025-01-01T00:00:00Z"),
            "fields[4](placed_at)",
            "min_le_max",
            id="temporal-min>max",
        ),
        pytest.param(with_field(AMOUNT, type="money"), "fields[1].type", "enum", id="unknown-type"),
        pytest.param(
            with_field(ORDER_ID, pattern="(unclosed"),
            "fields[0](order_id)",
            "regex_compiles",
            id="regex-python-rejects",
        ),
        pytest.param(
            with_field(ORDER_ID, pattern="(?<=a)b"),
            "fields[0](order_id)",
            "regex_compiles",
            id="regex-lookbehind-rust-rejects",
        ),
        pytest.param(
            with_field(ORDER_ID, pattern=r"(a)\1"),
            "fields[0](order_id)",
            "regex_compiles",
            id="regex-backreference-rust-rejects",
        ),
        pytest.param(
            with_field(AMOUNT, min="zero"),
            "fields[1](amount)",
            "bound_matches_type",
            id="numeric-bound-is-string",
        ),
        pytest.param(
            with_field(QUANTITY, max="100"),
            "fields[2](quantity)",
            "bound_matches_type",
            id="numeric-bound-is-numeric-string",
        ),
        pytest.param(
            with_field(PLACED_AT, min="yesterday"),
            "fields[4](placed_at)",
            "bound_matches_type",
            id="timestamp-bound-not-iso",
        ),
        pytest.param(
            with_field(PLACED_AT, min=5),
            "fields[4](placed_at)",
            "bound_matches_type",
            id="timestamp-bound-is-number",
        ),
        pytest.param(
            with_field(ORDER_ID, min=1),
            "fields[0](order_id)",
            "rule_applies_to_type",
            id="min-on-string",
        ),
        pytest.param(
            with_field(QUANTITY, pattern="^[0-9]+$"),
            "fields[2](quantity)",
            "rule_applies_to_type",
            id="pattern-on-integer",
        ),
        pytest.param(
            with_field(AMOUNT, max_length=3),
            "fields[1](amount)",
            "rule_applies_to_type",
            id="max_length-on-float",
        ),
        pytest.param(
            with_field(ORDER_ID, min_length=5, max_length=2),
            "fields[0](order_id)",
            "min_length_le_max_length",
            id="min_length>max_length",
        ),
        pytest.param(
            with_field(STATUS, allowed_values=["new", 3]),
            "fields[3](status)",
            "allowed_values_match_type",
            id="allowed-int-in-category",
        ),
        pytest.param(
            with_field(QUANTITY, allowed_values=[1, "2"]),
            "fields[2](quantity)",
            "allowed_values_match_type",
            id="allowed-str-in-integer",
        ),
        pytest.param(
            with_field(QUANTITY, allowed_values=[1, 2.5]),
            "fields[2](quantity)",
            "allowed_values_match_type",
            id="allowed-float-in-integer",
        ),
        pytest.param(
            with_field(QUANTITY, allowed_values=[1, True]),
            "fields[2](quantity)",
            "allowed_values_match_type",
            id="allowed-bool-in-integer",
        ),
        pytest.param(
            with_field(STATUS, allowed_values=["new", "new"]),
            "fields[3](status)",
            "allowed_values_distinct",
            id="allowed-duplicates",
        ),
        pytest.param(
            with_field(AMOUNT, allowed_values=[1, 1.0]),
            "fields[1](amount)",
            "allowed_values_distinct",
            id="allowed-duplicates-after-coercion",
        ),
        pytest.param(
            with_field(STATUS, allowed_values=[]),
            "fields[3](status)",
            "allowed_values_not_empty",
            id="allowed-empty",
        ),
        pytest.param(
            with_field(ORDER_ID, name="order id"),
            "fields[0].name",
            "string_pattern_mismatch",
            id="bad-field-name",
        ),
        pytest.param(
            with_field(AMOUNT, nullable=True),
            "fields[1](amount)",
            "required_nullable_agree",
            id="nullable-contradicts-required",
        ),
        pytest.param(
            with_field(AMOUNT, colour="blue"),
            "fields[1].colour",
            "extra_forbidden",
            id="unknown-field-key",
        ),
        pytest.param(
            with_field(QUANTITY, min_length=-1, type="string", min=_DROP, max=_DROP),
            "fields[2].min_length",
            "greater_than_equal",
            id="negative-min_length",
        ),
    ],
)
def test_field_rule_violations(doc: dict[str, Any], field: str, rule: str) -> None:
    err = invalid(doc)
    assert (err.field, err.rule) == (field, rule)
    assert str(err).startswith(f"{field}: ")


def test_lookbehind_compiles_in_python_but_is_refused_for_the_engine() -> None:
    import re

    re.compile("(?<=a)b")  # Python's engine accepts it ...
    err = invalid(with_field(ORDER_ID, pattern="(?<=a)b"))  # ... polars' (Rust) does not
    assert "not supported by the engine" in err.errors[0]["message"]


def test_pattern_on_category_is_allowed() -> None:
    spec = load_spec(with_field(STATUS, pattern="^[a-z]+$", max_length=10))
    assert spec.fields[STATUS].pattern == "^[a-z]+$"


def test_every_error_is_listed_with_its_own_path() -> None:
    doc = with_field(AMOUNT, min="zero")
    doc["fields"][QUANTITY]["min"] = 500
    err = invalid(doc)
    assert [(e["field"], e["rule"]) for e in err.errors] == [
        ("fields[1](amount)", "bound_matches_type"),
        ("fields[2](quantity)", "min_le_max"),
    ]
    assert "(and 1 more)" in str(err)


def test_numeric_bounds_are_coerced_to_the_field_type() -> None:
    doc = with_field(QUANTITY, min=2.0, max=7.5)
    spec = load_spec(doc)
    q = spec.fields[QUANTITY]
    assert q.min == 2 and isinstance(q.min, int)
    assert q.max == 7.5
    amount = load_spec(with_field(AMOUNT, allowed_values=[1, 2.5])).fields[AMOUNT]
    assert amount.allowed_values == [1.0, 2.5]
    assert all(isinstance(v, float) for v in amount.allowed_values)


@pytest.mark.parametrize("bound", [True, False])
def test_boolean_bound_on_numeric_field_is_refused(bound: bool) -> None:
    err = invalid(with_field(AMOUNT, min=bound, max=_DROP))
    assert (err.field, err.rule) == ("fields[1](amount)", "bound_matches_type")


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        pytest.param(with_field(QUANTITY, max=True), "fields[2](quantity)", id="integer-max"),
        pytest.param(with_field(PLACED_AT, min=False), "fields[4](placed_at)", id="timestamp-min"),
        pytest.param(with_field(ORDER_ID, max_length=True), "fields[0].max_length", id="length"),
        pytest.param(
            contract(dataset_rules=[{"kind": "row_count", "min": True}]),
            "dataset_rules[0].min",
            id="row_count-min",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "row_count", "min": 0, "max": False}]),
            "dataset_rules[0].max",
            id="row_count-max",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "null_fraction", "field": "amount", "max": True}]),
            "dataset_rules[0].max",
            id="null_fraction-max",
        ),
    ],
)
def test_boolean_bounds_are_refused_wherever_a_number_bounds(
    doc: dict[str, Any], field: str
) -> None:
    err = invalid(doc)
    assert (err.field, err.rule) == (field, "bound_matches_type")
    assert "not the boolean" in err.errors[0]["message"]


# --- temporal bounds: one reading, aware and in UTC --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T10:00:00", datetime(2024, 1, 1, 10, tzinfo=UTC)),  # no offset: UTC
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),  # a bare date: midnight UTC
        ("2024-01-01T12:00:00+02:00", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("2024-01-01T10:00:00.5", datetime(2024, 1, 1, 10, 0, 0, 500_000, tzinfo=UTC)),
    ],
)
def test_timestamp_bounds_are_read_as_aware_utc(text: str, expected: datetime) -> None:
    f = load_spec(with_field(PLACED_AT, min=text)).fields[PLACED_AT]
    value = f.bound("min")
    assert value == expected
    assert value.tzinfo is UTC
    assert f.min == text  # the document keeps the bound as written


def test_min_le_max_compares_instants_not_text() -> None:
    # As text "12:00+02:00" sorts after "11:00Z", but it is the earlier instant.
    spec = load_spec(
        with_field(PLACED_AT, min="2024-01-01T12:00:00+02:00", max="2024-01-01T11:00:00Z")
    )
    assert spec.fields[PLACED_AT].bound("min") < spec.fields[PLACED_AT].bound("max")
    # A bound without an offset is UTC: 10:00Z is after 11:00+02:00 (09:00Z).
    err = invalid(with_field(PLACED_AT, min="2024-01-01T10:00:00", max="2024-01-01T11:00:00+02:00"))
    assert (err.field, err.rule) == ("fields[4](placed_at)", "min_le_max")


def test_unquoted_yaml_dates_and_timestamps_are_bounds() -> None:
    # YAML reads these as date/datetime objects, not text.
    doc = parse_document(
        """
id: t
version: 1.0.0
owner: me
dataset: d
fields:
  - {name: day, type: date, min: 2024-01-01, max: 2024-12-31}
  - {name: at, type: timestamp, min: 2024-01-01T10:00:00Z, max: 2024-01-02 00:00:00}
  - {name: since, type: timestamp, min: 2024-01-01}
"""
    )
    spec = load_spec(doc)
    day, at, since = spec.fields
    assert (day.min, day.max) == ("2024-01-01", "2024-12-31")
    assert at.bound("min") == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert at.bound("max") == datetime(2024, 1, 2, tzinfo=UTC)  # no offset: UTC
    assert since.bound("min") == datetime(2024, 1, 1, tzinfo=UTC)
    assert load_spec(spec.to_document()) == spec


def test_a_timestamp_is_not_a_date_bound() -> None:
    moment = datetime(2024, 1, 1, 10, tzinfo=UTC)  # what YAML makes of an unquoted timestamp
    err = invalid(with_field(PLACED_AT, type="date", min=moment))
    assert (err.field, err.rule) == ("fields[4](placed_at)", "bound_matches_type")


@pytest.mark.parametrize("text", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_a_bound_out_of_range_in_utc_is_refused(text: str) -> None:
    err = invalid(with_field(PLACED_AT, min=text))
    assert (err.field, err.rule) == ("fields[4](placed_at)", "bound_matches_type")


def test_reference_window_reads_times_without_offset_as_utc() -> None:
    window = {"start": "2024-01-01T00:00:00", "end": "2024-01-02T00:00:00+01:00"}
    ref = load_spec(contract(monitoring={"reference": window})).monitoring.reference
    assert ref.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert ref.end == datetime(2024, 1, 1, 23, tzinfo=UTC)
    assert ref.start.tzinfo is UTC and ref.end.tzinfo is UTC
    # Mixing both spellings used to raise TypeError (a 500), not a spec error.
    bad = {"start": "2024-01-01T12:00:00", "end": "2024-01-01T13:00:00+02:00"}
    err = invalid(contract(monitoring={"reference": bad}))
    assert (err.field, err.rule) == ("monitoring.reference", "start_before_end")


# --- the `nullable` alias ------------------------------------------------------------------


def test_nullable_false_means_required() -> None:
    spec = load_spec(with_field(QUANTITY, nullable=False))
    assert spec.fields[QUANTITY].required is True


def test_nullable_true_means_optional() -> None:
    spec = load_spec(with_field(AMOUNT, required=_DROP, nullable=True))
    assert spec.fields[AMOUNT].required is False


def test_nullable_and_required_may_agree() -> None:
    spec = load_spec(with_field(AMOUNT, required=True, nullable=False))
    assert spec.fields[AMOUNT].required is True
    assert "nullable" not in spec.to_document()["fields"][AMOUNT]


@pytest.mark.parametrize(("required", "nullable"), [(True, True), (False, False)])
def test_nullable_and_required_contradicting(required: bool, nullable: bool) -> None:
    err = invalid(with_field(QUANTITY, required=required, nullable=nullable))
    assert (err.field, err.rule) == ("fields[2](quantity)", "required_nullable_agree")


# --- document-level rules ------------------------------------------------------------------


def _dup_field() -> dict[str, Any]:
    doc = contract()
    doc["fields"].append(copy.deepcopy(doc["fields"][ORDER_ID]))
    return doc


@pytest.mark.parametrize(
    ("doc", "rule", "mentions"),
    [
        pytest.param(_dup_field(), "field_names_unique", "order_id", id="duplicate-field-names"),
        pytest.param(
            contract(dataset_rules=[{"kind": "null_fraction", "field": "nope", "max": 0.1}]),
            "field_exists",
            "nope",
            id="null_fraction-unknown-field",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "unique_key", "fields": ["order_id", "nope"]}]),
            "field_exists",
            "nope",
            id="unique_key-unknown-field",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "expression", "name": "x", "expr": "amount >< ("}]),
            "expression_parses",
            "does not parse",
            id="expression-does-not-parse",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "expression", "name": "x", "expr": "amount > nope"}]),
            "field_exists",
            "nope",
            id="expression-unknown-column",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "row_count", "min": 1, "severity": "quarantine"}]),
            "action_applies",
            "row_count",
            id="row_count-quarantine",
        ),
        pytest.param(
            contract(
                dataset_rules=[
                    {
                        "kind": "null_fraction",
                        "field": "amount",
                        "max": 0.1,
                        "severity": "quarantine",
                    }
                ]
            ),
            "action_applies",
            "null_fraction",
            id="null_fraction-quarantine",
        ),
        pytest.param(
            contract(
                dataset_rules=[{"kind": "row_count", "min": 1}, {"kind": "row_count", "max": 9}]
            ),
            "rule_ids_unique",
            "row_count",
            id="duplicate-rule-ids",
        ),
        pytest.param(
            contract(freshness={"field": "amount", "max_lag": "PT2H"}),
            "freshness_field_is_temporal",
            "amount",
            id="freshness-on-float",
        ),
        pytest.param(
            contract(freshness={"field": "nope", "max_lag": "PT2H"}),
            "freshness_field_is_temporal",
            "nope",
            id="freshness-on-unknown-field",
        ),
        pytest.param(
            contract(freshness={"field": "placed_at", "max_lag": "PT2H", "severity": "quarantine"}),
            "action_applies",
            "freshness",
            id="freshness-quarantine",
        ),
        pytest.param(
            contract(monitoring={"fields": {"nope": {}}}),
            "field_exists",
            "nope",
            id="monitor-unknown-field",
        ),
        pytest.param(
            contract(monitoring={"fields": {"status": {"method": "ks"}}}),
            "method_applies_to_type",
            "status",
            id="ks-on-category",
        ),
        pytest.param(
            contract(monitoring={"fields": {"amount": {"method": "chi2"}}}),
            "method_applies_to_type",
            "amount",
            id="chi2-on-float",
        ),
    ],
)
def test_document_rule_violations(doc: dict[str, Any], rule: str, mentions: str) -> None:
    err = invalid(doc)
    assert err.rule == rule
    assert mentions in err.errors[0]["message"]
    # Cross-field rules are checked on the whole document; the path says so.
    assert err.field == "(document)"


@pytest.mark.parametrize(
    ("doc", "field", "rule"),
    [
        pytest.param(
            contract(dataset_rules=[{"kind": "row_count", "min": 5, "max": 1}]),
            "dataset_rules[0]",
            "min_le_max",
            id="row_count-min>max",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "row_count"}]),
            "dataset_rules[0]",
            "bound_present",
            id="row_count-no-bounds",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "null_fraction", "field": "amount", "max": 1.5}]),
            "dataset_rules[0].max",
            "less_than_equal",
            id="null_fraction-above-one",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "histogram", "field": "amount"}]),
            "dataset_rules[0]",
            "union_tag_invalid",
            id="unknown-rule-kind",
        ),
        pytest.param(
            contract(dataset_rules=[{"kind": "row_count", "min": 1, "colour": "x"}]),
            "dataset_rules[0].colour",
            "extra_forbidden",
            id="unknown-rule-key",
        ),
        pytest.param(
            contract(freshness={"field": "placed_at", "max_lag": "2 hours"}),
            "freshness.max_lag",
            "duration_parses",
            id="bad-max_lag",
        ),
        pytest.param(
            contract(freshness={"field": "placed_at", "max_lag": "PT2H", "cadence": "P"}),
            "freshness.cadence",
            "duration_parses",
            id="bad-cadence",
        ),
        pytest.param(
            contract(freshness={"field": "placed_at", "max_lag": "0s"}),
            "freshness.max_lag",
            "duration_parses",
            id="zero-max_lag",
        ),
        pytest.param(
            contract(monitoring={"reference": {"window": "forever"}}),
            "monitoring.reference",
            "duration_parses",
            id="bad-reference-window",
        ),
        pytest.param(
            contract(monitoring={"fields": {"amount": {"warn": 0.5, "alert": 0.1}}}),
            "monitoring.fields.amount",
            "warn_le_alert",
            id="warn>alert",
        ),
        pytest.param(contract(version="1.0"), "version", "semver", id="semver-two-parts"),
        pytest.param(contract(version="v1.0.0"), "version", "semver", id="semver-v-prefix"),
        pytest.param(contract(version="01.0.0"), "version", "semver", id="semver-leading-zero"),
        pytest.param(contract(id="Orders!"), "id", "string_pattern_mismatch", id="bad-id"),
        pytest.param(contract(owner=""), "owner", "string_too_short", id="empty-owner"),
        pytest.param(contract(fields=[]), "fields", "too_short", id="no-fields"),
        pytest.param(
            contract(compatibility="SIDEWAYS"), "compatibility", "enum", id="bad-compat-mode"
        ),
        pytest.param(contract(colour="blue"), "colour", "extra_forbidden", id="unknown-top-key"),
        pytest.param(
            contract(policy={"field": "ignore"}), "policy.field", "enum", id="bad-policy-action"
        ),
        pytest.param(
            contract(policy={"fields": "warn"}),
            "policy.fields",
            "extra_forbidden",
            id="unknown-policy-key",
        ),
    ],
)
def test_nested_rule_violations(doc: dict[str, Any], field: str, rule: str) -> None:
    err = invalid(doc)
    assert (err.field, err.rule) == (field, rule)


def test_missing_required_keys() -> None:
    doc = contract()
    del doc["owner"]
    err = invalid(doc)
    assert (err.field, err.rule) == ("owner", "missing")


def test_well_formed_dataset_rules_load() -> None:
    spec = load_spec(
        contract(
            dataset_rules=[
                {"kind": "row_count", "min": 1},
                {"kind": "null_fraction", "field": "quantity", "max": 0.2, "severity": "warn"},
                {"kind": "unique_key", "fields": ["order_id", "placed_at"]},
                {"kind": "expression", "name": "cheap", "expr": "amount <= 100 OR quantity < 5"},
            ]
        )
    )
    kinds = [r.kind for r in spec.dataset_rules]
    assert kinds == ["row_count", "null_fraction", "unique_key", "expression"]
    assert isinstance(spec.dataset_rules[1], NullFractionRule)
    assert spec.dataset_rules[1].severity == Action.warn


def test_spec_is_frozen() -> None:
    spec = load_spec(contract())
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        spec.owner = "someone-else"  # type: ignore[misc]


def test_model_validate_raises_pydantic_errors_typed_by_rule() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        ContractSpec.model_validate(with_field(AMOUNT, min=5000))
    assert [e["type"] for e in info.value.errors()] == ["min_le_max"]


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT2H", timedelta(hours=2)),
        ("PT30M", timedelta(minutes=30)),
        ("PT1H30M", timedelta(minutes=90)),
        ("PT1.5S", timedelta(seconds=1.5)),
        ("P1D", timedelta(days=1)),
        ("P1DT6H", timedelta(days=1, hours=6)),
        ("P1W", timedelta(weeks=1)),
        ("P1W2D", timedelta(days=9)),
        ("P7D", timedelta(days=7)),
        ("500ms", timedelta(milliseconds=500)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1.5h", timedelta(minutes=90)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("2 h", timedelta(hours=2)),
        (" PT2H ", timedelta(hours=2)),
    ],
)
def test_duration_parses(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "P1DT", "2 hours", "1y", "-1h", "h", "PT2", "P1.5D", "2H", "PT-1H", "1h30m"],
)
def test_duration_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0s", "PT0S", "P0D", "0ms", "0.0h"])
def test_zero_duration_refused(text: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        parse_duration(text)


@given(n=st.integers(1, 10_000), unit=st.sampled_from(["ms", "s", "m", "h", "d", "w"]))
def test_short_form_is_n_units(n: int, unit: str) -> None:
    seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{n}{unit}") == timedelta(seconds=n * seconds)


@given(
    weeks=st.integers(0, 10),
    days=st.integers(0, 10),
    hours=st.integers(0, 48),
    minutes=st.integers(0, 120),
    seconds=st.integers(0, 120),
)
def test_iso_form_is_the_sum_of_its_parts(
    weeks: int, days: int, hours: int, minutes: int, seconds: int
) -> None:
    date_part = (f"{weeks}W" if weeks else "") + (f"{days}D" if days else "")
    time_part = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{seconds}S" if seconds else "")
    )
    text = "P" + date_part + (f"T{time_part}" if time_part else "")
    expected = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if expected == timedelta(0):
        with pytest.raises(ValueError):
            parse_duration(text)
    else:
        assert parse_duration(text) == expected


# --- semantic versions ---------------------------------------------------------------------


def test_semver_parse_and_str() -> None:
    v = SemVer.parse("1.2.3-rc.1+build.5")
    assert (v.major, v.minor, v.patch, v.prerelease) == (1, 2, 3, ("rc", "1"))
    assert str(v) == "1.2.3-rc.1"  # build metadata carries no precedence and is dropped
    assert SemVer.parse("1.2.3+a") == SemVer.parse("1.2.3+b") == SemVer.parse("1.2.3")


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "1.0",
        "1.0.0.0",
        "01.0.0",
        "1.00.0",
        "1.0.0-",
        "1.0.0-01",
        "1.0.0-alpha..1",
        "1.0.0+",
        "v1.0.0",
        "1.0.0 ",
        "",
        "a.b.c",
        "-1.0.0",
    ],
)
def test_semver_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        SemVer.parse(text)


@pytest.mark.parametrize(
    "text", ["1.0.0\n", "1.0.1\u0660"], ids=["trailing-newline", "arabic-digit"]
)
def test_semver_refuses_non_ascii_or_trailing_newline(text: str) -> None:
    with pytest.raises(ValueError):
        SemVer.parse(text)


def test_semver_precedence_from_the_spec() -> None:
    # The example chain from semver.org §11.
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0-0",
        "1.1.0",
        "2.0.0-0a",
        "2.0.0",
        "10.0.0",
    ]
    versions = [SemVer.parse(v) for v in chain]
    assert sorted(reversed(versions)) == versions
    for a, b in itertools.pairwise(versions):
        assert a < b and b > a and a != b and a <= b


def test_semver_not_comparable_with_strings() -> None:
    with pytest.raises(TypeError):
        _ = SemVer.parse("1.0.0") < "1.0.1"  # type: ignore[operator]


_NUM = st.integers(0, 30)
_IDENT = st.one_of(
    st.integers(0, 30).map(str),
    st.from_regex(r"[0-9]*[a-zA-Z-][0-9a-zA-Z-]{0,3}", fullmatch=True),
)
_PRE = st.lists(_IDENT, max_size=3).map(tuple)
releases = st.builds(SemVer, _NUM, _NUM, _NUM)
versions = st.builds(SemVer, _NUM, _NUM, _NUM, _PRE)


@given(a=releases, b=releases)
def test_release_order_is_tuple_order(a: SemVer, b: SemVer) -> None:
    ta, tb = (a.major, a.minor, a.patch), (b.major, b.minor, b.patch)
    assert (a < b) == (ta < tb)
    assert (a == b) == (ta == tb)
    assert (a > b) == (ta > tb)


@given(a=versions, b=versions, c=versions)
def test_order_is_total(a: SemVer, b: SemVer, c: SemVer) -> None:
    assert sum([a < b, a == b, a > b]) == 1  # trichotomy
    assert (a <= b) or (b <= a)  # totality
    if a <= b and b <= c:
        assert a <= c  # transitivity
    if a <= b and b <= a:
        assert a == b  # antisymmetry


@given(v=versions)
def test_parse_round_trips(v: SemVer) -> None:
    assert SemVer.parse(str(v)) == v


@given(v=versions, pre=_PRE.filter(bool))
def test_prerelease_sorts_before_its_release(v: SemVer, pre: tuple[str, ...]) -> None:
    release = SemVer(v.major, v.minor, v.patch)
    candidate = SemVer(v.major, v.minor, v.patch, pre)
    assert candidate < release
    # ... but after every release of a lower version.
    if release.patch:
        assert SemVer(v.major, v.minor, release.patch - 1) < candidate


@given(v=versions)
def test_contract_accepts_every_semver(v: SemVer) -> None:
    spec = load_spec(contract(version=str(v)))
    assert spec.semver == v


_NON_ASCII_DIGITS = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


@given(v=versions, digit=_NON_ASCII_DIGITS, where=st.integers(0, 2))
def test_semver_digits_are_ascii_only(v: SemVer, digit: str, where: int) -> None:
    parts = [str(v.major), str(v.minor), str(v.patch)]
    parts[where] = digit
    with pytest.raises(ValueError, match="not a semantic version"):
        SemVer.parse(".".join(parts))


@given(v=versions, junk=st.sampled_from(["\n", "\r\n", " ", "\t", "\x00", "\u2028"]))
def test_semver_refuses_trailing_whitespace(v: SemVer, junk: str) -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        SemVer.parse(str(v) + junk)


def test_contract_version_with_trailing_newline_is_refused() -> None:
    err = invalid(contract(version="1.0.0\n"))
    assert (err.field, err.rule) == ("version", "semver")


@pytest.mark.parametrize("bound", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numeric_bound_is_refused(bound: float) -> None:
    doc = contract()
    doc["fields"][AMOUNT]["min"] = bound
    err = invalid(doc)
    assert err.rule == "bound_is_finite"
    assert "fields[1]" in err.field or "fields.1" in err.field


@pytest.mark.parametrize(
    ("threshold", "rule"), [(True, "bound_matches_type"), (float("nan"), "finite_number")]
)
def test_monitor_threshold_must_be_a_finite_number(threshold: Any, rule: str) -> None:
    doc = contract(monitoring={"fields": {"amount": {"method": "psi", "warn": threshold}}})
    err = invalid(doc)
    assert err.rule == rule
    assert "warn" in err.field


# --- the monitoring section: minimal effects, alpha levels, null rates, dataset rule ----------

RANKER_CONTRACT = EXAMPLE.parents[1] / "ranker" / "contracts" / "impressions.contract.yaml"


@pytest.mark.parametrize("path", [EXAMPLE, RANKER_CONTRACT], ids=["example", "ranker"])
def test_contracts_with_legacy_warn_and_alert_thresholds_still_load(path: Path) -> None:
    spec = load_spec(parse_document(path.read_bytes()))
    score, surface = spec.monitoring.fields["score"], spec.monitoring.fields["surface"]
    # distance methods: warn/alert are minimal effects; chi2: p-value levels
    assert (score.method, score.alert_effect, score.alert_alpha) == ("ks", 0.2, None)
    assert (surface.method, surface.alert_alpha, surface.warn_alpha) == ("chi2", 0.01, 0.05)


def test_new_monitoring_keys_load_and_unset_ones_stay_out_of_the_document() -> None:
    monitoring = {
        "alpha": 0.005,
        "warn_alpha": 0.02,
        "drift_share": 0.5,
        "design_effect": 12,
        "null_rate": {"min_change": 0.05, "warn_change": 0.01},
        "fields": {
            "amount": {"method": "ks", "min_effect": 0.1, "warn": 0.05, "alpha": 0.001},
            "status": {"method": "chi2", "min_effect": 0.2, "design_effect": 3},
        },
    }
    doc = load_spec(contract(monitoring=monitoring)).to_document()["monitoring"]
    assert {k: doc[k] for k in ("alpha", "warn_alpha", "drift_share", "design_effect")} == {
        "alpha": 0.005,
        "warn_alpha": 0.02,
        "drift_share": 0.5,
        "design_effect": 12,
    }
    assert doc["null_rate"] == {"enabled": True, "min_change": 0.05, "warn_change": 0.01}
    assert doc["fields"]["amount"] == monitoring["fields"]["amount"] | {"bins": 10}  # type: ignore[index]
    bare = load_spec(contract(monitoring={"fields": {"amount": {"method": "psi"}}}))
    # unset thresholds are not frozen into the stored document: they follow the defaults
    assert bare.to_document()["monitoring"] == {
        "reference": {},
        "fields": {"amount": {"method": "psi", "bins": 10}},
    }


def _monitoring_error(monitoring: dict[str, Any]) -> InvalidContractSpec:
    return invalid(contract(monitoring=monitoring))


@pytest.mark.parametrize(
    ("monitoring", "field", "rule"),
    [
        pytest.param({"alpha": 0}, "monitoring.alpha", "greater_than", id="alpha-zero"),
        pytest.param({"alpha": 0.9}, "monitoring.alpha", "less_than_equal", id="alpha-big"),
        pytest.param({"alpha": True}, "monitoring.alpha", "bound_matches_type", id="alpha-bool"),
        pytest.param({"alpha": float("nan")}, "monitoring.alpha", "finite_number", id="alpha-nan"),
        pytest.param(
            {"alpha": 0.05, "warn_alpha": 0.01},
            "monitoring",
            "alpha_le_warn_alpha",
            id="warn_alpha-below-alpha",
        ),
        pytest.param({"drift_share": 0}, "monitoring.drift_share", "greater_than", id="share-zero"),
        pytest.param(
            {"drift_share": 1.5}, "monitoring.drift_share", "less_than_equal", id="share-big"
        ),
        pytest.param(
            {"design_effect": 0.5},
            "monitoring.design_effect",
            "greater_than_equal",
            id="deff-below-one",
        ),
        pytest.param(
            {"null_rate": {"min_change": 1.5}},
            "monitoring.null_rate",
            "effect_in_range",
            id="null-change-above-one",
        ),
        pytest.param(
            {"null_rate": {"min_change": 0.01, "warn_change": 0.05}},
            "monitoring.null_rate",
            "warn_le_alert",
            id="null-warn-above-alert",
        ),
        pytest.param(
            {"null_rate": {"every": "row"}},
            "monitoring.null_rate.every",
            "extra_forbidden",
            id="null-unknown-key",
        ),
        pytest.param(
            {"fields": {"amount": {"min_effect": -0.1}}},
            "monitoring.fields.amount.min_effect",
            "greater_than_equal",
            id="negative-min_effect",
        ),
        pytest.param(
            {"fields": {"amount": {"method": "ks", "min_effect": 1.5}}},
            "monitoring.fields.amount",
            "effect_in_range",
            id="ks-effect-above-one",
        ),
        pytest.param(
            {"fields": {"status": {"method": "chi2", "min_effect": 2}}},
            "monitoring.fields.status",
            "effect_in_range",
            id="chi2-js-effect-above-one",
        ),
        pytest.param(
            {"fields": {"amount": {"min_effect": 0.1, "alert": 0.2}}},
            "monitoring.fields.amount",
            "min_effect_or_alert",
            id="min_effect-and-alert-disagree",
        ),
        pytest.param(
            {"fields": {"amount": {"min_effect": 0.1, "warn": 0.2}}},
            "monitoring.fields.amount",
            "warn_le_alert",
            id="warn-above-min_effect",
        ),
        pytest.param(
            {"fields": {"status": {"method": "chi2", "alpha": 0.01, "alert": 0.001}}},
            "monitoring.fields.status",
            "alpha_or_alert",
            id="chi2-alpha-and-alert-disagree",
        ),
        pytest.param(
            {"fields": {"status": {"method": "chi2", "warn": 0.05, "alert": 0.9}}},
            "monitoring.fields.status",
            "alpha_in_range",
            id="chi2-p-level-too-big",
        ),
        pytest.param(
            {"fields": {"amount": {"alpha": 0}}},
            "monitoring.fields.amount.alpha",
            "greater_than",
            id="field-alpha-zero",
        ),
        pytest.param(
            {"fields": {"amount": {"design_effect": True}}},
            "monitoring.fields.amount.design_effect",
            "bound_matches_type",
            id="field-deff-bool",
        ),
    ],
)
def test_bad_monitoring_values_name_the_field_and_the_rule(
    monitoring: dict[str, Any], field: str, rule: str
) -> None:
    err = _monitoring_error(monitoring)
    assert (err.field, err.rule) == (field, rule)


def test_bad_monitoring_values_are_422_problems_through_the_api(client: Any, auth: Any) -> None:
    cases = [
        ({"fields": {"amount": {"method": "ks", "min_effect": 3}}}, "effect_in_range"),
        ({"alpha": 0.05, "warn_alpha": 0.01}, "alpha_le_warn_alpha"),
        ({"null_rate": {"min_change": 2}}, "effect_in_range"),
        ({"drift_share": -1}, "greater_than"),
    ]
    for monitoring, rule in cases:
        resp = client.post(
            "/contracts", json=contract(monitoring=monitoring), headers=auth("admin")
        )
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        problem = resp.json()
        assert problem["rule"] == rule and problem["field"].startswith("monitoring")
    good = {"alpha": 0.005, "fields": {"amount": {"method": "ks", "min_effect": 0.1}}}
    resp = client.post("/contracts", json=contract(monitoring=good), headers=auth("admin"))
    assert resp.status_code == 201, resp.text


# --- invalid_fraction (ODCS invalidValues tolerances) ----------------------------------------


def _tolerance(**rule: Any) -> dict[str, Any]:
    return contract(dataset_rules=[{"kind": "invalid_fraction", **rule}])


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "status", "allowed_values": ["new"]}, "one_limit"),
        ({"field": "status", "allowed_values": ["new"], "max": 0.1, "max_rows": 3}, "one_limit"),
        ({"field": "status", "max": 0.1}, "values_or_pattern"),
        ({"field": "nope", "allowed_values": ["x"], "max": 0.1}, "field_exists"),
        ({"field": "quantity", "pattern": "^1", "max": 0.1}, "rule_applies_to_type"),
        ({"field": "quantity", "allowed_values": ["1"], "max": 0.1}, "allowed_values_match_type"),
        ({"field": "status", "pattern": "(?<=a)b", "max": 0.1}, "regex_compiles"),
        ({"field": "status", "allowed_values": ["new"], "max": 1.5}, "less_than_equal"),
        (
            {"field": "status", "allowed_values": ["new"], "max_rows": 1, "severity": "quarantine"},
            "action_applies",
        ),
    ],
)
def test_invalid_fraction_rules_are_checked(rule: dict[str, Any], expected: str) -> None:
    assert invalid(_tolerance(**rule)).rule == expected


def test_invalid_fraction_values_take_the_field_type_and_an_id() -> None:
    from contracts.spec import dataset_rule_id

    spec = load_spec(_tolerance(field="amount", allowed_values=[1, 2.5], max_rows=0))
    rule = spec.dataset_rules[0]
    assert rule.allowed_values == [1.0, 2.5]  # type: ignore[union-attr]
    assert dataset_rule_id(rule) == "invalid_fraction:amount"
