"""Find what holds up POST /rank's event loop: every thread's stack whenever the loop is late.

Serves the app with uvicorn in this process (against an existing database with a champion,
e.g. one `bench_rank.py` left or `driftgate ranker train` made) with a ticker on the loop and
a watchdog thread. When the ticker is late by more than `--lag` ms, the watchdog records the
stacks of every busy thread once per stall; a child process sends open-loop traffic at the
given rates (bench_rank's client). Prints each step's latency, then the stalls with stacks.

Usage: DATABASE_URL=… DRIFTGATE_DATA_DIR=… python bench/trace_rank_stalls.py --token T
       [--rates 100 300 600] [--seconds 10] [--lag 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IDLE = {"wait", "get", "select", "_worker", "poll"}


class Watchdog:
    """Stacks of the busy threads whenever the loop's ticker is late."""

    def __init__(self, lag: float) -> None:
        self.lag = lag
        self.beat = time.perf_counter()
        self.stalls: list[tuple[float, float, str]] = []

    async def tick(self) -> None:
        while True:
            self.beat = time.perf_counter()
            await asyncio.sleep(0.005)

    def watch(self) -> None:
        reported = None
        while True:
            time.sleep(0.002)
            late = time.perf_counter() - self.beat
            if late > self.lag and reported != self.beat:
                reported = self.beat
                self.stalls.append((time.time(), late, self._stacks()))

    @staticmethod
    def _stacks() -> str:
        names = {t.ident: t.name for t in threading.enumerate()}
        out = []
        for ident, frame in sys._current_frames().items():
            if ident == threading.get_ident():
                continue
            stack = traceback.extract_stack(frame)[-7:]
            if stack and stack[-1].name in IDLE and names.get(ident) != "MainThread":
                continue
            lines = "".join(f"    {f.filename}:{f.lineno} {f.name}\n" for f in stack)
            out.append(f"  [{names.get(ident, ident)}]\n{lines}")
        return "\n".join(out)


def _load(port: int, token: str, rates: list[float], seconds: float) -> str:
    """Open-loop traffic from a child process (so the client does not share this GIL)."""
    code = f"""
import asyncio, json, sys, time
sys.path.insert(0, {str(ROOT / "bench")!r})
from bench_rank import open_loop, pct, request_bytes
ids = json.loads(sys.stdin.read())
bodies = [request_bytes({port}, {token!r}, {{"user_id": u, "item_ids": ids["items"],
          "context": {{"surface": "feed"}}}}) for u in ids["users"]]
for rate in {rates!r}:
    lat, errors, achieved = asyncio.run(open_loop({port}, bodies, rate, {seconds}))
    print(f"{{time.strftime('%H:%M:%S')}} {{rate:g}}/s: achieved {{achieved:.0f}}/s "
          f"p50 {{pct(lat, 50):.1f}} p99 {{pct(lat, 99):.1f}} max {{max(lat):.1f}} ms "
          f"errors {{errors}}")
"""
    ids = _candidate_ids()
    out = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(ids), capture_output=True, text=True
    )
    return out.stdout + out.stderr[-2000:]


def _candidate_ids() -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    from core.db import resolve_database_url
    from core.settings import Settings
    from ranker.serving import ArtifactRef, load

    settings = Settings()
    engine = create_engine(resolve_database_url(settings))
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT v.model_name, v.version, v.artifact_uri, v.artifact_sha256 "
                "FROM model_versions v ORDER BY v.version DESC LIMIT 1"
            )
        ).one()
    engine.dispose()
    model = load(ArtifactRef(*row), settings.data_dir)
    return {
        "users": list(model.features.user_index)[:50],
        "items": list(model.features.item_index)[-100:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--token", required=True, help="Any role's API token.")
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 300, 600])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--lag", type=float, default=30.0, help="Stall threshold (ms).")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--show", type=int, default=40, help="Stalls printed with stacks.")
    args = parser.parse_args()
    os.environ.setdefault("DRIFTGATE_MONITOR_RUNNER", "false")

    import uvicorn

    from api.app import create_app
    from core.settings import Settings

    dog = Watchdog(args.lag / 1000)

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            asyncio.get_running_loop().create_task(dog.tick())
            threading.Thread(target=dog.watch, name="watchdog", daemon=True).start()

    server = Server(
        uvicorn.Config(
            create_app(Settings()), port=args.port, log_level="warning", access_log=False
        )
    )

    def drive() -> None:
        time.sleep(12)  # the champion loads and warms up
        print(_load(args.port, args.token, args.rates, args.seconds))
        server.should_exit = True

    threading.Thread(target=drive, daemon=True).start()
    server.run()
    print(f"{len(dog.stalls)} stalls over {args.lag:g} ms")
    for at, late, stacks in dog.stalls[: args.show]:
        print(f"--- {time.strftime('%H:%M:%S', time.localtime(at))} late {late * 1000:.0f} ms")
        print(stacks)


if __name__ == "__main__":
    main()
