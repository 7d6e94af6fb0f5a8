"""Per-column batch profiles, computed in one parallel polars pass plus a sketch per number.

Profiles are what monitors compare later (PSI/KS against a reference) without re-reading rows:
counts and moments for every column, a mergeable quantile sketch for numbers, and top-k values
with counts for categoricals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from checks import sketch
from contracts.spec import ContractSpec, FieldType

TOP_K = 20


def profile_frame(frame: pl.DataFrame, spec: ContractSpec) -> dict[str, dict[str, Any]]:
    """Profile every contract field of an already-conformed frame."""
    n = frame.height
    fields = [f for f in spec.fields if f.name in frame.columns]
    stats = _moments(frame, fields)
    scratch = np.empty(n, dtype=np.int64) if n else None
    profiles: dict[str, dict[str, Any]] = {}
    for f in fields:
        s = stats[f.name]
        prof: dict[str, Any] = {"type": f.type.value, "count": n, **s}
        if f.type in (FieldType.integer, FieldType.float) and n:
            values = frame.get_column(f.name).cast(pl.Float64).drop_nulls().drop_nans()
            prof["sketch"] = sketch.build(values.to_numpy(), scratch).to_json()
        elif f.type in (FieldType.category, FieldType.boolean):
            prof["top"] = _top_values(frame.get_column(f.name))
        profiles[f.name] = prof
    return profiles


def _moments(frame: pl.DataFrame, fields: list[Any]) -> dict[str, dict[str, Any]]:
    exprs: list[pl.Expr] = []
    for f in fields:
        c = pl.col(f.name)
        exprs.append(c.null_count().alias(f"{f.name}\x1fnulls"))
        if f.type in (FieldType.integer, FieldType.float):
            num = c.cast(pl.Float64)
            exprs += [
                num.min().alias(f"{f.name}\x1fmin"),
                num.max().alias(f"{f.name}\x1fmax"),
                num.mean().alias(f"{f.name}\x1fmean"),
                num.std().alias(f"{f.name}\x1fstd"),
            ]
        elif f.type in (FieldType.timestamp, FieldType.date):
            exprs += [c.min().alias(f"{f.name}\x1fmin"), c.max().alias(f"{f.name}\x1fmax")]
        elif f.type == FieldType.string:
            length = c.str.len_chars()
            exprs += [
                length.min().alias(f"{f.name}\x1fmin_length"),
                length.max().alias(f"{f.name}\x1fmax_length"),
            ]
    row = frame.select(exprs).row(0, named=True) if exprs else {}
    out: dict[str, dict[str, Any]] = {f.name: {} for f in fields}
    for key, value in row.items():
        name, stat = key.split("\x1f")
        out[name][stat] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def _top_values(column: pl.Series) -> dict[str, Any]:
    counts = column.drop_nulls().value_counts(sort=True, name="n")
    head = counts.head(TOP_K)
    values = head.get_column(column.name).to_list()
    return {
        "distinct": counts.height,
        "values": [str(v) for v in values],
        "counts": head.get_column("n").to_list(),
        "other": int(counts.get_column("n").sum()) - int(head.get_column("n").sum()),
    }
