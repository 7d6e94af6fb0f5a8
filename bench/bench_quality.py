"""The label-free quality estimate (CBPE) against realized quality, on the served ranker's own
traffic: before calibration (raw scores) and after (isotonic, fitted on the reference day).

Trains a small ranker once (a reduced 3-day synthetic feed through the contracts, as
`tests/ranker/conftest.py` does) into a template database; then per traffic seed it copies the
template, serves the champion in process (`create_app` + TestClient, as `driftgate simulate
traffic` does) and drives simulated users through POST /rank and POST /labels on a simulated
clock: a reference period (the calibration's window), days without drift, then days with a
covariate shift (another country and device mix, new categories; the simulator applies the
shifted user mix the feed generator uses). Every label is delivered. Then it reads
`/monitors/quality`'s windows (`quality_series`, which fits and stores the calibration) and
compares per window:

* realized AUC and CTR (the labels) with the estimate from calibrated scores, from raw scores,
  and from the generator's true click probabilities (an oracle CBPE: its error is the sampling
  noise of the realized figures, the floor any label-free estimate has on windows this size);
* a rolling recalibration (`roll`): the isotonic map refitted for every window on the labelled
  predictions of the day ending `--roll-lag` (the attribution window) before it starts, the
  freshest labels that are complete when the window is estimated.

The serving features are either `frozen` (the artifact's snapshot, as of the end of training)
or `refreshed` (rebuilt hourly from the accepted feed batches that landed since, as
`ranker_feature_refresh_seconds` does): the feed keeps being posted through the contracts for
the whole serving period, received when the producer delivers it.

Windows inside the reference period are left out (their calibration is in-sample).
Usage: python bench/bench_quality.py [--seeds 11 12 13] [--rps 0.05] [--days 1 2 2]
       [--features frozen refreshed]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ORIGIN = datetime(2026, 11, 2, tzinfo=UTC)
TRAIN_DAYS = 3
WORLD = {  # the reduced world of tests/ranker/conftest.py
    "n_users": 400,
    "new_users_per_day": 10,
    "n_items": 200,
    "new_items_per_hour": 2,
    "requests_per_hour": 200,
    "horizon_days": 14,
}
SHIFT = {
    "country_mix": {"IN": 4, "BR": 3, "JP": 1, "US": 0.5},
    "device_mix": {"android": 4, "web": 1, "ios": 0.5},
    "new_categories": 3,
    "new_category_share": 0.5,
}


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _db_url(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + f"/{name}"


def prepare_template(server: str, config: Any, data_dir: Path, feed_to: datetime) -> str:
    """A database with the feed posted until `feed_to` (batches received when delivered) and
    version 1 trained on its first TRAIN_DAYS, registered and champion."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from core.auth import CLI_OPERATOR
    from core.migrate import upgrade
    from governance.flows import train_and_register
    from ranker.ingest import post_feed

    name = f"driftgate_bench_quality_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _db_url(server, name)
    upgrade(url)
    engine = create_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    end = ORIGIN + timedelta(days=TRAIN_DAYS)
    post_feed(
        sessions,
        CLI_OPERATOR,
        config=config,
        origin=ORIGIN,
        start=ORIGIN,
        end=feed_to,
        data_dir=data_dir,
    )
    train_and_register(
        sessions, CLI_OPERATOR, model_name="ranker", start=ORIGIN, end=end, data_dir=data_dir
    )
    engine.dispose()
    return name


@dataclass
class Truth:
    """Per served prediction: when, its score and the generator's true click probability."""

    served_us: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    p: list[float] = field(default_factory=list)


def simulator_class() -> Any:
    """TrafficSimulator that applies the feed's covariate shift to who is active, records the
    true click probability of every served item, and can deliver every outstanding label."""
    from ranker.feed import _user_weights, click_probability
    from ranker.simulate import TrafficSimulator

    class BenchSimulator(TrafficSimulator):
        truth: Truth

        def _request(self, moment: datetime) -> dict[str, Any] | None:
            req = super()._request(moment)
            shift, h = self.world.config.covariate_shift, self._hours(moment)
            if req is None or shift is None or h < shift.at_hours:
                return req
            live_users = np.flatnonzero(self.world.users.created_h <= h)
            weights = _user_weights(self.world, live_users, int(h))
            user = int(live_users[self.rng.choice(len(live_users), p=weights)])
            own = self.rng.random() < 0.9
            device = self.world.users.device[user] if own else self.rng.integers(0, 3)
            req["user"], req["device"] = user, int(device)
            req["body"]["user_id"] = f"u{user:06d}"
            req["body"]["context"]["device"] = ("ios", "android", "web")[int(device)]
            return req

        def _outcomes(self, moment: datetime, req: dict[str, Any], answer: dict[str, Any]) -> None:
            index = {f"i{i:07d}": i for i in req["items"]}
            item = np.array([index[x["item_id"]] for x in answer["items"]])
            n, h = len(item), self._hours(moment)
            p = click_probability(
                self.world,
                np.full(n, req["user"]),
                item,
                np.arange(n),
                np.full(n, h),
                np.full(n, req["surface"]),
                np.full(n, req["device"]),
                np.full(n, moment.hour),
            )
            self.truth.served_us.extend([int(moment.timestamp() * 1e6)] * n)
            self.truth.scores.extend(float(x["score"]) for x in answer["items"])
            self.truth.p.extend(p.tolist())
            super()._outcomes(moment, req, answer)

        def deliver_all(self, at: datetime) -> None:
            self.clock.set(at)
            self._post_due(at)

    return BenchSimulator


def run_traffic(
    url: str,
    data_dir: Path,
    config: Any,
    *,
    seed: int,
    t0: datetime,
    hours: float,
    args: Any,
    refresh_seconds: float,
) -> tuple[Truth, dict[str, Any]]:
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from api.app import create_app
    from core.auth import CLI_OPERATOR, Role, create_token
    from core.clock import SimulatedClock, get_clock, set_clock
    from core.settings import Settings

    engine = create_engine(url)
    with sessionmaker(bind=engine).begin() as s:
        token = create_token(s, CLI_OPERATOR, name="bench", role=Role.producer, prefix="dg_")
    engine.dispose()
    settings = Settings.model_validate(
        {
            "data_dir": data_dir,
            "monitor_runner": False,
            "ranker_poll_seconds": 0.1,
            "ranker_feature_refresh_seconds": refresh_seconds,
        }
    )
    clock, previous = SimulatedClock(t0), get_clock()
    set_clock(clock)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(create_app(settings, database_url=url)) as client:
            deadline = time.monotonic() + 60
            while not client.get("/rank/status", headers=headers).json().get("serving"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the champion is not served")
                time.sleep(0.2)
            sim = simulator_class()(
                client, headers, clock, config=config, origin=ORIGIN, seed=seed,
                candidates=args.candidates,
            )  # fmt: skip
            sim.truth = Truth()
            report = sim.run(t0, hours, args.rps)
            sim.deliver_all(t0 + timedelta(hours=hours + 80))  # late clicks too (cap 72 h)
            status = client.get("/rank/status", headers=headers).json()
    finally:
        set_clock(previous)
    summary = report.summary()
    summary["feature_refreshes"] = status.get("feature_refreshes")
    summary["features_as_of"] = status.get("features_as_of")
    return sim.truth, summary


def expected_auc_by_score(scores: np.ndarray, p: np.ndarray) -> float:
    """Expected AUC of ranking by `scores` when each item is a click with probability `p`."""
    order = np.argsort(-scores, kind="stable")
    s, q = scores[order], p[order]
    bounds = np.r_[np.flatnonzero(np.diff(s)) + 1, s.size]
    tp = np.r_[0.0, np.cumsum(q)[bounds - 1]] / q.sum()
    fp = np.r_[0.0, np.cumsum(1 - q)[bounds - 1]] / (1 - q).sum()
    return float(np.trapezoid(tp, fp))


def evaluate_windows(
    url: str,
    truth: Truth,
    *,
    start: datetime,
    end: datetime,
    window: str,
    at: datetime,
    reference: str,
    roll: dict[float, tuple[float | None, float]],
) -> list[dict[str, Any]]:
    """Realized vs estimated per window, read through the quality service as the API does;
    `roll` holds the rolling recalibration's (AUC, CTR) per window start (epoch µs)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from contracts.durations import parse_duration
    from core.clock import SimulatedClock, get_clock, set_clock
    from core.db import unit_of_work
    from core.settings import Settings
    from monitors.quality.service import quality_series

    engine = create_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    previous = get_clock()
    set_clock(SimulatedClock(at))
    try:
        with unit_of_work(sessions) as session:
            series = quality_series(
                session, model="ranker", window=window, start=start, end=end, count=1,
                settings=Settings.model_validate(
                    {"monitor_runner": False, "monitor_calibration_window": reference}
                ),
            )  # fmt: skip
    finally:
        set_clock(previous)
        engine.dispose()
    served = np.asarray(truth.served_us)
    scores, p = np.asarray(truth.scores), np.asarray(truth.p)
    length_us = parse_duration(window).total_seconds() * 1e6
    rows = []
    for w in series["windows"]:
        real = w["metrics"]["realized"]
        # windows holding the calibration's own data (beyond a few seconds) are in-sample
        if real is None or real["auc"] is None or w["calibration"]["reference_share"] > 0.01:
            continue
        w0 = w["window_start"].timestamp() * 1e6
        mask = (served >= w0) & (served < w0 + length_us)
        rows.append(
            {
                "start": w["window_start"],
                "predictions": w["predictions"],
                "auc": real["auc"],
                "ctr": real["ctr_observed"],
                "calibrated": w["calibration"]["status"] == "calibrated",
                "auc_cal": w["metrics"]["estimated"]["expected_auc"],
                "ctr_cal": w["metrics"]["estimated"]["expected_ctr"],
                "auc_raw": w["metrics"]["estimated_uncalibrated"]["expected_auc"],
                "ctr_raw": w["metrics"]["estimated_uncalibrated"]["expected_ctr"],
                "auc_oracle": expected_auc_by_score(scores[mask], p[mask]),
                "ctr_oracle": float(p[mask].mean()),
                "calibration": w["calibration"]["versions"][0],
            }
        )
        if w0 in roll and roll[w0][0] is not None:
            rows[-1]["auc_roll"], rows[-1]["ctr_roll"] = roll[w0]
    return rows


def labelled(url: str, start: datetime, end: datetime) -> np.ndarray:
    """(served µs, score, clicked) of every labelled prediction served in [start, end)."""
    with psycopg.connect(_libpq(url)) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM p.served_at) * 1e6, p.score, l.clicked::int "
            "FROM predictions p JOIN prediction_labels l USING (prediction_id) "
            "WHERE p.served_at >= %s AND p.served_at < %s",
            (start, end),
        ).fetchall()
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def rolling_estimates(
    url: str, start: datetime, end: datetime, window: str, *, lag: timedelta, span: timedelta
) -> dict[float, tuple[float | None, float]]:
    """Per window of [start, end): CBPE with an isotonic map fitted on the labelled predictions
    served in [window start - lag - span, window start - lag) (option B: recalibrate on the
    freshest complete labels instead of the version's first day)."""
    from contracts.durations import parse_duration
    from monitors.quality import calibration, metrics

    data = labelled(url, start - lag - span, end)
    served, scores, labels = data[:, 0], data[:, 1], data[:, 2] > 0
    length = parse_duration(window)
    out: dict[float, tuple[float | None, float]] = {}
    w0 = start
    while w0 < end:
        a, b = w0.timestamp() * 1e6, (w0 + length).timestamp() * 1e6
        f0, f1 = (w0 - lag - span).timestamp() * 1e6, (w0 - lag).timestamp() * 1e6
        fit_mask, mask = (served >= f0) & (served < f1), (served >= a) & (served < b)
        if fit_mask.any() and mask.any():
            fit = calibration.fit_isotonic(scores[fit_mask], labels[fit_mask])
            p = fit.apply(scores[mask])
            out[a] = (metrics.expected_auc(p), float(p.mean()))
        w0 += length
    return out


def reference_heldout(
    url: str, start: datetime, end: datetime, window: str
) -> list[dict[str, Any]]:
    """The reference period's windows estimated out of sample: each request's predictions are
    mapped by an isotonic fit on the other half of the period's requests. This is the error
    while P(click | score) holds, apart from any drift after the reference."""
    from contracts.durations import parse_duration
    from monitors.quality import calibration, metrics

    with psycopg.connect(_libpq(url)) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM p.served_at) * 1e6, p.score, l.clicked::int, "
            "hashtextextended(p.request_id::text, 3) & 1 FROM predictions p "
            "JOIN prediction_labels l USING (prediction_id) "
            "WHERE p.served_at >= %s AND p.served_at < %s",
            (start, end),
        ).fetchall()
    data = np.asarray(rows, dtype=np.float64)
    served, scores, labels, fold = data[:, 0], data[:, 1], data[:, 2] > 0, data[:, 3] > 0
    p = np.empty(scores.size)
    for part in (fold, ~fold):
        p[part] = calibration.fit_isotonic(scores[~part], labels[~part]).apply(scores[part])
    length_us = parse_duration(window).total_seconds() * 1e6
    index = ((served - start.timestamp() * 1e6) // length_us).astype(np.int64)
    out = []
    for i in np.unique(index):
        m = index == i
        auc = metrics.roc_auc(scores[m], labels[m])
        if auc is None:
            continue
        out.append(
            {
                "auc": auc,
                "ctr": float(labels[m].mean()),
                "auc_cal": metrics.expected_auc(p[m]),
                "ctr_cal": float(p[m].mean()),
            }
        )
    return out


def errors(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {"windows": len(rows)}
    if not rows:
        return out
    auc = np.array([r["auc"] for r in rows])
    ctr = np.array([r["ctr"] for r in rows])
    out["auc"] = float(auc.mean())
    out["ctr"] = float(ctr.mean())
    for kind in ("raw", "cal", "roll", "oracle"):
        if f"auc_{kind}" not in rows[0]:
            continue
        a = np.abs(np.array([r[f"auc_{kind}"] for r in rows]) - auc)
        c = np.abs(np.array([r[f"ctr_{kind}"] for r in rows]) / ctr - 1)
        out[f"auc_{kind}"] = float(np.mean([r[f"auc_{kind}"] for r in rows]))
        out[f"auc_mae_{kind}"], out[f"auc_max_{kind}"] = float(a.mean()), float(a.max())
        out[f"ctr_mre_{kind}"], out[f"ctr_max_{kind}"] = float(c.mean()), float(c.max())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    parser.add_argument("--rps", type=float, default=0.05, help="Simulated requests per second.")
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument(
        "--days", type=float, nargs=3, default=[1, 2, 2], metavar=("REF", "CLEAN", "SHIFT")
    )
    parser.add_argument(
        "--features",
        nargs="+",
        choices=["frozen", "refreshed"],
        default=["frozen", "refreshed"],
        help="Serving features: the artifact's snapshot, or rebuilt hourly from the feed.",
    )
    parser.add_argument(
        "--roll-lag", type=float, default=6.0, help="Hours between the rolling fit and a window."
    )
    parser.add_argument("--json", type=Path, help="Write every window's figures here.")
    parser.add_argument("--keep", action="store_true", help="Keep the databases (to inspect).")
    args = parser.parse_args()

    from ranker.feed_config import FeedConfig

    server = _server_url()
    ref_days, clean_days, shift_days = args.days
    serve_from = ORIGIN + timedelta(days=TRAIN_DAYS)
    shift_at = serve_from + timedelta(days=ref_days + clean_days)
    serve_to = shift_at + timedelta(days=shift_days)
    shift_hours = (shift_at - ORIGIN).total_seconds() / 3600
    config = FeedConfig.model_validate(
        {**WORLD, "covariate_shift": {"at_hours": shift_hours, **SHIFT}}
    )
    data_dir = Path(tempfile.mkdtemp(prefix="driftgate-bench-quality-"))
    t = time.perf_counter()
    template = prepare_template(server, config, data_dir, serve_to)
    print(f"setup: feed posted and champion trained in {time.perf_counter() - t:.0f} s")
    results: dict[str, Any] = {"config": vars(args) | {"json": None}, "runs": []}
    try:
        for seed in args.seeds:
            for features in args.features:
                run = one_seed(
                    server, template, data_dir, config, seed, serve_from, shift_at, serve_to,
                    args, features,
                )  # fmt: skip
                results["runs"].append(run)
                if args.json:  # each run as it ends: a long bench may be cut short
                    args.json.write_text(json.dumps(results, default=str, indent=1))
    finally:
        if not args.keep:
            with psycopg.connect(_libpq(server), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    summarize(results["runs"])
    summarize_days(results["runs"])
    if args.json:
        args.json.write_text(json.dumps(results, default=str, indent=1))


def one_seed(
    server: str,
    template: str,
    data_dir: Path,
    config: Any,
    seed: int,
    serve_from: datetime,
    shift_at: datetime,
    serve_to: datetime,
    args: Any,
    features: str,
) -> dict[str, Any]:
    from contracts.durations import parse_duration

    name = f"{template}_s{seed}_{features}"
    with psycopg.connect(_libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = _db_url(server, name)
    try:
        t = time.perf_counter()
        hours = (serve_to - serve_from).total_seconds() / 3600
        # the copies share the data directory: the registered artifact must live in it (the
        # audit checkpoint there may then warn that a copy's chain differs; harmless here)
        truth, summary = run_traffic(
            url, data_dir, config, seed=seed, t0=serve_from, hours=hours, args=args,
            refresh_seconds=3600.0 if features == "refreshed" else 0.0,
        )  # fmt: skip
        wall = time.perf_counter() - t
        at = serve_to + timedelta(days=5)
        reference = f"PT{round(args.days[0] * 24)}H"
        out: dict[str, Any] = {
            "seed": seed,
            "features": features,
            "traffic": summary,
            "wall_seconds": round(wall, 1),
        }
        lag, span = timedelta(hours=args.roll_lag), timedelta(days=1)
        for window in ("PT1H", "P1D"):
            for part, (a, b) in {
                "clean": (serve_from, shift_at),
                "shift": (shift_at, serve_to),
            }.items():
                roll = rolling_estimates(url, a, b, window, lag=lag, span=span)
                rows = evaluate_windows(
                    url, truth, start=a, end=b, window=window, at=at, reference=reference,
                    roll=roll,
                )  # fmt: skip
                out[f"{part}_{window}"] = {"errors": errors(rows), "windows": rows}
        reference_end = serve_from + parse_duration(reference)
        for window in ("PT1H", "P1D"):
            rows = reference_heldout(url, serve_from, reference_end, window)
            out[f"reference_{window}"] = {"errors": errors(rows), "windows": rows}
        some = [w for k in ("clean_PT1H", "shift_PT1H") for w in out[k]["windows"]]
        cal = some[0]["calibration"] if some else {}
        out["calibration"] = cal
        print(
            f"seed {seed}, {features} features ({summary['feature_refreshes']} refreshes): "
            f"{summary['requests']} requests, {summary['predictions']} predictions "
            f"in {wall:.0f} s; calibration on {cal.get('sampled')} labels, "
            f"{cal.get('fit', {}).get('knots')} knots, held-out ECE "
            f"{cal.get('fit', {}).get('ece_heldout', float('nan')):.4f} "
            f"(raw {cal.get('fit', {}).get('ece_raw', float('nan')):.4f})"
        )
        return out
    finally:
        if not args.keep:
            with psycopg.connect(_libpq(server), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept {url}")


def summarize(runs: list[dict[str, Any]]) -> None:
    """One row per traffic, window length and seed: AUC and CTR next to each estimate's error
    (MAE and max of |estimate - realized| for AUC, of |estimate / realized - 1| for CTR)."""

    def f(e: dict[str, float], key: str, pct: bool = False) -> str:
        if key not in e:
            return "—"
        return f"{e[key]:.1%}" if pct else f"{e[key]:.3f}"

    head = (
        "| features | traffic | window | seed | windows | AUC | raw est. | raw MAE | "
        "calibrated est. | cal. MAE | cal. max | rolling MAE | oracle MAE | CTR | raw rel. err | "
        "cal. rel. err | cal. max | rolling rel. err | oracle rel. err |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for part in ("reference", "clean", "shift"):
        for window in ("PT1H", "P1D"):
            for run in runs:
                e = run[f"{part}_{window}"]["errors"]
                if e["windows"] == 0:
                    continue
                print(
                    f"| {run.get('features', 'frozen')} | {part} | {window} | {run['seed']} | "
                    f"{e['windows']} | {f(e, 'auc')} | "
                    f"{f(e, 'auc_raw')} | {f(e, 'auc_mae_raw')} | {f(e, 'auc_cal')} | "
                    f"{f(e, 'auc_mae_cal')} | {f(e, 'auc_max_cal')} | {f(e, 'auc_mae_roll')} | "
                    f"{f(e, 'auc_mae_oracle')} | "
                    f"{e['ctr']:.4f} | {f(e, 'ctr_mre_raw', True)} | {f(e, 'ctr_mre_cal', True)} | "
                    f"{f(e, 'ctr_max_cal', True)} | {f(e, 'ctr_mre_roll', True)} | "
                    f"{f(e, 'ctr_mre_oracle', True)} |"
                )


def summarize_days(runs: list[dict[str, Any]]) -> None:
    """One row per run and served day after the reference: realized AUC and CTR, and each
    estimate's error on that day's P1D window."""
    head = (
        "| features | seed | day | traffic | AUC | cal. err | rolling err | oracle err | CTR | "
        "cal. rel. err | rolling rel. err | oracle rel. err |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for run in runs:
        day = 0
        for part in ("clean", "shift"):
            for w in run[f"{part}_P1D"]["windows"]:
                day += 1
                a, c = w["auc"], w["ctr"]

                def err(kind: str, w: dict[str, Any] = w, a: float = a) -> str:
                    v = w.get(f"auc_{kind}")
                    return "—" if v is None else f"{abs(v - a):.3f}"

                def rel(kind: str, w: dict[str, Any] = w, c: float = c) -> str:
                    v = w.get(f"ctr_{kind}")
                    return "—" if v is None else f"{abs(v / c - 1):.1%}"

                print(
                    f"| {run.get('features', 'frozen')} | {run['seed']} | {day} | {part} | "
                    f"{a:.3f} | {err('cal')} | {err('roll')} | {err('oracle')} | {c:.4f} | "
                    f"{rel('cal')} | {rel('roll')} | {rel('oracle')} |"
                )


def _server_url() -> str:
    import os

    return os.environ.get("DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


if __name__ == "__main__":
    main()
