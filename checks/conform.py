"""Bring a raw batch to the contract's column types, recording what could not be converted.

Vectorized: every field is one polars expression; values that do not parse become null and
are flagged as `type` violations, so no row is lost and no row-level Python runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from contracts.polars_types import POLARS_TYPES
from contracts.spec import ContractSpec, FieldSpec, FieldType

_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]
_TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
)


@dataclass
class Conformed:
    """The batch in contract types, plus what did not fit."""

    frame: pl.DataFrame
    missing_required: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    type_failure_columns: list[str] = field(default_factory=list)  # `__type_fail__<name>` masks


def type_fail_column(name: str) -> str:
    return f"__type_fail__{name}"


def conform(raw: pl.DataFrame, spec: ContractSpec) -> Conformed:
    """Cast each contract field; add masks for values that failed to convert."""
    present = set(raw.columns)
    out = Conformed(frame=raw)
    exprs: list[pl.Expr] = []
    for f in spec.fields:
        if f.name not in present:
            (out.missing_required if f.required else out.missing_optional).append(f.name)
            exprs.append(pl.lit(None, dtype=POLARS_TYPES[f.type]).alias(f.name))
            continue
        converted, failed = _convert(f, raw.schema[f.name])
        exprs.append(converted.alias(f.name))
        if failed is not None:
            exprs.append(failed.alias(type_fail_column(f.name)))
            out.type_failure_columns.append(f.name)
    known = {f.name for f in spec.fields}
    out.extra_columns = [c for c in raw.columns if c not in known]
    out.frame = raw.with_columns(exprs) if exprs else raw
    return out


def _convert(f: FieldSpec, source: pl.DataType) -> tuple[pl.Expr, pl.Expr | None]:
    """Expression producing the converted column, and one flagging values that did not convert."""
    target = POLARS_TYPES[f.type]
    col = pl.col(f.name)
    if source == target:
        return col, None
    if f.type == FieldType.category and isinstance(source, pl.Categorical | pl.Enum):
        return col, None  # dictionary-encoded text is already a category: no copy
    if source == pl.Null:
        return col.cast(target), None
    if source.is_nested() or source in (pl.Binary, pl.Object):
        # Lists, structs and bytes never convert to a scalar contract type.
        return pl.lit(None, dtype=target), col.is_not_null()
    if f.type == FieldType.timestamp:
        converted = _to_timestamp(col, source)
    elif f.type == FieldType.date:
        converted = _to_date(col, source)
    elif f.type == FieldType.boolean and source == pl.String:
        lowered = col.str.strip_chars().str.to_lowercase()
        converted = pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False)
    elif f.type == FieldType.integer and source.is_float():
        # A float with a fraction is not an integer; casting would silently truncate it.
        converted = pl.when(col == col.round()).then(col).cast(pl.Int64, strict=False)
    elif f.type == FieldType.integer and source == pl.String:
        converted = col.str.strip_chars().cast(pl.Int64, strict=False)
    elif f.type == FieldType.float and source == pl.String:
        converted = col.str.strip_chars().cast(pl.Float64, strict=False)
    elif f.type == FieldType.string and isinstance(source, pl.Categorical | pl.Enum):
        return col.cast(pl.String), None
    else:
        converted = col.cast(target, strict=False)
    return converted, col.is_not_null() & converted.is_null()


def _to_timestamp(col: pl.Expr, source: pl.DataType) -> pl.Expr:
    if isinstance(source, pl.Datetime):
        if source.time_zone is None:
            return col.dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        return col.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if source == pl.Date:
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if source == pl.String:
        text = col.str.strip_chars()
        attempts = [
            text.str.to_datetime(fmt, time_zone="UTC", strict=False, time_unit="us")
            if "%#z" in fmt
            else text.str.to_datetime(fmt, strict=False, time_unit="us").dt.replace_time_zone("UTC")
            for fmt in _TIMESTAMP_FORMATS
        ]
        return pl.coalesce(attempts)
    return col.cast(pl.Datetime("us", "UTC"), strict=False)


def _to_date(col: pl.Expr, source: pl.DataType) -> pl.Expr:
    if isinstance(source, pl.Datetime):
        # The UTC day, as for timestamps (naive is UTC): not the day in the column's zone.
        return (col.dt.convert_time_zone("UTC") if source.time_zone else col).dt.date()
    if source == pl.String:
        return col.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    return col.cast(pl.Date, strict=False)
