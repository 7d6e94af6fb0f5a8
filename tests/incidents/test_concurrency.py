"""Two writers of one signal at once (two runner replicas): one entry, neither fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from core.auth import CLI_OPERATOR
from core.db import make_session_factory, unit_of_work
from incidents import service


@pytest.fixture
def sessions(committed_db: str) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(committed_db)
    yield make_session_factory(engine)
    engine.dispose()


def test_the_same_signal_from_two_transactions_lands_once(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as s:
        incident_id = service.open_incident(
            s, CLI_OPERATOR, title="t", severity="minor", source="manual"
        ).id
    results: list[object] = []

    def second() -> None:
        with unit_of_work(sessions) as s2:
            results.append(
                service.record_event(
                    s2,
                    incident_id,
                    kind="alert_firing",
                    actor="replica-b",
                    summary="fires",
                    source_key="alert:x:firing",
                    audited=False,
                )
            )

    with unit_of_work(sessions) as s1:
        first = service.record_event(
            s1,
            incident_id,
            kind="alert_firing",
            actor="replica-a",
            summary="fires",
            source_key="alert:x:firing",
            audited=False,
        )
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waits on the first writer's uncommitted key
    thread.join(10)
    assert first is not None and results == [None]
    with unit_of_work(sessions) as s:
        entries = [e for e in service.timeline(s, incident_id) if e.kind == "alert_firing"]
    assert [e.actor for e in entries] == ["replica-a"]
