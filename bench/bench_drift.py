"""Drift and SLO evaluation speed: driftgate next to Evidently's DataDriftPreset and scipy.

Part 1, from raw rows: a window of N rows x 22 fields (10 float, 10 integer, 2 categorical)
against a reference of the same size, drifted in 6 fields. Contenders on the same data:
- Evidently `Report([DataDriftPreset()])` on pandas frames (its default tests per column);
- scipy: `ks_2samp` per numeric column plus `chi2_contingency` per categorical;
- driftgate: profile the window (`checks.profile.profile_frame`: moments, log-bucket
  sketches, top-k) and compare it with the stored reference profile
  (`monitors.drift.compare.compare_window`: PSI on reference-quantile bins, KS, BH correction).
Part 2, from stored profiles: windows of 1 h, 1 day, 7 and 30 days (and 7 and 30 days starting
and ending at :20) of hourly batches whose profiles sit in PostgreSQL, evaluated by
`monitors.drift.service.drift_series` (query, merge, compare), from the batches' own profiles and
through the rollups the runner keeps (built first as the runner does, a bounded run at a time).
Part 2b (`minute`), the same for one batch a minute (31 days, 44,640 batches of 1,000 rows):
aligned windows of 10 minutes to 30 days, and unaligned ones whose edges are parts of hours and
of minutes (from and to :20 and :20:30; 45 and 59 minutes within hours).
Part 3, SLOs: 30 days of minute-level data (43,200 batches, drift windows and quality
windows) and the four SLO kinds evaluated by `monitors.slos.service.evaluate_slo`.
Part 4, the label-free estimate's error against realized AUC, without and with concept drift.

    .venv/bin/python bench/bench_drift.py --rows 100000 1000000 [--repeat 3] [--json out.json]
    .venv/bin/python bench/bench_drift.py --parts stored    # only the stored-profile windows
    .venv/bin/python bench/bench_drift.py --parts minute    # only the minute-level windows
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scratch import scratch_database
from checks.profile import profile_frame
from contracts.spec import ContractSpec
from monitors.drift.compare import DriftPolicy, compare_window, monitored_fields
from monitors.drift.profiles import merge_window

N_FLOAT, N_INT = 10, 10
CATEGORIES = {
    "country": ["DE", "FR", "GB", "US", "NL", "ES", "IT", "PL"],
    "device": ["ios", "android", "web", "tv"],
}
DRIFTED = ("f0", "f1", "f2", "i0", "i1", "country")
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def contract() -> ContractSpec:
    fields: list[dict[str, Any]] = [{"name": f"f{i}", "type": "float"} for i in range(N_FLOAT)]
    fields += [{"name": f"i{i}", "type": "integer"} for i in range(N_INT)]
    fields += [{"name": n, "type": "category"} for n in CATEGORIES]
    return ContractSpec.model_validate(
        {"id": "bench", "version": "1.0.0", "owner": "bench", "dataset": "bench", "fields": fields}
    )


def frame(n: int, seed: int, drift: bool = False) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(N_FLOAT):
        shift = 0.5 if drift and f"f{i}" in DRIFTED else 0.0
        cols[f"f{i}"] = rng.lognormal(3 + shift, 0.6, n)
    for i in range(N_INT):
        lam = 25 if drift and f"i{i}" in DRIFTED else 20
        cols[f"i{i}"] = rng.poisson(lam, n).astype(np.int64)
    for name, values in CATEGORIES.items():
        p = np.linspace(1, 3, len(values)) if drift and name in DRIFTED else np.ones(len(values))
        cols[name] = np.asarray(values)[rng.choice(len(values), n, p=p / p.sum())]
    return pl.DataFrame(cols)


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


# --- part 1: from raw rows --------------------------------------------------------------------


def evidently_run(ref: Any, cur: Any, numerical: list[str], categorical: list[str]) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    report = Report([DataDriftPreset()])
    return report.run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )


def scipy_run(
    ref: pl.DataFrame, cur: pl.DataFrame, numerical: list[str], categorical: list[str]
) -> dict[str, float]:
    from scipy.stats import chi2_contingency, ks_2samp

    out = {c: float(ks_2samp(ref[c].to_numpy(), cur[c].to_numpy()).pvalue) for c in numerical}
    for c in categorical:
        a = ref[c].value_counts().rename({"count": "r"})
        b = cur[c].value_counts().rename({"count": "c"})
        table = a.join(b, on=c, how="full", coalesce=True).fill_null(0)
        out[c] = float(chi2_contingency(table.select("r", "c").to_numpy().T)[1])
    return out


def raw_rows(n: int, repeat: int, evidently_max: int) -> dict[str, Any]:
    spec = contract()
    fields = monitored_fields(spec)
    numerical = [f.name for f in fields if f.type in ("float", "integer")]
    categorical = [f.name for f in fields if f.type == "category"]
    ref, cur = frame(n, 1), frame(n, 2, drift=True)
    stored_ref = merge_window((k, v) for k, v in profile_frame(ref, spec).items())
    policy = DriftPolicy(min_rows=100)

    def driftgate() -> Any:
        current = merge_window((k, v) for k, v in profile_frame(cur, spec).items())
        return compare_window(stored_ref, current, fields, policy, rows=cur.height)

    t_dg, drift = best_of(driftgate, repeat)
    current = merge_window((k, v) for k, v in profile_frame(cur, spec).items())
    t_compare, _ = best_of(
        lambda: compare_window(stored_ref, current, fields, policy, rows=n), repeat
    )
    t_scipy, pvals = best_of(lambda: scipy_run(ref, cur, numerical, categorical), repeat)
    result: dict[str, Any] = {
        "rows": n,
        "driftgate_s": t_dg,
        "scipy_s": t_scipy,
        "driftgate_alerts": sorted(k for k, f in drift.fields.items() if f.severity == "alert"),
        "scipy_significant": sorted(k for k, p in pvals.items() if p < 0.05 / len(pvals)),
    }
    if n <= evidently_max:
        ref_pd, cur_pd = ref.to_pandas(), cur.to_pandas()
        t_ev, snap = best_of(
            lambda: evidently_run(ref_pd, cur_pd, numerical, categorical),
            1 if n >= 1_000_000 else repeat,
        )
        result["evidently_s"] = t_ev
        result["evidently_drifted"] = sorted(
            m["config"]["column"]
            for m in snap.dict()["metrics"]
            if m["config"].get("type", "").endswith("ValueDrift") and _evidently_drifted(m)
        )
    result["compare_only_s"] = t_compare
    return result


def _evidently_drifted(metric: dict[str, Any]) -> bool:
    value, threshold = float(metric["value"]), float(metric["config"]["threshold"])
    method = str(metric["config"].get("method", ""))
    # p-value tests drift below the threshold, distances above it
    return value < threshold if "p_value" in method else value >= threshold


# --- part 2 and 3: PostgreSQL ---------------------------------------------------------------


def seed_profiles(session: Any, hours: int, rows_per_batch: int) -> datetime:
    """`hours` hourly batches whose profiles are stored, as checks would store them."""
    from checks.models import ColumnProfile
    from contracts.service import register_contract
    from core.auth import CLI_OPERATOR
    from core.jsonsafe import jsonsafe

    spec = contract()
    register_contract(session, CLI_OPERATOR, spec=spec)
    for h in range(hours):
        data = frame(rows_per_batch, 100 + h, drift=h >= hours - 3)
        batch = _batch(spec.id, T0 + timedelta(hours=h, minutes=5), "passed", rows_per_batch)
        session.add(batch)
        session.flush()
        session.add_all(
            ColumnProfile(batch_id=batch.id, field=k, profile=jsonsafe(v))
            for k, v in profile_frame(data, spec).items()
        )
    session.flush()
    return T0 + timedelta(hours=hours)


def seed_minute_profiles(session: Any, minutes: int, rows_per_batch: int, pool: int) -> datetime:
    """`minutes` batches of the `minute` contract, one a minute, with stored profiles.

    Profiling 43,200 frames would take minutes, so `pool` profiles are computed (the last hour's
    drifted, as part 2 drifts its last hours) and cycled: each batch still has its own rows in
    `batches` and `column_profiles`, written with COPY.
    """
    from sqlalchemy import insert

    from checks.models import Batch
    from contracts.service import register_contract
    from contracts.spec import Monitoring, ReferenceWindow
    from core.auth import CLI_OPERATOR
    from core.jsonsafe import jsonsafe

    spec = contract().model_copy(
        update={"id": "minute", "monitoring": Monitoring(reference=ReferenceWindow(window="P1D"))}
    )
    register_contract(session, CLI_OPERATOR, spec=spec)
    docs = [
        [
            (k, json.dumps(jsonsafe(v)))
            for k, v in profile_frame(frame(rows_per_batch, 10_000 + i, drift), spec).items()
        ]
        for drift in (False, True)
        for i in range(pool if not drift else min(pool, 60))
    ]
    normal, drifted = docs[:pool], docs[pool:]
    batches = [
        _batch("minute", T0 + timedelta(minutes=m, seconds=5), "passed", rows_per_batch)
        for m in range(minutes)
    ]
    session.execute(
        insert(Batch.__table__),
        [{c.name: getattr(b, c.name) for c in Batch.__table__.columns} for b in batches],
    )
    conn = session.connection().connection.driver_connection
    with (
        conn.cursor() as cur,
        cur.copy("COPY column_profiles (batch_id, field, profile) FROM STDIN") as copy,
    ):
        for m, b in enumerate(batches):
            source = drifted[m % len(drifted)] if m >= minutes - 60 else normal[m % pool]
            for name, doc in source:
                copy.write_row((b.id, name, doc))
    return T0 + timedelta(minutes=minutes)


def _batch(contract_id: str, at: datetime, status: str, rows: int, newest: Any = None) -> Any:
    from checks.models import Batch

    return Batch(
        id=uuid.uuid4(),
        contract_id=contract_id,
        contract_version="1.0.0",
        status=status,
        rows_received=rows,
        rows_accepted=0 if status == "rejected" else rows,
        rows_quarantined=rows if status == "rejected" else 0,
        format="parquet",
        body_bytes=1,
        body_sha256="0" * 64,
        received_at=at,
        newest_event_at=newest,
        submitted_by="bench",
        accepted_path="",
        accepted_sha256="",
        quarantine_path="",
        quarantine_sha256="",
        validation_ms=0,
    )


def stored_windows(end: datetime, hours: int) -> list[tuple[str, datetime, datetime]]:
    """Windows ending just after the last batch, plus unaligned ones (start and end at :20)."""
    out = [
        (label, end - length, end)
        for label, length in (
            ("1 h", timedelta(hours=1)),
            ("1 day", timedelta(days=1)),
            ("7 days", timedelta(days=7)),
            ("30 days", timedelta(days=30)),
        )
    ]
    if hours >= 45 * 24:  # longer than the rollup horizon of the runner (35 days)
        days = hours // 24
        out.append((f"{days} days", end - timedelta(days=days), end))
    cut = timedelta(hours=10, minutes=40)
    for label, length in (
        ("7 days, unaligned", timedelta(days=7)),
        ("30 days, unaligned", timedelta(days=30)),
    ):
        if end - cut - length >= end - timedelta(hours=hours):
            out.append((label, end - cut - length, end - cut))
    return out


def minute_windows(end: datetime) -> list[tuple[str, datetime, datetime]]:
    """Windows over minute-level batches: aligned ones ending at `end`, unaligned ones (from and
    to :20, :20:30 and within an hour), whose edges are parts of hours and of minutes."""
    out = [
        (label, end - length, end)
        for label, length in (
            ("10 min", timedelta(minutes=10)),
            ("1 h", timedelta(hours=1)),
            ("1 day", timedelta(days=1)),
            ("7 days", timedelta(days=7)),
            ("30 days", timedelta(days=30)),
        )
    ]
    for label, stop, length in (
        ("45 min, :07:30 to :52:30", end - timedelta(hours=5, minutes=7, seconds=30), 45),
        ("59 min, :00:30 to :59:30", end - timedelta(hours=3, seconds=30), 59),
        ("7 days, from and to :20", end - timedelta(hours=10, minutes=40), 7 * 24 * 60),
        ("30 days, from and to :20", end - timedelta(hours=10, minutes=40), 30 * 24 * 60),
        (
            "30 days, from and to :20:30",
            end - timedelta(hours=10, minutes=39, seconds=30),
            30 * 24 * 60,
        ),
    ):
        out.append((label, stop - timedelta(minutes=length), stop))
    return out


def build_rollups(sessions: Any, settings: Any, contract_id: str = "bench") -> dict[str, Any]:
    """The runner's bounded rollup refresh, one transaction per run, until nothing is left."""
    from core.db import unit_of_work
    from monitors.drift.service import refresh_rollups

    runs = []
    while True:
        with unit_of_work(sessions) as s:
            t = time.perf_counter()
            done = refresh_rollups(s, contract_id=contract_id, settings=settings)
            runs.append(
                {"seconds": time.perf_counter() - t, "built": done.built, "left": done.left}
            )
        if done.left == 0 or len(runs) > 1000:
            return {"runs": runs, "total_s": sum(r["seconds"] for r in runs)}


def stored_profiles(
    url: str, repeat: int, hours: int, rows_per_batch: int, modes: tuple[str, ...]
) -> dict[str, Any]:
    from sqlalchemy import create_engine

    from core.auth import CLI_OPERATOR
    from core.clock import SimulatedClock, set_clock
    from core.db import make_session_factory, unit_of_work
    from core.settings import Settings
    from monitors.drift.references import build_reference
    from monitors.drift.service import refresh_rollups

    engine = create_engine(url)
    sessions = make_session_factory(engine)
    settings = Settings(monitor_rollup_days=max(35, hours // 24 + 7))
    with unit_of_work(sessions) as s:
        end = seed_profiles(s, hours, rows_per_batch)
    set_clock(SimulatedClock(end))
    with unit_of_work(sessions) as s:
        build_reference(s, CLI_OPERATOR, contract_id="bench", settings=settings, reason="bench")
    out: dict[str, Any] = {"batches": hours, "rows_per_batch": rows_per_batch, "windows": {}}
    for mode in modes:
        if mode == "rollups":
            out["rollup_build"] = build_rollups(sessions, settings)
            with sessions() as s:
                out["rollup_check_s"], _ = best_of(
                    lambda s=s: refresh_rollups(s, contract_id="bench", settings=settings), repeat
                )
        for label, start, stop in stored_windows(end, hours):
            out["windows"][f"{label}, {mode}"] = _time_window(
                sessions, "bench", start, stop, settings, repeat
            )
    engine.dispose()
    return out


def minute_profiles(
    url: str, repeat: int, minutes: int, rows_per_batch: int, profiles_up_to: timedelta
) -> dict[str, Any]:
    """Part 2b: windows over one batch a minute, through rollups built as the runner does; from
    the batches' own profiles too for windows up to `profiles_up_to` (a 30-day window of them
    reads 43,200 JSON profiles, about a minute and a half)."""
    from sqlalchemy import create_engine

    from core.auth import CLI_OPERATOR
    from core.clock import SimulatedClock, set_clock
    from core.db import make_session_factory, unit_of_work
    from core.settings import Settings
    from monitors.drift.references import build_reference
    from monitors.drift.service import refresh_rollups

    engine = create_engine(url)
    sessions = make_session_factory(engine)
    settings = Settings(monitor_rollup_days=max(35, minutes // 1440 + 7))
    t = time.perf_counter()
    with unit_of_work(sessions) as s:
        end = seed_minute_profiles(s, minutes, rows_per_batch, pool=241)
    out: dict[str, Any] = {
        "batches": minutes,
        "rows_per_batch": rows_per_batch,
        "seed_s": time.perf_counter() - t,
        "windows": {},
    }
    set_clock(SimulatedClock(end))
    with unit_of_work(sessions) as s:
        build_reference(s, CLI_OPERATOR, contract_id="minute", settings=settings, reason="bench")
    windows = minute_windows(end)
    for label, start, stop in windows:
        if stop - start <= profiles_up_to:
            out["windows"][f"{label}, batch profiles"] = _time_window(
                sessions, "minute", start, stop, settings, repeat
            )
    out["rollup_build"] = build_rollups(sessions, settings, "minute")
    with sessions() as s:
        out["rollup_check_s"], _ = best_of(
            lambda s=s: refresh_rollups(s, contract_id="minute", settings=settings), repeat
        )
    for label, start, stop in windows:
        out["windows"][f"{label}, rollups"] = _time_window(
            sessions, "minute", start, stop, settings, repeat
        )
    engine.dispose()
    return out


def _time_window(
    sessions: Any, dataset: str, start: datetime, stop: datetime, settings: Any, repeat: int
) -> dict[str, Any]:
    from monitors.drift.service import drift_series

    with sessions() as s:
        t, series = best_of(
            lambda: drift_series(
                s,
                dataset=dataset,
                window=f"PT{int((stop - start).total_seconds())}S",
                start=start,
                end=stop,
                count=1,
                settings=settings,
            ),
            repeat,
        )
    w = series["windows"][0]
    return {
        "seconds": t,
        "batches": w["batch_count"],
        "batch_ids": len(w["batch_ids"]),
        "rows": w["rows"],
        "verdict": w["verdict"],
    }


def slo_timing(url: str, repeat: int) -> dict[str, Any]:
    """30 days of minute-level events for every SLO kind, each evaluated at the end."""
    from sqlalchemy import create_engine, insert

    from checks.models import Batch
    from core.auth import CLI_OPERATOR
    from core.clock import SimulatedClock, set_clock
    from core.db import make_session_factory, unit_of_work
    from monitors.drift.models import DriftWindow
    from monitors.quality.models import ModelQualityWindow
    from monitors.slos.service import create_slo, evaluate_slo, get_slo

    engine = create_engine(url)
    sessions = make_session_factory(engine)
    minutes = 30 * 24 * 60
    start = T0 - timedelta(days=30)
    set_clock(SimulatedClock(start))
    rng = np.random.default_rng(5)
    with unit_of_work(sessions) as s:
        from contracts.service import register_contract

        register_contract(s, CLI_OPERATOR, spec=contract().model_copy(update={"id": "slo"}))
    at = [start + timedelta(minutes=m + 1) for m in range(minutes)]
    bad = rng.random(minutes) < 0.005
    batches = [
        {c.name: getattr(b, c.name) for c in Batch.__table__.columns}
        for b in (
            _batch("slo", t, "rejected" if x else "passed", 100, newest=t - timedelta(minutes=30))
            for t, x in zip(at, bad, strict=True)
        )
    ]
    # what the runner stores running once a minute: its 5, 15 and 60-minute sliding windows
    # and the minute's batch judged on its own (the drift-free SLO groups them into 5-minute
    # slots: 8,640 events from 172,800 rows)
    drift = [
        {
            "contract_id": "slo",
            "kind": kind,
            "window_start": t - timedelta(minutes=length),
            "window_end": t,
            "batch_id": b["id"] if kind == "batch" else None,
            "verdict": "alert" if x else "ok",
            "rows": 100,
            "batches": 1,
            "fields": {},
            "computed_at": t,
        }
        for t, x, b in zip(at, bad, batches, strict=True)
        for kind, length in (("sliding", 5), ("sliding", 15), ("sliding", 60), ("batch", 0))
    ]
    aucs = rng.normal(0.8, 0.03, minutes)
    qual = [
        {
            "model_name": "ranker",
            "model_versions": [1],
            "window_start": t - timedelta(minutes=1),
            "window_end": t,
            "status": "mature",
            "predictions": 100,
            "labeled": 100,
            "coverage": 1.0,
            "auc": float(a),
            "metrics": {},
            "estimated_auc": 0.8,
            "estimated_ctr": 0.1,
            "score_psi": 0.01,
            "computed_at": t,
        }
        for t, a in zip(at, aucs, strict=True)
    ]
    with unit_of_work(sessions) as s:
        s.execute(insert(Batch), batches)
        s.execute(insert(DriftWindow), drift)
        s.execute(insert(ModelQualityWindow), qual)
    base = {
        "contract_id": "slo",
        "period": "P30D",
        "time_scale": 1.0,
        "min_events": 0,
        "pending_seconds": 0.0,
        "runbook_url": None,
        "enabled": True,
    }
    kinds = {
        "batch_pass_rate": {"objective": 0.99, "params": {}},
        "freshness": {"objective": 0.995, "params": {"max_lag_seconds": 7200}},
        "drift_free": {"objective": 0.95, "params": {}},
        "realized_auc": {"objective": 0.99, "params": {"threshold": 0.7}, "contract_id": None},
    }
    with unit_of_work(sessions) as s:
        for kind, extra in kinds.items():
            create_slo(
                s, CLI_OPERATOR, data={**base, "id": kind, "name": kind, "kind": kind, **extra}
            )
    set_clock(SimulatedClock(start + timedelta(minutes=minutes)))
    out: dict[str, Any] = {"events_per_slo": minutes, "per_slo": {}}

    def all_slos() -> dict[str, int]:
        with sessions() as s:
            return {k: evaluate_slo(s, get_slo(s, k)).total for k in kinds}

    t, totals = best_of(all_slos, repeat)
    out["all_slos_s"] = t
    out["totals"] = totals
    for kind in kinds:
        with sessions() as s:
            slo = get_slo(s, kind)
            out["per_slo"][kind], _ = best_of(lambda s=s, slo=slo: evaluate_slo(s, slo), repeat)
    engine.dispose()
    return out


# --- part 4: the label-free estimate ----------------------------------------------------------


def estimate_error(windows: int = 48, requests: int = 500) -> dict[str, Any]:
    """Mean |expected AUC - realized AUC| over hourly windows, without and with concept drift."""
    from monitors.quality.metrics import estimated, roc_auc

    out = {}
    for label, drift in (
        ("no concept drift", 0.0),
        ("concept drift 0.6", 0.6),
        ("concept drift 0.95", 0.95),
    ):
        errs, realized = [], []
        for w in range(windows):
            rng = np.random.default_rng(1000 + w)
            z = rng.normal(size=requests * 10)
            p = 1 / (1 + np.exp(-(-2 + 1.5 * z)))
            mixed = np.sqrt(1 - drift**2) * z + drift * rng.normal(size=z.size)
            clicks = rng.random(z.size) < 1 / (1 + np.exp(-(-2 + 1.5 * mixed)))
            real = roc_auc(p, clicks)
            est = estimated(p).expected_auc
            assert real is not None and est is not None
            errs.append(abs(est - real))
            realized.append(real)
        out[label] = {
            "mean_abs_error": float(np.mean(errs)),
            "max_abs_error": float(np.max(errs)),
            "mean_realized_auc": float(np.mean(realized)),
            "mean_estimated_auc": float(est),
        }
    return out


# --- main -------------------------------------------------------------------------------------


PARTS = ("raw", "stored", "minute", "slo", "estimate")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--evidently-max-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--stored-batches", type=int, default=744, help="hourly batches (744: 31 days)"
    )
    parser.add_argument("--rows-per-batch", type=int, default=10_000)
    parser.add_argument(
        "--minute-batches", type=int, default=31 * 24 * 60, help="minute-level batches (31 days)"
    )
    parser.add_argument("--minute-rows-per-batch", type=int, default=1_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--skip-db", action="store_true", help="only the raw-rows comparison")
    parser.add_argument(
        "--skip-batch-profiles",
        action="store_true",
        help="stored windows through rollups only (not also from every batch's JSON profile)",
    )
    args = parser.parse_args(argv)
    parts = ["raw"] if args.skip_db else args.parts
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load_average": os.getloadavg(),
        "raw": [],
    }
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if "raw" in parts:
        for n in args.rows:
            report_raw(raw_rows(n, args.repeat, args.evidently_max_rows))
    if "stored" in parts or "minute" in parts or "slo" in parts:
        with scratch_database() as url:
            if "stored" in parts:
                modes = ("rollups",) if args.skip_batch_profiles else ("batch profiles", "rollups")
                stored = stored_profiles(
                    url, args.repeat, args.stored_batches, args.rows_per_batch, modes
                )
                results["stored"] = stored
                report_stored(stored)
            if "minute" in parts:
                minute = minute_profiles(
                    url,
                    args.repeat,
                    args.minute_batches,
                    args.minute_rows_per_batch,
                    timedelta(0) if args.skip_batch_profiles else timedelta(days=1),
                )
                results["minute"] = minute
                print(
                    f"minute-level: {minute['batches']:,} batches of "
                    f"{minute['rows_per_batch']:,} rows seeded in {minute['seed_s']:.0f} s",
                    flush=True,
                )
                report_stored(minute)
            if "slo" in parts:
                slo = slo_timing(url, args.repeat)
                results["slo"] = slo
                print(
                    f"all 4 SLOs over 30 days of minute data ({slo['events_per_slo']:,} events "
                    f"each): {slo['all_slos_s'] * 1000:.0f} ms  "
                    + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in slo["per_slo"].items()),
                    flush=True,
                )
    if "estimate" in parts:
        results["estimate"] = estimate_error()
        for label, e in results["estimate"].items():
            print(
                f"CBPE estimate, {label}: mean |error| {e['mean_abs_error']:.3f} "
                f"(max {e['max_abs_error']:.3f}); realized AUC {e['mean_realized_auc']:.3f}, "
                f"estimated {e['mean_estimated_auc']:.3f}"
            )
    results["load_average_after"] = os.getloadavg()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


def report_raw(r: dict[str, Any]) -> None:
    n = r["rows"]
    line = f"{n:>9,} rows: driftgate {r['driftgate_s'] * 1000:8.1f} ms"
    line += f" | scipy {r['scipy_s'] * 1000:8.1f} ms ({r['scipy_s'] / r['driftgate_s']:.1f}x)"
    if "evidently_s" in r:
        line += f" | Evidently {r['evidently_s']:7.2f} s"
        line += f" ({r['evidently_s'] / r['driftgate_s']:.0f}x)"
    print(line, flush=True)
    print(
        f"           of which compare only (profiles in memory): "
        f"{r['compare_only_s'] * 1000:.1f} ms",
        flush=True,
    )
    print(f"           alerts: driftgate {r['driftgate_alerts']}", flush=True)
    print(f"           scipy (Bonferroni) {r['scipy_significant']}", flush=True)
    if "evidently_drifted" in r:
        print(f"           Evidently {r['evidently_drifted']}", flush=True)


def report_stored(stored: dict[str, Any]) -> None:
    build = stored.get("rollup_build")
    if build:
        runs = build["runs"]
        print(
            f"rollup build from scratch: {len(runs)} runner runs, "
            f"{build['total_s']:.1f} s in all, longest run {max(r['seconds'] for r in runs):.2f} s "
            f"({', '.join(str(r['built']) for r in runs)} buckets); "
            f"check when current {stored['rollup_check_s'] * 1000:.0f} ms",
            flush=True,
        )
    for label, w in stored["windows"].items():
        print(
            f"stored profiles, {label:44}: {w['seconds'] * 1000:7.1f} ms "
            f"({w['batches']:,} batches, {w['batch_ids']} ids, {w['rows']:,} rows, "
            f"{w['verdict']})",
            flush=True,
        )


if __name__ == "__main__":
    raise SystemExit(main())
