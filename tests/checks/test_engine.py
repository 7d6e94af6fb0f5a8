"""Unit tests of the validation engine: conform, row rules, dataset rules, split, status.

Pure: no database. Every test builds a small contract and a small polars frame, runs
`validate` with a fixed `received_at`, and checks outcomes, the accepted/quarantined split and
the batch status. The property tests compare the engine against an independent plain-Python
reading of the same contract on the original values.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.engine import BatchStatus, RuleOutcome, Validation, validate
from contracts.spec import Action, ContractSpec

RECEIVED_AT = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
ALLOWED = ["new", "paid", "shipped"]


def make_spec(fields: list[dict[str, Any]], **extra: Any) -> ContractSpec:
    return ContractSpec.model_validate(
        {"id": "t", "version": "1.0.0", "owner": "tests", "dataset": "d", "fields": fields, **extra}
    )


def run(raw: pl.DataFrame, spec: ContractSpec, **kwargs: Any) -> Validation:
    return validate(raw, spec, received_at=RECEIVED_AT, **kwargs)


def outcome(v: Validation, rule_id: str) -> RuleOutcome:
    found = [o for o in v.outcomes if o.rule_id == rule_id]
    assert len(found) == 1, f"expected one outcome {rule_id}, got {[o.rule_id for o in v.outcomes]}"
    return found[0]


def failed(v: Validation) -> set[str]:
    return {o.rule_id for o in v.outcomes if not o.passed}


def quarantined_rows(v: Validation) -> list[int]:
    return v.quarantined.get_column("_row").to_list()


def assert_rows_conserved(v: Validation) -> None:
    assert v.rows_accepted + v.rows_quarantined == v.rows_received
    rows = quarantined_rows(v)
    assert len(set(rows)) == len(rows)
    assert all(0 <= r < v.rows_received for r in rows)


# --- row-level field rules -------------------------------------------------------------------


def test_quarantines_rows_that_break_max_and_keeps_the_rest() -> None:
    spec = make_spec([{"name": "qty", "type": "integer", "max": 10}])
    v = run(pl.DataFrame({"qty": [1, 11, 10, 50, None]}), spec)

    assert v.status == BatchStatus.quarantined
    o = outcome(v, "qty.max")
    assert (o.passed, o.failing_rows, o.action, o.threshold) == (False, 2, Action.quarantine, 10)
    assert o.observed == 50  # the column's extreme, not just a count
    assert o.examples == [11, 50]
    assert v.accepted.get_column("qty").to_list() == [1, 10, None]
    assert quarantined_rows(v) == [1, 3]
    assert v.quarantined.get_column("qty").to_list() == [11, 50]
    assert v.quarantined.get_column("_rule_ids").to_list() == [["qty.max"], ["qty.max"]]
    assert all("qty.max" in r for r in v.quarantined.get_column("_reasons"))
    assert_rows_conserved(v)


def test_quarantines_rows_below_min() -> None:
    spec = make_spec([{"name": "amount", "type": "float", "min": 0}])
    v = run(pl.DataFrame({"amount": [0.0, -0.5, 3.25]}), spec)

    o = outcome(v, "amount.min")
    assert (o.failing_rows, o.observed) == (1, -0.5)
    assert quarantined_rows(v) == [1]
    assert v.accepted.get_column("amount").to_list() == [0.0, 3.25]


def test_non_numeric_string_in_integer_column_is_a_type_violation_keeping_the_original() -> None:
    spec = make_spec([{"name": "qty", "type": "integer", "min": 0}])
    raw = pl.DataFrame({"qty": ["1", " 2 ", "abc", None, "7"]})  # as read from a CSV
    v = run(raw, spec)

    o = outcome(v, "qty.type")
    assert (o.passed, o.failing_rows, o.kind, o.threshold) == (False, 1, "type", "integer")
    assert o.examples == ["abc"]  # the raw value as sent, not the null it converted to
    assert outcome(v, "qty.min").passed
    assert v.status == BatchStatus.quarantined
    assert v.accepted.schema["qty"] == pl.Int64
    assert v.accepted.get_column("qty").to_list() == [1, 2, None, 7]
    assert quarantined_rows(v) == [2]
    assert v.quarantined.get_column("qty").to_list() == ["abc"]  # original raw value kept
    assert v.quarantined.get_column("_rule_ids").to_list() == [["qty.type"]]
    assert "__type_fail__qty" not in v.accepted.columns


def test_csv_like_string_columns_convert_to_the_contract_types() -> None:
    spec = make_spec(
        [
            {"name": "n", "type": "integer"},
            {"name": "x", "type": "float"},
            {"name": "ok", "type": "boolean"},
            {"name": "day", "type": "date"},
        ]
    )
    raw = pl.DataFrame(
        {
            "n": ["3", "-4", None],
            "x": ["1.5", "1e3", " -0.25 "],
            "ok": ["true", "No", "1"],
            "day": ["2024-01-31", None, "2023-12-01"],
        }
    )
    v = run(raw, spec)

    assert v.status == BatchStatus.passed
    assert v.accepted.schema == pl.Schema(
        {"n": pl.Int64, "x": pl.Float64, "ok": pl.Boolean, "day": pl.Date}
    )
    assert v.accepted.to_dict(as_series=False) == {
        "n": [3, -4, None],
        "x": [1.5, 1000.0, -0.25],
        "ok": [True, False, True],
        "day": [date(2024, 1, 31), None, date(2023, 12, 1)],
    }


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        ("x", ["2.5", "x", "1,5"]),
        ("ok", ["maybe", "2", "truthy"]),
        ("day", ["2024-13-01", "31/01/2024", "yesterday"]),
    ],
)
def test_unparseable_strings_are_type_violations(column: str, bad: list[str]) -> None:
    types = {"x": "integer", "ok": "boolean", "day": "date"}
    spec = make_spec([{"name": column, "type": types[column]}])
    v = run(pl.DataFrame({column: bad}), spec)

    assert outcome(v, f"{column}.type").failing_rows == 3
    assert v.rows_accepted == 0
    assert v.quarantined.get_column(column).to_list() == bad


def test_float_with_a_fraction_in_an_integer_field_is_a_type_violation_not_truncated() -> None:
    spec = make_spec([{"name": "qty", "type": "integer"}])
    v = run(pl.DataFrame({"qty": [1.0, 2.5, -3.0, None, -0.1]}), spec)

    o = outcome(v, "qty.type")
    assert o.failing_rows == 2
    assert v.accepted.schema["qty"] == pl.Int64
    assert v.accepted.get_column("qty").to_list() == [1, -3, None]  # whole floats convert
    assert quarantined_rows(v) == [1, 4]
    assert v.quarantined.get_column("qty").to_list() == [2.5, -0.1]  # not truncated to 2, 0


def test_required_field_quarantines_nulls() -> None:
    spec = make_spec([{"name": "id", "type": "string", "required": True}])
    v = run(pl.DataFrame({"id": ["a", None, "c", None]}), spec)

    o = outcome(v, "id.required")
    assert (o.passed, o.failing_rows) == (False, 2)
    assert quarantined_rows(v) == [1, 3]
    assert v.accepted.get_column("id").to_list() == ["a", "c"]
    assert v.status == BatchStatus.quarantined


def test_pattern_quarantines_non_matching_values_and_ignores_nulls() -> None:
    spec = make_spec([{"name": "order_id", "type": "string", "pattern": "^o[0-9]+$"}])
    v = run(pl.DataFrame({"order_id": ["o1", "x2", None, "o", "o42"]}), spec)

    o = outcome(v, "order_id.pattern")
    assert (o.failing_rows, o.examples) == (2, ["x2", "o"])
    assert quarantined_rows(v) == [1, 3]
    assert v.accepted.get_column("order_id").to_list() == ["o1", None, "o42"]


def test_allowed_values_quarantines_values_outside_the_set_and_ignores_nulls() -> None:
    spec = make_spec(
        [{"name": "status", "type": "category", "allowed_values": ["new", "paid", "shipped"]}]
    )
    v = run(pl.DataFrame({"status": ["new", "lost", None, "NEW", "shipped"]}), spec)

    o = outcome(v, "status.allowed_values")
    assert (o.failing_rows, o.examples) == (2, ["lost", "NEW"])  # case matters
    assert quarantined_rows(v) == [1, 3]


def test_allowed_values_on_integer_field() -> None:
    spec = make_spec([{"name": "tier", "type": "integer", "allowed_values": [1, 2, 3]}])
    v = run(pl.DataFrame({"tier": ["1", "4", "3", "0"]}), spec)

    assert outcome(v, "tier.allowed_values").failing_rows == 2
    assert v.quarantined.get_column("tier").to_list() == ["4", "0"]


def test_min_length_and_max_length_count_characters_not_bytes() -> None:
    spec = make_spec([{"name": "code", "type": "string", "min_length": 2, "max_length": 3}])
    v = run(pl.DataFrame({"code": ["a", "ab", "abcd", "ééé", None, "é"]}), spec)

    assert outcome(v, "code.min_length").failing_rows == 2  # "a", "é"
    assert outcome(v, "code.max_length").failing_rows == 1  # "abcd"; "ééé" is 3 characters
    assert quarantined_rows(v) == [0, 2, 5]
    assert v.accepted.get_column("code").to_list() == ["ab", "ééé", None]


def test_unique_field_quarantines_every_copy_of_a_duplicate_but_not_nulls() -> None:
    spec = make_spec([{"name": "id", "type": "integer", "unique": True}])
    v = run(pl.DataFrame({"id": [1, 2, 1, None, None, 3, 2]}), spec)

    assert outcome(v, "id.unique").failing_rows == 4
    assert quarantined_rows(v) == [0, 1, 2, 6]
    assert v.accepted.get_column("id").to_list() == [None, None, 3]


def test_dictionary_encoded_category_column_is_checked_on_its_text() -> None:
    spec = make_spec(
        [
            {
                "name": "status",
                "type": "category",
                "allowed_values": ALLOWED,
                "pattern": "^[a-z]+$",
                "max_length": 5,
            }
        ]
    )
    raw = pl.DataFrame({"status": ["new", "lost", "shipped", None, "NEW"]}).cast(pl.Categorical)
    v = run(raw, spec)

    assert outcome(v, "status.allowed_values").examples == ["lost", "NEW"]
    assert outcome(v, "status.pattern").failing_rows == 1  # NEW
    assert outcome(v, "status.max_length").failing_rows == 1  # shipped
    assert quarantined_rows(v) == [1, 2, 4]
    assert v.accepted.get_column("status").cast(pl.String).to_list() == ["new", None]


# --- dataset rules -----------------------------------------------------------------------------

TWO_KEY_FIELDS = [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]
TWO_KEY_FRAME = pl.DataFrame(
    {"a": [1, 1, 1, 2, None, None, 1], "b": ["x", "x", "y", "x", "z", "z", "x"]}
)


def test_unique_key_over_two_fields_quarantines_all_duplicated_rows() -> None:
    spec = make_spec(
        TWO_KEY_FIELDS,
        dataset_rules=[{"kind": "unique_key", "fields": ["a", "b"], "severity": "quarantine"}],
    )
    v = run(TWO_KEY_FRAME, spec)

    o = outcome(v, "unique_key:a+b")
    assert (o.kind, o.action, o.failing_rows) == ("unique_key", Action.quarantine, 3)
    assert o.examples == [{"a": 1, "b": "x"}] * 3
    # (1, x) three times; (None, z) twice does not count: a null key is never a duplicate.
    assert quarantined_rows(v) == [0, 1, 6]
    assert v.status == BatchStatus.quarantined
    assert v.rows_accepted == 4


def test_unique_key_with_the_default_dataset_policy_rejects_the_batch() -> None:
    spec = make_spec(TWO_KEY_FIELDS, dataset_rules=[{"kind": "unique_key", "fields": ["a", "b"]}])
    v = run(TWO_KEY_FRAME, spec)

    o = outcome(v, "unique_key:a+b")
    assert (o.action, o.failing_rows) == (Action.reject, 3)
    assert v.status == BatchStatus.rejected
    assert v.rows_accepted == 0
    assert quarantined_rows(v) == list(range(7))
    reasons = v.quarantined.get_column("_reasons").to_list()
    assert all("batch rejected: unique_key:a+b" in r for r in reasons)
    ids = v.quarantined.get_column("_rule_ids").to_list()
    assert [bool(i) for i in ids] == [True, True, False, False, False, False, True]


def test_expression_rule_follows_sql_semantics_null_is_unknown_and_passes() -> None:
    spec = make_spec(
        [{"name": "clicks", "type": "integer"}, {"name": "views", "type": "integer"}],
        dataset_rules=[
            {
                "kind": "expression",
                "name": "clicks_le_views",
                "expr": "clicks <= views",
                "severity": "quarantine",
            }
        ],
    )
    raw = pl.DataFrame({"clicks": [1, 5, None, 3, 2], "views": [2, 2, 1, None, 2]})
    v = run(raw, spec)

    o = outcome(v, "expression:clicks_le_views")
    assert (o.kind, o.failing_rows) == ("expression", 1)
    assert o.examples == [{"clicks": 5, "views": 2}]
    assert quarantined_rows(v) == [1]
    assert v.rows_accepted == 4  # rows with a null operand pass


def test_row_count_below_min_rejects_and_quarantines_every_row_with_a_batch_reason() -> None:
    spec = make_spec(
        [{"name": "a", "type": "integer"}], dataset_rules=[{"kind": "row_count", "min": 5}]
    )
    v = run(pl.DataFrame({"a": [1, 2, 3]}), spec)

    o = outcome(v, "row_count")
    assert (o.passed, o.observed, o.action) == (False, 3, Action.reject)
    assert v.status == BatchStatus.rejected
    assert v.rows_accepted == 0
    assert quarantined_rows(v) == [0, 1, 2]
    assert v.quarantined.get_column("a").to_list() == [1, 2, 3]
    assert v.quarantined.get_column("_rule_ids").to_list() == [[], [], []]
    assert v.quarantined.get_column("_reasons").to_list() == ["batch rejected: row_count"] * 3


def test_row_count_reject_also_names_the_row_rules_each_row_broke() -> None:
    spec = make_spec(
        [{"name": "a", "type": "integer", "min": 0}],
        dataset_rules=[{"kind": "row_count", "max": 2}],
    )
    v = run(pl.DataFrame({"a": [1, -2, 3]}), spec)

    assert v.status == BatchStatus.rejected
    assert v.quarantined.get_column("_rule_ids").to_list() == [[], ["a.min"], []]
    reasons = v.quarantined.get_column("_reasons").to_list()
    assert reasons[1].startswith("a.min: ")
    assert all(r.endswith("batch rejected: row_count") for r in reasons)


def test_row_count_within_bounds_passes() -> None:
    spec = make_spec(
        [{"name": "a", "type": "integer"}],
        dataset_rules=[{"kind": "row_count", "min": 1, "max": 3}],
    )
    v = run(pl.DataFrame({"a": [1, 2, 3]}), spec)

    assert outcome(v, "row_count").passed
    assert v.status == BatchStatus.passed


def test_null_fraction_above_max_rejects_and_at_max_passes() -> None:
    spec = make_spec(
        [{"name": "a", "type": "integer"}],
        dataset_rules=[{"kind": "null_fraction", "field": "a", "max": 0.25}],
    )
    over = run(pl.DataFrame({"a": [1, None, None, 4]}), spec)
    at = run(pl.DataFrame({"a": [1, None, 3, 4]}), spec)

    o = outcome(over, "null_fraction:a")
    assert (o.passed, o.observed, o.failing_rows, o.threshold) == (False, 0.5, 2, 0.25)
    assert over.status == BatchStatus.rejected
    assert over.rows_quarantined == 4
    assert outcome(at, "null_fraction:a").passed
    assert at.status == BatchStatus.passed


def test_null_fraction_with_warn_severity_only_warns() -> None:
    spec = make_spec(
        [{"name": "a", "type": "integer"}],
        dataset_rules=[{"kind": "null_fraction", "field": "a", "max": 0.1, "severity": "warn"}],
    )
    v = run(pl.DataFrame({"a": [1, None, 3]}), spec)

    assert not outcome(v, "null_fraction:a").passed
    assert v.status == BatchStatus.warned
    assert v.rows_accepted == 3


# --- freshness ---------------------------------------------------------------------------------

FRESH_FIELDS = [{"name": "at", "type": "timestamp"}]
FRESHNESS = {"field": "at", "max_lag": "PT2H"}


def test_freshness_passes_when_the_newest_row_is_within_max_lag() -> None:
    spec = make_spec(FRESH_FIELDS, freshness=FRESHNESS)
    v = run(pl.DataFrame({"at": ["2024-01-01T08:00:00Z", "2024-01-01T10:30:00Z"]}), spec)

    o = outcome(v, "freshness")
    assert (o.passed, o.observed, o.threshold) == (True, 5400.0, 7200.0)
    assert v.newest_event_at == datetime(2024, 1, 1, 10, 30, tzinfo=UTC)
    assert v.status == BatchStatus.passed


def test_freshness_lag_exactly_at_the_limit_passes() -> None:
    spec = make_spec(FRESH_FIELDS, freshness=FRESHNESS)
    v = run(pl.DataFrame({"at": ["2024-01-01T10:00:00Z"]}), spec)

    assert outcome(v, "freshness").passed


def test_freshness_breach_warns_by_default_and_keeps_rows() -> None:
    spec = make_spec(FRESH_FIELDS, freshness=FRESHNESS)
    v = run(pl.DataFrame({"at": ["2024-01-01T07:00:00Z", "2024-01-01T09:00:00Z"]}), spec)

    o = outcome(v, "freshness")
    assert (o.passed, o.observed, o.action) == (False, 10800.0, Action.warn)
    assert v.status == BatchStatus.warned
    assert v.rows_accepted == 2


def test_freshness_breach_with_reject_severity_rejects() -> None:
    spec = make_spec(FRESH_FIELDS, freshness={**FRESHNESS, "severity": "reject"})
    v = run(pl.DataFrame({"at": ["2024-01-01T07:00:00Z", "2024-01-01T09:00:00Z"]}), spec)

    assert v.status == BatchStatus.rejected
    assert v.quarantined.get_column("_reasons").to_list() == ["batch rejected: freshness"] * 2


def test_freshness_without_any_timestamp_fails() -> None:
    spec = make_spec(FRESH_FIELDS, freshness=FRESHNESS)
    v = run(pl.DataFrame({"at": [None]}, schema={"at": pl.String}), spec)

    assert not outcome(v, "freshness").passed
    assert v.newest_event_at is None


# --- schema ------------------------------------------------------------------------------------


def test_missing_required_column_rejects_once_without_a_duplicate_required_outcome() -> None:
    spec = make_spec(
        [
            {"name": "a", "type": "integer"},
            {"name": "id", "type": "string", "required": True, "pattern": "^x", "unique": True},
        ]
    )
    v = run(pl.DataFrame({"a": [1, 2]}), spec)

    o = outcome(v, "id.present")
    assert (o.kind, o.passed, o.action) == ("schema", False, Action.reject)
    ids = [x.rule_id for x in v.outcomes]
    assert not [i for i in ids if i.startswith("id.") and i != "id.present"]
    assert v.status == BatchStatus.rejected
    assert v.rows_accepted == 0
    assert v.quarantined.get_column("_reasons").to_list() == ["batch rejected: id.present"] * 2


def test_missing_optional_column_is_fine() -> None:
    spec = make_spec(
        [
            {"name": "a", "type": "integer"},
            {"name": "note", "type": "string", "pattern": "^x", "min_length": 1},
        ]
    )
    v = run(pl.DataFrame({"a": [1, 2]}), spec)

    assert v.status == BatchStatus.passed
    assert not failed(v)
    assert v.accepted.get_column("note").to_list() == [None, None]
    assert v.accepted.schema["note"] == pl.String


def test_extra_columns_warn_and_the_batch_is_warned() -> None:
    spec = make_spec([{"name": "a", "type": "integer"}])
    v = run(pl.DataFrame({"a": [1, 2], "zzz": ["p", "q"], "yyy": [0, 0]}), spec)

    o = outcome(v, "schema.extra_columns")
    assert (o.passed, o.action, o.observed) == (False, Action.warn, ["zzz", "yyy"])
    assert failed(v) == {"schema.extra_columns"}
    assert v.status == BatchStatus.warned
    assert v.rows_accepted == 2


def test_extra_columns_reject_when_the_policy_says_so() -> None:
    spec = make_spec([{"name": "a", "type": "integer"}], policy={"extra_columns": "reject"})
    v = run(pl.DataFrame({"a": [1, 2], "zzz": [1, 2]}), spec)

    assert v.status == BatchStatus.rejected
    assert v.rows_quarantined == 2


def test_a_clean_batch_passes_with_an_empty_quarantine_frame() -> None:
    spec = make_spec([{"name": "a", "type": "integer", "min": 0}])
    v = run(pl.DataFrame({"a": [1, 2]}), spec)

    assert v.status == BatchStatus.passed
    assert not failed(v)
    assert v.rows_quarantined == 0
    assert {"_row", "_rule_ids", "_reasons"} <= set(v.quarantined.columns)


def test_an_empty_batch_passes_row_rules() -> None:
    spec = make_spec([{"name": "a", "type": "integer", "max": 1, "unique": True}])
    v = run(pl.DataFrame({"a": []}, schema={"a": pl.Int64}), spec)

    assert v.status == BatchStatus.passed
    assert (v.rows_received, v.rows_accepted, v.rows_quarantined) == (0, 0, 0)


# --- timestamps --------------------------------------------------------------------------------


def test_timestamp_strings_with_z_offsets_or_naive_parse_to_utc() -> None:
    spec = make_spec([{"name": "at", "type": "timestamp"}])
    raw = pl.DataFrame(
        {
            "at": [
                "2024-01-01T10:00:00Z",
                "2024-01-01T12:00:00+02:00",
                "2024-01-01T05:00:00-05:00",
                "2024-01-01T15:30:00+0530",
                "2024-01-01T10:00:00",  # naive: read as UTC
                "2024-01-01 10:00:00",
                "2024-01-01T10:00:00.000Z",
            ]
        }
    )
    v = run(raw, spec)

    assert v.status == BatchStatus.passed
    assert v.accepted.schema["at"] == pl.Datetime("us", "UTC")
    assert v.accepted.get_column("at").to_list() == [datetime(2024, 1, 1, 10, tzinfo=UTC)] * 7


def test_timestamp_strings_keep_fractions_and_date_only_is_midnight_utc() -> None:
    spec = make_spec([{"name": "at", "type": "timestamp"}])
    raw = pl.DataFrame({"at": ["2024-01-01T10:00:00.250Z", "2024-03-05", "not a time"]})
    v = run(raw, spec)

    assert v.accepted.get_column("at").to_list() == [
        datetime(2024, 1, 1, 10, 0, 0, 250_000, tzinfo=UTC),
        datetime(2024, 3, 5, tzinfo=UTC),
    ]
    assert outcome(v, "at.type").failing_rows == 1
    assert v.quarantined.get_column("at").to_list() == ["not a time"]


def test_native_datetime_columns_convert_to_utc() -> None:
    spec = make_spec([{"name": "at", "type": "timestamp"}])
    naive = pl.DataFrame({"at": [datetime(2024, 1, 1, 10)]})
    berlin = naive.with_columns(pl.col("at").dt.replace_time_zone("Europe/Berlin"))

    assert run(naive, spec).accepted.item() == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert run(berlin, spec).accepted.item() == datetime(2024, 1, 1, 9, tzinfo=UTC)


def test_timestamp_min_with_an_offset_bound_compares_instants() -> None:
    spec = make_spec([{"name": "at", "type": "timestamp", "min": "2024-01-01T12:00:00+02:00"}])
    raw = pl.DataFrame({"at": ["2024-01-01T10:00:00Z", "2024-01-01T09:59:59Z"]})
    v = run(raw, spec)

    assert outcome(v, "at.min").failing_rows == 1
    assert quarantined_rows(v) == [1]


@pytest.mark.parametrize("bound", ["2024-01-01T10:00:00", "2024-01-01"])
def test_timestamp_min_with_a_naive_bound_is_read_as_utc(bound: str) -> None:
    # The contract accepts a naive bound (and naive values are read as UTC), so the bound
    # should be read as UTC too. (A naive bound once made validate raise SchemaError.)
    spec = make_spec([{"name": "at", "type": "timestamp", "min": bound}])
    v = run(pl.DataFrame({"at": ["2024-01-01T10:00:00Z", "2023-12-31T23:00:00Z"]}), spec)

    assert outcome(v, "at.min").failing_rows == 1
    assert quarantined_rows(v) == [1]


def test_date_field_bounds_and_freshness() -> None:
    spec = make_spec(
        [{"name": "day", "type": "date", "min": "2023-12-01"}],
        freshness={"field": "day", "max_lag": "1d"},
    )
    v = run(pl.DataFrame({"day": ["2024-01-01", "2023-11-30"]}), spec)

    assert outcome(v, "day.min").failing_rows == 1
    fresh = outcome(v, "freshness")
    assert (fresh.passed, fresh.observed) == (True, 43200.0)  # midnight to noon
    assert v.newest_event_at == datetime(2024, 1, 1, tzinfo=UTC)


# --- examples and severity ---------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_examples_are_capped_by_example_values(k: int) -> None:
    spec = make_spec([{"name": "a", "type": "integer", "max": 10}])
    v = run(pl.DataFrame({"a": list(range(100))}), spec, example_values=k)

    o = outcome(v, "a.max")
    assert o.failing_rows == 89
    assert o.examples == list(range(11, 11 + k))


def test_type_failures_show_the_raw_values_that_did_not_convert() -> None:
    spec = make_spec(
        [
            {"name": "n", "type": "integer"},
            {"name": "at", "type": "timestamp"},
            {"name": "ok", "type": "boolean"},
        ]
    )
    raw = pl.DataFrame(
        {
            "n": ["1", "x1", "2.5", None, "x2", "x3"],
            "at": ["2024-01-01", "yesterday", "2024-13-01", "2024-01-02T03:04:05Z", None, ""],
            "ok": ["yes", "maybe", "no", "1", "nope", None],
        }
    )
    v = run(raw, spec, example_values=2)

    assert (outcome(v, "n.type").failing_rows, outcome(v, "n.type").examples) == (4, ["x1", "2.5"])
    assert outcome(v, "at.type").examples == ["yesterday", "2024-13-01"]
    assert outcome(v, "ok.type").examples == ["maybe", "nope"]
    assert outcome(v, "at.type").failing_rows == 3  # an empty string is not a timestamp


def test_type_examples_of_a_nested_column_are_the_values_sent() -> None:
    spec = make_spec([{"name": "tags", "type": "string"}])
    v = run(pl.DataFrame({"tags": [["a", "b"], None, ["c"]]}), spec)

    assert outcome(v, "tags.type").examples == [["a", "b"], ["c"]]


def test_field_severity_warn_accepts_the_rows_and_warns() -> None:
    spec = make_spec(
        [
            {"name": "a", "type": "integer", "max": 100, "severity": "warn"},
            {"name": "b", "type": "integer", "max": 100},
        ]
    )
    v = run(pl.DataFrame({"a": [1, 200, 300], "b": [1, 2, 3]}), spec)

    o = outcome(v, "a.max")
    assert (o.passed, o.action, o.failing_rows) == (False, Action.warn, 2)
    assert v.status == BatchStatus.warned
    assert v.rows_accepted == 3
    assert v.rows_quarantined == 0


def test_field_severity_warn_rows_stay_accepted_while_other_rules_quarantine() -> None:
    spec = make_spec(
        [
            {"name": "a", "type": "integer", "max": 100, "severity": "warn"},
            {"name": "b", "type": "integer", "max": 100},
        ]
    )
    v = run(pl.DataFrame({"a": [1, 200, 300], "b": [1, 2, 300]}), spec)

    assert v.status == BatchStatus.quarantined
    assert quarantined_rows(v) == [2]
    assert v.accepted.get_column("a").to_list() == [1, 200]
    # The quarantined row still lists every rule it broke, warn rules included.
    assert sorted(v.quarantined.get_column("_rule_ids").item()) == ["a.max", "b.max"]


def test_field_severity_reject_rejects_the_batch() -> None:
    spec = make_spec([{"name": "a", "type": "integer", "max": 100, "severity": "reject"}])
    v = run(pl.DataFrame({"a": [1, 200]}), spec)

    assert v.status == BatchStatus.rejected
    assert v.rows_accepted == 0


def test_profile_covers_only_accepted_rows() -> None:
    spec = make_spec([{"name": "a", "type": "integer", "max": 10}])
    v = run(pl.DataFrame({"a": [1, 2, 50]}), spec)

    assert v.profile["a"]["count"] == 2
    assert v.profile["a"]["max"] == 2.0
    assert run(pl.DataFrame({"a": [1]}), spec, with_profile=False).profile == {}


def test_unparseable_value_in_a_required_field_is_not_also_reported_as_missing() -> None:
    spec = make_spec([{"name": "qty", "type": "integer", "required": True}])
    v = run(pl.DataFrame({"qty": ["1", "abc", None]}), spec)

    assert outcome(v, "qty.type").failing_rows == 1
    # Only row 2 is null in the input: the "abc" row is a type violation, not also missing.
    assert outcome(v, "qty.required").failing_rows == 1
    assert v.quarantined.get_column("_rule_ids").to_list() == [["qty.type"], ["qty.required"]]


def _utc(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 1, 1, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "bound", "edge", "beyond"),
    [
        ("max", "2024-01-01T10:00:00", _utc(10), _utc(10, 0, 1)),  # no offset: UTC
        ("max", "2024-01-01", _utc(0), _utc(0, 0, 1)),  # a bare date: midnight UTC
        ("min", "2024-01-01T12:00:00+02:00", _utc(10), _utc(9, 59, 59)),
    ],
)
def test_temporal_bounds_compare_instants_in_utc(
    kind: str, bound: str, edge: datetime, beyond: datetime
) -> None:
    spec = make_spec([{"name": "at", "type": "timestamp", kind: bound}])
    v = run(pl.DataFrame({"at": [edge, beyond]}), spec)

    assert outcome(v, f"at.{kind}").failing_rows == 1
    assert v.quarantined.get_column("at").to_list() == [beyond]


def test_timestamp_sent_for_a_date_field_counts_as_its_utc_day() -> None:
    # 00:30 in Berlin on Jan 1 is still Dec 31 in UTC, like the same value in a timestamp field.
    spec = make_spec([{"name": "day", "type": "date", "min": "2024-01-01"}])
    utc = pl.Series("day", [datetime(2023, 12, 31, 23, 30), datetime(2024, 1, 1, 0, 30)])
    berlin = utc.dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Berlin")
    v = run(pl.DataFrame([berlin]), spec)

    assert v.accepted.get_column("day").to_list() == [date(2024, 1, 1)]
    assert outcome(v, "day.min").examples == [date(2023, 12, 31)]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.sampled_from([None, "1", " 2 ", "abc", "1.5", ""]), max_size=8),
    severity=st.sampled_from(["quarantine", "warn"]),
)
def test_a_value_that_does_not_convert_is_a_type_violation_only(
    values: list[str | None], severity: str
) -> None:
    spec = make_spec([{"name": "qty", "type": "integer", "required": True, "severity": severity}])
    v = run(pl.DataFrame({"qty": values}, schema={"qty": pl.String}), spec)

    unconvertible = [i for i, x in enumerate(values) if x in ("abc", "1.5", "")]
    missing = [i for i, x in enumerate(values) if x is None]
    assert outcome(v, "qty.type").failing_rows == len(unconvertible)
    assert outcome(v, "qty.required").failing_rows == len(missing)
    if severity == "quarantine":
        assert quarantined_rows(v) == sorted(unconvertible + missing)
        rule_ids = v.quarantined.get_column("_rule_ids").to_list()
        ids = dict(zip(quarantined_rows(v), rule_ids, strict=True))
        assert all(ids[i] == ["qty.type"] for i in unconvertible)
        assert all(ids[i] == ["qty.required"] for i in missing)
    assert_rows_conserved(v)


# --- independent plain-Python oracle -----------------------------------------------------------

ORACLE_SPEC = make_spec(
    [
        {"name": "qty", "type": "integer", "min": 0, "max": 100},
        {"name": "score", "type": "float", "min": -1.0, "max": 1.0},
        {"name": "status", "type": "category", "allowed_values": ALLOWED},
    ]
)


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def oracle(rows: list[dict[str, Any]]) -> list[set[str]]:
    """The rule ids each row breaks, computed in plain Python on the original values."""
    out: list[set[str]] = []
    for row in rows:
        broken: set[str] = set()
        qty, score, status = row["qty"], row["score"], row["status"]
        if qty is not None and qty < 0:
            broken.add("qty.min")
        if qty is not None and qty > 100:
            broken.add("qty.max")
        if score is not None:
            value = _parse_float(score)
            if value is None:
                broken.add("score.type")
            elif value < -1.0:
                broken.add("score.min")
            elif value > 1.0:
                broken.add("score.max")
        if status is not None and status not in ALLOWED:
            broken.add("status.allowed_values")
        out.append(broken)
    return out


def oracle_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"qty": pl.Int64, "score": pl.String, "status": pl.String}, orient="row"
    )


score_text = st.one_of(
    st.floats(min_value=-3, max_value=3, allow_nan=False).map(repr),
    st.sampled_from(["-1.0", "1.0", "1", "-1", "0", "1e-3", "abc", "", "1,5", "--1"]),
)
oracle_row = st.fixed_dictionaries(
    {
        "qty": st.none() | st.integers(-20, 130) | st.sampled_from([-1, 0, 100, 101]),
        "score": st.none() | score_text,
        "status": st.none() | st.sampled_from([*ALLOWED, "lost", "NEW", ""]),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(oracle_row, max_size=30))
def test_every_row_is_accepted_or_quarantined_for_a_rule_it_really_breaks(
    rows: list[dict[str, Any]],
) -> None:
    v = run(oracle_frame(rows), ORACLE_SPEC)
    expected = oracle(rows)

    assert v.rows_received == len(rows)
    assert_rows_conserved(v)
    bad_rows = [i for i, broken in enumerate(expected) if broken]
    assert quarantined_rows(v) == bad_rows
    for q in v.quarantined.iter_rows(named=True):
        i = q["_row"]
        assert set(q["_rule_ids"]) == expected[i]  # each quarantined row truly violates them
        assert {k: q[k] for k in ("qty", "score", "status")} == rows[i]  # original values
    good = [rows[i] for i, broken in enumerate(expected) if not broken]
    assert v.accepted.get_column("qty").to_list() == [r["qty"] for r in good]
    assert v.accepted.get_column("score").to_list() == [
        None if r["score"] is None else float(r["score"]) for r in good
    ]
    counts = Counter(rule for broken in expected for rule in broken)
    for o in v.outcomes:
        if o.kind != "schema":
            assert o.failing_rows == counts.get(o.rule_id, 0), o.rule_id
    assert v.status == (BatchStatus.quarantined if bad_rows else BatchStatus.passed)


def test_failing_counts_per_rule_match_a_plain_python_count() -> None:
    spec = make_spec(
        [
            {"name": "id", "type": "string", "required": True, "unique": True, "pattern": "^o"},
            {"name": "amount", "type": "float", "min": 0, "max": 1000},
            {"name": "qty", "type": "integer", "min": 1, "max": 5},
            {"name": "status", "type": "category", "allowed_values": ALLOWED},
            {"name": "note", "type": "string", "min_length": 1, "max_length": 4},
        ],
        dataset_rules=[
            {
                "kind": "expression",
                "name": "cap",
                "expr": "amount <= qty * 300",
                "severity": "quarantine",
            },
            {"kind": "unique_key", "fields": ["status", "qty"], "severity": "warn"},
        ],
    )
    data = {
        "id": ["o1", "o2", "o2", None, "x5", "o6", "o7", "o8", None, "o10"],
        "amount": [5.0, -1.0, 2000.0, 10.0, None, 1000.0, 0.0, 950.0, 3.5, 1.0],
        "qty": [1, 0, 3, 6, 2, 5, None, 3, 1, 1],
        "status": ["new", "paid", "lost", None, "new", "NEW", "shipped", "paid", "x", "new"],
        "note": ["", "ab", "abcde", None, "a", "abcd", "zzzzzz", "b", "", "c"],
    }
    v = run(pl.DataFrame(data), spec)
    rows = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]

    ids = Counter(r["id"] for r in rows if r["id"] is not None)
    keys = Counter(
        (r["status"], r["qty"]) for r in rows if r["status"] is not None and r["qty"] is not None
    )
    breaks: dict[str, Any] = {  # rule id -> does this row break it (plain Python, raw values)
        "id.required": lambda r: r["id"] is None,
        "id.unique": lambda r: r["id"] is not None and ids[r["id"]] > 1,
        "id.pattern": lambda r: r["id"] is not None and not r["id"].startswith("o"),
        "amount.min": lambda r: r["amount"] is not None and r["amount"] < 0,
        "amount.max": lambda r: r["amount"] is not None and r["amount"] > 1000,
        "qty.min": lambda r: r["qty"] is not None and r["qty"] < 1,
        "qty.max": lambda r: r["qty"] is not None and r["qty"] > 5,
        "status.allowed_values": lambda r: r["status"] is not None and r["status"] not in ALLOWED,
        "note.min_length": lambda r: r["note"] is not None and len(r["note"]) < 1,
        "note.max_length": lambda r: r["note"] is not None and len(r["note"]) > 4,
        "expression:cap": lambda r: (
            r["amount"] is not None and r["qty"] is not None and not r["amount"] <= r["qty"] * 300
        ),
        "unique_key:status+qty": lambda r: (
            r["status"] is not None and r["qty"] is not None and keys[(r["status"], r["qty"])] > 1
        ),
    }
    expected = {rule: sum(1 for r in rows if pred(r)) for rule, pred in breaks.items()}
    got = {o.rule_id: o.failing_rows for o in v.outcomes if o.rule_id in expected}
    assert got == expected
    assert all(n > 0 for n in expected.values())  # the data exercises every rule

    # Everything quarantines except the warn-severity unique_key rule.
    quarantining = [pred for rule, pred in breaks.items() if rule != "unique_key:status+qty"]
    bad = [i for i, r in enumerate(rows) if any(pred(r) for pred in quarantining)]
    assert quarantined_rows(v) == bad
    assert_rows_conserved(v)
    for q in v.quarantined.iter_rows(named=True):
        r = rows[q["_row"]]
        assert set(q["_rule_ids"]) == {rule for rule, pred in breaks.items() if pred(r)}


def test_nan_and_infinity_strings_are_floats_not_type_violations() -> None:
    spec = make_spec([{"name": "x", "type": "float"}])
    v = run(pl.DataFrame({"x": ["inf", "-inf", "nan"]}), spec)

    assert outcome(v, "x.type").passed
    got = v.accepted.get_column("x").to_list()
    assert got[:2] == [math.inf, -math.inf]
    assert math.isnan(got[2])
