"""Time-based train/validation/test split with purge gaps, so no label comes from the future.

An impression's label is only final once its attribution window has passed. Each split
therefore ends one window before the next one starts: every training label is known before
the first validation impression is shown, and every validation label before the first test
impression. Pure logic, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from core.errors import InvalidInput

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitPlan:
    """Half-open event-time ranges of each split, and the moment labels are read as of."""

    train: tuple[datetime, datetime]
    val: tuple[datetime, datetime]
    test: tuple[datetime, datetime]
    as_of: datetime
    attribution: timedelta

    def ranges(self) -> dict[str, tuple[datetime, datetime]]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def to_json(self) -> dict[str, object]:
        return {
            **{k: [a.isoformat(), b.isoformat()] for k, (a, b) in self.ranges().items()},
            "as_of": self.as_of.isoformat(),
            "attribution_hours": self.attribution.total_seconds() / 3600,
        }


def plan_splits(
    start: datetime,
    end: datetime,
    *,
    attribution: timedelta,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> SplitPlan:
    """Share the usable time of [start, end) between the splits by `fractions`, after leaving
    one attribution window after each split (the last one so test labels are final at `end`)."""
    usable = (end - start) - 3 * attribution
    if usable <= timedelta(0):
        raise InvalidInput(
            f"the window {start.isoformat()}..{end.isoformat()} is too short: it must be longer "
            f"than three attribution windows ({3 * attribution})",
            field="from",
            rule="window_long_enough",
        )
    train_end = start + usable * fractions[0]
    val_start = train_end + attribution
    val_end = val_start + usable * fractions[1]
    test_start = val_end + attribution
    return SplitPlan(
        train=(start, train_end),
        val=(val_start, val_end),
        test=(test_start, end - attribution),
        as_of=end,
        attribution=attribution,
    )


def split_column(event_time: pl.Expr, plan: SplitPlan) -> pl.Expr:
    """`train`, `val`, `test`, or null for impressions in a purge gap."""
    expr = pl.lit(None, dtype=pl.String)
    for name, (a, b) in reversed(plan.ranges().items()):
        expr = (
            pl.when(event_time.is_between(a, b, closed="left")).then(pl.lit(name)).otherwise(expr)
        )
    return expr.alias("split")
