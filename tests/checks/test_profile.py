"""Batch profiles agree with numpy/plain Python computed on the same data."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import sketch
from checks.profile import profile_frame
from contracts.spec import ContractSpec


def make_spec(fields: list[dict[str, Any]]) -> ContractSpec:
    return ContractSpec.model_validate(
        {"id": "t", "version": "1.0.0", "owner": "tests", "dataset": "d", "fields": fields}
    )


NUMERIC_SPEC = make_spec([{"name": "i", "type": "integer"}, {"name": "f", "type": "float"}])
SETTINGS = settings(max_examples=100, deadline=None)

ints = st.lists(st.none() | st.integers(-1_000_000, 1_000_000), min_size=1, max_size=60)
floats = st.none() | st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def assert_moments(prof: dict[str, Any], values: list[Any], n: int) -> None:
    present = np.asarray([v for v in values if v is not None], dtype=np.float64)
    assert prof["count"] == n
    assert prof["nulls"] == n - present.size
    if present.size == 0:
        assert prof["min"] is None and prof["max"] is None and prof["mean"] is None
        assert "sketch" in prof and prof["sketch"]["keys"] == []
        return
    assert prof["min"] == present.min()
    assert prof["max"] == present.max()
    assert prof["mean"] == pytest.approx(present.mean(), rel=1e-9, abs=1e-9)
    if present.size < 2:
        assert prof["std"] is None
    else:
        assert prof["std"] == pytest.approx(present.std(ddof=1), rel=1e-6, abs=1e-6)
    expected = sketch.build(present)
    assert prof["sketch"] == expected.to_json()
    assert sketch.Sketch.from_json(prof["sketch"]).total == present.size


@SETTINGS
@given(data=st.data(), i_values=ints)
def test_numeric_profiles_match_numpy(data: st.DataObject, i_values: list[int | None]) -> None:
    n = len(i_values)
    f_values = data.draw(st.lists(floats, min_size=n, max_size=n))
    frame = pl.DataFrame({"i": i_values, "f": f_values}, schema={"i": pl.Int64, "f": pl.Float64})
    profiles = profile_frame(frame, NUMERIC_SPEC)

    assert set(profiles) == {"i", "f"}
    assert profiles["i"]["type"] == "integer"
    assert profiles["f"]["type"] == "float"
    assert_moments(profiles["i"], i_values, n)
    assert_moments(profiles["f"], f_values, n)


def test_numeric_profile_of_known_values() -> None:
    frame = pl.DataFrame({"i": [1, 2, None, 4], "f": [1.5, None, None, 2.5]})
    prof = profile_frame(frame, NUMERIC_SPEC)

    assert {k: prof["i"][k] for k in ("count", "nulls", "min", "max")} == {
        "count": 4,
        "nulls": 1,
        "min": 1.0,
        "max": 4.0,
    }
    assert prof["i"]["mean"] == pytest.approx(7 / 3)
    assert prof["i"]["std"] == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert prof["f"]["nulls"] == 2
    assert prof["f"]["mean"] == 2.0


def test_polars_and_numpy_agree_on_the_frame_the_profile_reads() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(50.0, 12.0, 2000)
    frame = pl.DataFrame({"i": rng.integers(0, 100, 2000), "f": values})
    prof = profile_frame(frame, NUMERIC_SPEC)["f"]

    col = frame.get_column("f")
    assert prof["mean"] == pytest.approx(col.mean())
    assert prof["std"] == pytest.approx(col.std())
    assert prof["std"] == pytest.approx(values.std(ddof=1))
    q = sketch.quantiles(sketch.Sketch.from_json(prof["sketch"]), np.array([0.5]))[0]
    assert q == pytest.approx(np.median(values), rel=2.0**-sketch.SUB_BITS)


category_values = st.lists(
    st.none() | st.sampled_from([f"c{i}" for i in range(40)]), min_size=0, max_size=200
)


@SETTINGS
@given(values=category_values)
def test_category_counts_are_exact_up_to_the_cap(values: list[str | None]) -> None:
    spec = make_spec([{"name": "c", "type": "category"}])
    frame = pl.DataFrame({"c": values}, schema={"c": pl.String})
    prof = profile_frame(frame, spec)["c"]
    top = prof["top"]
    truth = Counter(v for v in values if v is not None)

    assert prof["count"] == len(values)
    assert prof["nulls"] == values.count(None)
    assert top["distinct"] == len(truth)
    assert dict(zip(top["values"], top["counts"], strict=True)) == truth
    assert (top["other"], top["error"], top["exact"]) == (0, 0, True)
    assert top["counts"] == sorted(top["counts"], reverse=True)


@SETTINGS
@given(values=category_values, cap=st.integers(1, 45))
def test_past_the_cap_counts_are_misra_gries_with_their_error_bound(
    values: list[str | None], cap: int
) -> None:
    """The group-by path and the engine's counts path give the same summary, and every
    category's true count is within [listed count, listed count + error]."""
    spec = make_spec([{"name": "c", "type": "category"}])
    frame = pl.DataFrame({"c": values}, schema={"c": pl.String})
    truth = Counter(v for v in values if v is not None)
    top = profile_frame(frame, spec, category_cap=cap)["c"]["top"]
    counted = profile_frame(frame, spec, value_counts={"c": truth}, category_cap=cap)["c"]["top"]

    assert counted == top
    listed = dict(zip(top["values"], top["counts"], strict=True))
    assert len(listed) <= cap and top["capacity"] == cap
    assert sum(listed.values()) + top["other"] == sum(truth.values())
    assert top["exact"] == (len(truth) <= cap) == (top["error"] == 0)
    for value, n in truth.items():
        assert listed.get(value, 0) <= n <= listed.get(value, 0) + top["error"]
    assert top["error"] * (cap + 1) <= top["other"]


def test_dictionary_encoded_category_profiles_like_text() -> None:
    spec = make_spec([{"name": "c", "type": "category"}])
    values = ["a", "b", "a", None, "c", "a"]
    text = profile_frame(pl.DataFrame({"c": values}), spec)["c"]
    coded = profile_frame(pl.DataFrame({"c": values}).cast(pl.Categorical), spec)["c"]

    assert coded["top"] == text["top"]
    assert coded["top"]["values"][0] == "a"
    assert coded["top"]["counts"][0] == 3
    assert coded["nulls"] == 1


def test_boolean_top_values() -> None:
    spec = make_spec([{"name": "b", "type": "boolean"}])
    prof = profile_frame(pl.DataFrame({"b": [True, False, True, None, True]}), spec)["b"]

    assert prof["nulls"] == 1
    assert dict(zip(prof["top"]["values"], prof["top"]["counts"], strict=True)) == {
        "True": 3,
        "False": 1,
    }
    assert prof["top"]["other"] == 0


@SETTINGS
@given(values=st.lists(st.none() | st.text(max_size=12), min_size=1, max_size=40))
def test_string_lengths_match_python_len(values: list[str | None]) -> None:
    spec = make_spec([{"name": "s", "type": "string"}])
    prof = profile_frame(pl.DataFrame({"s": values}, schema={"s": pl.String}), spec)["s"]
    lengths = [len(v) for v in values if v is not None]

    assert prof["nulls"] == values.count(None)
    assert prof["min_length"] == (min(lengths) if lengths else None)
    assert prof["max_length"] == (max(lengths) if lengths else None)


def test_temporal_min_and_max_are_iso_strings() -> None:
    spec = make_spec([{"name": "t", "type": "timestamp"}, {"name": "d", "type": "date"}])
    frame = pl.DataFrame(
        {
            "t": [datetime(2024, 1, 2, 3, tzinfo=UTC), None, datetime(2023, 5, 1, tzinfo=UTC)],
            "d": [date(2024, 1, 2), date(2024, 3, 1), None],
        }
    )
    prof = profile_frame(frame, spec)

    assert prof["t"]["min"] == datetime(2023, 5, 1, tzinfo=UTC).isoformat()
    assert prof["t"]["max"] == datetime(2024, 1, 2, 3, tzinfo=UTC).isoformat()
    assert (prof["d"]["min"], prof["d"]["max"]) == ("2024-01-02", "2024-03-01")
    assert prof["t"]["nulls"] == prof["d"]["nulls"] == 1


def test_empty_frame_profiles_counts_without_sketches() -> None:
    spec = make_spec([{"name": "i", "type": "integer"}, {"name": "c", "type": "category"}])
    frame = pl.DataFrame({"i": [], "c": []}, schema={"i": pl.Int64, "c": pl.String})
    prof = profile_frame(frame, spec)

    assert prof["i"]["count"] == 0 and prof["i"]["nulls"] == 0
    assert "sketch" not in prof["i"]
    assert prof["c"]["top"] == {
        "distinct": 0,
        "values": [],
        "counts": [],
        "other": 0,
        "exact": True,
        "error": 0,
        "capacity": 10_000,
    }


def test_fields_absent_from_the_frame_are_not_profiled() -> None:
    spec = make_spec([{"name": "i", "type": "integer"}, {"name": "gone", "type": "float"}])
    prof = profile_frame(pl.DataFrame({"i": [1, 2], "extra": [3, 4]}), spec)

    assert set(prof) == {"i"}


def test_nan_is_left_out_of_the_sketch() -> None:
    frame = pl.DataFrame({"i": [1, 2], "f": [1.0, float("nan")]})
    prof = profile_frame(frame, NUMERIC_SPEC)["f"]

    assert sketch.Sketch.from_json(prof["sketch"]).total == 1
    assert prof["nulls"] == 0


nan_floats = st.none() | st.floats(-1e6, 1e6, allow_infinity=False)  # NaN included


@SETTINGS
@given(values=st.lists(nan_floats, min_size=1, max_size=60))
def test_nan_is_counted_and_left_out_of_moments_and_sketch(values: list[float | None]) -> None:
    frame = pl.DataFrame(
        {"f": values, "i": [0] * len(values)}, schema={"f": pl.Float64, "i": pl.Int64}
    )
    prof = profile_frame(frame, NUMERIC_SPEC)["f"]

    present = [v for v in values if v is not None]
    nans = sum(1 for v in present if v != v)
    assert prof["nans"] == nans
    assert prof["nulls"] == len(values) - len(present)
    assert_moments(
        {**prof, "nulls": prof["nulls"] + nans}, [v for v in values if v == v], len(values)
    )


def test_integer_extremes_are_exact_beyond_float_precision() -> None:
    big = 2**62 + 1  # not representable as a float64
    frame = pl.DataFrame({"i": [big, -big, 3], "f": [0.0, 1.0, 2.0]})
    prof = profile_frame(frame, NUMERIC_SPEC)["i"]

    assert prof["min"] == -big and prof["max"] == big
    assert isinstance(prof["min"], int)


def test_infinity_is_sketched_and_makes_the_mean_infinite() -> None:
    frame = pl.DataFrame({"i": [1, 2, 3], "f": [1.0, float("inf"), 2.0]})
    prof = profile_frame(frame, NUMERIC_SPEC)["f"]

    assert prof["max"] == float("inf") and prof["min"] == 1.0
    assert prof["mean"] == float("inf")
    assert sketch.Sketch.from_json(prof["sketch"]).total == 3
    assert prof["nans"] == 0


@pytest.mark.parametrize("span", [50, 3_000, 10**12])
def test_integer_sketch_is_the_float_sketch_whether_counted_by_value_or_not(span: int) -> None:
    # Narrow ranges are counted per integer, wide ones through floats: same sketch either way.
    rng = np.random.default_rng(span)
    values = rng.integers(-span, span, 20_000)
    frame = pl.DataFrame({"i": values, "f": np.zeros(values.size)})
    prof = profile_frame(frame, NUMERIC_SPEC)["i"]

    assert prof["sketch"] == sketch.build(values.astype(np.float64)).to_json()
    assert prof["min"] == values.min() and prof["max"] == values.max()
    assert prof["std"] == pytest.approx(values.std(ddof=1), rel=1e-9)
