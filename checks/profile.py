"""Per-column batch profiles, computed in one parallel polars pass plus a sketch per number.

Profiles are what monitors compare later (PSI/KS against a reference) without re-reading rows:
counts and moments for every column, a mergeable quantile sketch for numbers, and top-k values
with counts for categoricals.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl

from checks import sketch
from contracts.spec import ContractSpec, FieldType

TOP_K = 20
# Two threads measured fastest on this 2-core machine; more only add contention.
SKETCH_THREADS = 2


def profile_frame(frame: pl.DataFrame, spec: ContractSpec) -> dict[str, dict[str, Any]]:
    """Profile every contract field of an already-conformed frame."""
    n = frame.height
    fields = [f for f in spec.fields if f.name in frame.columns]
    stats = _moments(frame, fields)
    numeric = [f.name for f in fields if f.type in (FieldType.integer, FieldType.float)]
    sketches = _sketches(frame, numeric, stats) if n else {}
    profiles: dict[str, dict[str, Any]] = {}
    for f in fields:
        s = stats[f.name]
        nans = s.pop("nans", 0)
        prof: dict[str, Any] = {"type": f.type.value, "count": n, **s}
        if f.type == FieldType.float:
            prof["nans"] = nans
        if f.name in sketches:
            prof["sketch"] = sketches[f.name]
        elif f.type in (FieldType.category, FieldType.boolean):
            prof["top"] = _top_values(frame.get_column(f.name))
        profiles[f.name] = prof
    return profiles


def _sketches(
    frame: pl.DataFrame, names: list[str], stats: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """One sketch per numeric column, on a small thread pool (numpy releases the GIL)."""
    local = threading.local()

    def one(name: str) -> tuple[str, dict[str, Any]]:
        column = frame.get_column(name)
        if stats[name]["nulls"] or stats[name].get("nans"):
            column = column.cast(pl.Float64).drop_nulls().drop_nans()
        if column.dtype == pl.Float64:
            values = column.to_numpy()  # zero-copy without nulls
        else:
            # Integers go through a per-thread float buffer: a fresh 8 MB array per column
            # costs more in page faults than the sketch itself.
            buf = getattr(local, "floats", None)
            if buf is None or buf.size < column.len():
                buf = local.floats = np.empty(column.len(), dtype=np.float64)
            values = buf[: column.len()]
            np.copyto(values, column.to_numpy(), casting="unsafe")
        scratch = getattr(local, "keys", None)
        if scratch is None or scratch.size < values.size:
            scratch = local.keys = np.empty(values.size, dtype=np.int64)
        return name, sketch.build(values, scratch).to_json()

    if len(names) < 2:
        return dict(map(one, names))
    with ThreadPoolExecutor(max_workers=SKETCH_THREADS) as pool:
        return dict(pool.map(one, names))


def _moments(frame: pl.DataFrame, fields: list[Any]) -> dict[str, dict[str, Any]]:
    exprs: list[pl.Expr] = []
    for f in fields:
        c = pl.col(f.name)
        exprs.append(c.null_count().alias(f"{f.name}\x1fnulls"))
        if f.type in (FieldType.integer, FieldType.float):
            num = c  # no cast: eager selects do not share a cast between expressions
            exprs += [
                num.min().alias(f"{f.name}\x1fmin"),
                num.max().alias(f"{f.name}\x1fmax"),
                num.mean().alias(f"{f.name}\x1fmean"),
                num.std().alias(f"{f.name}\x1fstd"),
            ]
            if f.type == FieldType.float:
                exprs.append(c.is_nan().sum().alias(f"{f.name}\x1fnans"))
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
    # group_by().len() is ~2x faster than value_counts on string columns (measured, 1M rows).
    counts = (
        column.drop_nulls()
        .to_frame()
        .group_by(column.name)
        .len(name="n")
        .sort(["n", column.name], descending=[True, False])
    )
    head = counts.head(TOP_K)
    values = head.get_column(column.name).to_list()
    return {
        "distinct": counts.height,
        "values": [str(v) for v in values],
        "counts": head.get_column("n").to_list(),
        "other": int(counts.get_column("n").sum()) - int(head.get_column("n").sum()),
    }
