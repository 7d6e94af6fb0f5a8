"""Load a batch for the exported GX suite: the frame `pd.read_csv`/`read_json`/`read_parquet`
gives, brought to the contract's types the way driftgate converts it.

GX checks values as they are in the frame. A CSV or JSON batch read by pandas holds
timestamps and dates as text, and `expect_column_values_to_be_between` with a datetime bound
raises on a text column; Parquet dates arrive as `datetime.date` objects, which pandas cannot
compare with a datetime either. driftgate converts every column to the contract type before
it judges a value, so the suite's verdicts only mean the same on a converted frame.

`typed_frame(df, suite)` does that conversion with pandas alone, reading the column types from
the suite's `meta.driftgate.columns`. It depends on nothing else in driftgate on purpose: the
file can be copied next to a GX checkpoint. A value that does not convert becomes null, as in
driftgate (where it is a `<field>.type` violation; GX has no such rule and, if the field is
required, reports it under `required`).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

# driftgate's boolean spellings (checks/conform.py), compared after strip + lowercase
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_OFFSET = r"(?:Z|z|[+-]\d\d:?\d\d)$"


def typed_frame(df: pd.DataFrame, suite: dict[str, Any]) -> pd.DataFrame:
    """A copy of `df` whose contract columns have the types the suite's bounds compare with.

    `suite` is the document `GET /contracts/{id}/expectations` returns (or its `meta`).
    Columns the contract does not name are left alone.
    """
    meta = suite.get("meta", suite)["driftgate"]
    out = df.copy()
    for name, kind in meta["columns"].items():
        if name in out.columns:
            out[name] = _CONVERT[kind](out[name])
    return out


def _text(s: pd.Series) -> pd.Series:
    """Non-text values as text (driftgate casts them); text is stripped for parsing."""
    return s.map(lambda v: v.strip() if isinstance(v, str) else v, na_action="ignore")


def _timestamp(s: pd.Series) -> pd.Series:
    """Aware UTC; naive values are read as UTC, as driftgate does."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.dt.tz_localize("UTC")
    text = _text(s).map(
        lambda v: v.isoformat() if hasattr(v, "isoformat") else v, na_action="ignore"
    )
    text = text.astype("object").where(text.map(lambda v: isinstance(v, str)), None)
    # Parsed apart: pandas reads a naive value after an offset one in that offset, not in UTC.
    aware = text.str.contains(_OFFSET, na=False, regex=True)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], utc=True, errors="coerce", format="ISO8601")
    naive = ~aware & text.notna()
    if naive.any():
        parsed = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        out[naive] = parsed.dt.tz_localize("UTC")
    return out


def _date(s: pd.Series) -> pd.Series:
    """Midnight `datetime64[ns]` (pandas has no date type): the UTC day of a timestamp, text
    only as `YYYY-MM-DD`, as driftgate reads dates."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.dt.normalize().astype("datetime64[ns]")
    text = _text(s).map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    return pd.to_datetime(text, errors="coerce", format="%Y-%m-%d").astype("datetime64[ns]")


def _number(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64")
    return pd.to_numeric(_text(s), errors="coerce").astype("float64")


def _integer(s: pd.Series) -> pd.Series:
    """A number with a fraction is not an integer (driftgate refuses to truncate it)."""
    values = _number(s)
    values = values.where(values == values.round())
    return values.astype("int64") if not values.hasnans else values


def _boolean(s: pd.Series) -> pd.Series:
    def read(v: Any) -> Any:
        if isinstance(v, bool | np.bool_):
            return bool(v)
        if isinstance(v, numbers.Number):  # pandas reads JSON booleans with nulls as 1.0/0.0
            return v != 0
        text = str(v).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None

    return s.map(read, na_action="ignore").astype("object")


def _string(s: pd.Series) -> pd.Series:
    if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
        return s
    return s.map(str, na_action="ignore").astype("object")


_CONVERT = {
    "timestamp": _timestamp,
    "date": _date,
    "integer": _integer,
    "float": _number,
    "boolean": _boolean,
    "string": _string,
    "category": _string,
}
