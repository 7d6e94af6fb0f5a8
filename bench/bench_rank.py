"""POST /rank over HTTP against a real `driftgate serve` on 127.0.0.1, next to the raw model.

Sets up a fresh database with a trained champion (synthetic feed through the contracts, then
`driftgate ranker train`), serves it with prediction logging on, and measures:

* the raw model: one `torch.inference_mode` forward pass of the MLP (what a user calling the
  PyTorch module in-process would pay), and the full in-process scoring (feature lookup +
  forward), for 100 and 500 candidates;
* single requests, one at a time over a keep-alive connection (unloaded p50/p99);
* open-loop load at fixed arrival rates (latency measured from each request's scheduled
  send time, so queueing counts), to find the highest rate whose p99 stays under 50 ms.

The load generator is a minimal asyncio HTTP/1.1 client with pre-encoded requests (about
20 µs of CPU per request) because, on two cores, a heavier client would steal the server's CPU.
Each step starts once the prediction log has written the previous step's backlog, and its
CPU figures (the server's processes from /proc, and the PostgreSQL backends serving the bench
database) include writing its own predictions.
Usage: python bench/bench_rank.py [--days 2] [--rates 100 200 300 400 500 600] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's worker processes), from /proc."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            todo.extend(int(c) for c in task.read_text().split())
    return out


def server_cpu_seconds(pid: int) -> float:
    """CPU time of the server and its worker processes."""
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += cpu_seconds(p)
    return total


def backend_pids(admin_dsn: str, dbname: str) -> list[int]:
    """The PostgreSQL backends serving the bench database (the server's connections)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def backends_cpu(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            out[pid] = cpu_seconds(pid)
    return out


def request_bytes(port: int, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST /rank HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def sequential(port: int, requests: list[bytes], n: int) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    out = []
    for i in range(n):
        t = time.perf_counter()
        writer.write(requests[i % len(requests)])
        status = await _read_response(reader)
        out.append((time.perf_counter() - t) * 1000)
        assert status == 200, status
    writer.close()
    return out


async def open_loop(
    port: int, requests: list[bytes], rate: float, seconds: float, connections: int = 64
) -> tuple[list[float], int, float]:
    """Send at `rate`/s on a fixed schedule; latency counts from the scheduled send time."""
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0
    n = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        nonlocal errors
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        reader, writer = await pool.get()
        try:
            writer.write(requests[i % len(requests)])
            status = await _read_response(reader)
            if status != 200:
                errors += 1
        finally:
            pool.put_nowait((reader, writer))
        latencies.append((time.perf_counter() - due) * 1000)

    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    return latencies, errors, len(latencies) / elapsed


def raw_model_timings(
    served: Any, user: str, items: list[str], repeat: int = 2000
) -> dict[str, float]:
    """Forward pass alone, and features + forward, in this process (µs → ms)."""
    import torch

    from ranker.encoding import transform_numeric
    from ranker.online import Context

    ctx = Context(now_us=int(time.time() * 1e6), surface="feed")
    raw, cat = served.features.compute(user, items, ctx)
    num_t, cat_t = torch.from_numpy(transform_numeric(raw)), torch.from_numpy(cat)
    forward, traced, scoring = [], [], []
    with torch.inference_mode():
        for fn, out in ((served.model, forward), (served.scorer, traced)):
            for _ in range(200):
                fn(num_t, cat_t)
            for _ in range(repeat):
                t = time.perf_counter()
                fn(num_t, cat_t)
                out.append((time.perf_counter() - t) * 1000)
    for _ in range(200):
        served.score(user, items, ctx)
    for _ in range(repeat):
        t = time.perf_counter()
        served.score(user, items, ctx)
        scoring.append((time.perf_counter() - t) * 1000)
    return {
        "forward_p50": pct(forward, 50),
        "forward_p99": pct(forward, 99),
        "traced_p50": pct(traced, 50),
        "traced_p99": pct(traced, 99),
        "score_p50": pct(scoring, 50),
        "score_p99": pct(scoring, 99),
    }


def _last_core() -> int:
    return max(os.sched_getaffinity(0))


def _pin_to(core: int) -> Any:
    def pin() -> None:
        os.sched_setaffinity(0, {core})

    return pin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=2.0, help="Days of synthetic feed.")
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 200, 300, 400, 500, 600])
    parser.add_argument("--seconds", type=float, default=10.0, help="Per load step.")
    parser.add_argument("--single", type=int, default=1000, help="Sequential requests.")
    parser.add_argument("--no-log", action="store_true", help="Switch prediction logging off.")
    parser.add_argument("--candidates", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--workers", type=int, default=1, help="`driftgate serve --workers`.")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="Server (and its worker) on the last core, this load generator on the first: "
        "tells queueing in the server from contention with the generator.",
    )
    parser.add_argument(
        "--server-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A driftgate setting for the served API (e.g. serving_switch_interval_ms=1).",
    )
    args = parser.parse_args()

    server = (
        os.environ.get("DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    dbname = f"driftgate_bench_rank_{uuid.uuid4().hex[:8]}"
    admin_dsn = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    db_url = server.rsplit("/", 1)[0] + f"/{dbname}"
    tmp = Path(tempfile.mkdtemp(prefix="driftgate-bench-rank-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")},
        "DATABASE_URL": db_url,
        "DRIFTGATE_DATA_DIR": str(tmp / "data"),
        "DRIFTGATE_MONITOR_RUNNER": "false",
        "DRIFTGATE_PREDLOG_ENABLED": "false" if args.no_log else "true",
    }
    for item in args.server_setting:
        name, _, value = item.partition("=")
        env[f"DRIFTGATE_{name.upper()}"] = value
    proc = None
    try:
        token, served = _setup(env, args.days)
        user = next(iter(served.features.user_index))
        items = list(served.features.item_index)
        port = _port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--no-migrate"]
            + (["--workers", str(args.workers)] if args.workers > 1 else []),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_pin_to(_last_core()) if args.pin else None,
        )
        if args.pin:
            os.sched_setaffinity(0, {0})
        _wait_serving(port, token, args.workers)
        results = {}
        for n in args.candidates:
            cands = (items * (n // max(len(items), 1) + 1))[:n] if len(items) < n else items[-n:]
            if len(set(cands)) < n:
                cands = list(dict.fromkeys(cands)) + [
                    f"cold-{i}" for i in range(n - len(set(cands)))
                ]
            bodies = [
                request_bytes(
                    port, token, {"user_id": u, "item_ids": cands, "context": {"surface": "feed"}}
                )
                for u in list(served.features.user_index)[:50]
            ]
            raw = raw_model_timings(served, user, cands)
            asyncio.run(sequential(port, bodies, 200))  # warm-up
            _wait_drained(port, token, args.workers)
            cpu0 = server_cpu_seconds(proc.pid)
            db0 = backends_cpu(backend_pids(admin_dsn, dbname))
            single = asyncio.run(sequential(port, bodies, args.single))
            _wait_drained(port, token, args.workers)
            single_cpu_ms = (server_cpu_seconds(proc.pid) - cpu0) * 1000 / max(len(single), 1)
            db1 = backends_cpu(backend_pids(admin_dsn, dbname))
            single_db_ms = sum(v - db0.get(k, 0.0) for k, v in db1.items()) * 1000 / len(single)
            print(
                f"  {n} candidates, single: p50 {pct(single, 50):.2f} ms p99 "
                f"{pct(single, 99):.2f} ms server CPU {single_cpu_ms:.2f} ms/request, "
                f"PostgreSQL {single_db_ms:.2f} ms/request (load {os.getloadavg()[0]:.2f})"
            )
            steps = []
            asyncio.run(open_loop(port, bodies, args.rates[0], 3))  # warm-up, not reported
            for rate in args.rates:
                _wait_drained(port, token, args.workers)
                cpu0 = server_cpu_seconds(proc.pid)
                db0 = backends_cpu(backend_pids(admin_dsn, dbname))
                lat, errors, achieved = asyncio.run(open_loop(port, bodies, rate, args.seconds))
                _wait_drained(port, token, args.workers)  # CPU of writing this step's log too
                cpu_ms = (server_cpu_seconds(proc.pid) - cpu0) * 1000 / max(len(lat), 1)
                db1 = backends_cpu(backend_pids(admin_dsn, dbname))
                db_ms = sum(v - db0.get(k, 0.0) for k, v in db1.items()) * 1000 / max(len(lat), 1)
                steps.append(
                    {
                        "rate": rate,
                        "achieved": achieved,
                        "p50": pct(lat, 50),
                        "p99": pct(lat, 99),
                        "errors": errors,
                        "server_cpu_ms_per_request": cpu_ms,
                        "postgres_cpu_ms_per_request": db_ms,
                        "load_average": os.getloadavg()[0],
                    }
                )
                print(
                    f"  {n} candidates @ {rate:>5.0f}/s: achieved {achieved:6.1f}/s "
                    f"p50 {pct(lat, 50):6.2f} ms p99 {pct(lat, 99):7.2f} ms errors {errors} "
                    f"server CPU {cpu_ms:.2f} ms/request, PostgreSQL {db_ms:.2f} ms/request "
                    f"(load {os.getloadavg()[0]:.2f})"
                )
                if pct(lat, 99) > 500:
                    break
            ok = [s for s in steps if s["p99"] < 50 and not s["errors"]]
            results[n] = {
                **raw,
                "http_p50": pct(single, 50),
                "http_p99": pct(single, 99),
                "single_server_cpu_ms_per_request": single_cpu_ms,
                "single_postgres_cpu_ms_per_request": single_db_ms,
                "load_average_at_single": os.getloadavg()[0],
                "max_rate_p99_under_50ms": max((s["rate"] for s in ok), default=0),
                "steps": steps,
            }
        _print(results, logging=not args.no_log)
        print(json.dumps(results, indent=2, default=float))
    finally:
        if proc:
            proc.terminate()
            proc.wait(30)
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            logged = None
            try:
                with psycopg.connect(
                    db_url.replace("postgresql+psycopg://", "postgresql://")
                ) as db:
                    logged = db.execute("SELECT count(*) FROM predictions").fetchone()
            except psycopg.Error:
                pass
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if logged is not None:
            print(f"prediction log rows written: {logged[0]:,}")


def _setup(env: dict[str, str], days: float) -> tuple[str, Any]:
    cli = [sys.executable, "-m", "cli.main"]
    t = time.perf_counter()
    subprocess.run(
        [*cli, "ranker", "train", "--days", str(days)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    print(f"setup: feed posted and champion trained in {time.perf_counter() - t:.0f} s")
    out = subprocess.run(
        [*cli, "token", "create", "--role", "viewer", "--name", "bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = out.stdout.strip().splitlines()[-1]
    from sqlalchemy import create_engine, text

    from ranker.serving import ArtifactRef, load

    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT model_name, version, artifact_uri, artifact_sha256 FROM model_versions")
        ).one()
    engine.dispose()
    import torch

    torch.set_num_threads(int(env.get("DRIFTGATE_RANKER_THREADS", "1")))
    return token, load(ArtifactRef(*row), Path(env["DRIFTGATE_DATA_DIR"]))


def _wait_serving(port: int, token: str, workers: int = 1) -> None:
    """Until every worker serves: with several, 20 answers in a row on fresh connections (the
    kernel hands each to any worker) must all say so."""
    import httpx

    deadline = time.monotonic() + 180
    in_a_row = 0
    while time.monotonic() < deadline:
        try:
            status = httpx.get(
                f"http://127.0.0.1:{port}/rank/status",
                headers={"Authorization": f"Bearer {token}"},
            ).json()
        except (httpx.TransportError, json.JSONDecodeError):
            status = {}
        in_a_row = in_a_row + 1 if status.get("serving") else 0
        if in_a_row >= (1 if workers == 1 else 20):
            return
        time.sleep(0.2 if not in_a_row else 0.02)
    raise RuntimeError("the server did not start serving")


def _wait_drained(port: int, token: str, workers: int = 1) -> None:
    """Until the prediction log has written what earlier steps buffered, so a step does not
    pay for its predecessor's backlog (its own backlog it does pay for)."""
    import httpx

    deadline = time.monotonic() + 60
    in_a_row = 0
    while time.monotonic() < deadline and in_a_row < (1 if workers == 1 else 10):
        status = httpx.get(
            f"http://127.0.0.1:{port}/rank/status", headers={"Authorization": f"Bearer {token}"}
        ).json()
        in_a_row = in_a_row + 1 if status.get("pending_predictions") == 0 else 0
        time.sleep(0.05)


def _print(results: dict[int, dict[str, Any]], *, logging: bool) -> None:
    print(f"\nPOST /rank, prediction logging {'on' if logging else 'off'} (milliseconds)")
    print(
        f"{'candidates':>10} {'forward p50':>12} {'forward p99':>12} {'traced p50':>11} "
        f"{'score p50':>10} "
        f"{'HTTP p50':>9} {'HTTP p99':>9} {'HTTP/forward':>13} {'max req/s, p99<50ms':>20}"
    )
    for n, r in results.items():
        print(
            f"{n:>10} {r['forward_p50']:>12.3f} {r['forward_p99']:>12.3f} "
            f"{r['traced_p50']:>11.3f} {r['score_p50']:>10.3f} "
            f"{r['http_p50']:>9.2f} {r['http_p99']:>9.2f} "
            f"{r['http_p50'] / r['forward_p50']:>12.0f}x "
            f"{r['max_rate_p99_under_50ms']:>20.0f}"
        )


if __name__ == "__main__":
    main()
