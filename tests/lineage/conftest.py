"""Lineage tests post through the real group-commit writer, inside the test's transaction."""

from __future__ import annotations

from tests.lineage.writer_fixture import app  # noqa: F401
