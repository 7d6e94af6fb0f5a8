"""Batch validation throughput: driftgate's engine next to pandera, Great Expectations and numpy.

Every contender runs the same contract (min/max on 20 numeric columns, required, allowed values
on 2 categoricals, a row-count rule) on the same batch with a few % of violating rows; frames
are converted to each library's native form before timing. The numpy pass (one comparison and
one count per column) is the memory-bandwidth floor, not a validator.

    .venv/bin/python bench/bench_checks.py --rows 100000 1000000 --repeat 3 [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import platform
import sys
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks import engine
from checks.conform import conform
from checks.engine import validate
from contracts.pandera_compile import to_pandas_frame, to_pandera_schema
from contracts.spec import ContractSpec

N_FLOAT = 10
N_INT = 10
CATEGORIES = {
    "country": ["DE", "FR", "GB", "US", "NL", "ES", "IT", "PL"],
    "device": ["ios", "android", "web", "tv"],
}
# Share of rows broken per violated column (out of range, null, unknown category): 11 columns
# are hit, so ~4% of rows end up quarantined.
VIOLATION_SHARE = 0.004
RECEIVED_AT = datetime(2025, 6, 1, tzinfo=UTC)
BASELINE = "pandera_pandas"


def contract() -> ContractSpec:
    fields: list[dict[str, Any]] = []
    for i in range(N_FLOAT):
        fields.append({"name": f"f{i}", "type": "float", "required": True, "min": 0, "max": 1000})
    for i in range(N_INT):
        fields.append(
            {"name": f"i{i}", "type": "integer", "required": i % 2 == 0, "min": 0, "max": 10_000}
        )
    for name, values in CATEGORIES.items():
        fields.append(
            {"name": name, "type": "category", "required": True, "allowed_values": values}
        )
    return ContractSpec.model_validate(
        {
            "id": "bench",
            "version": "1.0.0",
            "owner": "bench",
            "dataset": "bench",
            "fields": fields,
            "dataset_rules": [{"kind": "row_count", "min": 1, "max": 100_000_000}],
        }
    )


def batch(n: int, seed: int = 7, share: float = VIOLATION_SHARE) -> pl.DataFrame:
    """N rows in contract types; a few % of rows break a rule, spread over the columns."""
    rng = np.random.default_rng(seed)
    k = max(1, int(n * share))
    cols: dict[str, pl.Series] = {}
    for i in range(N_FLOAT):
        v = rng.uniform(0, 1000, n)
        if i % 3 == 0:
            v[rng.integers(0, n, k // 2)] = -1.0
            v[rng.integers(0, n, k // 2)] = 1000.5
        cols[f"f{i}"] = pl.Series(f"f{i}", v)
    for i in range(N_INT):
        iv = rng.integers(0, 10_001, n)
        if i % 3 == 1:
            iv[rng.integers(0, n, k)] = 20_000
        cols[f"i{i}"] = pl.Series(f"i{i}", iv)
    for name, values in CATEGORIES.items():
        codes = rng.integers(0, len(values), n)
        s = pl.Series(name, np.asarray(values)[codes])
        cols[name] = s.scatter(rng.integers(0, n, k // 2), "??")
    frame = pl.DataFrame(list(cols.values()))
    nulls = rng.integers(0, n, k)  # nulls in two required and one optional column
    null_mask = pl.Series(np.isin(np.arange(n), nulls))
    return frame.with_columns(
        [pl.when(null_mask).then(None).otherwise(pl.col(c)).alias(c) for c in ("f1", "i2", "i3")]
    )


def best_of(contenders: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Best wall time per contender, each run back to back after a warm-up.

    Back to back is the steady state of a service validating batch after batch. Interleaving
    contenders instead charges whoever runs after pandas/GX for re-faulting the memory they
    released (measured: +30-40% on the engine on this VM), which no deployment would see.
    """
    best: dict[str, float] = {}
    for name, fn in contenders.items():
        fn()  # warm-up: imports, caches, first allocation
        times = []
        for _ in range(repeat):
            gc.collect()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        best[name] = min(times)
    return best


def pandera_runner(schema: Any, frame: Any) -> Callable[[], None]:
    from pandera.errors import SchemaErrors

    def run() -> None:
        with contextlib.suppress(SchemaErrors):  # violations are expected; cost is the same
            schema.validate(frame, lazy=True)

    return run


def numpy_floor(frame: pl.DataFrame, spec: ContractSpec) -> Callable[[], int]:
    """One comparison and one count per column on contiguous arrays (categoricals as codes)."""
    arrays: list[tuple[np.ndarray, float, float]] = []
    for f in spec.fields:
        col = frame.get_column(f.name)
        if f.allowed_values is not None:
            allowed = list(f.allowed_values)
            codes = col.replace_strict(allowed, list(range(len(allowed))), default=255)
            arrays.append((codes.cast(pl.UInt8).fill_null(0).to_numpy(), 0, len(allowed) - 1))
        else:
            arrays.append((col.to_numpy(), float(f.min), float(f.max)))  # type: ignore[arg-type]

    def run() -> int:
        return sum(int(np.count_nonzero((a < lo) | (a > hi))) for a, lo, hi in arrays)

    return run


def engine_breakdown(raw: pl.DataFrame, spec: ContractSpec, repeat: int) -> dict[str, float]:
    """Seconds per stage of `validate` (best of repeats), by timing the engine's helpers.

    Every function the engine module calls by name (conform, rule aggregation, examples,
    quarantine, accepted split, profile, ...) is wrapped with a timer during the measurement;
    the rest is inline in `evaluate`/`complete` (e.g. the range kernels and the masks select).
    Wrapping names rather than re-running stages keeps this honest as the engine changes.
    """
    wrapped: dict[str, Callable[..., Any]] = {
        name: fn
        for name, fn in vars(engine).items()
        if isinstance(fn, types.FunctionType) and name not in ("validate", "evaluate", "complete")
    }
    spent: dict[str, float] = {}
    depth = [0]

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:  # nested helpers count once, under the outer one
                    spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return call

    best: dict[str, float] = {}
    try:
        for name, fn in wrapped.items():
            setattr(engine, name, timed(name, fn))
        for _ in range(repeat):
            spent.clear()
            gc.collect()
            start = time.perf_counter()
            engine.validate(raw, spec, received_at=RECEIVED_AT)
            total = time.perf_counter() - start
            stages = {k: v for k, v in spent.items() if v >= 5e-4}
            stages["validate (inline)"] = total - sum(spent.values())
            stages["total"] = total
            for k, v in stages.items():
                best[k] = min(best.get(k, v), v)
    finally:
        for name, fn in wrapped.items():
            setattr(engine, name, fn)
    return dict(sorted(best.items(), key=lambda kv: -kv[1]))


def run(
    rows: int, repeat: int, gx_max_rows: int, breakdown: bool, share: float = VIOLATION_SHARE
) -> dict[str, Any]:
    spec = contract()
    raw = batch(rows, share=share)
    pdf = to_pandas_frame(conform(raw, spec).frame, spec)
    pandas_schema = to_pandera_schema(spec, "pandas")
    polars_schema = to_pandera_schema(spec, "polars")
    contenders: dict[str, Callable[[], Any]] = {
        "driftgate_validate": lambda: validate(
            raw, spec, received_at=RECEIVED_AT, with_profile=False
        ),
        "driftgate_validate_profile": lambda: validate(raw, spec, received_at=RECEIVED_AT),
        "pandera_pandas": pandera_runner(pandas_schema, pdf),
        "pandera_polars": pandera_runner(polars_schema, raw),
        "numpy_floor": numpy_floor(raw, spec),
    }
    seconds = best_of(contenders, repeat)
    if rows <= gx_max_rows:
        from contracts.gx_export import GxRunner

        runner = GxRunner(spec)
        seconds.update(best_of({"gx_pandas": lambda: runner.run(pdf)}, repeat))
    result: dict[str, Any] = {
        "rows": rows,
        "violating_rows": int(validate(raw, spec, received_at=RECEIVED_AT).rows_quarantined),
        "seconds": seconds,
        "rows_per_s": {k: rows / v for k, v in seconds.items()},
        "vs_" + BASELINE: {k: seconds[BASELINE] / v for k, v in seconds.items()},
    }
    if breakdown:
        result["driftgate_stages_s"] = engine_breakdown(raw, spec, repeat)
    return result


ORDER = [
    "driftgate_validate",
    "driftgate_validate_profile",
    "pandera_pandas",
    "pandera_polars",
    "gx_pandas",
    "numpy_floor",
]


def print_table(results: list[dict[str, Any]]) -> None:
    header = f"{'contender':<28}" + "".join(
        f"{format(r['rows'], ',') + ' rows/s':>18}{'x vs pd':>9}" for r in results
    )
    print(header)
    print("-" * len(header))
    for name in ORDER:
        line = f"{name:<28}"
        for r in results:
            if name in r["seconds"]:
                line += f"{r['rows_per_s'][name]:>18,.0f}{r['vs_' + BASELINE][name]:>8.1f}x"
            else:
                line += f"{'skipped':>18}{'':>9}"
        print(line)
    for r in results:
        share = r["violating_rows"] / r["rows"]
        print(f"{r['rows']:,} rows: {r['violating_rows']:,} violating ({share:.1%})")
        if "driftgate_stages_s" in r:
            stages = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in r["driftgate_stages_s"].items())
            print(f"driftgate stages at {r['rows']:,} rows: {stages}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--gx-max-rows",
        type=int,
        default=1_000_000,
        help="skip Great Expectations above this many rows (it is the slowest contender)",
    )
    parser.add_argument("--breakdown", action="store_true", help="time the engine's stages")
    parser.add_argument(
        "--violation-share",
        type=float,
        default=VIOLATION_SHARE,
        help="share of rows broken per violated column (11 columns are hit)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    results = []
    for n in args.rows:
        print(f"running {n:,} rows ...", file=sys.stderr, flush=True)
        results.append(run(n, args.repeat, args.gx_max_rows, args.breakdown, args.violation_share))
    print(
        f"\n{platform.processor() or platform.machine()}, polars {pl.__version__}, "
        f"threads {pl.thread_pool_size()}, best of {args.repeat}; x = speed-up vs {BASELINE}\n"
    )
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps({"repeat": args.repeat, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
