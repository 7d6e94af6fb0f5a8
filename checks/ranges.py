"""Numeric min/max rules decided by a compiled pass per column, without building masks.

Most range rules pass on most batches. A polars mask per rule costs a pass per bound and
a pass per extreme (the observed value); `kernels.float_range`/`int_range` count the rows
below and above both bounds and find both extremes in one pass per column, off the GIL, on a
thread pool while polars evaluates the other rules. Only rules that fail get a mask after all
(for examples, quarantine and reasons).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from checks.rules import RowRule

THREADS = 2
_INT64 = (-(2**63), 2**63 - 1)


@dataclass
class RangeDecisions:
    """Failing counts and observed extremes of the rules decided here, by rule id."""

    counts: dict[str, int] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Column:
    name: str
    low: RowRule | None = None
    high: RowRule | None = None


def start(frame: pl.DataFrame, rules: list[RowRule]) -> Callable[[], RangeDecisions]:
    """Start deciding the numeric range rules of `rules`; call the result for the decisions.

    Rules this cannot decide (temporal columns, bounds outside int64 for an integer column)
    are left out of the decisions: the caller evaluates them like any other rule.
    """
    columns: dict[str, _Column] = {}
    for r in rules:
        if r.kind in ("min", "max") and r.field and _fits(frame, r):
            column = columns.setdefault(r.field, _Column(r.field))
            if r.kind == "min":
                column.low = r
            else:
                column.high = r
    if not columns:
        return lambda: RangeDecisions()
    pool = ThreadPoolExecutor(max_workers=THREADS)
    futures: list[tuple[_Column, Future[tuple[int, int, Any, Any]]]] = [
        (c, pool.submit(_decide, frame.get_column(c.name), c)) for c in columns.values()
    ]
    pool.shutdown(wait=False)

    def decisions() -> RangeDecisions:
        out = RangeDecisions()
        for column, future in futures:
            below, above, smallest, largest = future.result()
            if column.low is not None:
                out.counts[column.low.id] = below
                out.observed[column.low.id] = smallest
            if column.high is not None:
                out.counts[column.high.id] = above
                out.observed[column.high.id] = largest
        return out

    return decisions


def _fits(frame: pl.DataFrame, r: RowRule) -> bool:
    dtype = frame.schema.get(r.field)  # type: ignore[arg-type]
    bound = r.bound
    if dtype == pl.Float64:
        return isinstance(bound, int | float)
    if dtype == pl.Int64:
        return isinstance(bound, float) or (
            isinstance(bound, int) and _INT64[0] <= bound <= _INT64[1]
        )
    return False


def _decide(series: pl.Series, column: _Column) -> tuple[int, int, Any, Any]:
    """(rows below the min, rows above the max, min, max); nulls pass and are not extremes."""
    from checks import kernels

    if series.null_count():
        series = series.drop_nulls()
    if series.len() == 0:
        return 0, 0, None, None
    values = series.to_numpy()
    if values.dtype == np.float64:
        low = float(column.low.bound) if column.low else -np.inf
        high = float(column.high.bound) if column.high else np.inf
        below, above, nans, order_low, order_high = kernels.float_range(values, low, high)
        if column.high is not None:
            above += nans  # polars orders NaN above every number
        if order_low > order_high:  # only NaN: polars' min/max say NaN
            return int(below), int(above), float("nan"), float("nan")
        smallest = kernels.from_order(int(order_low))
        largest = kernels.from_order(int(order_high))
        return int(below), int(above), smallest, largest
    low_bound = column.low.bound if column.low else _INT64[0]
    high_bound = column.high.bound if column.high else _INT64[1]
    below, above, smallest, largest = kernels.int_range(values, low_bound, high_bound)
    return int(below), int(above), int(smallest), int(largest)
