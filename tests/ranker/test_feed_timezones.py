"""The feed takes its origin in any UTC spelling (or any zone): batches come out the same.

PostgreSQL's `timestamptz` reads back as `Etc/UTC` (psycopg's zoneinfo), and polars refuses
to compare such a literal with the feed's `UTC` columns, so `driftgate ranker feed` without
`--origin` failed once a feed run existed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from ranker.feed import deliver, generate
from tests.ranker.test_cli import TINY, environment, run
from tests.support.trained import ORIGIN, small_config


def _summary(batches):  # type: ignore[no-untyped-def]
    return [(b.contract_id, b.hour, b.delivered_at, b.frame.height) for b in batches]


@pytest.mark.parametrize(
    "origin",
    [
        ORIGIN.replace(tzinfo=ZoneInfo("Etc/UTC")),
        ORIGIN.astimezone(ZoneInfo("Europe/Berlin")),
        ORIGIN.astimezone(timezone(timedelta(hours=-5))),
    ],
    ids=["Etc/UTC", "Europe/Berlin", "UTC-5"],
)
def test_an_origin_in_another_zone_delivers_the_same_batches_as_in_utc(origin) -> None:  # type: ignore[no-untyped-def]
    config = small_config()
    expected = deliver(config, ORIGIN, 8, 11)
    got = deliver(config, origin, 8, 11)
    assert _summary(got) == _summary(expected)
    assert all(a.frame.equals(b.frame) for a, b in zip(got, expected, strict=True))
    assert {str(b.delivered_at.tzinfo) for b in got} == {"UTC"}


def test_generated_times_are_utc_whatever_the_origins_zone() -> None:
    frame = generate(small_config(), ORIGIN.replace(tzinfo=ZoneInfo("Etc/UTC")), 0, 2)
    assert frame.equals(generate(small_config(), ORIGIN, 0, 2))
    assert {frame[c].dtype.time_zone for c in ("event_time", "label_time")} == {"UTC"}  # type: ignore[attr-defined]


@pytest.mark.slow  # child processes
def test_feed_without_origin_continues_the_latest_feed_run_read_back_from_postgres(
    committed_db: str, tmp_path: Path
) -> None:
    env = environment(committed_db, tmp_path / "data")
    window = ["--from", "2026-11-02T00:00", "--to", "2026-11-02T02:00"]
    run(["ranker", "feed", *window, *TINY], env)
    out = run(
        ["ranker", "feed", "--from", "2026-11-02T02:00", "--to", "2026-11-02T04:00", *TINY], env
    )
    assert "batches {'passed':" in out.stdout, out.stdout
    engine = create_engine(committed_db)
    with engine.connect() as conn:
        origins = conn.execute(text("SELECT DISTINCT origin FROM feed_runs")).scalars().all()
    engine.dispose()
    assert [o.astimezone(UTC) for o in origins] == [datetime(2026, 11, 2, tzinfo=UTC)]
