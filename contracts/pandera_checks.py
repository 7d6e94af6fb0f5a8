"""The pandera checks a driftgate contract needs beyond pandera's built-ins, registered by name.

pandera serializes a schema (`to_yaml`/`to_json`) only with built-in or registered checks; a
lambda is dropped with a warning. Registered checks are written as their name and keyword
statistics, and `DataFrameSchema.from_yaml` finds them again once `register()` has run in the
loading process. This module needs only pandas, polars and pandera, so it can be copied next to
an exported schema.

Semantics follow the driftgate engine: `unique` and `unique_key` are SQL UNIQUE (a null is
never a duplicate), `pattern` is an unanchored search, expressions are polars SQL where a null
result passes (SQL CHECK), tolerances count non-null values only.
"""

from __future__ import annotations

from typing import Any

PREFIX = "driftgate_"
_registered = False


def register() -> None:
    """Register every driftgate check with pandera (idempotent)."""
    global _registered
    if _registered:
        return
    import pandas as pd
    from pandera.api.extensions import register_check_method

    series, frame = pd.Series, pd.DataFrame

    @register_check_method(statistics=["min_length"], supported_types=series)
    def driftgate_min_length(s: pd.Series, *, min_length: int) -> pd.Series:
        return s.isna() | (s.astype("string").str.len() >= min_length)

    @register_check_method(statistics=["max_length"], supported_types=series)
    def driftgate_max_length(s: pd.Series, *, max_length: int) -> pd.Series:
        return s.isna() | (s.astype("string").str.len() <= max_length)

    @register_check_method(statistics=["nulls_distinct"], supported_types=series)
    def driftgate_unique(s: pd.Series, *, nulls_distinct: bool = True) -> pd.Series:
        return ~(s.duplicated(keep=False) & s.notna()) if nulls_distinct else ~s.duplicated(False)

    @register_check_method(statistics=["min_rows", "max_rows"], supported_types=frame)
    def driftgate_row_count(df: pd.DataFrame, *, min_rows: Any, max_rows: Any) -> bool:
        return (min_rows is None or len(df) >= min_rows) and (
            max_rows is None or len(df) <= max_rows
        )

    @register_check_method(statistics=["column", "max_share"], supported_types=frame)
    def driftgate_null_fraction(df: pd.DataFrame, *, column: str, max_share: float) -> bool:
        return len(df) == 0 or int(df[column].isna().sum()) / len(df) <= max_share

    @register_check_method(statistics=["columns"], supported_types=frame)
    def driftgate_unique_key(df: pd.DataFrame, *, columns: list[str]) -> pd.Series:
        complete = df[columns].notna().all(axis=1)
        return ~(df.duplicated(subset=columns, keep=False) & complete)

    @register_check_method(statistics=["sql"], supported_types=frame)
    def driftgate_expression(df: pd.DataFrame, *, sql: str) -> pd.Series:
        """polars SQL, as the engine runs it; pandas' `eval` speaks another dialect."""
        import polars as pl

        expr = pl.sql_expr(sql)
        names = list(dict.fromkeys(expr.meta.root_names()))
        ok = pl.from_pandas(df[names]).select(expr.fill_null(True)).to_series()
        return pd.Series(ok.to_numpy(), index=df.index, dtype=bool)

    @register_check_method(
        statistics=["column", "allowed_values", "pattern", "max_share", "max_rows"],
        supported_types=frame,
    )
    def driftgate_invalid_fraction(
        df: pd.DataFrame,
        *,
        column: str,
        allowed_values: list[Any] | None,
        pattern: str | None,
        max_share: float | None,
        max_rows: int | None,
    ) -> bool:
        s = df[column]
        bad = pd.Series(False, index=s.index)
        if allowed_values is not None:
            bad |= ~s.isin(allowed_values)
        if pattern is not None:
            bad |= ~s.astype("string").str.contains(pattern, regex=True).fillna(True).astype(bool)
        invalid = int((bad & s.notna()).sum())
        if max_share is not None:
            return len(df) == 0 or invalid / len(df) <= max_share
        return invalid <= (max_rows or 0)

    _registered = True
