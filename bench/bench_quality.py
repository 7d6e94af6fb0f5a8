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
  noise of the realized figures, the floor any label-free estimate has on windows this size).

Windows inside the reference period are left out (their calibration is in-sample).
Usage: python bench/bench_quality.py [--seeds 11 12 13] [--rps 0.05] [--days 1 2 2]
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


def prepare_template(server: str, config: Any, data_dir: Path) -> str:
    """A database with the feed posted and version 1 trained, registered and champion."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from core.auth import CLI_OPERATOR
    from core.migrate import upgrade
    from governance.training import train_and_register
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
        end=end,
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
    url: str, data_dir: Path, config: Any, *, seed: int, t0: datetime, hours: float, args: Any
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
        {"data_dir": data_dir, "monitor_runner": False, "ranker_poll_seconds": 0.1}
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
    finally:
        set_clock(previous)
    return sim.truth, report.summary()


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
) -> list[dict[str, Any]]:
    """Realized vs estimated per window, read through the quality service as the API does."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from contracts.durations import parse_duration
    from core.clock import SimulatedClock, get_clock, set_clock
    from core.db import unit_of_work
    from core.settings import Settings
    from monitors.quality_service import quality_series

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
        if real is None or real["auc"] is None or w["calibration"]["in_reference"]:
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
    return rows


def errors(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {"windows": len(rows)}
    if not rows:
        return out
    auc = np.array([r["auc"] for r in rows])
    ctr = np.array([r["ctr"] for r in rows])
    out["auc"] = float(auc.mean())
    out["ctr"] = float(ctr.mean())
    for kind in ("raw", "cal", "oracle"):
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
    template = prepare_template(server, config, data_dir)
    print(f"setup: feed posted and champion trained in {time.perf_counter() - t:.0f} s")
    results: dict[str, Any] = {"config": vars(args) | {"json": None}, "runs": []}
    try:
        for seed in args.seeds:
            run = one_seed(
                server, template, data_dir, config, seed, serve_from, shift_at, serve_to, args
            )
            results["runs"].append(run)
    finally:
        if not args.keep:
            with psycopg.connect(_libpq(server), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    summarize(results["runs"])
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
) -> dict[str, Any]:
    name = f"{template}_s{seed}"
    with psycopg.connect(_libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = _db_url(server, name)
    try:
        t = time.perf_counter()
        hours = (serve_to - serve_from).total_seconds() / 3600
        truth, summary = run_traffic(
            url, data_dir, config, seed=seed, t0=serve_from, hours=hours, args=args
        )
        wall = time.perf_counter() - t
        at = serve_to + timedelta(days=5)
        reference = f"PT{round(args.days[0] * 24)}H"
        out: dict[str, Any] = {"seed": seed, "traffic": summary, "wall_seconds": round(wall, 1)}
        for window in ("PT1H", "P1D"):
            for part, (a, b) in {
                "clean": (serve_from, shift_at),
                "shift": (shift_at, serve_to),
            }.items():
                rows = evaluate_windows(
                    url, truth, start=a, end=b, window=window, at=at, reference=reference
                )
                out[f"{part}_{window}"] = {"errors": errors(rows), "windows": rows}
        cal = out["clean_P1D"]["windows"][0]["calibration"] if out["clean_P1D"]["windows"] else {}
        out["calibration"] = cal
        print(
            f"seed {seed}: {summary['requests']} requests, {summary['predictions']} predictions "
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
    head = (
        f"{'traffic':<7} {'window':<6} {'seed':>4} {'n':>4} {'AUC':>6} "
        f"{'raw':>6} {'MAE':>6} {'max':>6} {'calib':>6} {'MAE':>6} {'max':>6} "
        f"{'oracle':>6} {'MAE':>6} | {'CTR':>6} {'raw rel':>8} {'cal rel':>8} {'max':>6} "
        f"{'orc rel':>8}"
    )
    print(head)
    print("-" * len(head))
    for part in ("clean", "shift"):
        for window in ("PT1H", "P1D"):
            for run in runs:
                e = run[f"{part}_{window}"]["errors"]
                if e["windows"] == 0:
                    continue
                print(
                    f"{part:<7} {window:<6} {run['seed']:>4} {e['windows']:>4} {e['auc']:>6.3f} "
                    f"{e['auc_raw']:>6.3f} {e['auc_mae_raw']:>6.3f} {e['auc_max_raw']:>6.3f} "
                    f"{e['auc_cal']:>6.3f} {e['auc_mae_cal']:>6.3f} {e['auc_max_cal']:>6.3f} "
                    f"{e['auc_oracle']:>6.3f} {e['auc_mae_oracle']:>6.3f} | {e['ctr']:>6.4f} "
                    f"{e['ctr_mre_raw']:>8.1%} {e['ctr_mre_cal']:>8.1%} {e['ctr_max_cal']:>6.1%} "
                    f"{e['ctr_mre_oracle']:>8.1%}"
                )


def _server_url() -> str:
    import os

    return os.environ.get("DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


if __name__ == "__main__":
    main()
