"""A mergeable log-bucket quantile sketch (DDSketch/HDR-style), built without sorting.

A float64's bit pattern, shifted right, is a bucket index whose width is a fixed fraction of the
value (2**-SUB_BITS relative, ~0.8%). Counting buckets is one `bincount`; sketches of different
batches merge by adding counts for equal keys, so monitors can compare any window against a
reference (PSI, KS) without re-reading raw rows. Keys decode back to values with `bucket_value`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUB_BITS = 7
SHIFT = 52 - SUB_BITS  # a float64's bits shifted right by this are its bucket key


@dataclass(frozen=True)
class Sketch:
    keys: np.ndarray  # int64 bucket keys, sorted by the value they stand for
    counts: np.ndarray  # int64 counts per key

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def to_json(self) -> dict[str, object]:
        return {
            "kind": "log_bucket",
            "sub_bits": SUB_BITS,
            "keys": self.keys.tolist(),
            "counts": self.counts.tolist(),
        }

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Sketch:
        if doc.get("sub_bits") != SUB_BITS:
            raise ValueError("sketch was built with another resolution")
        keys = np.asarray(doc["keys"], dtype=np.int64)
        return _ordered(keys, np.asarray(doc["counts"], dtype=np.int64))


def build(values: np.ndarray, scratch: np.ndarray | None = None) -> Sketch:
    """Sketch finite float64 values (callers drop nulls and NaN first).

    `scratch` is an int64 buffer at least as long as `values`, reused across columns: a fresh
    8 MB allocation per column costs more in page faults than the whole computation.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    if values.size == 0:
        return Sketch(np.empty(0, np.int64), np.empty(0, np.int64))
    if scratch is None or scratch.size < values.size:
        scratch = np.empty(values.size, dtype=np.int64)
    keys = scratch[: values.size]
    np.right_shift(values.view(np.int64), SHIFT, out=keys)
    lo = int(keys.min())
    np.subtract(keys, lo, out=keys)
    return from_counts(lo, np.bincount(keys))


def from_counts(key_low: int, counts: np.ndarray) -> Sketch:
    """The sketch of bucket counts indexed from `key_low` (what `build` computes)."""
    nz = np.flatnonzero(counts)
    return _ordered(nz.astype(np.int64) + key_low, counts[nz].astype(np.int64))


def from_counts_by_key(keys: np.ndarray, counts: np.ndarray) -> Sketch:
    """The sketch of distinct keys with their (non-zero) counts."""
    return _ordered(keys.astype(np.int64), counts.astype(np.int64))


def bucket_value(keys: np.ndarray) -> np.ndarray:
    """A representative value per bucket: the middle of its range."""
    low = (keys.astype(np.int64) << SHIFT).view(np.float64)
    return low * (1.0 + 2.0 ** -(SUB_BITS + 1))


def _ordered(keys: np.ndarray, counts: np.ndarray) -> Sketch:
    order = np.argsort(bucket_value(keys), kind="stable")
    return Sketch(keys[order], counts[order])


def merge(*sketches: Sketch) -> Sketch:
    keys = np.concatenate([s.keys for s in sketches]) if sketches else np.empty(0, np.int64)
    counts = np.concatenate([s.counts for s in sketches]) if sketches else np.empty(0, np.int64)
    if keys.size == 0:
        return Sketch(keys, counts)
    uniq, inverse = np.unique(keys, return_inverse=True)
    return _ordered(uniq, np.bincount(inverse, weights=counts).astype(np.int64))


def quantiles(sketch: Sketch, qs: np.ndarray) -> np.ndarray:
    """Approximate quantiles (relative error ~2**-SUB_BITS in value)."""
    if sketch.total == 0:
        return np.full(len(qs), np.nan)
    cum = np.cumsum(sketch.counts)
    ranks = np.clip(np.asarray(qs) * sketch.total, 1, sketch.total)
    idx = np.searchsorted(cum, ranks, side="left")
    return bucket_value(sketch.keys[np.minimum(idx, len(cum) - 1)])


def cdf(sketch: Sketch, points: np.ndarray) -> np.ndarray:
    """Share of values <= each point, by bucket representative."""
    if sketch.total == 0:
        return np.full(len(points), np.nan)
    cum = np.cumsum(sketch.counts) / sketch.total
    idx = np.searchsorted(bucket_value(sketch.keys), np.asarray(points), side="right")
    return np.where(idx == 0, 0.0, cum[np.maximum(idx - 1, 0)])
