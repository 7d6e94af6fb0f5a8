"""Compile a contract into a pandera `DataFrameSchema` (pandas or polars backend).

driftgate validates batches with its own vectorized engine (`checks.engine`); this compiler
exists so the same contract can be exported to pandera users and so tests can prove both
give the same verdict per rule. Every check carries the driftgate rule id as its `name` and
`error`, so a pandera `SchemaErrors.failure_cases` row maps straight back to a rule id.

Semantics are matched to the engine, not to pandera's defaults:

* `pattern` is an unanchored search (engine: polars `str.contains`), so it compiles to
  `str_contains`, not `str_matches` (which anchors at the start).
* `unique` and `unique_key` follow SQL UNIQUE: rows with a null in the key are never
  duplicates. pandera's `unique=` treats null as a value on the polars backend, so both
  compile to custom checks instead.
* `type` is not compiled: pandera sees a frame already in contract types, where a dtype check
  always passes, while the engine's `<field>.type` rule flags raw values that failed to convert.
* Timestamp bounds are `FieldSpec.bound` values: aware and in UTC (no offset means UTC).

Known differences that remain: the pandas backend runs patterns with Python `re` (the engine
uses Rust regex; they agree on common syntax) and treats float NaN as null, whereas the engine
(polars) treats NaN as a value that is greater than any bound. A raw value that fails to
convert is only a `type` violation for the engine; in the contract-typed frame pandera sees it
is null, so pandera also reports `required` for it in a required column.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from contracts.expressions import compile_expression
from contracts.spec import (
    ContractSpec,
    ExpressionRule,
    FieldSpec,
    FieldType,
    InvalidFractionRule,
    NullFractionRule,
    RowCountRule,
    UniqueKeyRule,
    dataset_rule_id,
)

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

Backend = Literal["pandas", "polars"]

META_KEY = "driftgate"
TYPE_NOT_COMPILED = (
    "pandera validates an already-typed frame, where a dtype check always passes; the engine's "
    "type rule flags raw values that failed to convert to the contract type"
)

# pandera's own check names for the structural checks it runs, mapped to driftgate rule ids.
# Schema-level errors name the offending column in `failure_case`, column-level ones in `column`.
_COLUMN_CHECKS = {"not_nullable": "{}.required"}
_SCHEMA_CHECKS = {"column_in_dataframe": "{}.present", "column_in_schema": "schema.extra_columns"}


def to_pandera_schema(spec: ContractSpec, backend: Backend = "pandas") -> Any:
    """The contract as a pandera `DataFrameSchema`; pandera is imported here, not at load."""
    make: _Checks
    if backend == "pandas":
        import pandera.pandas

        make = _PandasChecks(pandera.pandas)
    elif backend == "polars":
        import pandera.polars

        make = _PolarsChecks(pandera.polars)
    else:
        raise ValueError(f"unknown pandera backend {backend!r}")
    pa = make.pa

    rule_ids: list[str] = ["schema.extra_columns"]
    not_compiled: dict[str, str] = {}
    columns: dict[str, Any] = {}
    for f in spec.fields:
        checks = _field_checks(f, make)
        rule_ids += [c.name for c in checks]
        if f.required:
            rule_ids += [f"{f.name}.present", f"{f.name}.required"]
        not_compiled[f"{f.name}.type"] = TYPE_NOT_COMPILED
        columns[f.name] = pa.Column(
            make.dtype(f.type),
            checks=checks,
            nullable=not f.required,
            required=f.required,
            name=f.name,
        )
    frame_checks: list[Any] = []
    for rule in spec.dataset_rules:
        rid = dataset_rule_id(rule)
        check = make.dataset(rule, rid)
        frame_checks.append(check)
        rule_ids.append(rid)
    return pa.DataFrameSchema(
        columns,
        checks=frame_checks,
        strict=True,
        name=f"{spec.id}@{spec.version}",
        metadata={
            META_KEY: {
                "contract": spec.id,
                "version": spec.version,
                "rule_ids": rule_ids,
                "not_compiled": not_compiled,
            }
        },
    )


def to_pandas_frame(frame: pl.DataFrame, spec: ContractSpec) -> pd.DataFrame:
    """A contract-typed polars frame in the pandas dtypes the pandas schema declares.

    Integers stay nullable `Int64` (a null would otherwise turn the column into float64) and
    dates become `datetime64[ns]`, since pandas has no date dtype.
    """
    pdf = frame.to_pandas()
    for f in spec.fields:  # strings stay object: astype("str") would turn None into "None"
        if f.name in pdf.columns and f.type not in (FieldType.string, FieldType.category):
            pdf[f.name] = pdf[f.name].astype(_pandas_dtype(f.type))
    return pdf


def failed_rule_ids(failure_cases: Any) -> set[str]:
    """Rule ids named by a pandera `SchemaErrors.failure_cases` frame (pandas or polars)."""
    cols = ["column", "check", "failure_case"]
    if hasattr(failure_cases, "to_dicts"):
        rows = failure_cases.select(cols).to_dicts()
    else:
        rows = failure_cases[cols].to_dict("records")
    out: set[str] = set()
    for row in rows:
        check, column = str(row["check"]), row["column"]
        if check in _SCHEMA_CHECKS:
            out.add(_SCHEMA_CHECKS[check].format(row["failure_case"]))
        elif check in _COLUMN_CHECKS:
            out.add(_COLUMN_CHECKS[check].format(column))
        elif check.startswith("dtype("):
            out.add(f"{column}.dtype")
        else:
            out.add(check)
    return out


def pandera_verdicts(schema: Any, frame: Any) -> dict[str, bool]:
    """Validate lazily and return passed/failed per compiled rule id (plus any dtype ids)."""
    from pandera.errors import SchemaErrors

    meta = schema.metadata[META_KEY]
    try:
        schema.validate(frame, lazy=True)
        failed: set[str] = set()
    except SchemaErrors as exc:
        failed = failed_rule_ids(exc.failure_cases)
    verdicts = {rid: rid not in failed for rid in meta["rule_ids"]}
    verdicts.update({rid: False for rid in failed if rid not in verdicts})
    return verdicts


def _field_checks(f: FieldSpec, make: _Checks) -> list[Any]:
    rid = f"{f.name}."
    checks: list[Any] = []
    if f.min is not None:
        checks.append(make.pa.Check.ge(make.bound(f, "min"), **_tag(rid + "min")))
    if f.max is not None:
        checks.append(make.pa.Check.le(make.bound(f, "max"), **_tag(rid + "max")))
    if f.allowed_values is not None:
        checks.append(make.pa.Check.isin(list(f.allowed_values), **_tag(rid + "allowed_values")))
    if f.pattern is not None:
        checks.append(make.pa.Check.str_contains(f.pattern, **_tag(rid + "pattern")))
    if f.min_length is not None:
        checks.append(make.pa.Check.str_length(min_value=f.min_length, **_tag(rid + "min_length")))
    if f.max_length is not None:
        checks.append(make.pa.Check.str_length(max_value=f.max_length, **_tag(rid + "max_length")))
    if f.unique:
        checks.append(make.unique(rid + "unique"))
    return checks


def _tag(rule_id: str) -> dict[str, str]:
    return {"name": rule_id, "error": rule_id}


def _pandas_dtype(t: FieldType) -> Any:
    import pandas as pd

    return {
        FieldType.string: "str",
        FieldType.category: "str",
        FieldType.integer: "Int64",
        FieldType.float: "float64",
        FieldType.boolean: "boolean",
        FieldType.timestamp: pd.DatetimeTZDtype("us", "UTC"),
        FieldType.date: "datetime64[ns]",
    }[t]


class _Checks:
    """Backend-specific pieces; the rule-to-check mapping itself is shared."""

    def __init__(self, pa: Any) -> None:
        self.pa = pa

    def dtype(self, t: FieldType) -> Any:
        raise NotImplementedError

    def bound(self, f: FieldSpec, attr: Literal["min", "max"]) -> Any:
        return f.bound(attr)

    def unique(self, rule_id: str) -> Any:
        raise NotImplementedError

    def frame_check(self, fn: Callable[..., Any], rule_id: str) -> Any:
        return self.pa.Check(fn, ignore_na=False, **_tag(rule_id))

    def dataset(self, rule: Any, rule_id: str) -> Any:
        if isinstance(rule, RowCountRule):
            return self.frame_check(self.row_count(rule.min, rule.max), rule_id)
        if isinstance(rule, NullFractionRule):
            return self.frame_check(self.null_fraction(rule.field, rule.max), rule_id)
        if isinstance(rule, UniqueKeyRule):
            return self.frame_check(self.unique_key(rule.fields), rule_id)
        if isinstance(rule, ExpressionRule):
            return self.frame_check(self.expression(rule.expr), rule_id)
        if isinstance(rule, InvalidFractionRule):
            return self.frame_check(self.invalid_fraction(rule), rule_id)
        raise TypeError(f"unknown dataset rule {rule!r}")

    def row_count(self, lo: int | None, hi: int | None) -> Callable[[Any], Any]:
        raise NotImplementedError

    def null_fraction(self, field: str, limit: float) -> Callable[[Any], Any]:
        raise NotImplementedError

    def unique_key(self, fields: list[str]) -> Callable[[Any], Any]:
        raise NotImplementedError

    def expression(self, expr: str) -> Callable[[Any], Any]:
        raise NotImplementedError

    def invalid_fraction(self, rule: InvalidFractionRule) -> Callable[[Any], Any]:
        """Decided in polars on the one column, so pandas and polars agree with the engine."""
        import polars as pl

        c = pl.col(rule.field).cast(pl.String) if rule.pattern is not None else pl.col(rule.field)
        bad = pl.lit(False)
        if rule.allowed_values is not None:
            bad = bad | ~pl.col(rule.field).is_in(rule.allowed_values)
        if rule.pattern is not None:
            bad = bad | ~c.str.contains(rule.pattern)
        invalid = (pl.col(rule.field).is_not_null() & bad).fill_null(False).sum()
        limit = (
            invalid <= rule.max_rows
            if rule.max is None
            else (pl.len() == 0) | (invalid / pl.len() <= rule.max)
        )
        return lambda frame: self.judge(frame, rule.field, limit)

    def judge(self, frame: Any, column: str, ok: Any) -> Any:
        raise NotImplementedError


class _PandasChecks(_Checks):
    def dtype(self, t: FieldType) -> Any:
        return _pandas_dtype(t)

    def bound(self, f: FieldSpec, attr: Literal["min", "max"]) -> Any:
        import pandas as pd

        value = super().bound(f, attr)
        return pd.Timestamp(value) if isinstance(value, date) else value

    def unique(self, rule_id: str) -> Any:
        return self.pa.Check(lambda s: ~(s.duplicated(keep=False) & s.notna()), **_tag(rule_id))

    def row_count(self, lo: int | None, hi: int | None) -> Callable[[Any], Any]:
        return lambda df: (lo is None or len(df) >= lo) and (hi is None or len(df) <= hi)

    def null_fraction(self, field: str, limit: float) -> Callable[[Any], Any]:
        def check(df: pd.DataFrame) -> bool:
            n = len(df)
            return n == 0 or int(df[field].isna().sum()) / n <= limit

        return check

    def unique_key(self, fields: list[str]) -> Callable[[Any], Any]:
        def check(df: pd.DataFrame) -> pd.Series:
            complete = df[fields].notna().all(axis=1)
            return ~(df.duplicated(subset=fields, keep=False) & complete)

        return check

    def expression(self, expr: str) -> Callable[[Any], Any]:
        """pandas `eval` speaks another dialect, so the SQL runs in polars on the columns used."""
        compiled = compile_expression(expr)
        names = list(dict.fromkeys(compiled.meta.root_names()))

        def check(df: pd.DataFrame) -> pd.Series:
            import pandas as pd
            import polars as pl

            ok = pl.from_pandas(df[names]).select(compiled.fill_null(True)).to_series()
            return pd.Series(ok.to_numpy(), index=df.index, dtype=bool)

        return check

    def judge(self, frame: Any, column: str, ok: Any) -> Any:
        import polars as pl

        return bool(pl.from_pandas(frame[[column]]).select(ok).item())


class _PolarsChecks(_Checks):
    def dtype(self, t: FieldType) -> Any:
        from contracts.polars_types import POLARS_TYPES

        return POLARS_TYPES[t]

    def unique(self, rule_id: str) -> Any:
        import polars as pl

        def check(data: Any) -> pl.LazyFrame:
            c = pl.col(data.key)
            return data.lazyframe.select(~(c.is_duplicated() & c.is_not_null()))

        return self.pa.Check(check, **_tag(rule_id))

    # Dataset-level results stay one-row lazy frames: pandera's polars backend cannot report
    # a failing check that returned a Python bool next to string failure cases.
    def row_count(self, lo: int | None, hi: int | None) -> Callable[[Any], Any]:
        import polars as pl

        ok = pl.lit(True)
        if lo is not None:
            ok = ok & (pl.len() >= lo)
        if hi is not None:
            ok = ok & (pl.len() <= hi)
        return lambda data: data.lazyframe.select(ok)

    def null_fraction(self, field: str, limit: float) -> Callable[[Any], Any]:
        import polars as pl

        ok = (pl.len() == 0) | (pl.col(field).null_count() / pl.len() <= limit)
        return lambda data: data.lazyframe.select(ok)

    def unique_key(self, fields: list[str]) -> Callable[[Any], Any]:
        import polars as pl

        key = pl.struct(fields) if len(fields) > 1 else pl.col(fields[0])
        complete = pl.all_horizontal([pl.col(c).is_not_null() for c in fields])
        return lambda data: data.lazyframe.select(~(key.is_duplicated() & complete))

    def expression(self, expr: str) -> Callable[[Any], Any]:
        compiled = compile_expression(expr).fill_null(True)  # SQL CHECK: unknown passes
        return lambda data: data.lazyframe.select(compiled)

    def judge(self, frame: Any, column: str, ok: Any) -> Any:
        return frame.lazyframe.select(ok)


def compiled_rule_ids(schema: Any) -> list[str]:
    """Rule ids the schema decides, in contract order."""
    return list(schema.metadata[META_KEY]["rule_ids"])


def not_compiled(schema: Any) -> dict[str, str]:
    """Rule ids the schema leaves to the engine, with the reason."""
    return dict(schema.metadata[META_KEY]["not_compiled"])


__all__ = [
    "compiled_rule_ids",
    "failed_rule_ids",
    "not_compiled",
    "pandera_verdicts",
    "to_pandas_frame",
    "to_pandera_schema",
]
