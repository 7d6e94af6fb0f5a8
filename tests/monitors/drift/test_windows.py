"""Windows of minute-level batches: counted without listing every batch, at most 100 ids with a
link to all of them, exact through minute and 10-minute rollups, and alert evidence that shows
every batch of a drifted window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from checks import repository as checks_repository
from core.auth import CLI_OPERATOR
from core.settings import Settings
from monitors.drift import repository, rollups
from monitors.drift.buckets import tile
from monitors.drift.references import build_reference
from monitors.drift.service import MAX_BATCH_IDS, record_sliding_windows, refresh_rollups
from monitors.errors import InvalidWindow
from monitors.slos.events import load_events
from monitors.slos.evidence import evidence
from monitors.slos.service import create_slo
from tests.monitors.drift.test_drift import SHIFTED_MIX
from tests.monitors.drift.test_rollups import FIELDS, _assert_same, _series, _series_without_rollups
from tests.monitors.factory import START, batch_row, frame, hourly, post, register, simulated
from tests.monitors.test_runner import drift_slo

Auth = Callable[[str], dict[str, str]]


def _window(db: Session, settings: Settings, start: datetime, end: datetime) -> dict[str, Any]:
    window: dict[str, Any] = _series(db, settings, start, end)["windows"][0]
    return window


def test_a_window_counts_all_its_batches_and_lists_the_newest_100_with_a_link_to_the_rest(
    db: Session, settings: Settings, client: TestClient, auth: Auth
) -> None:
    register(db)
    arrivals = [START + timedelta(minutes=m, seconds=20) for m in range(130)]
    made = [batch_row(db, at) for at in arrivals]
    batch_row(db, START + timedelta(minutes=3), "rejected")  # no accepted rows: not counted
    db.commit()
    w = _window(db, settings, START, START + timedelta(hours=3))
    small = _window(db, settings, START, START + timedelta(minutes=10))
    newest_first = [str(b.id) for b in reversed(made)]
    assert w["batch_count"] == 130 and w["rows"] == 130
    assert (w["first_batch_at"], w["last_batch_at"]) == (arrivals[0], arrivals[-1])
    assert w["batch_ids"] == newest_first[:MAX_BATCH_IDS] and w["batch_ids_truncated"] is True
    assert small["batch_count"] == 10 and small["batch_ids_truncated"] is False
    assert small["batch_ids"] == newest_first[-10:]
    # the link lists every batch of the window (rejected ones too, which drift does not count)
    url = urlsplit(w["batches_url"])
    assert w["batches_url"].startswith(settings.public_url + "/batches?")
    listed: list[dict[str, Any]] = []
    while True:
        page = client.get(
            f"{url.path}?{url.query}&limit=50&offset={len(listed)}", headers=auth("viewer")
        )
        assert page.status_code == 200, page.text
        listed += page.json()
        if len(page.json()) < 50:
            break
    usable = [b["id"] for b in listed if b["status"] != "rejected" and b["rows_accepted"] > 0]
    assert usable == newest_first and len(listed) == 131


def test_an_empty_window_has_no_batches_and_no_first_or_last_arrival(
    db: Session, settings: Settings
) -> None:
    register(db)
    w = _window(db, settings, START, START + timedelta(hours=1))
    assert (w["batch_count"], w["batch_ids"], w["batch_ids_truncated"]) == (0, [], False)
    assert w["first_batch_at"] is None and w["last_batch_at"] is None
    assert w["verdict"] == "no_data"


def _minutely(db: Session, clock: Any, data_dir: Path, n: int, **shape: Any) -> list[Any]:
    """`n` batches one minute apart, each 20 seconds into its minute."""
    out = []
    for i in range(n):
        clock.advance(timedelta(seconds=20))
        out.append(post(db, frame(120, seed=3_000 + i, at=clock.now(), **shape), data_dir))
        clock.advance(timedelta(seconds=40))
    return out


@pytest.mark.slow
def test_minute_batches_read_through_minute_and_10_minute_rollups_equal_their_profiles(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    with simulated() as clock:
        _minutely(db, clock, tmp_path, 40)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        _minutely(db, clock, tmp_path, 50, shift=0.4, cat_mix=SHIFTED_MIX)  # to 01:30
        windows = [
            (START + timedelta(minutes=7, seconds=30), START + timedelta(minutes=52)),
            (START + timedelta(minutes=3), START + timedelta(hours=1, minutes=29, seconds=10)),
            (START + timedelta(minutes=33, seconds=5), START + timedelta(minutes=33, seconds=50)),
        ]
        plain = [_series(db, settings, s, e) for s, e in windows]
        done = refresh_rollups(db, contract_id="events", settings=settings)
        cached = [_series(db, settings, s, e) for s, e in windows]
        used = _used(db, windows[0])
        loose = checks_repository.usable_batches_in(db, "events", rollups.gaps(*windows[0], used))
        # a late batch lands in an already rolled-up minute: that minute is read alone again
        clock.set(START + timedelta(minutes=20, seconds=50))
        post(db, frame(120, seed=1, at=clock.now(), shift=3.0), tmp_path)
        clock.set(START + timedelta(hours=1, minutes=30))
        after = [_series(db, settings, s, e) for s, e in windows]
        after_plain = [_series_without_rollups(db, settings, w) for w in windows]
        used_after = _used(db, windows[0])
    assert done.left == 0
    # 07:30 to 52:00: minutes 08 and 09, four 10 minutes, minutes 50 and 51; the batch at
    # 07:20 is before the window, so no batch is read alone
    assert used == {
        *(("min", START + timedelta(minutes=m)) for m in (8, 9, 50, 51)),
        *(("10m", START + timedelta(minutes=m)) for m in (10, 20, 30, 40)),
    }
    assert loose == []
    assert ("10m", START + timedelta(minutes=20)) not in used_after
    assert ("min", START + timedelta(minutes=21)) in used_after  # the rest of that 10 minutes
    for a, b in zip(plain, cached, strict=True):
        _assert_same(a, b)
    for a, b in zip(after_plain, after, strict=True):
        _assert_same(a, b)
    assert [s["windows"][0]["batch_count"] for s in plain] == [44, 86, 1]
    assert after[0]["windows"][0]["batch_count"] == 45


def _used(db: Session, window: tuple[datetime, datetime]) -> set[tuple[str, datetime]]:
    stats = rollups.LiveStats(db, "events")
    tiles = tile(*window)
    found = rollups.cover(db, "events", tiles, stats, FIELDS)
    return rollups.used_buckets(tiles, found, stats)


def test_drift_evidence_links_to_every_batch_of_a_window_of_minute_batches(
    db: Session, settings: Settings, client: TestClient, auth: Auth
) -> None:
    register(db)
    hour = (START, START + timedelta(hours=1))
    made = [batch_row(db, START + timedelta(minutes=m, seconds=30)) for m in range(60)]
    repository.upsert_drift_window(  # the runner's 60-minute sliding window at 01:00
        db,
        {
            "contract_id": "events",
            "kind": "sliding",
            "window_start": hour[0],
            "window_end": hour[1],
            "batch_id": None,
            "reference_id": None,
            "verdict": "alert",
            "rows": 60,
            "batches": 60,
            "drifted_share": 1.0,
            "fields": {"reason": "t", "fields": {"x": {"severity": "alert"}}},
            "computed_at": hour[1],
        },
    )
    with simulated(hour[1]):
        slo = create_slo(db, CLI_OPERATOR, data=drift_slo())
        found = evidence(
            db, slo, load_events(db, slo, *hour), hour[0], hour[1], settings.public_url
        )
        db.commit()
        (shown,) = found["windows"]
        url = urlsplit(shown["url"])
        resp = client.get(f"{url.path}?{url.query}", headers=auth("viewer"))
    assert shown["batches"] == 60 and shown["fields"] == ["x"]
    assert (shown["kind"], shown["length_seconds"]) == ("sliding", 3600)
    assert parse_qs(url.query)["count"] == ["60"]
    assert resp.status_code == 200, resp.text
    assert [w["batch_ids"][0] for w in resp.json()["windows"]] == [str(b.id) for b in made]


def test_an_unaligned_window_reads_the_hours_at_its_edges_from_rollups_not_batch_profiles(
    db: Session, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, tmp_path, 10, rows=150)  # at 00:10, 01:10, … 09:10
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        # both edges cut the minute of a batch (02:10 is before the window, 07:10 inside)
        window = (
            START + timedelta(hours=2, minutes=10, seconds=30),
            START + timedelta(hours=7, minutes=10, seconds=30),
        )
        plain = _series(db, settings, *window)
        refresh_rollups(db, contract_id="events", settings=settings)
        read_alone: list[Any] = []
        real = rollups.batch_profiles

        def spy(session: Session, ids: Any, fields: Any) -> Any:
            read_alone.extend(ids)
            return real(session, ids, fields)

        monkeypatch.setattr(rollups, "batch_profiles", spy)
        cached = _series(db, settings, *window)
    _assert_same(plain, cached)
    assert cached["windows"][0]["batch_count"] == 5  # 03:10 to 07:10
    assert read_alone == []  # the same batches as [03:00, 08:00): whole hours, all rolled up


def test_sliding_windows_end_at_the_run_count_a_batch_of_this_instant_and_old_ones_are_dropped(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, tmp_path, 3, rows=150)  # at 00:10, 01:10, 02:10
        ref = build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        clock.set(START + timedelta(hours=2, minutes=20))
        post(db, frame(150, seed=77, at=clock.now(), start_id=9_000), tmp_path)  # at the run
        old = START - timedelta(days=41)
        _sliding_row(db, old)
        made = record_sliding_windows(db, contract_id="events", reference=ref, settings=settings)
        stored = repository.drift_windows(
            db, "events", "sliding", old - timedelta(days=1), START + timedelta(days=1)
        )
        with pytest.raises(InvalidWindow) as bad:
            record_sliding_windows(
                db,
                contract_id="events",
                reference=ref,
                settings=settings.model_copy(update={"monitor_sliding_windows": ["batch"]}),
            )
    now = START + timedelta(hours=2, minutes=20)
    assert [(w.kind, w.start, w.end, w.batch_count) for w in made] == [
        ("sliding", now - timedelta(minutes=5), now, 1),  # the batch posted at this instant
        ("sliding", now - timedelta(minutes=15), now, 2),  # and the one at 02:10
        ("sliding", now - timedelta(hours=1), now, 2),
    ]
    assert [w.window_start for w in stored] == [w.start for w in made[::-1]]  # old row gone
    assert all(w.fields["reference"]["id"] == str(ref.id) for w in stored)
    assert (bad.value.field, bad.value.rule) == ("monitor_sliding_windows", "duration_parses")


def _sliding_row(db: Session, end: datetime) -> None:
    repository.upsert_drift_window(
        db,
        {
            "contract_id": "events",
            "kind": "sliding",
            "window_start": end - timedelta(minutes=5),
            "window_end": end,
            "batch_id": None,
            "reference_id": None,
            "verdict": "ok",
            "rows": 1,
            "batches": 1,
            "drifted_share": 0.0,
            "fields": {},
            "computed_at": end,
        },
    )
