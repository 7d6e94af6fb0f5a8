"""The `app` fixture for tests that post lineage: ingest commits into the test's session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from lineage.routes import PRODUCER_ROLES, authorize_producer, lineage_writer
from lineage.writer import GroupCommitWriter


@pytest.fixture
def app(app: FastAPI, db: Session) -> Iterator[FastAPI]:
    """The app of tests/conftest.py, whose lineage writer commits into the test's session
    (savepoints), so each test still rolls everything back."""
    writer = GroupCommitWriter(lambda: db, authorize_producer, roles=PRODUCER_ROLES)
    writer.start()
    app.dependency_overrides[lineage_writer] = lambda: writer
    yield app
    writer.stop()
