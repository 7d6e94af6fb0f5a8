"""The observed value of a min/max rule is the batch's extreme, whichever path computes it.

With a profile, the engine derives a numeric column's extreme from the accepted rows' profile
and the quarantined rows; without one, it reads the whole batch. Both must equal the extreme
of the conformed column computed directly, for any mix of failing and passing rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.engine import validate
from contracts.spec import ContractSpec

RECEIVED_AT = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)

SPEC = ContractSpec.model_validate(
    {
        "id": "t",
        "version": "1.0.0",
        "owner": "tests",
        "dataset": "d",
        "fields": [
            {"name": "i", "type": "integer", "min": 0, "max": 100},
            {"name": "f", "type": "float", "required": True, "min": -1.5, "max": 1.5},
            {"name": "c", "type": "category", "allowed_values": ["a", "b"]},
        ],
    }
)

ints = st.none() | st.integers(-50, 150)
floats = st.none() | st.floats(-3, 3, allow_nan=False)
cats = st.none() | st.sampled_from(["a", "b", "zz"])


def _truth(values: list[Any], kind: str) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return min(present) if kind == "min" else max(present)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(ints, floats, cats), min_size=0, max_size=40),
    with_profile=st.booleans(),
)
def test_min_max_observed_is_the_batch_extreme_with_or_without_profile(
    rows: list[tuple[Any, Any, Any]], with_profile: bool
) -> None:
    frame = pl.DataFrame(
        {
            "i": [r[0] for r in rows],
            "f": [r[1] for r in rows],
            "c": [r[2] for r in rows],
        },
        schema={"i": pl.Int64, "f": pl.Float64, "c": pl.String},
    )
    result = validate(frame, SPEC, received_at=RECEIVED_AT, with_profile=with_profile)
    observed = {o.rule_id: o.observed for o in result.outcomes}
    for name, column in (("i", 0), ("f", 1)):
        values = [r[column] for r in rows]
        for kind in ("min", "max"):
            assert observed[f"{name}.{kind}"] == _truth(values, kind), (name, kind)
    assert result.rows_accepted + result.rows_quarantined == len(rows)


def test_null_fraction_counts_missing_values_not_unparseable_ones() -> None:
    spec = ContractSpec.model_validate(
        {
            "id": "t",
            "version": "1.0.0",
            "owner": "tests",
            "dataset": "d",
            "fields": [{"name": "n", "type": "integer"}],
            "dataset_rules": [{"kind": "null_fraction", "field": "n", "max": 0.3}],
        }
    )
    # One real null, two values that do not parse as integers: a 1/5 null fraction.
    raw = pl.DataFrame({"n": ["1", None, "x", "y", "5"]})
    result = validate(raw, spec, received_at=RECEIVED_AT)
    outcome = {o.rule_id: o for o in result.outcomes}
    assert outcome["null_fraction:n"].observed == 0.2
    assert outcome["null_fraction:n"].passed
    assert outcome["n.type"].failing_rows == 2
