"""The dashboard in a real browser: Debian's Chromium driven by Playwright's Python package.

Chromium comes from the distribution (`apt-get install -y chromium`), never from
`playwright install`, so a fresh machine gets it from its package registry. Used by the
browser test and by bench/bench_dashboard.py, which times each page's first full render.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.dashboard.live_api import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# The sidebar's page titles, in navigation order, with the file each one runs.
PAGES = {
    "Overview": "overview",
    "Contracts": "contracts",
    "Batches & quarantine": "batches",
    "Drift": "drift",
    "Model quality": "quality",
    "Models & approvals": "models",
    "Lineage": "lineage",
    "Audit": "audit",
    "Incidents": "incidents",
    "Postmortems": "postmortems",
    "Runbooks": "runbooks",
}


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt-get when missing (tests run as root on CI)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        raise RuntimeError("Chromium is missing and apt-get is not available to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    return CHROMIUM


@contextmanager
def running_dashboard(api_url: str, app: Path = APP) -> Iterator[str]:
    """`streamlit run dashboard/app.py` on a free port against `api_url`; yields its URL.
    Another `app` (a copy of the dashboard elsewhere, for the bench) imports its own package."""
    port = free_port()
    env = {**os.environ, "DRIFTGATE_DASHBOARD_API_URL": api_url}
    if app != APP:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(app.parents[1]), env.get("PYTHONPATH")])
        )
    env.pop("DRIFTGATE_DASHBOARD_TOKEN", None)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=viewer",
        "--server.fileWatcherType=none",
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "died")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the dashboard did not start within 60 s")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(
        executable_path=str(ensure_chromium()), headless=True, args=CHROMIUM_ARGS
    )


class DashboardPage:
    """One browser tab on the dashboard that records every console error and page error."""

    def __init__(self, browser: Any, url: str) -> None:
        self.url = url
        self.page = browser.new_page(viewport={"width": 1440, "height": 1100})
        self.console_errors: list[str] = []
        self.page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def settled(self, timeout: float = 60.0) -> None:
        """Until the script has run to its end and the app is connected."""
        app = self.page.locator('[data-testid="stApp"]')
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            state = app.get_attribute("data-test-script-state")
            if state == "notRunning":
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 0.15:
                    return
            else:
                quiet_since = None
            time.sleep(0.03)
        raise TimeoutError("the page did not finish rendering")

    def sign_in(self, token: str) -> float:
        """Sign in through the form; seconds from the click until the overview rendered."""
        self.page.goto(self.url)
        self.page.get_by_label("API token").fill(token)
        started = time.perf_counter()
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
        self.settled()
        return time.perf_counter() - started

    def visit(self, title: str) -> float:
        """Open a page from the sidebar; seconds until its script finished rendering."""
        started = time.perf_counter()
        self.page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
        self.page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
        self.settled()
        return time.perf_counter() - started

    def problems(self) -> list[str]:
        """Exception boxes and error alerts on the page, and console errors so far."""
        shown = self.page.locator('[data-testid="stException"]').all_inner_texts()
        alerts = self.page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
        return shown + alerts + self.console_errors

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
