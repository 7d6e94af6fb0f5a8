"""The compiled pandera schema reaches the engine's verdict on every rule, on both backends.

Uses the contract and batches of the GX parity test, so both exports are held to the same
cases; pandera runs lazily and its failure cases are mapped back to rule ids.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import polars as pl
import pytest

from checks.conform import conform
from contracts.pandera_compile import (
    META_KEY,
    TYPE_NOT_COMPILED,
    compiled_rule_ids,
    failed_rule_ids,
    not_compiled,
    pandera_verdicts,
    to_pandas_frame,
    to_pandera_schema,
)
from contracts.spec import ContractSpec
from tests.checks.test_gx_parity import (
    ROOT,
    assert_parity,
    clean_batch,
    dirty_batch,
    engine_verdicts,
    spec,
)

BACKENDS = ["pandas", "polars"]


@pytest.fixture(scope="module")
def contract() -> ContractSpec:
    return spec()


def typed(raw: pl.DataFrame, s: ContractSpec, backend: str) -> Any:
    """The batch in contract types (what the engine checks), in the backend's frame type."""
    c = conform(raw, s)
    keep = [n for n in c.frame.columns if not n.startswith("__type_fail__")]
    frame = c.frame.select([n for n in keep if n not in c.missing_required])
    return to_pandas_frame(frame, s) if backend == "pandas" else frame


@pytest.mark.parametrize("backend", BACKENDS)
def test_schema_carries_rule_ids(contract: ContractSpec, backend: str) -> None:
    schema = to_pandera_schema(contract, backend)  # type: ignore[arg-type]
    ids = compiled_rule_ids(schema)
    assert len(ids) == len(set(ids))
    for rid in (
        "schema.extra_columns",
        "event_id.present",
        "event_id.required",
        "event_id.pattern",
        "event_id.unique",
        "event_id.min_length",
        "event_id.max_length",
        "price.min",
        "price.max",
        "currency.allowed_values",
        "placed_at.max",
        "ship_date.min",
        "row_count",
        "null_fraction:discount",
        "unique_key:user_id+session",
        "expression:order_total",
    ):
        assert rid in ids, rid
    checks = {c.name: c for c in schema.columns["price"].checks}
    assert set(checks) == {"price.min", "price.max"}
    assert checks["price.min"].error == "price.min"
    assert schema.columns["price"].nullable is False
    assert schema.columns["quantity"].nullable is True
    assert not_compiled(schema)["price.type"] == TYPE_NOT_COMPILED
    assert schema.metadata[META_KEY]["contract"] == "checkout"


def test_unknown_backend_is_refused(contract: ContractSpec) -> None:
    with pytest.raises(ValueError, match="backend"):
        to_pandera_schema(contract, "spark")  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_clean_batch_passes_everywhere(contract: ContractSpec, backend: str) -> None:
    raw = clean_batch()
    schema = to_pandera_schema(contract, backend)  # type: ignore[arg-type]
    verdicts = pandera_verdicts(schema, typed(raw, contract, backend))
    assert set(verdicts) == set(compiled_rule_ids(schema))
    assert all(verdicts.values()), {k: v for k, v in verdicts.items() if not v}
    assert_parity(verdicts, engine_verdicts(raw, contract))


@pytest.mark.parametrize("backend", BACKENDS)
def test_dirty_batch_same_verdict_per_rule(contract: ContractSpec, backend: str) -> None:
    raw = dirty_batch()
    schema = to_pandera_schema(contract, backend)  # type: ignore[arg-type]
    verdicts = pandera_verdicts(schema, typed(raw, contract, backend))
    assert set(verdicts) == set(compiled_rule_ids(schema)), "no unmapped failure cases"
    assert_parity(verdicts, engine_verdicts(raw, contract))
    passing = {rid for rid, ok in verdicts.items() if ok}
    assert passing == {f"{f.name}.present" for f in contract.fields if f.required}


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_required_column(contract: ContractSpec, backend: str) -> None:
    raw = clean_batch().drop("currency")
    schema = to_pandera_schema(contract, backend)  # type: ignore[arg-type]
    verdicts = pandera_verdicts(schema, typed(raw, contract, backend))
    assert verdicts["currency.present"] is False
    engine = engine_verdicts(raw, contract)
    # The engine reports a missing column once, by `.present`, and skips its row rules.
    shadowed = {"currency.required", "currency.allowed_values"}
    assert_parity({k: v for k, v in verdicts.items() if k not in shadowed}, engine)


@pytest.mark.parametrize("backend", BACKENDS)
def test_failure_cases_name_rule_ids(contract: ContractSpec, backend: str) -> None:
    from pandera.errors import SchemaErrors

    schema = to_pandera_schema(contract, backend)  # type: ignore[arg-type]
    with pytest.raises(SchemaErrors) as info:
        schema.validate(typed(dirty_batch(), contract, backend), lazy=True)
    failed = failed_rule_ids(info.value.failure_cases)
    assert {"price.min", "event_id.required", "unique_key:user_id+session"} <= failed
    assert "schema.extra_columns" in failed  # strict: the extra column is reported


def test_wrong_dtype_maps_to_a_dtype_id(contract: ContractSpec) -> None:
    frame = typed(clean_batch(), contract, "polars").with_columns(pl.col("price").cast(pl.Int32))
    verdicts = pandera_verdicts(to_pandera_schema(contract, "polars"), frame)
    assert verdicts["price.dtype"] is False


def test_module_does_not_import_pandera() -> None:
    code = "import sys\nimport contracts.pandera_compile\nassert 'pandera' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- the serializable export (GET /contracts/{id}/pandera) -----------------------------------


def _pandas_frame_of(raw: pl.DataFrame, fmt: str) -> Any:
    """A batch file as pandas' default readers give it, then the export's loader."""
    import io

    import pandas as pd

    from contracts.gx_export import to_gx_suite_json
    from contracts.gx_loader import typed_frame

    buf = io.BytesIO()
    {"csv": raw.write_csv, "ndjson": raw.write_ndjson, "parquet": raw.write_parquet}[fmt](buf)
    buf.seek(0)
    read = {
        "csv": pd.read_csv,
        "ndjson": lambda b: pd.read_json(b, lines=True),
        "parquet": pd.read_parquet,
    }[fmt]
    return typed_frame(read(buf), to_gx_suite_json(spec()))


def test_export_writes_yaml_and_json_that_load_back_with_every_rule(
    contract: ContractSpec,
) -> None:
    import json
    import warnings

    import yaml

    from contracts import pandera_export

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandera warns when it drops an unregistered check
        text, as_json = pandera_export.to_yaml(contract), pandera_export.to_json(contract)
    doc = yaml.safe_load(text)
    assert doc["name"] == "checkout@2.1.0" and doc["strict"] is True
    placed = doc["columns"]["placed_at"]
    assert placed["dtype"] == "datetime64[ns, UTC]"
    assert placed["greater_than_or_equal_to"]["min_value"] == "2024-01-01T00:00:00+00:00"
    assert (
        doc["columns"]["ship_date"]["less_than_or_equal_to"]["max_value"] == "2025-12-31T00:00:00"
    )
    assert json.loads(as_json)["columns"]["placed_at"] == placed
    for loaded in (pandera_export.load(text), pandera_export.load(as_json, fmt="json")):
        ids = pandera_export.rule_ids(loaded)
        assert set(ids) == set(pandera_export.rule_ids(pandera_export.export_schema(contract)))
        assert {"expression:order_total", "unique_key:user_id+session", "event_id.unique"} <= set(
            ids
        )
        assert {"row_count", "null_fraction:discount", "event_id.min_length"} <= set(ids)


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
@pytest.mark.parametrize("batch", ["clean", "dirty"])
def test_loaded_export_agrees_with_the_engine_on_raw_batch_files(
    contract: ContractSpec, fmt: str, batch: str
) -> None:
    from contracts import pandera_export

    raw = clean_batch() if batch == "clean" else dirty_batch()
    schema = pandera_export.load(pandera_export.to_yaml(contract))
    verdicts = pandera_export.verdicts(schema, _pandas_frame_of(raw, fmt))
    assert_parity(verdicts, engine_verdicts(raw, contract))
    failing = {rid for rid, ok in verdicts.items() if not ok}
    if batch == "clean":
        assert not failing
    else:  # not vacuous: every exported rule kind fails somewhere in the dirty batch
        assert {
            "row_count",
            "expression:order_total",
            "event_id.unique",
            "placed_at.min",
        } <= failing


def test_export_decides_invalid_fraction_like_the_engine() -> None:
    from datetime import UTC, datetime

    import pandas as pd

    from checks.engine import validate
    from contracts import pandera_export

    s = ContractSpec.model_validate(
        {
            "id": "units",
            "version": "1.0.0",
            "owner": "t",
            "dataset": "units",
            "fields": [{"name": "unit", "type": "string"}, {"name": "code", "type": "string"}],
            "dataset_rules": [
                {
                    "kind": "invalid_fraction",
                    "field": "unit",
                    "allowed_values": ["kg"],
                    "max_rows": 1,
                },
                {"kind": "invalid_fraction", "field": "code", "pattern": "^[A-Z]+$", "max": 0.25},
            ],
        }
    )
    schema = pandera_export.load(pandera_export.to_yaml(s))
    for units, codes in [
        (["kg", "g", None, "kg"], ["AB", "x", None, "CD"]),  # 1 invalid each: both pass
        (["kg", "g", "oz", "kg"], ["AB", "x", "y", None]),  # 2 invalid each: both fail
    ]:
        raw = pl.DataFrame({"unit": units, "code": codes})
        engine = {
            o.rule_id: o.passed
            for o in validate(raw, s, received_at=datetime(2025, 1, 1, tzinfo=UTC)).outcomes
        }
        assert_parity(
            pandera_export.verdicts(schema, pd.DataFrame({"unit": units, "code": codes})), engine
        )
