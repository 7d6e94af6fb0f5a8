"""First full render of every dashboard page in a real browser, on the demo-sized seed.

A scratch database is seeded through the API the way the dashboard tests seed it (contracts,
good/bad/rejected/drifted batches, a firing alert, a champion and open promotion requests);
then headless Debian Chromium signs in and opens each page from the sidebar, timing the
click until Streamlit reports the script finished and the page stopped changing. Each
repetition signs in with a new token, so the per-token read cache starts cold: these are
first renders, not cached ones. Target (issue 13): under 2 s per page.

    python bench/bench_dashboard.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402
from tests.dashboard.browser import PAGES, DashboardPage, launch, running_dashboard  # noqa: E402
from tests.dashboard.live_api import first_admin_token, running_api, seed  # noqa: E402


def new_reviewer(url: str, admin: str, n: int) -> str:
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
    parser.add_argument("--json", type=Path, help="Also write the timings here.")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    timings: dict[str, list[float]] = {title: [] for title in PAGES}
    with (
        scratch_database("driftgate_bench_dashboard") as db,
        tempfile.TemporaryDirectory() as data,
        running_api(db, Path(data)) as api_url,
    ):
        admin = first_admin_token(db)
        started = time.perf_counter()
        seed(api_url, admin, Path(data))
        print(f"seeded through the API in {time.perf_counter() - started:.1f} s")
        with running_dashboard(api_url) as url, sync_playwright() as pw:
            browser = launch(pw)
            try:
                for n in range(args.repeat):
                    tab = DashboardPage(browser, url)
                    # the overview's first render is the one right after signing in
                    timings["Overview"].append(tab.sign_in(new_reviewer(api_url, admin, n)))
                    for title in list(PAGES)[1:]:
                        timings[title].append(tab.visit(title))
                        if tab.problems():
                            raise SystemExit(f"{title}: {tab.problems()}")
                    tab.page.close()
            finally:
                browser.close()
    print("\n| page | median s | max s | runs |\n|---|---:|---:|---:|")
    for title, runs in timings.items():
        print(f"| {title} | {statistics.median(runs):.2f} | {max(runs):.2f} | {len(runs)} |")
    if args.json:
        args.json.write_text(json.dumps(timings, indent=2))


if __name__ == "__main__":
    main()
