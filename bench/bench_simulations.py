"""Wall time of the incident-simulation catalog: every scenario x `--seeds` seeds, on this
machine, against the PostgreSQL server `DRIFTGATE_DATABASE_URL` (or `DATABASE_URL`) names.

The same work as `driftgate simulate catalog --seeds N`: one template database built (migrate,
two days of feed, a small ranker trained), then one clone per seed run, each played on the
simulated clock through the in-process app. The target (issue 14) is the whole catalog with 5
seeds in under 10 minutes on a 2-core machine. It prints the per-scenario wall time next to
the table and writes the report (default: a temporary directory, so docs/ is not touched).

    .venv/bin/python bench/bench_simulations.py                     # catalog x 5 seeds
    .venv/bin/python bench/bench_simulations.py --seeds 1 --scenarios null_spike unit_change
    .venv/bin/python bench/bench_simulations.py --out docs/incidents  # also the report
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--scenarios", nargs="*", default=["catalog"])
    parser.add_argument(
        "--jobs", type=int, default=None, help="Seed runs at once (default: one per core)."
    )
    parser.add_argument("--out", type=Path, default=None, help="Report directory.")
    parser.add_argument("--json", type=Path, default=None, help="Timings as JSON here.")
    args = parser.parse_args()

    from core.settings import get_settings
    from simulations import report
    from simulations.suite import default_jobs, resolve, run_suite

    settings = get_settings()
    # a server the bench may create databases on (as bench_rank): the machine's by default
    url = (
        settings.database_url
        or os.environ.get("DATABASE_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    started = time.perf_counter()

    def progress(name: str, seed: int, result: object) -> None:
        if result is not None:
            print(f"  {name} seed {seed}: {result.wall_seconds} s", flush=True)  # type: ignore[attr-defined]

    jobs = args.jobs or default_jobs()
    doc = run_suite(
        url,
        settings,
        resolve(args.scenarios),
        args.seeds,
        jobs=jobs,
        echo=print,
        progress=progress,
    )
    wall = time.perf_counter() - started
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-simulations-"))
    report.write(doc, out, name="simulations")
    print(report.table(doc))
    print()
    print("| scenario | seeds | wall s (sum of seeds) |")
    print("|---|---|---|")
    for row in doc["scenarios"]:
        print(f"| {row['scenario']} | {row['seeds']} | {row['wall_seconds']} |")
    target = 600.0
    print(
        f"\ntotal {wall:.0f} s (template {doc['template_seconds']} s) on {os.cpu_count()} "
        f"cores, {jobs} job(s), {platform.python_version()}; target < {target:.0f} s: "
        f"{'met' if wall < target else 'missed'}; report in {out}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"wall_seconds": wall, "scenarios": doc["scenarios"]}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
