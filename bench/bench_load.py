"""Rising load on a real `driftgate serve`: POST /rank, POST /batches, POST /api/v1/lineage.

Each endpoint gets open-loop steps at rising arrival rates (latency counted from each request's
scheduled send time, so queueing counts, as in bench_rank). Per step: achieved throughput of
successful answers, p50/p99 of all answers, answers by status (2xx, 429 rate-limited, 503 shed
or unavailable, other), client timeouts, and whether `/health` still answers afterwards. The
point is the shape past capacity: the service should stay up and answer 429/503 at once
instead of letting every request queue into a timeout.

Setup: a fresh database, a trained champion (`driftgate ranker train --days N`), the test
`orders` contract for batches (100-row CSV bodies), and lineage RunEvents from bench_lineage.
Limits are the production defaults unless flags override them (`--ingest-limit 200` shows the
429 path on this machine, whose capacity is below the default 1000/s).

Usage: python bench/bench_load.py [--days 1] [--seconds 5] [--ingest-limit 200]
                                  [--rank-rates ...] [--batch-rates ...] [--lineage-rates ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_lineage import make_events  # noqa: E402
from bench_rank import _port, _read_response, _setup, _wait_serving, pct  # noqa: E402


def raw_request(port: int, method: str, path: str, token: str, media: str, body: bytes) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {media}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def open_loop(
    port: int,
    requests: list[bytes],
    rate: float,
    seconds: float,
    *,
    connections: int = 64,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Send at `rate`/s on a schedule; a request unanswered `timeout` s after its due time is
    a client timeout (its connection is dropped and replaced)."""
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    n = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        due = start + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        try:
            reader, writer = await asyncio.wait_for(pool.get(), timeout)
        except TimeoutError:
            statuses["timeout"] += 1
            return
        try:
            left = max(0.001, due + timeout - time.perf_counter())
            writer.write(requests[i % len(requests)])
            status = await asyncio.wait_for(_read_response(reader), left)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
            statuses["timeout" if isinstance(exc, TimeoutError) else "reset"] += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            latencies.append((time.perf_counter() - due) * 1000)
            statuses[_bucket(status)] += 1
        pool.put_nowait((reader, writer))

    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    return {
        "rate": rate,
        "achieved_ok_per_s": statuses["2xx"] / elapsed,
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "statuses": dict(statuses),
        "load_average": os.getloadavg()[0],
    }


def _bucket(status: int) -> str:
    if 200 <= status < 300:
        return "2xx"
    return str(status) if status in (429, 503) else "other"


def _health(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _token(env: dict[str, str], role: str, name: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "token", "create", "--role", role, "--name", name],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _bodies(port: int, token: str, served: Any, n_lineage: int) -> dict[str, list[bytes]]:
    from tests.builders import csv_bytes, orders

    items = list(served.features.item_index)[-100:]
    rank = [
        raw_request(
            port,
            "POST",
            "/rank",
            token,
            "application/json",
            json.dumps({"user_id": u, "item_ids": items, "context": {"surface": "feed"}}).encode(),
        )
        for u in list(served.features.user_index)[:50]
    ]
    batch = csv_bytes(orders(100))
    batches = [raw_request(port, "POST", "/batches?contract=orders", token, "text/csv", batch)]
    lineage = [
        raw_request(
            port, "POST", "/api/v1/lineage", token, "application/json", json.dumps(e).encode()
        )
        for e in make_events(n_lineage)
    ]
    return {"POST /rank": rank, "POST /batches": batches, "POST /api/v1/lineage": lineage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=1.0, help="Days of synthetic feed.")
    parser.add_argument("--seconds", type=float, default=5.0, help="Per load step.")
    parser.add_argument("--rank-rates", type=float, nargs="+", default=[100, 200, 400, 800])
    parser.add_argument("--batch-rates", type=float, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--lineage-rates", type=float, nargs="+", default=[100, 200, 400, 800])
    parser.add_argument("--ingest-limit", type=float, help="DRIFTGATE_RATELIMIT_INGEST_PER_SECOND")
    parser.add_argument("--rank-limit", type=float, help="DRIFTGATE_RATELIMIT_RANK_PER_SECOND")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()

    server = (
        os.environ.get("DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    dbname = f"driftgate_bench_load_{uuid.uuid4().hex[:8]}"
    admin_dsn = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    tmp = Path(tempfile.mkdtemp(prefix="driftgate-bench-load-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")},
        "DATABASE_URL": server.rsplit("/", 1)[0] + f"/{dbname}",
        "DRIFTGATE_DATA_DIR": str(tmp / "data"),
        "DRIFTGATE_MONITOR_RUNNER": "false",
    }
    if args.ingest_limit:
        env["DRIFTGATE_RATELIMIT_INGEST_PER_SECOND"] = str(args.ingest_limit)
    if args.rank_limit:
        env["DRIFTGATE_RATELIMIT_RANK_PER_SECOND"] = str(args.rank_limit)
    proc = None
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        _, served = _setup(env, args.days)
        token = _token(env, "admin", "bench-load")
        port = _port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--no-migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_serving(port, token)
        import httpx

        from tests.builders import contract

        httpx.post(
            f"http://127.0.0.1:{port}/contracts",
            json=contract(),
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        n_lineage = int(sum(args.lineage_rates) * args.seconds) + 200
        bodies = _bodies(port, token, served, n_lineage)
        plan = {
            "POST /rank": args.rank_rates,
            "POST /batches": args.batch_rates,
            "POST /api/v1/lineage": args.lineage_rates,
        }
        lineage_used = 0
        for endpoint, rates in plan.items():
            results[endpoint] = []
            for rate in rates:
                requests = bodies[endpoint]
                if endpoint == "POST /api/v1/lineage":  # every event once: no duplicates
                    count = int(rate * args.seconds)
                    requests = requests[lineage_used : lineage_used + count]
                    lineage_used += count
                step = asyncio.run(open_loop(port, requests, rate, args.seconds))
                step["health_after"] = _health(port)
                results[endpoint].append(step)
                print(
                    f"{endpoint:<22} @ {rate:>5.0f}/s: ok {step['achieved_ok_per_s']:7.1f}/s "
                    f"p50 {step['p50_ms']:8.2f} ms p99 {step['p99_ms']:8.2f} ms "
                    f"{step['statuses']} health {'up' if step['health_after'] else 'DOWN'} "
                    f"(load {step['load_average']:.2f})",
                    flush=True,
                )
                time.sleep(1.0)  # let the step's backlog (prediction log, lineage) drain
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=float))
    finally:
        if proc:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
