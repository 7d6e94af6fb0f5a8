"""When the first bad data came, as far as an alert's evidence shows (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from incidents.intake.alerts import first_bad_in


def test_first_bad_data_is_the_oldest_failing_batch_or_one_batch_window() -> None:
    evidence = {
        "batches": [
            {"batch_id": "b2", "received_at": "2026-11-02T10:05:00+00:00"},
            {"batch_id": "b1", "received_at": "2026-11-02T10:03:00+00:00"},
        ],
        "windows": [
            {"kind": "sliding", "start": "2026-11-02T09:00:00+00:00"},  # only a bound
            {"kind": "batch", "start": "2026-11-02T10:04:00+00:00"},
        ],
    }
    assert first_bad_in(evidence) == datetime(2026, 11, 2, 10, 3, tzinfo=UTC)
    assert first_bad_in({"windows": [{"kind": "sliding", "start": "2026-11-02T09:00"}]}) is None
    assert first_bad_in({"batches": [{"received_at": "not a time"}]}) is None
    assert first_bad_in({}) is None
