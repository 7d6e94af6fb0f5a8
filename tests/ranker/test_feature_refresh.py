"""Serving features follow the accepted batches that land after training, not the artifact's
snapshot frozen at its end; a refresh that fails keeps serving the features it had."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.auth import CLI_OPERATOR, Role, create_token
from core.clock import SimulatedClock, get_clock, set_clock
from core.settings import Settings
from governance.registry import service as registry
from ranker import artifact, dataset
from ranker.feature_refresh import refreshed_snapshot
from ranker.ingest import post_feed
from ranker.serving import ArtifactRef, ModelHolder
from ranker.snapshot import Snapshot
from tests.support.databases import drop_database
from tests.support.templates import Template
from tests.support.trained import ORIGIN, TRAINED_DAYS, small_config

TRAIN_END = ORIGIN + timedelta(days=TRAINED_DAYS)
LATER = timedelta(hours=4)  # feed posted after training, received as the producer delivers it


@dataclass
class Extended:
    """The trained champion's database with LATER more hours of accepted feed."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    data_dir: Path
    version: int
    headers: dict[str, str]

    def settings(self, **changes: object) -> Settings:
        base: dict[str, object] = {
            "data_dir": self.data_dir,
            "monitor_runner": False,
            "ranker_poll_seconds": 0.05,
        }
        return Settings.model_validate(base | changes)

    def payload(self) -> dict[str, Any]:
        with self.sessions() as s:
            row = registry.get_version(s, "ranker", self.version)
            return artifact.read(
                artifact.path_of(row.artifact_uri, self.data_dir), row.artifact_sha256
            )

    def ref(self) -> ArtifactRef:
        with self.sessions() as s:
            row = registry.get_version(s, "ranker", self.version)
            return ArtifactRef("ranker", row.version, row.artifact_uri, row.artifact_sha256)


@pytest.fixture(scope="module")
def extended(trained_template: Template) -> Iterator[Extended]:
    url = trained_template.clone()
    engine = create_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    post_feed(
        sessions,
        CLI_OPERATOR,
        config=small_config(),
        origin=ORIGIN,
        start=TRAIN_END,
        end=TRAIN_END + LATER,
        data_dir=trained_template.data_dir,
    )
    with sessions.begin() as s:
        token = create_token(s, CLI_OPERATOR, name="refresh", role=Role.producer, prefix="dg_")
    yield Extended(
        url,
        engine,
        sessions,
        trained_template.data_dir,
        trained_template.facts["version"],
        {"Authorization": f"Bearer {token}"},
    )
    engine.dispose()
    drop_database(trained_template.server_url, url)


def new_items(ext: Extended, until: datetime) -> pl.DataFrame:
    """Items first shown after training and before `until`, with their accepted impressions."""
    with ext.sessions() as s:
        data = dataset.load_window(s, start=TRAIN_END - timedelta(days=TRAINED_DAYS), end=until)
    imps = data.impressions
    before = set(imps.filter(pl.col("event_time") < TRAIN_END)["item_id"].to_list())
    return (
        imps.filter(~pl.col("item_id").is_in(list(before)))
        .group_by("item_id")
        .agg(pl.len().alias("imps"))
        .sort("imps", descending=True)
    )


@pytest.fixture
def clock_at() -> Iterator[Any]:
    previous = get_clock()

    def at(moment: datetime) -> SimulatedClock:
        clock = SimulatedClock(moment)
        set_clock(clock)
        return clock

    yield at
    set_clock(previous)


def test_refresh_needs_accepted_batches_newer_than_its_snapshot(extended: Extended) -> None:
    from ranker.encoding import FeatureSpec

    payload = extended.payload()
    spec = FeatureSpec.from_json(payload["features"])
    history = timedelta(days=TRAINED_DAYS)
    with extended.sessions() as s:
        # nothing arrived after the artifact's snapshot by its own moment: nothing to rebuild
        same = refreshed_snapshot(
            s, spec=spec, history=history, built_as_of=TRAIN_END, as_of=TRAIN_END
        )
        now = TRAIN_END + LATER
        fresh = refreshed_snapshot(s, spec=spec, history=history, built_as_of=TRAIN_END, as_of=now)
        # batches exist, but none of their impressions falls in the window: keep the old one
        empty = refreshed_snapshot(
            s, spec=spec, history=timedelta(minutes=5), built_as_of=TRAIN_END, as_of=now + history
        )
    assert same is None and empty is None
    assert fresh is not None
    assert fresh.as_of_us == int(now.timestamp() * 1_000_000)
    frozen = Snapshot.from_payload(payload["snapshot"])
    newcomers = new_items(extended, now)
    assert newcomers.height > 0
    assert set(newcomers["item_id"]) <= set(fresh.item_ids)
    assert not set(newcomers["item_id"]) & set(frozen.item_ids)
    # the window slid: an item's count is its impressions in [now - history, now)
    top = newcomers.row(0, named=True)
    assert fresh.items["imps"][fresh.item_ids.index(top["item_id"])] == top["imps"]


def _rank_new_item(client: TestClient, ext: Extended, item_id: str) -> dict[str, Any]:
    body = {"user_id": "u000001", "item_ids": [item_id, "i0000001"], "context": {"hour": 4}}
    answer = client.post("/rank", json=body, headers=ext.headers)
    assert answer.status_code == 200, answer.text
    pid = next(x["prediction_id"] for x in answer.json()["items"] if x["item_id"] == item_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = client.get(f"/predictions/{pid}", headers=ext.headers)
        if got.status_code == 200:
            return got.json()["features"]
        time.sleep(0.05)
    raise AssertionError(f"prediction {pid} was never logged")


def _status(client: TestClient, ext: Extended, until: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get("/rank/status", headers=ext.headers).json()
        if until(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"serving never reached the state: {status}")


def test_served_features_count_the_batches_accepted_after_training(
    extended: Extended, clock_at: Any
) -> None:
    now = TRAIN_END + LATER + timedelta(minutes=1)
    clock_at(now)
    newcomer = new_items(extended, now).row(0, named=True)
    settings = extended.settings(ranker_feature_refresh_seconds=3600)
    with TestClient(create_app(settings, database_url=extended.url)) as client:
        status = _status(client, extended, lambda s: s["feature_refreshes"] >= 1)
        assert status["features_as_of"].startswith(now.isoformat()[:19])
        features = _rank_new_item(client, extended, newcomer["item_id"])
    # scored from what was accepted, not as a brand-new item
    assert features["item_imps"] == newcomer["imps"]
    assert features["item_age_hours"] > 0


def test_refresh_off_serves_the_snapshot_frozen_at_the_end_of_training(
    extended: Extended, clock_at: Any
) -> None:
    now = TRAIN_END + LATER + timedelta(minutes=1)
    clock_at(now)
    newcomer = new_items(extended, now).row(0, named=True)
    settings = extended.settings(ranker_feature_refresh_seconds=0)
    with TestClient(create_app(settings, database_url=extended.url)) as client:
        _status(client, extended, lambda s: s["serving"])
        time.sleep(0.3)  # several watcher rounds
        status = client.get("/rank/status", headers=extended.headers).json()
        features = _rank_new_item(client, extended, newcomer["item_id"])
    assert status["feature_refreshes"] == 0
    assert status["features_as_of"].startswith(TRAIN_END.isoformat()[:19])
    assert features["item_imps"] == 0


def test_a_failing_refresh_keeps_serving_the_features_it_had(
    extended: Extended, clock_at: Any
) -> None:
    calls: list[datetime] = []

    def broken(*args: Any) -> Snapshot | None:
        calls.append(args[-1])
        raise OSError("accepted batch unreadable")

    ref = extended.ref()
    holder = ModelHolder(
        lambda: ref, data_dir=extended.data_dir, load_features=broken, feature_refresh_seconds=60
    )
    clock = clock_at(TRAIN_END + timedelta(seconds=30))
    model = holder.refresh()
    assert model is not None
    features = model.features
    assert holder.refresh_features() is False and calls == []  # not due yet
    clock.set(TRAIN_END + timedelta(minutes=2))
    assert holder.refresh_features() is False
    assert len(calls) == 1
    assert holder.last_feature_error is not None and "unreadable" in holder.last_feature_error
    assert model.features is features and model.feature_refreshes == 0
    assert holder.refresh_features() is False and len(calls) == 1  # next try a cadence later
    clock.set(TRAIN_END + timedelta(minutes=3, seconds=1))
    holder.refresh_features()
    assert len(calls) == 2


def test_the_feed_follower_posts_each_closed_hour_once(trained_template: Template) -> None:
    from ranker import repository
    from ranker.ingest import FeedFollower

    url = trained_template.clone()
    engine = create_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        follow = FeedFollower(
            sessions,
            CLI_OPERATOR,
            config=small_config(),
            origin=ORIGIN,
            start=TRAIN_END,
            data_dir=trained_template.data_dir,
        )
        assert follow(TRAIN_END + timedelta(minutes=59)) is None  # no hour closed yet
        posted = follow(TRAIN_END + timedelta(hours=2, minutes=1))
        assert posted is not None and posted.statuses.get("rejected", 0) == 0
        assert posted.rows["impressions"] > 0
        assert follow(TRAIN_END + timedelta(hours=2, minutes=30)) is None  # posted once
        with sessions() as s:
            run = repository.latest_feed_run(s)
            newest = repository.newest_feed_batch_at(
                s, ("impressions", "labels"), until=TRAIN_END + timedelta(days=1)
            )
        assert run is not None and run.window_end == TRAIN_END + timedelta(hours=2)
        assert newest is not None and TRAIN_END < newest <= TRAIN_END + timedelta(
            hours=2, minutes=1
        )
    finally:
        engine.dispose()
        drop_database(trained_template.server_url, url)


def test_a_refresh_at_a_moment_read_from_postgres_works_in_any_utc_spelling(
    extended: Extended,
) -> None:
    """psycopg reads `timestamptz` back as `Etc/UTC`; polars refuses to compare that with the
    feed's `UTC` columns, so a clock set from a database value once broke every refresh."""
    from zoneinfo import ZoneInfo

    from ranker.encoding import FeatureSpec

    spec = FeatureSpec.from_json(extended.payload()["features"])
    history = timedelta(days=TRAINED_DAYS)
    now = TRAIN_END + LATER
    with extended.sessions() as s:
        expected = refreshed_snapshot(
            s, spec=spec, history=history, built_as_of=TRAIN_END, as_of=now
        )
        for zone in (ZoneInfo("Etc/UTC"), ZoneInfo("Europe/Berlin")):
            got = refreshed_snapshot(
                s,
                spec=spec,
                history=history,
                built_as_of=TRAIN_END.astimezone(zone),
                as_of=now.astimezone(zone),
            )
            assert got is not None and expected is not None
            assert (got.as_of_us, got.item_ids) == (expected.as_of_us, expected.item_ids)
    clock = SimulatedClock(now.astimezone(ZoneInfo("Etc/UTC")))
    assert clock.now().tzinfo is UTC
    clock.set(now.astimezone(ZoneInfo("Europe/Berlin")))
    assert clock.now() == now and clock.now().tzinfo is UTC
