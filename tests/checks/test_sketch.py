"""Property tests of the log-bucket quantile sketch against exact numpy answers.

The documented guarantee is a relative error of about 2**-SUB_BITS in value. A bucket holds
values within 2**-SUB_BITS of each other (relative), and its representative lies inside it, so
every decoded value is within REL of some value in its bucket. Quantile ranks are q * n, so
allow one rank of slack for float rounding of q * n. Subnormal floats are out of scope: their
buckets do not have relative width.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import sketch

REL = 2.0**-sketch.SUB_BITS
TINY = 1e-300  # absolute slack for values near zero

finite = {"allow_nan": False, "allow_infinity": False, "allow_subnormal": False, "width": 64}
positive = st.floats(min_value=1e-300, max_value=1e300, **finite)
negative = positive.map(lambda x: -x)
mixed = st.one_of(st.floats(min_value=-1e300, max_value=1e300, **finite), st.just(0.0))
# Clustered data: many values in few buckets, which is where rank slack and ties matter.
clustered = st.sampled_from([1.0, 1.001, 1.5, 2.0, -3.0, 0.0, 100.0, 100.5, -0.25])

datasets = st.one_of(
    st.lists(positive, min_size=1, max_size=300),
    st.lists(negative, min_size=1, max_size=300),
    st.lists(mixed, min_size=1, max_size=300),
    st.lists(clustered, min_size=1, max_size=300),
)
quantile_levels = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=20)

SETTINGS = settings(max_examples=150, deadline=None)


def close(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= REL * abs(exact) + TINY


@SETTINGS
@given(values=datasets, qs=quantile_levels)
def test_quantiles_are_within_the_documented_relative_error(
    values: list[float], qs: list[float]
) -> None:
    data = np.asarray(values, dtype=np.float64)
    ordered = np.sort(data)
    n = data.size
    est = sketch.quantiles(sketch.build(data), np.asarray(qs))

    assert est.shape == (len(qs),)
    for q, e in zip(qs, est, strict=True):
        exact = float(np.quantile(data, q, method="inverted_cdf"))
        k = min(max(math.ceil(q * n), 1), n)  # 1-based rank of the inverted-CDF quantile
        candidates = ordered[max(k - 2, 0) : min(k + 1, n)]  # one rank of slack each side
        assert any(close(float(e), float(c)) for c in candidates), (q, e, exact)


@SETTINGS
@given(values=datasets)
def test_quantiles_are_monotone_and_bracketed_by_the_data(values: list[float]) -> None:
    data = np.asarray(values, dtype=np.float64)
    qs = np.linspace(0.0, 1.0, 33)
    est = sketch.quantiles(sketch.build(data), qs)

    assert np.all(np.diff(est) >= 0)
    lo, hi = float(data.min()), float(data.max())
    assert close(float(est[0]), lo)
    assert close(float(est[-1]), hi)


def test_quantiles_of_known_data() -> None:
    data = np.arange(1, 1001, dtype=np.float64)
    est = sketch.quantiles(sketch.build(data), np.array([0.0, 0.25, 0.5, 0.99, 1.0]))

    for e, exact in zip(est, [1, 250, 500, 990, 1000], strict=True):
        assert close(float(e), exact)


@SETTINGS
@given(a=datasets, b=datasets)
def test_merge_of_two_sketches_equals_the_sketch_of_the_concatenation(
    a: list[float], b: list[float]
) -> None:
    sa, sb = sketch.build(np.asarray(a)), sketch.build(np.asarray(b))
    whole = sketch.build(np.asarray(a + b))

    for merged in (sketch.merge(sa, sb), sketch.merge(sb, sa)):
        np.testing.assert_array_equal(merged.keys, whole.keys)
        np.testing.assert_array_equal(merged.counts, whole.counts)
        assert merged.keys.dtype == np.int64
        assert merged.counts.dtype == np.int64
        assert merged.total == len(a) + len(b)


@SETTINGS
@given(parts=st.lists(st.lists(mixed, max_size=50), min_size=1, max_size=6))
def test_merging_many_batches_is_the_sketch_of_all_rows(parts: list[list[float]]) -> None:
    whole = sketch.build(np.asarray([x for p in parts for x in p], dtype=np.float64))
    merged = sketch.merge(*[sketch.build(np.asarray(p, dtype=np.float64)) for p in parts])

    np.testing.assert_array_equal(merged.keys, whole.keys)
    np.testing.assert_array_equal(merged.counts, whole.counts)


def ecdf(ordered: np.ndarray, x: float) -> float:
    return float(np.searchsorted(ordered, x, side="right")) / ordered.size


@SETTINGS
@given(values=datasets, extra=st.lists(mixed, max_size=10))
def test_cdf_agrees_with_the_empirical_cdf_within_one_bucket(
    values: list[float], extra: list[float]
) -> None:
    data = np.asarray(values, dtype=np.float64)
    ordered = np.sort(data)
    points = np.asarray(values[:20] + extra, dtype=np.float64)
    got = sketch.cdf(sketch.build(data), points)

    for p, c in zip(points, got, strict=True):
        slack = REL * abs(p) + TINY
        # Values at least a bucket below p are counted; values a bucket above are not.
        assert ecdf(ordered, p - slack) <= c <= ecdf(ordered, p + slack), (p, c)
    assert np.all((got >= 0) & (got <= 1))


@SETTINGS
@given(values=datasets)
def test_cdf_is_monotone_and_spans_zero_to_one(values: list[float]) -> None:
    data = np.asarray(values, dtype=np.float64)
    s = sketch.build(data)
    points = np.sort(np.concatenate([data, [-np.inf, np.inf]]))
    got = sketch.cdf(s, points)

    assert np.all(np.diff(got) >= 0)
    assert got[0] == 0.0
    assert got[-1] == 1.0


def test_cdf_of_known_data_is_close_to_the_empirical_cdf() -> None:
    rng = np.random.default_rng(7)
    data = rng.lognormal(0.0, 2.0, 5000)
    ordered = np.sort(data)
    points = np.quantile(data, np.linspace(0.05, 0.95, 19))
    got = sketch.cdf(sketch.build(data), points)
    exact = np.array([ecdf(ordered, p) for p in points])

    assert np.max(np.abs(got - exact)) < 0.01


def test_empty_input_is_an_empty_sketch() -> None:
    empty = sketch.build(np.array([], dtype=np.float64))

    assert empty.total == 0
    assert empty.keys.size == 0 and empty.counts.size == 0
    assert np.isnan(sketch.quantiles(empty, np.array([0.0, 0.5, 1.0]))).all()
    assert np.isnan(sketch.cdf(empty, np.array([1.0, 2.0]))).all()
    assert sketch.quantiles(empty, np.array([0.5])).shape == (1,)
    assert sketch.merge().total == 0
    assert sketch.merge(empty, empty).total == 0


@SETTINGS
@given(values=datasets)
def test_merging_with_an_empty_sketch_changes_nothing(values: list[float]) -> None:
    s = sketch.build(np.asarray(values))
    empty = sketch.build(np.array([]))
    merged = sketch.merge(empty, s, empty)

    np.testing.assert_array_equal(merged.keys, s.keys)
    np.testing.assert_array_equal(merged.counts, s.counts)


@SETTINGS
@given(values=st.one_of(st.just([]), datasets))
def test_json_round_trip_keeps_keys_and_counts(values: list[float]) -> None:
    s = sketch.build(np.asarray(values, dtype=np.float64))
    doc = json.loads(json.dumps(s.to_json()))  # survives a real JSON encoding
    back = sketch.Sketch.from_json(doc)

    assert doc["kind"] == "log_bucket"
    assert doc["sub_bits"] == sketch.SUB_BITS
    np.testing.assert_array_equal(back.keys, s.keys)
    np.testing.assert_array_equal(back.counts, s.counts)
    assert back.total == len(values)
    qs = np.linspace(0, 1, 11)
    np.testing.assert_array_equal(sketch.quantiles(back, qs), sketch.quantiles(s, qs))


def test_from_json_refuses_another_resolution() -> None:
    doc = sketch.build(np.array([1.0, 2.0])).to_json()
    doc["sub_bits"] = sketch.SUB_BITS + 1

    with pytest.raises(ValueError, match="resolution"):
        sketch.Sketch.from_json(doc)


@SETTINGS
@given(values=datasets)
def test_a_reused_scratch_buffer_gives_the_same_sketch(values: list[float]) -> None:
    data = np.asarray(values, dtype=np.float64)
    fresh = sketch.build(data)
    big = np.full(data.size + 5, 123, dtype=np.int64)
    small = np.empty(max(data.size - 1, 0), dtype=np.int64)

    for scratch in (big, small):
        s = sketch.build(data, scratch)
        np.testing.assert_array_equal(s.keys, fresh.keys)
        np.testing.assert_array_equal(s.counts, fresh.counts)


def test_keys_are_ordered_by_the_value_they_stand_for() -> None:
    s = sketch.build(np.array([-100.0, -1.0, -0.5, 0.0, 0.5, 1.0, 100.0]))

    values = sketch.bucket_value(s.keys)
    assert np.all(np.diff(values) > 0)
    assert s.counts.tolist() == [1] * 7
