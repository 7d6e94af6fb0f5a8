"""Concurrent decisions on a real, committed database: row locks and constraints, not luck."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core import audit
from core.auth import CLI_OPERATOR, Principal, Role, create_token
from core.errors import DriftgateError, Refusal
from core.settings import Settings
from governance.promotions.approvals import decide
from governance.promotions.models import PromotionApproval, PromotionRequest
from ranker.ingest import ensure_contracts
from tests.governance.conftest import (
    FAST_POLICY,
    Gov,
    LoadableArtifact,
    impressions_frame,
    post_batch,
)

pytestmark = pytest.mark.slow


def _setup(
    url: str, data_dir: Path, quorum: int, loadable: LoadableArtifact
) -> tuple[str, str, Settings]:
    """A committed database with one open request, made through the API."""
    settings = Settings.model_validate(
        {
            "data_dir": data_dir,
            "monitor_runner": False,
            "ranker_serving": False,
            "governance_bake_guard": False,
        }
    )
    engine = create_engine(url)
    with sessionmaker(bind=engine).begin() as s:
        ensure_contracts(s, CLI_OPERATOR)
        tokens = {
            f"test-{r.value}": create_token(
                s, CLI_OPERATOR, name=f"test-{r.value}", role=r, prefix="dg_"
            )
            for r in Role
        }
    engine.dispose()
    with TestClient(create_app(settings, database_url=url)) as client:
        gov = Gov(client, None, settings, tokens, artifact=loadable)  # type: ignore[arg-type]
        gov.batch = post_batch(client, gov.as_("test-producer"), impressions_frame())
        gov.policy(FAST_POLICY.replace("quorum: 2", f"quorum: {quorum}"))
        first = gov.open(gov.register())
        second = gov.open(gov.register())
    return first["id"], second["id"], settings


def _race(
    url: str, n: int, work: Callable[[Session, int], Any]
) -> tuple[list[Any], sessionmaker[Session]]:
    """Run `work` on n threads at once, each in its own transaction; collect the outcomes."""
    engine = create_engine(url, pool_size=n, max_overflow=0)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        with sessions() as session:
            try:
                work(session, i)
                session.commit()
                results[i] = "ok"
            except Refusal as refusal:  # its record commits, as the request's session does
                session.commit()
                results[i] = type(refusal.error).__name__
            except DriftgateError as exc:
                session.rollback()
                results[i] = f"{type(exc).__name__}:{exc.rule}"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, sessions


def test_thirty_concurrent_approvals_make_exactly_one_state_transition(
    committed_db: str, tmp_path: Path, loadable_artifact: LoadableArtifact
) -> None:
    request_id, _, settings = _setup(committed_db, tmp_path / "data", 3, loadable_artifact)

    def approve(session: Session, i: int) -> Any:
        reviewer = Principal(name=f"reviewer-{i:02d}", role=Role.reviewer)
        return decide(
            session,
            reviewer,
            request_id=uuid.UUID(request_id),
            decision="approve",
            comment="lgtm",
            settings=settings,
        )

    # 30 connections at once: the suite's two workers share the server's 100 (max_connections)
    results, sessions = _race(committed_db, 30, approve)
    counts = Counter(results)
    assert counts == {"ok": 3, "RequestClosed:state": 27}, counts
    with sessions() as s:
        req = s.get(PromotionRequest, uuid.UUID(request_id))
        assert req is not None and req.state == "approved"
        live = s.scalar(select(func.count()).where(PromotionApproval.request_id == req.id))
        assert live == 3
        transitions = s.scalars(
            select(audit.AuditEvent).where(
                audit.AuditEvent.action == "promotion.request.approved",
                audit.AuditEvent.object_id == request_id,
            )
        ).all()
        assert len(transitions) == 1 and transitions[0].payload["approvals"] == 3
        assert audit.verify_chain(s).intact
    sessions.kw["bind"].dispose()


def test_one_reviewer_deciding_twenty_times_at_once_counts_once(
    committed_db: str, tmp_path: Path, loadable_artifact: LoadableArtifact
) -> None:
    _, request_id, settings = _setup(committed_db, tmp_path / "data", 2, loadable_artifact)
    reviewer = Principal(name="eager-reviewer", role=Role.reviewer)

    def approve(session: Session, i: int) -> Any:
        return decide(
            session,
            reviewer,
            request_id=uuid.UUID(request_id),
            decision="approve",
            comment=f"click {i}",
            settings=settings,
        )

    results, sessions = _race(committed_db, 20, approve)
    assert Counter(results) == {"ok": 1, "AlreadyDecided": 19}, Counter(results)
    with sessions() as s:
        rows = s.scalars(
            select(PromotionApproval).where(PromotionApproval.reviewer == "eager-reviewer")
        ).all()
        assert len(rows) == 1
        assert (
            s.scalar(
                select(PromotionRequest.state).where(PromotionRequest.id == rows[0].request_id)
            )
            == "open"
        )
    sessions.kw["bind"].dispose()
