"""First full render of every dashboard page in a real browser, on the demo seed or a month.

A scratch database is seeded through the API the way the dashboard tests seed it (contracts,
good/bad/rejected/drifted batches, a firing alert, a champion and open promotion requests);
`--scale month` then adds 30 days of minute-level batches and 100k labelled predictions
(`bench/month_seed.py`). Headless Debian Chromium signs in and opens each page from the
sidebar, timing the click until Streamlit reports the script finished and the page stopped
changing. Each repetition signs in with a new token, so the per-token read cache starts cold:
these are first renders, not cached ones. Targets (issue 13): under 2 s per page on the demo
seed, under 3 s on the month.

    python bench/bench_dashboard.py --repeat 3 [--scale month] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402
from tests.dashboard.browser import (  # noqa: E402
    APP,
    PAGES,
    DashboardPage,
    launch,
    running_dashboard,
)
from tests.dashboard.live_api import first_admin_token, running_api, seed  # noqa: E402


def new_reviewer(url: str, admin: str, n: int | str) -> str:
    import httpx

    resp = httpx.post(
        f"{url}/tokens",
        json={"name": f"bench-reviewer-{n}", "role": "reviewer"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    resp.raise_for_status()
    return str(resp.json()["token"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Cold sign-ins to time.")
    parser.add_argument(
        "--scale",
        choices=["demo", "month"],
        default="demo",
        help="demo: the dashboard tests' seed; month: plus 30 days of minute-level batches "
        "and 100k labelled predictions.",
    )
    parser.add_argument(
        "--baseline",
        metavar="GIT_REF",
        help="Also time the dashboard as committed at this ref, taking turns with the "
        "working tree's, on the same seeded API.",
    )
    parser.add_argument("--json", type=Path, help="Also write the timings here.")
    args = parser.parse_args()

    with (
        scratch_database("driftgate_bench_dashboard") as db,
        tempfile.TemporaryDirectory() as data,
        tempfile.TemporaryDirectory() as old,
        running_api(db, Path(data)) as api_url,
    ):
        apps = {"working tree": APP}
        if args.baseline:
            apps = {args.baseline: baseline_app(args.baseline, Path(old)), **apps}
        admin = first_admin_token(db)
        started = time.perf_counter()
        seeded = seed(api_url, admin, Path(data))
        print(f"seeded through the API in {time.perf_counter() - started:.1f} s", flush=True)
        seeding: dict[str, float] = {}
        if args.scale == "month":
            seeding = month(db, Path(data), seeded.champion)
        load = [os.getloadavg()[0]]
        routes = api_reads(api_url, admin, args.repeat)
        timings = measure(api_url, admin, args.repeat, apps)
        load.append(os.getloadavg()[0])
    print(f"\nscale {args.scale}; 1-min load average {load[0]:.1f} before, {load[1]:.1f} after")
    report("API reads (admin token, no dashboard)", routes, "GET")
    for label, pages in timings.items():
        report(label, pages)
    if args.json:
        doc = {
            "scale": args.scale,
            "load_average": load,
            "seeding_s": seeding,
            "api_reads": routes,
            "pages": timings,
        }
        args.json.write_text(json.dumps(doc, indent=2))


def month(db: str, data: Path, champion: int) -> dict[str, float]:
    """The month on top of the demo seed, with the settings the bench's API runs with."""
    from bench.month_seed import seed_month
    from core.settings import Settings

    settings = Settings(
        data_dir=data, monitor_reference_min_batches=1, monitor_reference_min_rows=1
    )
    started = time.perf_counter()
    took = seed_month(db, settings, champion=champion)
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in took.items())
    print(f"month seeded in {time.perf_counter() - started:.0f} s ({steps})", flush=True)
    return took


def api_reads(api_url: str, admin: str, repeat: int) -> dict[str, list[float]]:
    """Seconds of each GET the pages' first renders make, straight to the API (no dashboard,
    no cache): which route a slow page waits for."""
    import httpx

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    day, week = (now - timedelta(days=1)).isoformat(), (now - timedelta(days=7)).isoformat()
    reads = [
        ("/ready", {}),
        ("/rank/status", {}),
        ("/models/ranker/champion", {}),
        ("/alerts", {"state": "firing", "limit": 100}),
        ("/slos", {}),
        ("/batches", {"since": day, "limit": 1000}),
        ("/contracts", {"limit": 100}),
        ("/contracts/impressions/freshness", {}),
        ("/promotion-requests", {"state": "open", "limit": 100}),
        ("/batches", {"since": week, "limit": 50, "offset": 0}),
        ("/monitors/drift", {"dataset": "impressions", "window": "batch", "count": 24}),
        ("/monitors/quality", {"model": "ranker", "window": "PT1H", "count": 24}),
        ("/models", {"limit": 100}),
        ("/audit/verify", {}),
        ("/audit", {"limit": 100}),
        ("/incidents", {"limit": 50, "offset": 0}),
        ("/action-items", {"limit": 200}),
    ]
    out: dict[str, list[float]] = {}
    with httpx.Client(
        base_url=api_url, headers={"Authorization": f"Bearer {admin}"}, timeout=120
    ) as http:
        for path, params in reads:
            name = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items() if k != "since"))
            for _ in range(repeat):
                started = time.perf_counter()
                http.get(path, params=params).raise_for_status()
                out.setdefault(name.rstrip("?"), []).append(time.perf_counter() - started)
    return out


def baseline_app(ref: str, into: Path) -> Path:
    """The dashboard package as committed at `ref`, unpacked under `into`; its app.py."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "dashboard"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "dashboard" / "app.py"


def measure(
    api_url: str, admin: str, repeat: int, apps: dict[str, Path]
) -> dict[str, dict[str, list[float]]]:
    """Seconds of each page's first render per cold sign-in, for each dashboard in `apps`
    (taking turns, so both see the same load)."""
    from playwright.sync_api import sync_playwright

    timings = {label: {title: [] for title in PAGES} for label in apps}
    with ExitStack() as stack, sync_playwright() as pw:
        urls = {
            label: stack.enter_context(running_dashboard(api_url, app))
            for label, app in apps.items()
        }
        browser = launch(pw)
        try:
            for n in range(repeat):
                for i, (label, url) in enumerate(urls.items()):
                    tab = DashboardPage(browser, url)
                    # the overview's first render is the one right after signing in
                    reviewer = new_reviewer(api_url, admin, f"{i}-{n}")
                    pages = timings[label]
                    pages["Overview"].append(tab.sign_in(reviewer))
                    for title in list(PAGES)[1:]:
                        pages[title].append(tab.visit(title))
                        if tab.problems():
                            raise SystemExit(f"{label} {title}: {tab.problems()}")
                    tab.page.close()
        finally:
            browser.close()
    return timings


def report(label: str, pages: dict[str, list[float]], column: str = "page") -> None:
    print(f"\n{label}\n\n| {column} | median s | max s | runs |\n|---|---:|---:|---:|")
    for title, runs in pages.items():
        print(f"| {title} | {statistics.median(runs):.2f} | {max(runs):.2f} | {len(runs)} |")


if __name__ == "__main__":
    main()
