"""Export a contract as a pandera schema that pandera can write and load (`to_yaml`/`to_json`).

`contracts.pandera_compile` builds schemas with closures, which serve the parity tests and the
benchmark but cannot be serialized. This export uses only pandera's built-in checks and the
registered ones of `contracts.pandera_checks`, with every bound as plain text or a number
(timestamp bounds as ISO 8601 UTC, which pandas compares with a UTC datetime column). Each
check's `error` is its driftgate rule id, and built-in checks also carry it as `name`, so a
failure case maps straight back to the rule.

Not exported, as in the GX export: `<field>.type` (pandera sees a typed frame; use
`contracts.gx_loader.typed_frame` to get one from a raw batch, then `coerce` brings it to the
declared dtypes) and freshness (it depends on when the batch arrived).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

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

# pandera's own names for its structural checks, mapped to driftgate rule ids.
_COLUMN_CHECKS = {"not_nullable": "{}.required"}
_SCHEMA_CHECKS = {"column_in_dataframe": "{}.present", "column_in_schema": "schema.extra_columns"}

_DTYPES = {
    FieldType.string: None,  # as read: coercing to str would turn None into "None"
    FieldType.category: None,
    FieldType.integer: "Int64",
    FieldType.float: "float64",
    FieldType.boolean: "boolean",
    FieldType.timestamp: "datetime64[ns, UTC]",
    FieldType.date: "datetime64[ns]",
}


def export_schema(spec: ContractSpec) -> Any:
    """The contract as a serializable pandera (pandas) `DataFrameSchema`."""
    import pandera.pandas as pa

    from contracts.pandera_checks import register

    register()
    columns = {
        f.name: pa.Column(
            _DTYPES[f.type],
            checks=_field_checks(pa, f),
            nullable=not f.required,
            required=f.required,
            coerce=_DTYPES[f.type] is not None,
            name=f.name,
            description=f.description or None,
        )
        for f in spec.fields
    }
    return pa.DataFrameSchema(
        columns,
        checks=[_dataset_check(pa, rule) for rule in spec.dataset_rules],
        strict=True,
        name=f"{spec.id}@{spec.version}",
        description=spec.description or None,
    )


def to_yaml(spec: ContractSpec) -> str:
    return str(export_schema(spec).to_yaml())


def to_json(spec: ContractSpec) -> str:
    return str(export_schema(spec).to_json())


def load(text: str, *, fmt: str = "yaml") -> Any:
    """A schema back from `to_yaml`/`to_json` text, with the driftgate checks registered."""
    import pandera.pandas as pa

    from contracts.pandera_checks import register

    register()
    if fmt == "json":
        return pa.DataFrameSchema.from_json(text)
    return pa.DataFrameSchema.from_yaml(text)


def rule_ids(schema: Any) -> list[str]:
    """Rule ids a (loaded) schema decides: every check's error, plus the structural rules."""
    out = ["schema.extra_columns"]
    for name, column in schema.columns.items():
        if column.required:
            out += [f"{name}.present", f"{name}.required"]
        out += [str(c.error) for c in column.checks]
    return out + [str(c.error) for c in schema.checks]


def verdicts(schema: Any, frame: Any) -> dict[str, bool]:
    """Validate lazily; passed/failed per rule id the schema decides."""
    from pandera.errors import SchemaErrors

    failed: set[str] = set()
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        failed = _failed(exc.failure_cases)
    ids = rule_ids(schema)
    out = {rid: rid not in failed for rid in ids}
    out.update({rid: False for rid in failed if rid not in out})
    return out


def _failed(failure_cases: Any) -> set[str]:
    out: set[str] = set()
    for row in failure_cases[["column", "check", "failure_case"]].to_dict("records"):
        check, column = str(row["check"]), row["column"]
        if check in _SCHEMA_CHECKS:
            out.add(_SCHEMA_CHECKS[check].format(row["failure_case"]))
        elif check in _COLUMN_CHECKS:
            out.add(_COLUMN_CHECKS[check].format(column))
        elif check.startswith(("dtype(", "coerce_dtype(")):
            out.add(f"{column}.type")
        else:
            out.add(check)  # a driftgate check: its error is the rule id
    return out


def _field_checks(pa: Any, f: FieldSpec) -> list[Any]:
    rid = f"{f.name}."
    checks: list[Any] = []
    if f.min is not None:
        checks.append(pa.Check.ge(_bound(f, "min"), **_tag(rid + "min")))
    if f.max is not None:
        checks.append(pa.Check.le(_bound(f, "max"), **_tag(rid + "max")))
    if f.allowed_values is not None:
        checks.append(pa.Check.isin(list(f.allowed_values), **_tag(rid + "allowed_values")))
    if f.pattern is not None:
        checks.append(pa.Check.str_contains(f.pattern, **_tag(rid + "pattern")))
    if f.min_length is not None:
        checks.append(
            pa.Check.driftgate_min_length(min_length=f.min_length, error=rid + "min_length")
        )
    if f.max_length is not None:
        checks.append(
            pa.Check.driftgate_max_length(max_length=f.max_length, error=rid + "max_length")
        )
    if f.unique:
        checks.append(pa.Check.driftgate_unique(nulls_distinct=True, error=rid + "unique"))
    return checks


def _dataset_check(pa: Any, rule: Any) -> Any:
    error = dataset_rule_id(rule)
    if isinstance(rule, RowCountRule):
        return pa.Check.driftgate_row_count(min_rows=rule.min, max_rows=rule.max, error=error)
    if isinstance(rule, NullFractionRule):
        return pa.Check.driftgate_null_fraction(column=rule.field, max_share=rule.max, error=error)
    if isinstance(rule, UniqueKeyRule):
        return pa.Check.driftgate_unique_key(columns=list(rule.fields), error=error)
    if isinstance(rule, ExpressionRule):
        return pa.Check.driftgate_expression(sql=rule.expr, error=error)
    if isinstance(rule, InvalidFractionRule):
        return pa.Check.driftgate_invalid_fraction(
            column=rule.field,
            allowed_values=rule.allowed_values,
            pattern=rule.pattern,
            max_share=rule.max,
            max_rows=rule.max_rows,
            error=error,
        )
    raise TypeError(f"unknown dataset rule {rule!r}")


def _tag(rule_id: str) -> dict[str, str]:
    return {"name": rule_id, "error": rule_id}


def _bound(f: FieldSpec, attr: Any) -> Any:
    """Numbers as they are; temporal bounds as ISO text in UTC (dates as midnight), which
    serializes and which pandas compares with the declared datetime column."""
    value = f.bound(attr)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time()).isoformat()
    return value
