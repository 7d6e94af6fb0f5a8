"""Compiled loops for the numeric profile (numba; imported only when a batch is profiled).

Every function releases the GIL, so a thread pool profiles one column per core. Two rules keep
them fast (each measured on 1M-row columns, see docs/benchmarks.md):

- Loops run over `range(array.size)` of contiguous slices: with an index that might be
  negative, numba checks for wraparound on every access and nothing vectorizes (5x slower).
- The moments are computed block by block (blocks of `BLOCK` values stay in the L2 cache), so
  a column is read from memory once for the moments and once for the sketch, not once per
  statistic. Blocks are combined with Chan et al.'s pairwise update.

The float loops use reassociation (vectorized partial sums) and are only called on NaN-free
data; NaN is looked for first, without fast-math.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BLOCK = 1 << 14
_FAST = {"nnan", "nsz", "reassoc", "contract"}
_ABS = np.int64(0x7FFFFFFFFFFFFFFF)
_INT_MAX = np.int64(0x7FFFFFFFFFFFFFFF)
_POS_INF_ORDER = np.int64(0x7FF0000000000000)  # the order key of +inf
_NEG_INF_ORDER = np.int64(-0x7FF0000000000001)  # of -inf (bits 0xFFF0... with magnitude flipped)


@njit(nogil=True, cache=True)
def _has_nan(values):
    n = 0
    for i in range(values.size):
        n += values[i] != values[i]
    return n > 0


@njit(nogil=True, cache=True, fastmath=_FAST)
def _float_block(values, bits):
    # Floats compare like their bits once negative ones have their magnitude bits flipped:
    # integer min/max vectorizes, float min/max does not.
    order_low = _INT_MAX
    order_high = -_INT_MAX - 1
    bits_low = _INT_MAX
    bits_high = -_INT_MAX - 1
    total = 0.0
    for i in range(values.size):
        b = bits[i]
        o = (b ^ _ABS) if b < 0 else b
        order_low = o if o < order_low else order_low
        order_high = o if o > order_high else order_high
        bits_low = b if b < bits_low else bits_low
        bits_high = b if b > bits_high else bits_high
        total += values[i]
    mean, m2 = _deviations(values, total / values.size)
    return order_low, order_high, bits_low, bits_high, mean, m2


@njit(nogil=True, cache=True, fastmath=_FAST)
def _int_block(values):
    low = values[0]
    high = values[0]
    total = 0.0
    for i in range(values.size):
        x = values[i]
        low = x if x < low else low
        high = x if x > high else high
        total += np.float64(x)
    mean, m2 = _deviations(values, total / values.size)
    return low, high, mean, m2


@njit(nogil=True, cache=True, fastmath=_FAST)
def _deviations(values, mean):
    """The block's mean and sum of squared deviations, by the corrected two-pass algorithm."""
    drift = 0.0
    squares = 0.0
    for i in range(values.size):
        d = np.float64(values[i]) - mean
        drift += d
        squares += d * d
    n = values.size
    return mean + drift / n, squares - drift * drift / n


@njit(nogil=True, cache=True)
def _combine(count, mean, m2, k, block_mean, block_m2):
    total = count + k
    delta = block_mean - mean
    return total, mean + delta * k / total, m2 + block_m2 + delta * delta * count * k / total


@njit(nogil=True, cache=True)
def float_moments(values):
    """(has NaN, order low, order high, bits low, bits high, mean, m2) of a non-empty array.

    With a NaN the other fields are meaningless: the caller drops NaN and calls again.
    `order_*` decode to the extremes with `from_order`; `bits_*` bound the sketch's keys.
    """
    bits = values.view(np.int64)
    order_low = _INT_MAX
    order_high = -_INT_MAX - 1
    bits_low = _INT_MAX
    bits_high = -_INT_MAX - 1
    count = 0
    mean = 0.0
    m2 = 0.0
    for start in range(0, values.size, BLOCK):
        block = values[start : start + BLOCK]
        if _has_nan(block):
            return True, 0, 0, 0, 0, 0.0, 0.0
        o_low, o_high, b_low, b_high, b_mean, b_m2 = _float_block(
            block, bits[start : start + BLOCK]
        )
        order_low = min(order_low, o_low)
        order_high = max(order_high, o_high)
        bits_low = min(bits_low, b_low)
        bits_high = max(bits_high, b_high)
        count, mean, m2 = _combine(count, mean, m2, block.size, b_mean, b_m2)
    return False, order_low, order_high, bits_low, bits_high, mean, m2


@njit(nogil=True, cache=True)
def int_moments(values):
    """(low, high, mean, m2) of a non-empty integer array."""
    low = values[0]
    high = values[0]
    count = 0
    mean = 0.0
    m2 = 0.0
    for start in range(0, values.size, BLOCK):
        block = values[start : start + BLOCK]
        b_low, b_high, b_mean, b_m2 = _int_block(block)
        low = min(low, b_low)
        high = max(high, b_high)
        count, mean, m2 = _combine(count, mean, m2, block.size, b_mean, b_m2)
    return low, high, mean, m2


def from_order(order: int) -> float:
    """The float whose order key (see `_float_block`) this is."""
    bits = order ^ 0x7FFFFFFFFFFFFFFF if order < 0 else order
    return float(np.array([bits], dtype=np.int64).view(np.float64)[0])


@njit(nogil=True, cache=True)
def bucket_counts(bits, low, high, shift):
    """Counts of the keys `bits >> shift`, which lie in [low, high], from `low` up.

    Four tables fed from four quarters of the array, so that runs of equal keys do not wait
    on each other's increments."""
    counts = np.zeros((4, high - low + 1), np.int64)
    c0, c1, c2, c3 = counts[0], counts[1], counts[2], counts[3]
    q = bits.size // 4
    b0, b1, b2, b3 = bits[:q], bits[q : 2 * q], bits[2 * q : 3 * q], bits[3 * q : 4 * q]
    for j in range(q):
        c0[(b0[j] >> shift) - low] += 1
        c1[(b1[j] >> shift) - low] += 1
        c2[(b2[j] >> shift) - low] += 1
        c3[(b3[j] >> shift) - low] += 1
    rest = bits[4 * q :]
    for j in range(rest.size):
        c0[(rest[j] >> shift) - low] += 1
    return c0 + c1 + c2 + c3


@njit(nogil=True, cache=True)
def value_counts(values, low, high):
    """Counts of each integer in [low, high], four tables as in `bucket_counts`."""
    counts = np.zeros((4, high - low + 1), np.int64)
    c0, c1, c2, c3 = counts[0], counts[1], counts[2], counts[3]
    q = values.size // 4
    v0, v1 = values[:q], values[q : 2 * q]
    v2, v3 = values[2 * q : 3 * q], values[3 * q : 4 * q]
    for j in range(q):
        c0[v0[j] - low] += 1
        c1[v1[j] - low] += 1
        c2[v2[j] - low] += 1
        c3[v3[j] - low] += 1
    rest = values[4 * q :]
    for j in range(rest.size):
        c0[rest[j] - low] += 1
    return c0 + c1 + c2 + c3


@njit(nogil=True, cache=True)
def float_range(values, low, high):
    """(values < low, values > high, NaN count, order key of the min, of the max).

    NaN is never below `low`; callers count it above (polars orders NaN above every number)
    and leave it out of the extremes (as polars' min/max do): NaN's order keys lie beyond
    those of the infinities, so clamping to them drops NaN without a branch. With no non-NaN
    value the min key stays above the max key."""
    bits = values.view(np.int64)
    below = 0
    above = 0
    nans = 0
    order_low = _INT_MAX
    order_high = -_INT_MAX - 1
    for i in range(values.size):
        x = values[i]
        b = bits[i]
        below += x < low
        above += x > high
        nans += x != x
        o = (b ^ _ABS) if b < 0 else b
        for_low = o if o >= _NEG_INF_ORDER else _INT_MAX
        for_high = o if o <= _POS_INF_ORDER else -_INT_MAX - 1
        order_low = for_low if for_low < order_low else order_low
        order_high = for_high if for_high > order_high else order_high
    return below, above, nans, order_low, order_high


@njit(nogil=True, cache=True)
def int_range(values, low, high):
    """(values < low, values > high, min, max) of a non-empty integer array."""
    below = 0
    above = 0
    smallest = values[0]
    largest = values[0]
    for i in range(values.size):
        x = values[i]
        below += x < low
        above += x > high
        smallest = x if x < smallest else smallest
        largest = x if x > largest else largest
    return below, above, smallest, largest
