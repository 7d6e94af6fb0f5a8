"""Builders for test data: contracts and batches that tests tweak rather than spell out."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime
from typing import Any

import polars as pl

BASE_CONTRACT: dict[str, Any] = {
    "id": "orders",
    "version": "1.0.0",
    "owner": "data-platform",
    "description": "Orders placed in the shop.",
    "dataset": {"namespace": "shop", "name": "orders"},
    "fields": [
        {
            "name": "order_id",
            "type": "string",
            "required": True,
            "unique": True,
            "pattern": "^o[0-9]+$",
        },
        {"name": "amount", "type": "float", "required": True, "min": 0, "max": 1000},
        {"name": "quantity", "type": "integer", "min": 1, "max": 100},
        {"name": "status", "type": "category", "allowed_values": ["new", "paid", "shipped"]},
        {"name": "placed_at", "type": "timestamp", "required": True},
    ],
    "dataset_rules": [{"kind": "row_count", "min": 1, "max": 100000}],
    "freshness": {"field": "placed_at", "max_lag": "PT2H", "cadence": "PT1H"},
}


def contract(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE_CONTRACT)
    doc.update(changes)
    return doc


def orders(
    n: int = 10, *, placed_at: datetime | None = None, **overrides: list[Any]
) -> pl.DataFrame:
    moment = placed_at or datetime.now(UTC)
    cols: dict[str, list[Any]] = {
        "order_id": [f"o{i}" for i in range(n)],
        "amount": [10.0 + i for i in range(n)],
        "quantity": [1 + i % 5 for i in range(n)],
        "status": [["new", "paid", "shipped"][i % 3] for i in range(n)],
        "placed_at": [moment] * n,
    }
    cols.update(overrides)
    return pl.DataFrame(cols)


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def csv_bytes(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode()


def ndjson_bytes(frame: pl.DataFrame) -> bytes:
    return frame.write_ndjson().encode()
