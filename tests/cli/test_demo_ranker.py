"""`make run` leaves a reviewer something to approve: `driftgate demo` trains a small champion
and a candidate on a database with no ranker, `run --demo`'s additions open a promotion
request for the candidate, a second run adds nothing, and the README's steps approve it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from api.app import create_app
from checks.models import Batch
from cli.dashboard_demo import enrich
from core.auth import CLI_OPERATOR, Role, create_token
from core.settings import Settings
from governance.promotions.models import PromotionRequest
from governance.registry.models import ModelVersion
from ranker.models import FeedRun
from tests.support.servers import serve

pytestmark = pytest.mark.slow  # trains two small rankers (about 30 s on two cores)

ROOT = Path(__file__).resolve().parents[2]


def demo(env: dict[str, str], *flags: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


@pytest.fixture
def env(committed_db: str, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")}
    return {**base, "DATABASE_URL": committed_db, "DRIFTGATE_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def api(committed_db: str, tmp_path: Path) -> Iterator[str]:
    """The API as `driftgate run` serves it, background work off (the test runs monitors)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        monitor_runner=False,
        audit_checkpointer=False,
        simulation_worker=False,
    )
    with serve(create_app(settings, database_url=committed_db)) as url:
        yield url


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            return {
                "versions": s.scalar(select(func.count()).select_from(ModelVersion)) or 0,
                "feed_runs": s.scalar(select(func.count()).select_from(FeedRun)) or 0,
                "requests": s.scalar(select(func.count()).select_from(PromotionRequest)) or 0,
                # the ranker's contract version: the feed's hours only, never the demo's
                # batches, which lack its fields (they would read as null-rate drift)
                "at_ranker_version": s.scalar(
                    select(func.count())
                    .select_from(Batch)
                    .where(Batch.contract_id == "impressions", Batch.contract_version != "1.0.0")
                )
                or 0,
            }
    finally:
        engine.dispose()


def issue(url: str, name: str, role: Role) -> str:
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            token = create_token(s, CLI_OPERATOR, name=name, role=role, prefix="dg_")
            s.commit()
            return token
    finally:
        engine.dispose()


def call(api: str, token: str, method: str, path: str, **kw: Any) -> Any:
    resp = httpx.request(
        method, api + path, headers={"Authorization": f"Bearer {token}"}, timeout=120, **kw
    )
    assert resp.status_code < 400, f"{method} {path}: {resp.status_code} {resp.text[:400]}"
    return resp.json()


def test_demo_trains_a_champion_and_a_candidate_once_and_the_request_is_approvable(
    env: dict[str, str], committed_db: str, api: str, tmp_path: Path
) -> None:
    fast = demo(env, "--no-ranker")
    assert "ranker" not in fast and counts(committed_db)["versions"] == 0

    first = demo(env)
    assert "trains a small champion and a candidate" in first
    assert "registered ranker v1" in first and "registered ranker v2" in first
    admin = issue(committed_db, "demo-test-admin", Role.admin)
    lines: list[str] = []
    enrich(api, admin, tmp_path / "data", lines.append)
    assert any("opened a promotion request for ranker v2" in x for x in lines), lines
    ranker = call(api, admin, "GET", "/models/ranker")
    assert (ranker["champion_version"], ranker["latest_version"]) == (1, 2)
    (request,) = call(api, admin, "GET", "/promotion-requests", params={"state": "open"})
    assert request["version"] == 2
    # the candidate is a fair one; only the demo's own incident and spent budget block it
    verdicts = {g["name"]: g["status"] for g in request["gates"]}
    assert {k: v for k, v in verdicts.items() if v != "passed"} == {
        "incidents": "failed",
        "error_budget": "failed",
    }

    before = counts(committed_db)
    again = demo(env)
    assert "has 2 version(s), champion v1; nothing to train" in again
    enrich(api, admin, tmp_path / "data", lines.append)
    assert counts(committed_db) == before
    assert before == {"versions": 2, "feed_runs": 1, "requests": 1, "at_ranker_version": 48}

    # the README's steps: close the incident, override the spent budget (stale gates re-run
    # there), approve
    ann, bob = (issue(committed_db, n, Role.reviewer) for n in ("ann", "bob"))
    (incident,) = call(api, ann, "GET", "/incidents", params={"status": "active"})["items"]
    body = {"status": "closed", "reason": "the demo's bad batches, posted on purpose"}
    call(api, ann, "PATCH", f"/incidents/{incident['id']}", json=body)
    path = f"/promotion-requests/{request['id']}"
    override = {"gates": ["error_budget"], "reason": "the demo spent the budget on purpose"}
    overridden = call(api, admin, "POST", f"{path}/override", json=override)
    assert {g["name"]: g["status"] for g in overridden["gates"]}["incidents"] == "passed"
    decision = {"decision": "approve", "comment": "fair candidate"}
    for reviewer in (ann, bob):
        done = call(api, reviewer, "POST", f"{path}/approvals", json=decision)
    assert done["state"] == "approved"
