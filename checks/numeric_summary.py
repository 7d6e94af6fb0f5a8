"""Moments and the quantile sketch of a numeric column, in two fused passes.

Polars computes each of min, max, mean and std as its own pass over the column, and numpy's
`bincount` (the sketch) holds the GIL, so 20 numeric columns of a 1M-row batch kept both cores
busy for ~45 ms. Here every pass is a compiled loop that releases the GIL (vectorized where
it can be), so a thread pool summarizes one column per core. Measured in docs/benchmarks.md.

The loops are in `checks.kernels` (numba): compiled on first use and cached on disk next to
it afterwards, imported only when a batch is profiled, never at API or CLI start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from checks import sketch


@dataclass(frozen=True)
class NumericSummary:
    """What the profile keeps of a numeric column's non-null values. NaN is counted, not
    summarized: the moments and the sketch are of the other values."""

    count: int
    nans: int
    min: Any
    max: Any
    mean: float | None
    std: float | None
    sketch: sketch.Sketch


# Integers whose range is at most this many values (and at most a few per row) are counted
# by value, then the counts are mapped to bucket keys; wider ranges convert to floats first.
_VALUE_COUNT_RANGE = 1 << 22


def summarize(values: np.ndarray) -> NumericSummary:
    """Summarize a contiguous int64 or float64 array without nulls (NaN allowed)."""
    k = _kernels()
    nans = 0
    if values.dtype.kind == "f" and values.size:
        has_nan, *moments = k.float_moments(values)
        if has_nan:
            is_nan = np.isnan(values)
            nans = int(is_nan.sum())
            values = values[~is_nan]
            if values.size:
                _, *moments = k.float_moments(values)
    if values.size == 0:
        empty = sketch.Sketch(np.empty(0, np.int64), np.empty(0, np.int64))
        return NumericSummary(0, nans, None, None, None, None, empty)
    if values.dtype.kind == "f":
        order_low, order_high, bits_low, bits_high, mean, m2 = moments
        low: Any = k.from_order(int(order_low))
        high: Any = k.from_order(int(order_high))
        counts = k.bucket_counts(
            values.view(np.int64), bits_low >> sketch.SHIFT, bits_high >> sketch.SHIFT, sketch.SHIFT
        )
        built = sketch.from_counts(int(bits_low >> sketch.SHIFT), counts)
    else:
        low, high, mean, m2 = k.int_moments(values)
        low, high = int(low), int(high)
        built = _integer_sketch(values, low, high, k)
    count = values.size
    if not (math.isfinite(low) and math.isfinite(high)):
        # An infinity: the blocked moments assume finite values; numpy's say inf/NaN.
        with np.errstate(invalid="ignore"):
            mean, m2 = float(np.mean(values)), float(np.var(values) * count)
    std = math.sqrt(max(m2, 0.0) / (count - 1)) if count > 1 else None
    return NumericSummary(count, nans, low, high, float(mean), std, built)


def _integer_sketch(values: np.ndarray, low: int, high: int, k: Any) -> sketch.Sketch:
    """Integers of a narrow range are counted by value, then the counts are mapped to keys;
    wide ranges go through floats (the sketch is defined on float64 values)."""
    if high - low < min(_VALUE_COUNT_RANGE, 4 * values.size):
        per_value = k.value_counts(values, low, high)
        present = np.flatnonzero(per_value)
        counts = per_value[present]
        keys = (present + low).astype(np.float64).view(np.int64) >> sketch.SHIFT
        # Keys fall as negative values rise and rise with the others: flip the negative run,
        # and the keys are sorted, so equal keys are neighbours and sum with one reduceat.
        negative = int(np.searchsorted(present, -low))  # values below zero come first
        keys = np.concatenate([keys[:negative][::-1], keys[negative:]])
        counts = np.concatenate([counts[:negative][::-1], counts[negative:]])
        starts = np.flatnonzero(np.diff(keys, prepend=keys[0] - 1))
        return sketch.from_counts_by_key(keys[starts], np.add.reduceat(counts, starts))
    bits = values.astype(np.float64).view(np.int64)
    key_low, key_high = int(bits.min()) >> sketch.SHIFT, int(bits.max()) >> sketch.SHIFT
    return sketch.from_counts(key_low, k.bucket_counts(bits, key_low, key_high, sketch.SHIFT))


@cache
def _kernels() -> Any:
    from checks import kernels

    return kernels
