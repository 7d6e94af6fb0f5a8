"""The profile `validate` attaches equals profiling the accepted rows from scratch.

The engine takes shortcuts (category counts from its allowed-value masks, extremes from the
profile); whatever the rules' actions and whichever rows fail, the result must be the same
as `profile_frame` run on the accepted frame alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.engine import validate
from checks.profile import profile_frame
from contracts.spec import ContractSpec

RECEIVED_AT = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def spec(action: str) -> ContractSpec:
    return ContractSpec.model_validate(
        {
            "id": "t",
            "version": "1.0.0",
            "owner": "tests",
            "dataset": "d",
            "fields": [
                {"name": "x", "type": "float", "min": 0, "max": 10},
                {
                    "name": "c",
                    "type": "category",
                    "allowed_values": ["a", "b", "c"],
                    "severity": action,
                },
                {"name": "d", "type": "category", "allowed_values": ["on", "off"]},
            ],
        }
    )


rows = st.lists(
    st.tuples(
        st.none() | st.floats(-5, 15, allow_nan=False),
        st.none() | st.sampled_from(["a", "b", "c", "zz", "yy"]),
        st.none() | st.sampled_from(["on", "off", "?"]),
    ),
    min_size=0,
    max_size=50,
)


@settings(max_examples=150, deadline=None)
@given(batch=rows, action=st.sampled_from(["quarantine", "warn", "reject"]))
def test_attached_profile_equals_profiling_the_accepted_rows(
    batch: list[tuple[Any, Any, Any]], action: str
) -> None:
    frame = pl.DataFrame(
        {"x": [r[0] for r in batch], "c": [r[1] for r in batch], "d": [r[2] for r in batch]},
        schema={"x": pl.Float64, "c": pl.String, "d": pl.String},
    )
    s = spec(action)
    result = validate(frame, s, received_at=RECEIVED_AT)

    assert result.profile == profile_frame(result.accepted, s)
    if action == "warn":  # disallowed values stay among the accepted rows and are counted
        accepted_c = [v for v in result.accepted.get_column("c").to_list() if v is not None]
        top = result.profile["c"]["top"]
        assert sum(top["counts"]) + top["other"] == len(accepted_c)
        assert set(top["values"]) == set(accepted_c)
