"""The polars dtype each contract field type holds once a batch conforms to the contract.

Contracts own this mapping so both the checks engine and the pandera export read one table.
"""

from __future__ import annotations

import polars as pl

from contracts.spec import FieldType

POLARS_TYPES: dict[FieldType, pl.DataType] = {
    FieldType.string: pl.String(),
    FieldType.category: pl.String(),
    FieldType.integer: pl.Int64(),
    FieldType.float: pl.Float64(),
    FieldType.boolean: pl.Boolean(),
    FieldType.timestamp: pl.Datetime("us", "UTC"),
    FieldType.date: pl.Date(),
}
