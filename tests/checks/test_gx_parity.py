"""The exported GX suite reaches the engine's verdict on every rule it exports.

Batches break every rule kind at least once and include the edge cases where naive mappings
disagree: nulls in optional ruled columns, duplicated nulls in a unique column, a null part in
a duplicated compound key, unanchored patterns, and raw text the engine must convert.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from checks.conform import conform
from checks.engine import validate
from contracts.gx_export import (
    NOT_EXPORTED_EXPRESSION,
    build_gx_suite,
    exported_rule_ids,
    run_gx_suite,
    to_gx_suite_json,
)
from contracts.pandera_compile import to_pandas_frame
from contracts.spec import ContractSpec

ROOT = Path(__file__).resolve().parents[2]
RECEIVED_AT = datetime(2025, 6, 1, 12, tzinfo=UTC)

CONTRACT: dict[str, Any] = {
    "id": "checkout",
    "version": "2.1.0",
    "owner": "payments",
    "description": "Checkout events from the shop frontend.",
    "dataset": {"namespace": "shop", "name": "checkout"},
    "fields": [
        {
            "name": "event_id",
            "type": "string",
            "required": True,
            "unique": True,
            "pattern": "^e[0-9]+$",
            "min_length": 2,
            "max_length": 8,
        },
        {"name": "user_id", "type": "integer", "required": True, "min": 1},
        {"name": "price", "type": "float", "required": True, "min": 0, "max": 1000},
        {"name": "quantity", "type": "integer", "min": 1, "max": 50},
        {
            "name": "currency",
            "type": "category",
            "required": True,
            "allowed_values": ["EUR", "USD", "GBP"],
        },
        {"name": "country", "type": "string", "pattern": "[A-Z]{2}", "max_length": 2},
        {"name": "is_test", "type": "boolean", "allowed_values": [False]},
        {
            "name": "placed_at",
            "type": "timestamp",
            "required": True,
            "min": "2024-01-01T00:00:00Z",
            "max": "2026-01-01T00:00:00+00:00",
        },
        {"name": "ship_date", "type": "date", "min": "2024-01-01", "max": "2025-12-31"},
        {"name": "discount", "type": "float"},
        {"name": "session", "type": "string"},
    ],
    "dataset_rules": [
        {"kind": "row_count", "min": 5, "max": 25},
        {"kind": "null_fraction", "field": "discount", "max": 0.25},
        {"kind": "unique_key", "fields": ["user_id", "session"]},
        {"kind": "expression", "name": "order_total", "expr": "price * quantity <= 20000"},
    ],
    "freshness": {"field": "placed_at", "max_lag": "P30D"},
}

N_CLEAN = 20
RAW_SCHEMA: dict[str, Any] = {
    "event_id": pl.String,
    "user_id": pl.Int64,
    "price": pl.Float64,
    "quantity": pl.Int64,
    "currency": pl.String,
    "country": pl.String,
    "is_test": pl.Boolean,
    "placed_at": pl.Datetime("us", "UTC"),
    "ship_date": pl.String,
    "discount": pl.Float64,
    "session": pl.String,
}


def spec() -> ContractSpec:
    return ContractSpec.model_validate(CONTRACT)


def clean_batch(n: int = N_CLEAN) -> pl.DataFrame:
    """A batch that keeps every rule; ship_date arrives as text, as from a CSV."""
    return pl.DataFrame(
        schema=RAW_SCHEMA,
        data={
            "event_id": [f"e{i}" for i in range(n)],
            "user_id": [1 + i % 7 for i in range(n)],
            "price": [0.0 + 25.5 * i for i in range(n)],
            "quantity": [None if i % 4 == 0 else 1 + i % 50 for i in range(n)],
            "currency": [["EUR", "USD", "GBP"][i % 3] for i in range(n)],
            "country": [None if i % 5 == 0 else ["DE", "FR", "xGB"[1:]][i % 3] for i in range(n)],
            "is_test": [None if i % 2 else False for i in range(n)],
            "placed_at": [datetime(2025, 5, 1 + i % 28, 8, tzinfo=UTC) for i in range(n)],
            "ship_date": [f"2025-05-{1 + i % 28:02d}" for i in range(n)],
            "discount": [None if i % 4 == 0 else 0.1 for i in range(n)],  # exactly the limit
            "session": [None if i % 6 == 0 else f"s{i}" for i in range(n)],
        },
    )


def dirty_batch() -> pl.DataFrame:
    """30 rows breaking every rule at least once, next to edge cases that must pass."""
    rows = clean_batch(30).to_dicts()

    def put(i: int, **values: Any) -> None:
        rows[i].update(values)

    put(1, event_id="x1")  # pattern
    put(2, event_id="e123456789")  # max_length
    put(3, event_id="e")  # min_length and pattern
    put(4, event_id="e5")  # duplicate of row 5: unique
    put(6, event_id=None)  # required
    put(7, event_id=None)  # two nulls are not duplicates
    put(8, user_id=0)  # min
    put(9, user_id=None)  # required
    put(10, price=-0.01)  # min
    put(11, price=1000.5)  # max
    put(12, quantity=0)  # min
    put(13, quantity=51)  # max
    put(14, currency="JPY")  # allowed_values
    put(15, currency=None)  # required
    put(16, country="de")  # pattern: no two capitals anywhere
    put(17, country="ADE")  # max_length; the pattern still matches (unanchored)
    put(18, is_test=True)  # allowed_values
    put(19, placed_at=datetime(2023, 12, 31, 23, 59, tzinfo=UTC))  # min
    put(20, placed_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))  # max
    put(21, ship_date="2023-12-31")  # min
    put(22, ship_date="2026-01-01")  # max
    put(23, ship_date="next tuesday")  # type: null after conform, so no bound fires
    put(24, user_id=3, session="dup")  # unique_key ...
    put(25, user_id=3, session="dup")  # ... with row 24
    put(26, user_id=4, session=None)  # a null key part is never a duplicate ...
    put(27, user_id=4, session=None)  # ... of another one
    put(28, price=900.0, quantity=30)  # expression: 27000 > 20000
    put(0, price=None)  # required
    put(29, placed_at=None)  # required
    for i in (2, 3, 5, 9, 13, 17, 21, 29):
        rows[i]["discount"] = None  # 8 + 8 nulls of 30 > 0.25
    frame = pl.DataFrame(rows, schema=RAW_SCHEMA)
    return frame.with_columns(pl.lit("from the old pipeline").alias("debug_note"))  # extra


def typed_pandas(raw: pl.DataFrame, s: ContractSpec) -> Any:
    """The batch in contract types, as the engine sees it after conforming."""
    c = conform(raw, s)
    keep = [name for name in c.frame.columns if not name.startswith("__type_fail__")]
    keep = [name for name in keep if name not in c.missing_required]
    return to_pandas_frame(c.frame.select(keep), s)


def engine_verdicts(raw: pl.DataFrame, s: ContractSpec) -> dict[str, bool]:
    result = validate(raw, s, received_at=RECEIVED_AT)
    verdicts = {o.rule_id: o.passed for o in result.outcomes}
    for f in s.fields:  # the engine reports a missing column only when it is missing
        if f.required:
            verdicts.setdefault(f"{f.name}.present", True)
    return verdicts


def assert_parity(external: dict[str, bool], engine: dict[str, bool]) -> None:
    unknown = sorted(set(external) - set(engine))
    assert not unknown, f"exported rules the engine does not report: {unknown}"
    differ = {rid: (external[rid], engine[rid]) for rid in external if external[rid] != engine[rid]}
    assert not differ, f"(external, engine) verdicts differ: {differ}"


@pytest.fixture(scope="module")
def contract() -> ContractSpec:
    return spec()


def test_suite_json_is_plain_json_with_rule_ids(contract: ContractSpec) -> None:
    doc = to_gx_suite_json(contract)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["name"] == "checkout@2.1.0"
    ids = exported_rule_ids(doc)
    assert len(ids) == len(set(ids))
    by_id = {e["meta"]["rule_id"]: e for e in doc["expectations"]}
    assert by_id["price.min"] == {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "price", "min_value": 0},
        "meta": {"rule_id": "price.min"},
    }
    assert by_id["placed_at.max"]["kwargs"]["max_value"] == "2026-01-01T00:00:00+00:00"
    assert by_id["event_id.present"]["type"] == "expect_column_to_exist"
    assert by_id["event_id.required"]["type"] == "expect_column_values_to_not_be_null"
    assert by_id["null_fraction:discount"]["kwargs"] == {"column": "discount", "mostly": 0.75}
    assert by_id["unique_key:user_id+session"]["kwargs"]["ignore_row_if"] == "any_value_is_missing"
    assert by_id["row_count"]["kwargs"] == {"min_value": 5, "max_value": 25}
    not_exported = doc["meta"]["driftgate"]["not_exported"]
    assert not_exported["expression:order_total"] == NOT_EXPORTED_EXPRESSION
    assert "price.type" in not_exported and "freshness" in not_exported


def test_build_gx_suite_instantiates_every_expectation(contract: ContractSpec) -> None:
    import great_expectations as gx

    suite = build_gx_suite(contract)
    doc = to_gx_suite_json(contract)
    assert isinstance(suite, gx.ExpectationSuite)
    assert len(suite.expectations) == len(doc["expectations"])
    assert [(e.meta or {})["rule_id"] for e in suite.expectations] == exported_rule_ids(doc)
    as_json: dict[str, Any] = json.loads(json.dumps(suite.to_json_dict()))
    assert as_json["meta"]["driftgate"] == doc["meta"]["driftgate"]


def test_clean_batch_passes_everywhere(contract: ContractSpec) -> None:
    raw = clean_batch()
    engine = engine_verdicts(raw, contract)
    gx_verdicts = run_gx_suite(contract, typed_pandas(raw, contract))
    assert set(gx_verdicts) == set(exported_rule_ids(to_gx_suite_json(contract)))
    assert all(gx_verdicts.values()), gx_verdicts
    assert_parity(gx_verdicts, engine)


def test_dirty_batch_same_verdict_per_rule(contract: ContractSpec) -> None:
    raw = dirty_batch()
    engine = engine_verdicts(raw, contract)
    gx_verdicts = run_gx_suite(contract, typed_pandas(raw, contract))
    assert_parity(gx_verdicts, engine)
    # Not vacuous: every exported rule kind fails here except column presence.
    failing = {rid for rid, ok in gx_verdicts.items() if not ok}
    expected_passing = {f"{f.name}.present" for f in contract.fields if f.required}
    assert set(gx_verdicts) - failing == expected_passing
    assert engine["ship_date.type"] is False  # the engine-only rule did fire


def test_missing_required_column(contract: ContractSpec) -> None:
    raw = clean_batch().drop("currency")
    engine = engine_verdicts(raw, contract)
    gx_verdicts = run_gx_suite(contract, typed_pandas(raw, contract))
    assert gx_verdicts["currency.present"] is False
    # The engine reports a missing column once, by `.present`; GX also fails its other rules.
    shadowed = {"currency.required", "currency.allowed_values"}
    assert_parity({k: v for k, v in gx_verdicts.items() if k not in shadowed}, engine)


def test_suite_json_does_not_import_great_expectations() -> None:
    """The API serves the suite document; importing GX would add seconds to a cold request."""
    code = (
        "import sys, json\n"
        "from contracts.gx_export import to_gx_suite_json\n"
        "from tests.checks.test_gx_parity import spec\n"
        "json.dumps(to_gx_suite_json(spec()))\n"
        "assert 'great_expectations' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- raw frames: what a user loads with pandas ------------------------------------------------


def _as_file(raw: pl.DataFrame, fmt: str) -> bytes:
    import io

    buf = io.BytesIO()
    {"csv": raw.write_csv, "ndjson": raw.write_ndjson, "parquet": raw.write_parquet}[fmt](buf)
    return buf.getvalue()


def _pandas_read(body: bytes, fmt: str) -> Any:
    """The frame a user gets from the batch file with pandas' own readers and defaults."""
    import io

    import pandas as pd

    if fmt == "csv":
        return pd.read_csv(io.BytesIO(body))
    if fmt == "ndjson":
        return pd.read_json(io.BytesIO(body), lines=True)
    return pd.read_parquet(io.BytesIO(body))


def _driftgate_read(body: bytes, fmt: str, tmp_path: Path) -> pl.DataFrame:
    """The frame driftgate validates when the same file is posted."""
    from checks.readers import read_batch

    path = tmp_path / f"batch.{fmt}"
    path.write_bytes(body)
    return read_batch(path, fmt)


@pytest.fixture(scope="module")
def runner(contract: ContractSpec) -> Any:
    from contracts.gx_export import GxRunner

    return GxRunner(contract)


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
@pytest.mark.parametrize("batch", ["clean", "dirty"])
def test_raw_pandas_frames_through_the_loader_reach_the_engine_verdict(
    contract: ContractSpec, runner: Any, fmt: str, batch: str, tmp_path: Path
) -> None:
    from contracts.gx_loader import typed_frame

    raw = clean_batch() if batch == "clean" else dirty_batch()
    body = _as_file(raw, fmt)
    engine = engine_verdicts(_driftgate_read(body, fmt, tmp_path), contract)
    frame = typed_frame(_pandas_read(body, fmt), to_gx_suite_json(contract))
    gx_verdicts = runner.run(frame)
    assert_parity(gx_verdicts, engine)
    if batch == "clean":
        assert all(gx_verdicts.values()), gx_verdicts
    else:
        assert not any(
            gx_verdicts[f"{c}.{b}"] for c in ("placed_at", "ship_date") for b in ("min", "max")
        )


def test_without_the_loader_temporal_bounds_raise_on_text_columns(
    contract: ContractSpec, runner: Any
) -> None:
    """Why the loader exists: the suite on the frame `pd.read_csv` gives, unconverted."""
    frame = _pandas_read(_as_file(clean_batch(), "csv"), "csv")
    batch = runner._definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(runner.suite, result_format="BOOLEAN_ONLY")

    def raised_exception(info: dict[str, Any]) -> bool:
        """GX 1.x nests exception info per metric; an expectation that ran has it flat."""
        if "raised_exception" in info:
            return bool(info["raised_exception"])
        return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())

    raised = {
        r.expectation_config.meta["rule_id"]
        for r in result.results
        if raised_exception(r.exception_info or {})
    }
    assert raised == {"placed_at.min", "placed_at.max", "ship_date.min", "ship_date.max"}
    assert "gx_loader.py" in to_gx_suite_json(contract)["meta"]["driftgate"]["loader"]


def test_the_loader_converts_like_the_engine_and_nulls_what_does_not_convert() -> None:
    import pandas as pd

    from contracts.gx_loader import typed_frame

    suite = {
        "meta": {
            "driftgate": {
                "columns": {"n": "integer", "at": "timestamp", "d": "date", "ok": "boolean"}
            }
        }
    }
    df = pd.DataFrame(
        {
            "n": ["1", " 2 ", "2.5", "x"],
            "at": ["2024-01-01", "2024-01-01T05:00:00+02:00", "2024-01-01 03:00:00", "later"],
            "d": ["2024-01-02", "2024-01-02T05:00", None, "2024-13-01"],
            "ok": ["yes", "N", "maybe", None],
            "other": [1, 2, 3, 4],
        }
    )
    out = typed_frame(df, suite)
    assert out["n"].tolist()[:2] == [1.0, 2.0] and out["n"].isna().tolist() == [
        False,
        False,
        True,
        True,
    ]
    assert [str(v) for v in out["at"]] == [
        "2024-01-01 00:00:00+00:00",
        "2024-01-01 03:00:00+00:00",
        "2024-01-01 03:00:00+00:00",
        "NaT",
    ]
    assert out["d"].isna().tolist() == [False, True, True, True]
    assert out["ok"].tolist()[:3] == [True, False, None]
    assert out["other"].tolist() == [1, 2, 3, 4]
