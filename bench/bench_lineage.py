"""Lineage ingest and queries: 10,000 OpenLineage events over HTTP to a real `driftgate serve`.

1. Ingest: N RunEvents (3 inputs, 1 output, schema + data-quality facets, ~4 KB each) posted by
   concurrent keep-alive clients to `POST /api/v1/lineage`; events/s and per-request p50/p99.
   Next to it: the same events stored as plain JSONB rows (one INSERT + commit each, same
   concurrency, no HTTP, no validation, no graph, no audit): what dumping events costs.
2. Queries: the events form a graph of N runs in 10 layers (each run reads three neighbours'
   outputs of the previous layer, unversioned, so versions resolve by time). Impact of a
   first-layer dataset version and provenance of a last-layer one, depth 10, over HTTP and in
   process; next to a networkx walk of the same graph (loaded from Postgres once, load timed
   separately).

The server is `driftgate serve` as a user runs it (`--workers N` for N processes). Ingest is
timed after warm-up events and once the server has finished starting (the ranker's champion
watcher imports torch in the background, ~7 s of CPU on this machine, which is not per-event
work). Next to the rates the bench prints what else the machine did: the load average, and the
CPU time per event of the server, of its PostgreSQL backends and of the bench's own clients.

Usage: python bench/bench_lineage.py [--events 10000] [--clients 8] [--workers 1]
                                     [--ingest-only] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LAYERS = 10
PRODUCER = "https://example.com/bench"
T0 = datetime(2026, 11, 23, tzinfo=UTC)


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "https://example.com/facet.json", **fields}


SCHEMA = facet(fields=[{"name": f"col_{i}", "type": "DOUBLE"} for i in range(8)])


def make_events(n: int) -> list[dict[str, Any]]:
    """n runs in LAYERS layers; run i of layer L reads outputs i, i+1, i+2 of layer L-1."""
    width = n // LAYERS
    events = []
    for layer in range(LAYERS):
        for i in range(width):
            if layer == 0:
                sources = [("s3://raw", f"source_{(i + k) % width}") for k in range(3)]
            else:
                sources = [("warehouse", f"l{layer - 1}_t{(i + k) % width}") for k in range(3)]
            inputs = [
                {
                    "namespace": ns,
                    "name": name,
                    "facets": {"schema": SCHEMA},
                    "inputFacets": {
                        "dataQualityMetrics": facet(
                            rowCount=1000 + i,
                            columnMetrics={"col_0": {"nullCount": 0, "min": 0.0, "max": 1.0}},
                        ),
                        "dataQualityAssertions": facet(
                            assertions=[
                                {"assertion": "not_null", "success": True, "column": "col_0"}
                            ]
                        ),
                    },
                }
                for ns, name in sources
            ]
            moment = T0 + timedelta(minutes=layer, milliseconds=i)
            events.append(
                {
                    "eventType": "COMPLETE",
                    "eventTime": moment.isoformat().replace("+00:00", "Z"),
                    "producer": PRODUCER,
                    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                    "run": {"runId": str(uuid.uuid4()), "facets": {}},
                    "job": {"namespace": "bench", "name": f"l{layer}_job_{i}", "facets": {}},
                    "inputs": inputs,
                    "outputs": [
                        {
                            "namespace": "warehouse",
                            "name": f"l{layer}_t{i}",
                            "facets": {"schema": SCHEMA},
                            "outputFacets": {"outputStatistics": facet(rowCount=1000, size=64_000)},
                        }
                    ],
                }
            )
    return events


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def post_all(port: int, bodies: list[bytes], token: str, clients: int) -> tuple[float, list[float]]:
    """Post every body once over `clients` keep-alive connections; wall seconds, latencies."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [bodies[i::clients] for i in range(clients)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker(mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        local = []
        for body in mine:
            start = time.perf_counter()
            conn.request("POST", "/api/v1/lineage", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            local.append(time.perf_counter() - start)
            assert resp.status == 201, resp.status
        conn.close()
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (those that have gone away count 0)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _process_tree(pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [pid, *(int(c) for c in children.stdout.split())]


def _backends(admin_dsn: str, dbname: str) -> list[int]:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    return [r[0] for r in rows]


def _mean_group(admin_dsn: str, dbname: str) -> float:
    """Events per group commit: a group's audit events share one `occurred_at`."""
    with psycopg.connect(admin_dsn.rsplit("/", 1)[0] + f"/{dbname}") as conn:
        events, groups = conn.execute(
            "SELECT count(*), count(DISTINCT occurred_at) FROM audit_events "
            "WHERE action = 'lineage.event.ingest'"
        ).fetchone()
    return events / max(groups, 1)


def _wait_idle(pid: int, quiet: float = 0.03, limit: float = 120.0) -> float:
    """Wait until the server spends under `quiet` CPU seconds per second; its start-up CPU."""
    deadline = time.monotonic() + limit
    before = _cpu_seconds(_process_tree(pid))
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _cpu_seconds(_process_tree(pid))
        if now - before < quiet:
            return now
        before = now
    return before


def ingest(
    port: int, proc_pid: int, bodies: list[bytes], token: str, clients: int, backends: list[int]
) -> dict[str, Any]:
    """Post the bodies and account for who spent the CPU meanwhile."""
    server = _process_tree(proc_pid)
    load_before = os.getloadavg()[0]
    cpu = (_cpu_seconds(server), _cpu_seconds(backends), time.process_time())
    wall, lat = post_all(port, bodies, token, clients)
    n = len(bodies)
    return {
        "ingest_wall": wall,
        "ingest_latencies": lat,
        "ingest_count": n,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "server_cpu_ms": (_cpu_seconds(server) - cpu[0]) / n * 1000,
        "postgres_cpu_ms": (_cpu_seconds(backends) - cpu[1]) / n * 1000,
        "client_cpu_ms": (time.process_time() - cpu[2]) / n * 1000,
    }


def plain_inserts(dsn: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """The same events as plain JSONB rows, one INSERT + commit each."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_plain_events (id bigserial PRIMARY KEY, event jsonb)")
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(mine: list[bytes]) -> None:
        local = []
        with psycopg.connect(dsn) as conn:
            for body in mine:
                start = time.perf_counter()
                conn.execute(
                    "INSERT INTO bench_plain_events (event) VALUES (%s::jsonb)", (body.decode(),)
                )
                conn.commit()
                local.append(time.perf_counter() - start)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker, args=(bodies[i::clients],)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def time_queries(
    port: int, token: str, db_url: str, events: list[dict[str, Any]], repeat: int
) -> dict[str, Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from lineage import graph

    # After a bulk load autovacuum analyzes on its own schedule; do it now so the plans do
    # not depend on when that happens.
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("ANALYZE")
    width = len(events) // LAYERS
    first = [e for e in events[:width]][:repeat]
    last = [e for e in events[-width:]][:repeat]
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def http_get(path: str) -> tuple[float, dict[str, Any]]:
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body[:300]
        return time.perf_counter() - start, json.loads(body)

    impact_http, prov_http, sizes_i, sizes_p = [], [], [], []
    for e in first:
        out_ds = e["outputs"][0]
        secs, body = http_get(
            f"/lineage/impact?dataset=warehouse:{out_ds['name']}&version={e['run']['runId']}&depth=10"
        )
        impact_http.append(secs)
        sizes_i.append(len(body["datasets"]))
    for e in last:
        out_ds = e["outputs"][0]
        secs, body = http_get(
            f"/lineage/provenance?node=dataset:warehouse:{out_ds['name']}%23{e['run']['runId']}&depth=10"
        )
        prov_http.append(secs)
        sizes_p.append(len(body["datasets"]))
    engine = create_engine(db_url)
    impact_proc, prov_proc = [], []
    with Session(engine) as session:
        for e in first:
            start = time.perf_counter()
            graph.impact(
                session,
                dataset=f"warehouse:{e['outputs'][0]['name']}",
                version=e["run"]["runId"],
                depth=10,
            )
            impact_proc.append(time.perf_counter() - start)
        for e in last:
            start = time.perf_counter()
            graph.provenance(
                session,
                node=f"dataset:warehouse:{e['outputs'][0]['name']}#{e['run']['runId']}",
                depth=10,
            )
            prov_proc.append(time.perf_counter() - start)
    out.update(
        impact_http=impact_http,
        provenance_http=prov_http,
        impact_proc=impact_proc,
        provenance_proc=prov_proc,
        impact_sizes=sizes_i,
        provenance_sizes=sizes_p,
    )
    out.update(networkx_walks(engine, first, last))
    engine.dispose()
    return out


def networkx_walks(
    engine: Any, first: list[dict[str, Any]], last: list[dict[str, Any]]
) -> dict[str, Any]:
    """The same walks as a user would write them: load the version graph, BFS with a cutoff."""
    import networkx as nx
    from sqlalchemy import text

    start = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
SELECT r.id AS run_id, i.direction, coalesce(i.version_id, rv.id) AS version_id
FROM lineage_run_io i JOIN lineage_runs r ON r.id = i.run_id
LEFT JOIN LATERAL (
    SELECT p.id FROM lineage_dataset_versions p
    WHERE i.version_id IS NULL AND p.dataset_id = i.dataset_id AND p.produced_at < i.seen_at
    ORDER BY p.produced_at DESC LIMIT 1) rv ON true
"""
            )
        ).all()
        versions = {
            (r.name, r.version): r.id
            for r in conn.execute(
                text(
                    "SELECT v.id, d.name, v.version FROM lineage_dataset_versions v "
                    "JOIN lineage_datasets d ON d.id = v.dataset_id"
                )
            )
        }
    g = nx.DiGraph()
    for r in rows:
        if r.version_id is None:
            continue
        run, version = ("run", r.run_id), ("version", r.version_id)
        g.add_edge(*((version, run) if r.direction == "in" else (run, version)))
    load = time.perf_counter() - start
    down, up = [], []
    for e in first:
        root = ("version", versions[(e["outputs"][0]["name"], e["run"]["runId"])])
        start = time.perf_counter()
        nx.single_source_shortest_path_length(g, root, cutoff=20)
        down.append(time.perf_counter() - start)
    rev = g.reverse(copy=False)
    for e in last:
        root = ("version", versions[(e["outputs"][0]["name"], e["run"]["runId"])])
        start = time.perf_counter()
        nx.single_source_shortest_path_length(rev, root, cutoff=20)
        up.append(time.perf_counter() - start)
    return {"networkx_load": load, "networkx_impact": down, "networkx_provenance": up}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--workers", type=int, default=1, help="driftgate serve --workers.")
    parser.add_argument("--ingest-only", action="store_true", help="Skip the query timings.")
    args = parser.parse_args()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    events = make_events(args.events)
    bodies = [json.dumps(e).encode() for e in events]
    order = list(range(len(bodies)))
    import random

    random.Random(7).shuffle(order)  # arrival order need not follow the graph
    shuffled = [bodies[i] for i in order]

    server = (
        os.environ.get("DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    admin_dsn = server.replace("postgresql+psycopg://", "postgresql://")
    dbname = f"driftgate_bench_lineage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    db_url = server.rsplit("/", 1)[0] + f"/{dbname}"
    env = {**os.environ, "DATABASE_URL": db_url, "DRIFTGATE_DATA_DIR": tempfile.mkdtemp()}
    cli = [sys.executable, "-m", "cli.main"]
    proc = None
    results: dict[str, Any] = {
        "events": len(bodies),
        "clients": args.clients,
        "workers": args.workers,
        "uptime": uptime,
        "mean_event_bytes": statistics.mean(len(b) for b in bodies),
    }
    try:
        subprocess.run([*cli, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        token = (
            subprocess.run(
                [*cli, "token", "create", "--role", "producer", "--name", "bench"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        port = _port()
        serve = [*cli, "serve", "--port", str(port), "--no-migrate"]
        if args.workers != 1:
            serve += ["--workers", str(args.workers)]
        proc = subprocess.Popen(
            serve, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_ready(port, proc)
        post_all(port, shuffled[:50], token, args.clients)  # warm-up (not counted)
        results["startup_cpu_s"] = _wait_idle(proc.pid)
        backends = _backends(admin_dsn, dbname)
        results.update(ingest(port, proc.pid, shuffled[50:], token, args.clients, backends))
        results["mean_group"] = _mean_group(admin_dsn, dbname)
        if not args.ingest_only:
            results.update(time_queries(port, token, db_url, events, args.repeat))
        plain_load = os.getloadavg()[0]
        p_wall, p_lat = plain_inserts(
            admin_dsn.rsplit("/", 1)[0] + f"/{dbname}", shuffled, args.clients
        )
        results.update(plain_wall=p_wall, plain_latencies=p_lat)
        results.update(plain_load=(plain_load, os.getloadavg()[0]))
    finally:
        if proc:
            proc.terminate()
            proc.wait(30)
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, default=str))


def _wait_ready(port: int, proc: subprocess.Popen[bytes], limit: float = 90.0) -> None:
    """Wait for /ready; a loaded machine can take a while to import the app."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"driftgate serve exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"driftgate serve did not become ready in {limit:.0f} s")


def report(r: dict[str, Any]) -> None:
    ms = lambda xs, q: 1000 * _percentile(xs, q)  # noqa: E731
    ingest_rate = r["ingest_count"] / r["ingest_wall"]
    plain_rate = r["events"] / r["plain_wall"]
    print(
        f"events: {r['events']:,} (mean {r['mean_event_bytes']:.0f} bytes), {r['clients']} clients"
    )
    print(f"{'ingest path':52} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}")
    print(
        f"{'driftgate POST /api/v1/lineage (HTTP, validate, graph, audit)':52} "
        f"{ingest_rate:9.0f} {ms(r['ingest_latencies'], 0.5):7.1f} "
        f"{ms(r['ingest_latencies'], 0.99):7.1f} {ingest_rate / plain_rate:5.2f}x"
    )
    print(
        f"{'plain JSONB INSERT + commit (psycopg, no HTTP)':52} {plain_rate:9.0f} "
        f"{ms(r['plain_latencies'], 0.5):7.1f} {ms(r['plain_latencies'], 0.99):7.1f} {1.0:5.2f}x"
    )
    print(
        f"  driftgate: {r['workers']} worker(s); CPU per event: server "
        f"{r['server_cpu_ms']:.2f} ms, its PostgreSQL backends {r['postgres_cpu_ms']:.2f} ms, "
        f"bench clients {r['client_cpu_ms']:.2f} ms; server start-up {r['startup_cpu_s']:.1f} s; "
        f"{r['mean_group']:.1f} events per commit"
    )
    print(
        f"  load average (1 min) during ingest {r['load_before']:.1f} -> {r['load_after']:.1f}, "
        f"during plain inserts {r['plain_load'][0]:.1f} -> {r['plain_load'][1]:.1f} "
        f"(2 cores); uptime before the run: {r['uptime']}"
    )
    if "impact_http" not in r:
        return
    print(
        f"\nqueries at depth 10 over {r['events']:,} runs "
        f"(median / p95 ms of {len(r['impact_http'])}):"
    )
    nx_load = r["networkx_load"] * 1000
    for name, key, size_key, nx_key in (
        ("impact", "impact", "impact_sizes", "networkx_impact"),
        ("provenance", "provenance", "provenance_sizes", "networkx_provenance"),
    ):
        http_ms = statistics.median(r[f"{key}_http"]) * 1000
        proc_ms = statistics.median(r[f"{key}_proc"]) * 1000
        nx_ms = statistics.median(r[nx_key]) * 1000
        print(
            f"  {name:11} HTTP {http_ms:7.1f} / {ms(r[f'{key}_http'], 0.95):6.1f}   "
            f"in-process {proc_ms:7.1f}"
            f"   networkx walk {nx_ms:6.2f} (+ load {nx_load:.0f})   "
            f"versions found {statistics.median(r[size_key]):.0f}   "
            f"vs networkx incl. load {(nx_ms + nx_load) / http_ms:.1f}x"
        )


if __name__ == "__main__":
    main()
