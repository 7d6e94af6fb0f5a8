"""Export a contract as a Great Expectations 1.x expectation suite.

`to_gx_suite_json` builds the suite as plain JSON without importing great_expectations (a
~3 s import), so the API can serve it on every request. Each expectation carries the driftgate
rule id in `meta.rule_id`; a rule is exported only where GX reaches the same verdict as the
engine on a contract-typed pandas frame, and everything else is listed, with the reason, in
the suite's `meta.driftgate.not_exported`. (One edge remains: in a conformed frame a raw
value that failed to convert is null, so GX reports `required` for it where the engine
reports only `type`.)

`build_gx_suite` and `run_gx_suite` do import GX; they exist for parity tests and for users who
want to run the exported suite themselves. A batch as pandas reads it from CSV, JSON or Parquet
goes through `contracts.gx_loader.typed_frame` first (named in the suite's `meta`): GX compares
values as they are, and a datetime bound raises on a text column.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

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

META_KEY = "driftgate"
NOT_EXPORTED_TYPE = (
    "driftgate's type rule flags raw values that fail to convert to the contract type; GX sees "
    "an already-typed frame, where expect_column_values_to_be_in_type_list is a dtype check that "
    "would pass where driftgate fails (and fail on raw text driftgate converts, e.g. '12')"
)
NOT_EXPORTED_EXPRESSION = (
    "polars SQL expressions have no GX core expectation with the same semantics "
    "(UnexpectedRowsExpectation is SQL-only and not available on the pandas engine)"
)
NOT_EXPORTED_EXTRA_COLUMNS = (
    "expect_table_columns_to_match_set with exact_match also fails on missing optional "
    "columns, which driftgate accepts as nulls"
)
NOT_EXPORTED_INVALID_FRACTION = (
    "GX's `mostly` is a share of the non-null values, while invalid_fraction bounds a share of "
    "all rows (or a count of rows), as ODCS invalidValues does"
)
LOADER_NOTE = (
    "Validate the batch in contract types: pass the frame pd.read_csv/read_json/read_parquet "
    "gives through contracts/gx_loader.py typed_frame(df, suite) (pandas only; it reads "
    "`columns`). On raw text, timestamp and date bounds raise in GX."
)
NOT_EXPORTED_FRESHNESS = "freshness depends on the time a batch arrives, which GX does not know"


def to_gx_suite_json(spec: ContractSpec) -> dict[str, Any]:
    """The contract as a GX 1.x suite document (`ExpectationSuite.to_json_dict` shape)."""
    expectations: list[dict[str, Any]] = []
    not_exported: dict[str, str] = {"schema.extra_columns": NOT_EXPORTED_EXTRA_COLUMNS}
    for f in spec.fields:
        expectations += _field_expectations(f)
        not_exported[f"{f.name}.type"] = NOT_EXPORTED_TYPE
    for rule in spec.dataset_rules:
        rid = dataset_rule_id(rule)
        if isinstance(rule, RowCountRule):
            kwargs = {"min_value": rule.min, "max_value": rule.max}
            expectations.append(_exp("expect_table_row_count_to_be_between", rid, **kwargs))
        elif isinstance(rule, NullFractionRule):
            mostly = 1.0 - rule.max  # GX: (rows - nulls) / rows >= mostly
            expectations.append(
                _exp("expect_column_values_to_not_be_null", rid, column=rule.field, mostly=mostly)
            )
        elif isinstance(rule, UniqueKeyRule):
            expectations.append(
                _exp(
                    "expect_compound_columns_to_be_unique",
                    rid,
                    column_list=list(rule.fields),
                    # SQL UNIQUE, as the engine: a key with a null part is never a duplicate.
                    ignore_row_if="any_value_is_missing",
                )
            )
        elif isinstance(rule, ExpressionRule):
            not_exported[rid] = NOT_EXPORTED_EXPRESSION
        elif isinstance(rule, InvalidFractionRule):
            not_exported[rid] = NOT_EXPORTED_INVALID_FRACTION
    if spec.freshness is not None:
        not_exported["freshness"] = NOT_EXPORTED_FRESHNESS
    return {
        "name": f"{spec.id}@{spec.version}",
        "expectations": expectations,
        "meta": {
            META_KEY: {
                "contract": spec.id,
                "version": spec.version,
                "fingerprint": spec.fingerprint(),
                "columns": {f.name: f.type.value for f in spec.fields},
                "loader": LOADER_NOTE,
                "not_exported": not_exported,
            }
        },
        "notes": spec.description or None,
    }


def exported_rule_ids(suite: dict[str, Any]) -> list[str]:
    """Rule ids a suite document decides, in suite order."""
    return [e["meta"]["rule_id"] for e in suite["expectations"]]


def build_gx_suite(spec: ContractSpec) -> Any:
    """A real `gx.ExpectationSuite`, built by instantiating each expectation class.

    Instantiating the classes (rather than passing dicts to the suite) makes GX raise on a bad
    kwarg instead of logging and dropping the expectation.
    """
    import great_expectations as gx

    doc = to_gx_suite_json(spec)
    expectations = [
        getattr(gx.expectations, _class_name(e["type"]))(**e["kwargs"], meta=e["meta"])
        for e in doc["expectations"]
    ]
    return gx.ExpectationSuite(
        name=doc["name"], expectations=expectations, meta=doc["meta"], notes=doc["notes"]
    )


class GxRunner:
    """An ephemeral GX context with the suite bound, so repeated runs skip the setup."""

    def __init__(self, spec: ContractSpec) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.suite = build_gx_suite(spec)
        context = gx.get_context(mode="ephemeral")
        context.enable_analytics(False)  # a validation service must not phone home
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas(name="driftgate")
        asset = source.add_dataframe_asset(name=spec.id)
        self._definition = asset.add_batch_definition_whole_dataframe("batch")

    def run(self, df: pd.DataFrame) -> dict[str, bool]:
        """Success per rule id; an expectation that raised counts as failed."""
        batch = self._definition.get_batch(batch_parameters={"dataframe": _gx_frame(df)})
        result = batch.validate(self.suite, result_format="BOOLEAN_ONLY")
        return {r.expectation_config.meta["rule_id"]: bool(r.success) for r in result.results}


def run_gx_suite(spec: ContractSpec, df: pd.DataFrame) -> dict[str, bool]:
    """Validate a contract-typed pandas frame with the exported suite; success per rule id."""
    return GxRunner(spec).run(df)


def _field_expectations(f: FieldSpec) -> list[dict[str, Any]]:
    rid = f"{f.name}."
    col = f.name
    out: list[dict[str, Any]] = []
    if f.required:
        out.append(_exp("expect_column_to_exist", rid + "present", column=col))
        out.append(_exp("expect_column_values_to_not_be_null", rid + "required", column=col))
    if f.min is not None:
        out.append(
            _exp(
                "expect_column_values_to_be_between",
                rid + "min",
                column=col,
                min_value=_bound(f, "min"),
            )
        )
    if f.max is not None:
        out.append(
            _exp(
                "expect_column_values_to_be_between",
                rid + "max",
                column=col,
                max_value=_bound(f, "max"),
            )
        )
    if f.allowed_values is not None:
        out.append(
            _exp(
                "expect_column_values_to_be_in_set",
                rid + "allowed_values",
                column=col,
                value_set=list(f.allowed_values),
            )
        )
    if f.pattern is not None:
        # GX's pandas engine uses str.contains: an unanchored search, like the engine.
        out.append(
            _exp(
                "expect_column_values_to_match_regex", rid + "pattern", column=col, regex=f.pattern
            )
        )
    if f.min_length is not None:
        out.append(
            _exp(
                "expect_column_value_lengths_to_be_between",
                rid + "min_length",
                column=col,
                min_value=f.min_length,
            )
        )
    if f.max_length is not None:
        out.append(
            _exp(
                "expect_column_value_lengths_to_be_between",
                rid + "max_length",
                column=col,
                max_value=f.max_length,
            )
        )
    if f.unique:
        out.append(_exp("expect_column_values_to_be_unique", rid + "unique", column=col))
    return out


def _exp(kind: str, rule_id: str, **kwargs: Any) -> dict[str, Any]:
    clean = {k: v for k, v in kwargs.items() if v is not None}
    return {"type": kind, "kwargs": clean, "meta": {"rule_id": rule_id}}


def _bound(f: FieldSpec, attr: Any) -> Any:
    """Temporal bounds as ISO text GX parses; timestamps are aware UTC (`FieldSpec.bound`).

    Dates go out as midnight datetimes: GX parses a bare "2024-01-01" into a `date`, which
    pandas refuses to compare with a datetime64 column (pandas has no date dtype).
    """
    value = f.bound(attr)
    if f.type == FieldType.timestamp and isinstance(value, datetime):
        return value.isoformat()
    if f.type == FieldType.date and isinstance(value, date):
        return datetime.combine(value, datetime.min.time()).isoformat()
    return value


def _class_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))


def _gx_frame(df: pd.DataFrame) -> pd.DataFrame:
    """GX's pandas engine vectorizes `between` only on numpy int/float columns.

    On a nullable `Int64` column it falls back to a Python call per value, so integers go to
    int64 (no nulls) or float64 (nulls; exact up to 2**53) before validation.
    """
    import pandas as pd

    ints = [c for c in df.columns if isinstance(df[c].dtype, pd.Int64Dtype)]
    if not ints:
        return df
    out = df.copy(deep=False)
    for c in ints:
        out[c] = out[c].astype("float64" if out[c].hasnans else "int64")
    return out


__all__ = [
    "GxRunner",
    "build_gx_suite",
    "exported_rule_ids",
    "run_gx_suite",
    "to_gx_suite_json",
]
