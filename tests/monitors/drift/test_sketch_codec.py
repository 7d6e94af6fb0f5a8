"""The rollup table's sketch encoding: exact, compact, and strict about what it reads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from checks.sketch import Sketch, build, merge
from monitors.drift.sketch_codec import decode, encode

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(values=hnp.arrays(np.float64, st.integers(0, 400), elements=finite))
def test_decoding_gives_back_the_same_keys_and_counts_in_the_same_order(
    values: np.ndarray,
) -> None:
    sketch = build(values)
    back = decode(encode(sketch))
    assert back.keys.dtype == np.int64 and back.counts.dtype == np.int64
    np.testing.assert_array_equal(back.keys, sketch.keys)
    np.testing.assert_array_equal(back.counts, sketch.counts)


def test_a_bucket_takes_8_bytes_and_counts_past_int32_widen_to_int64() -> None:
    sketch = build(np.random.default_rng(1).lognormal(3, 0.6, 10_000))
    assert len(encode(sketch)) == 4 + 8 * sketch.keys.size
    huge = Sketch(np.array([-5, 7], np.int64), np.array([3, 2**40], np.int64))
    blob = encode(huge)
    assert len(blob) == 4 + 12 * 2
    back = decode(blob)
    assert back.counts.tolist() == [3, 2**40]
    assert back.keys.tolist() == [-5, 7]


def test_merging_decoded_sketches_equals_merging_the_originals() -> None:
    rng = np.random.default_rng(2)
    parts = [build(rng.normal(0, 5, 2_000)) for _ in range(5)]  # both signs
    direct = merge(*parts)
    via_bytes = merge(*(decode(encode(p)) for p in parts))
    np.testing.assert_array_equal(via_bytes.keys, direct.keys)
    np.testing.assert_array_equal(via_bytes.counts, direct.counts)


def test_an_empty_sketch_round_trips() -> None:
    empty = build(np.empty(0))
    assert decode(encode(empty)).total == 0


@pytest.mark.parametrize(
    "blob",
    [b"", b"LB", b"XX\x01\x04", b"LB\x02\x04", b"LB\x01\x05", b"LB\x01\x04\x00\x00\x00"],
)
def test_bytes_that_are_not_an_encoded_sketch_are_refused(blob: bytes) -> None:
    with pytest.raises(ValueError):
        decode(blob)


def test_keys_outside_int32_are_refused_rather_than_truncated() -> None:
    with pytest.raises(ValueError):
        encode(Sketch(np.array([2**40], np.int64), np.array([1], np.int64)))
