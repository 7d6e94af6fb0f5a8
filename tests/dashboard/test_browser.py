"""The dashboard in a real headless Chromium: sign in, visit every page, approve a request.

Fails on any Streamlit exception box, error message or browser console error, and saves a
screenshot of each page under docs/screenshots/ (the README shows them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.dashboard.browser import PAGES, ROOT, DashboardPage, launch, running_dashboard
from tests.dashboard.conftest import close_open_incidents, seeded_api
from tests.dashboard.live_api import Seeded

SCREENSHOTS = ROOT / "docs" / "screenshots"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser_api(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Its own seeded API: the approval below must not race the AppTest suite's writes."""
    yield from seeded_api(server_url, tmp_path_factory.mktemp("browser-data"))


def test_a_reviewer_signs_in_visits_every_page_and_approves(
    browser_api: Seeded, chromium: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with running_dashboard(browser_api.url) as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            tab = DashboardPage(browser, url)
            tab.sign_in(browser_api.tokens["rita"])
            for title, name in PAGES.items():
                tab.visit(title)
                assert tab.problems() == [], f"{title}: {tab.problems()}"
                tab.screenshot(SCREENSHOTS / f"{name}.png")
            close_open_incidents(browser_api, "rita")  # the incident blocks the request
            approve(tab, browser_api)
        finally:
            browser.close()


def approve(tab: DashboardPage, api: Seeded) -> None:
    request = api.requests["four"]
    tab.visit("Models & approvals")
    page = tab.page
    panel = page.get_by_test_id("stExpander").filter(has_text=f"v{request['version']} · open")
    panel.get_by_label("Comment (what you checked)").fill("checked the gates in the browser")
    panel.get_by_role("button", name="Approve").click()
    page.get_by_text(f"approved v{request['version']} as rita").wait_for(timeout=60_000)
    tab.settled()
    assert tab.problems() == []
    doc = httpx.get(
        f"{api.url}/promotion-requests/{request['id']}",
        headers={"Authorization": f"Bearer {api.tokens['root']}"},
    ).json()
    assert doc["state"] == "approved"
    assert [(a["reviewer"], a["comment"]) for a in doc["approvals"]] == [
        ("rita", "checked the gates in the browser")
    ]
    tab.screenshot(Path(SCREENSHOTS / "approved.png"))
