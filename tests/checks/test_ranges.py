"""Range rules decided by the compiled pass agree with polars' own comparisons.

Whatever the values (NaN, infinities, nulls, integer columns with fractional bounds, one-sided
bounds), the failing counts, the quarantined rows and the observed extremes must be what the
polars expressions `col < min`, `col > max`, `col.min()` and `col.max()` give.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.engine import validate
from contracts.spec import ContractSpec

RECEIVED_AT = datetime(2024, 1, 1, tzinfo=UTC)

bounds = st.none() | st.integers(-20, 20) | st.floats(-20, 20, allow_nan=False)
float_values = st.none() | st.floats(-30, 30) | st.sampled_from([math.inf, -math.inf, math.nan])
int_values = st.none() | st.integers(-30, 30) | st.sampled_from([2**62, -(2**62)])


def _spec(kind: str, low: Any, high: Any) -> ContractSpec:
    field: dict[str, Any] = {"name": "v", "type": kind}
    if low is not None:
        field["min"] = low
    if high is not None:
        field["max"] = high
    return ContractSpec.model_validate(
        {"id": "t", "version": "1.0.0", "owner": "o", "dataset": "d", "fields": [field]}
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    kind=st.sampled_from(["float", "integer"]),
    low=bounds,
    high=bounds,
)
def test_counts_rows_and_extremes_match_polars(
    data: st.DataObject, kind: str, low: Any, high: Any
) -> None:
    if low is not None and high is not None and low > high:
        low, high = high, low
    values = data.draw(st.lists(float_values if kind == "float" else int_values, max_size=40))
    dtype = pl.Float64 if kind == "float" else pl.Int64
    frame = pl.DataFrame({"v": values}, schema={"v": dtype})
    result = validate(frame, _spec(kind, low, high), received_at=RECEIVED_AT, with_profile=False)
    outcome = {o.rule_id: o for o in result.outcomes}

    column = pl.col("v")
    expected_failing = pl.lit(False)
    for rule, bound, compare, extreme in (
        ("v.min", low, column.__lt__, column.min()),
        ("v.max", high, column.__gt__, column.max()),
    ):
        if bound is None:
            assert rule not in outcome
            continue
        expr = compare(bound)
        failing = frame.select(expr.fill_null(False).sum()).item()
        assert outcome[rule].failing_rows == failing, rule
        assert _same(outcome[rule].observed, frame.select(extreme).item()), rule
        expected_failing = expected_failing | expr.fill_null(False)
    expected_rows = frame.with_row_index().filter(expected_failing).get_column("index").to_list()
    assert result.quarantined.get_column("_row").to_list() == expected_rows
