"""Dashboard fixtures: a real API on a fresh, migrated PostgreSQL database, seeded over HTTP,
and Streamlit's AppTest driving the real app against it (signed in through its own form)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.live_api import (
    Seeded,
    create_database,
    drop_database,
    first_admin_token,
    running_api,
    seed,
)

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def seeded_api(server_url: str, data_dir: Path) -> Iterator[Seeded]:
    url = create_database(server_url)
    try:
        with running_api(url, data_dir) as base:
            yield seed(base, first_admin_token(url), data_dir)
    finally:
        drop_database(server_url, url)


@pytest.fixture(scope="session")
def api(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One seeded API for the AppTest suite; tests that write use their own requests."""
    yield from seeded_api(server_url, tmp_path_factory.mktemp("dashboard-data"))


@pytest.fixture
def api_get(api: Seeded) -> Callable[..., object]:
    """Read the API as the admin, to compare the pages with what the API holds."""

    def get(path: str, **params: object) -> object:
        resp = httpx.get(
            api.url + path,
            params=params,
            headers={"Authorization": f"Bearer {api.tokens['root']}"},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    return get


@pytest.fixture
def dashboard(api: Seeded, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """The real app, pointed at the live API and signed in as `who` through its form."""
    monkeypatch.setenv("DRIFTGATE_DASHBOARD_API_URL", api.url)
    monkeypatch.delenv("DRIFTGATE_DASHBOARD_TOKEN", raising=False)

    def open_as(who: str, page: str | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=90)
        at.run()
        at.text_input[0].input(api.tokens[who])
        at.button[0].click().run()
        assert not at.exception, at.exception
        if page:
            at.switch_page(f"pages/{page}.py").run()
        return at

    return open_as


def no_failure(at: AppTest) -> None:
    """The page ran to the end: no exception, no problem shown."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium for the browser test, installed with apt-get when missing."""
    from tests.dashboard.browser import ensure_chromium

    return ensure_chromium()


def close_open_incidents(api: Seeded, who: str) -> list[str]:
    """Close what the seed's page alert opened (it blocks promotions upstream), as `who`."""
    headers = {"Authorization": f"Bearer {api.tokens[who]}"}
    closed = []
    for status in ("active", "stable"):
        page = httpx.get(
            f"{api.url}/incidents", params={"status": status}, headers=headers, timeout=30
        ).json()
        for incident in page["items"]:
            resp = httpx.patch(
                f"{api.url}/incidents/{incident['id']}",
                json={"status": "closed", "reason": "bad batches quarantined, producer fixed it"},
                headers=headers,
                timeout=30,
            )
            assert resp.status_code == 200, resp.text
            closed.append(incident["id"])
    return closed
