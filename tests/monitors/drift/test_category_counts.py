"""Category counts through the real store: batch profiles, rollups and references merge to the
counts of the concatenated raw rows; chi-square from them agrees with scipy on the raw rows;
profiles stored before exact counts (top-20 with `other`) are read as approximate."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.stats import chi2_contingency
from sqlalchemy import text
from sqlalchemy.orm import Session

from checks import heavy_hitters as hh
from checks import repository as checks_repository
from checks.models import Batch
from checks.service import IncomingBatch, submit_batch
from core.auth import CLI_OPERATOR
from core.clock import SimulatedClock
from core.settings import Settings
from monitors.drift import rollups, stats
from monitors.drift.buckets import tile
from monitors.drift.profiles import FieldProfile
from monitors.drift.references import build_reference, reference_profiles
from monitors.drift.rollup_refresh import refresh
from monitors.drift.service import drift_series
from tests.monitors.drift.test_stats import _textbook_pooled
from tests.monitors.factory import PRODUCER, START, register, simulated

CONTRACT = "levels"
FIELDS = ["cat", "wide"]
LEVELS = np.array([f"k{i}" for i in range(50)])
WIDE = np.array([f"w{i}" for i in range(400)])
MIX = np.random.default_rng(99).dirichlet(np.full(50, 2.0))  # mid-rank categories matter


def _contract() -> dict[str, Any]:
    return {
        "id": CONTRACT,
        "version": "1.0.0",
        "owner": "ml-platform",
        "dataset": {"namespace": "shop", "name": CONTRACT},
        "fields": [
            {"name": "event_id", "type": "string", "required": True},
            {"name": "cat", "type": "category"},
            {"name": "wide", "type": "category"},
            {"name": "at", "type": "timestamp"},
        ],
        "monitoring": {"fields": {"cat": {"method": "chi2"}, "wide": {"method": "psi"}}},
    }


def _frame(n: int, seed: int, at: datetime) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "event_id": [f"e{seed}-{i}" for i in range(n)],
            "cat": LEVELS[rng.choice(50, n, p=MIX)],
            "wide": WIDE[np.minimum(rng.zipf(1.3, n) - 1, 399)],
            "at": [at] * n,
        }
    )


def _post(db: Session, data: pl.DataFrame, data_dir: Path, cap: int) -> Batch:
    """Submit through the real checks service with this category cap."""
    buf = io.BytesIO()
    data.write_parquet(buf)
    body = buf.getvalue()
    sha = hashlib.sha256(body).hexdigest()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"incoming-{sha[:16]}.parquet"
    path.write_bytes(body)
    sub = submit_batch(
        db,
        PRODUCER,
        contract_id=CONTRACT,
        version=None,
        body=IncomingBatch(path, sha, len(body), "parquet"),
        data_dir=data_dir,
        category_cap=cap,
    )
    path.unlink()
    db.flush()
    return sub.batch


def _batches(
    db: Session, clock: SimulatedClock, data_dir: Path, n: int, rows: int, seed: int, cap: int
) -> list[tuple[Batch, pl.DataFrame]]:
    """One batch every 10 minutes."""
    out = []
    for i in range(n):
        clock.advance(timedelta(minutes=10))
        data = _frame(rows, seed + i, clock.now())
        out.append((_post(db, data, data_dir, cap), data))
    return out


def _window(db: Session, start: datetime, end: datetime) -> tuple[dict[str, FieldProfile], set]:
    """[start, end) read as the drift service reads it: valid rollups, then batch profiles."""
    live = rollups.LiveStats(db, CONTRACT)
    tiles = tile(start, end)
    found = rollups.cover(db, CONTRACT, tiles, live, FIELDS)
    used = rollups.used_buckets(tiles, found, live)
    alone = checks_repository.usable_batches_in(db, CONTRACT, rollups.gaps(start, end, used))
    by_batch = rollups.batch_profiles(db, [b.id for b in alone], FIELDS)
    parts = [found[k] for k in used] + [by_batch[b.id] for b in alone]
    return rollups.merge_parts(parts), used


def _refresh_all(db: Session, start: datetime, end: datetime) -> None:
    while refresh(db, contract_id=CONTRACT, fields=FIELDS, start=start, end=end).left:
        pass


def _assert_within_bound(summary: hh.CategoryCounts, truth: Counter[str]) -> None:
    assert summary.total == sum(truth.values())
    for category in set(truth) | set(summary.counts):
        listed = summary.counts.get(category, 0)
        assert listed <= truth[category] <= listed + summary.error


def test_counts_merged_over_batches_rollups_and_references_equal_the_raw_rows(
    db: Session, settings: Settings
) -> None:
    register(db, _contract())
    with simulated() as clock:
        posted = _batches(db, clock, settings.data_dir, 36, 200, seed=1, cap=100)
        clock.advance(timedelta(hours=1))
        end = clock.now()
        _refresh_all(db, START, end)
        merged, used = _window(db, START, end)
        reference = build_reference(
            db, CLI_OPERATOR, contract_id=CONTRACT, settings=settings, reason="t"
        )
    raw = pl.concat([d for _, d in posted])
    truth_cat = Counter(raw.get_column("cat").to_list())
    truth_wide = Counter(raw.get_column("wide").to_list())

    assert {k[0] for k in used} & {"hour", "6 hours", "day"}, used  # read through rollups
    for profiles in (merged, reference_profiles(reference)):
        cat = profiles["cat"].categories
        assert cat is not None and cat.exact and dict(cat.counts) == truth_cat
        # 400 levels past a cap of 100: Misra-Gries, every count within its stated bound
        wide = profiles["wide"].categories
        assert wide is not None and not wide.exact and len(wide.counts) <= 100
        _assert_within_bound(wide, truth_wide)
    stored = db.execute(
        text(
            "SELECT categories FROM profile_rollups WHERE contract_id = :c AND field = 'cat'"
            " AND level = 'hour' LIMIT 1"
        ),
        {"c": CONTRACT},
    ).scalar_one()
    assert stored["exact"] is True and stored["error"] == 0  # the document says so


def _legacy_top(data: pl.DataFrame, field: str) -> dict[str, Any]:
    """The top-20 document profiles had before exact counts."""
    ordered = sorted(Counter(data.get_column(field).to_list()).items(), key=lambda kv: -kv[1])
    return {
        "distinct": len(ordered),
        "values": [k for k, _ in ordered[:20]],
        "counts": [n for _, n in ordered[:20]],
        "other": sum(n for _, n in ordered[20:]),
    }


def _raw_chi2(reference: pl.DataFrame, current: pl.DataFrame) -> float:
    """scipy's chi-square on the raw rows' counts, cells expected under 5 pooled."""
    ref, cur = Counter(reference["cat"].to_list()), Counter(current["cat"].to_list())
    labels = sorted(set(ref) | set(cur))
    table = np.array([[ref[k] for k in labels], [cur[k] for k in labels]], dtype=float)
    return float(chi2_contingency(_textbook_pooled(table), correction=False).pvalue)


def test_clean_batches_of_a_50_level_field_do_not_reach_chi2_significance(
    db: Session, settings: Settings
) -> None:
    register(db, _contract())
    with simulated() as clock:
        ref_posted = _batches(db, clock, settings.data_dir, 20, 1000, seed=100, cap=10_000)
        clock.advance(timedelta(minutes=1))  # the trailing window ends before now
        reference = build_reference(
            db, CLI_OPERATOR, contract_id=CONTRACT, settings=settings, reason="t"
        )
        clean = _batches(db, clock, settings.data_dir, 40, 200, seed=500, cap=10_000)
    ref_cat = reference_profiles(reference)["cat"].categories
    assert ref_cat is not None and ref_cat.exact
    by_batch = rollups.batch_profiles(db, [b.id for b, _ in clean], FIELDS)
    ref_raw = pl.concat([d for _, d in ref_posted])
    assert reference.batch_ids and set(reference.batch_ids) == {str(b.id) for b, _ in ref_posted}
    assert dict(ref_cat.counts) == Counter(ref_raw.get_column("cat").to_list())

    ours, raw = [], []
    for b, data in clean:
        cur = by_batch[b.id]["cat"].categories
        assert cur is not None
        result = stats.categorical(ref_cat, cur, "chi2")
        assert result.details["approximate"] is False
        ours.append(result.p_value or 1.0)
        raw.append(_raw_chi2(ref_raw, data))
    assert ours == pytest.approx(raw, rel=1e-9)
    assert sum(p < 0.05 for p in ours) == sum(p < 0.05 for p in raw) <= 4  # of 40

    # the rule before exact counts: each batch's top 20, its tail in `__other__`, compared as
    # if exact; the merged reference undercounts mid-rank categories and most batches alarm
    def legacy_map(data: pl.DataFrame) -> dict[str, int]:
        top = _legacy_top(data, "cat")
        return {**dict(zip(top["values"], top["counts"], strict=True)), "__other__": top["other"]}

    old_ref = Counter[str]()
    for _, data in ref_posted:
        old_ref.update(legacy_map(data))
    old = [stats.categorical(dict(old_ref), legacy_map(d), "chi2").p_value for _, d in clean]
    assert sum((p or 1.0) < 0.05 for p in old) >= 20


def test_stored_top_20_profiles_and_rollups_are_read_as_approximate(
    db: Session, settings: Settings
) -> None:
    register(db, _contract())
    with simulated() as clock:
        posted = _batches(db, clock, settings.data_dir, 12, 500, seed=7, cap=10_000)
        for b, data in posted:  # as stored before exact counts
            db.execute(
                text(
                    "UPDATE column_profiles SET profile = jsonb_set(profile, '{top}',"
                    " CAST(:top AS jsonb)) WHERE batch_id = :b AND field = 'cat'"
                ),
                {"top": json.dumps(_legacy_top(data, "cat")), "b": b.id},
            )
        clock.advance(timedelta(minutes=1))
        reference = build_reference(
            db, CLI_OPERATOR, contract_id=CONTRACT, settings=settings, reason="t"
        )
        clean = _batches(db, clock, settings.data_dir, 1, 2000, seed=900, cap=10_000)
        served = drift_series(
            db, dataset=CONTRACT, window="batch", start=None, end=None, count=1, settings=settings
        )
        clock.advance(timedelta(hours=2))
        _refresh_all(db, START, clock.now())
    assert set(reference.batch_ids) == {str(b.id) for b, _ in posted}
    truth = Counter(pl.concat([d for _, d in posted]).get_column("cat").to_list())
    ref_cat = reference_profiles(reference)["cat"].categories
    assert ref_cat is not None and not ref_cat.exact
    tails = [_legacy_top(d, "cat") for _, d in posted]
    assert ref_cat.error == sum(min(t["counts"][-1], t["other"]) for t in tails)
    _assert_within_bound(ref_cat, truth)

    cur = rollups.batch_profiles(db, [clean[0][0].id], FIELDS)[clean[0][0].id]["cat"]
    assert cur.categories is not None and cur.categories.exact
    result = stats.categorical(ref_cat, cur.categories, "chi2")
    assert result.details["approximate"] is True
    assert result.details["pooled_categories"] > 0
    assert stats.OTHER in result.details["categories"]
    assert result.details["error_bound"]["reference"] == ref_cat.error
    field = served["windows"][0]["fields"]["cat"]  # what the drift API says about it
    assert field["approximate"] is True and field["error_bound"]["reference"] == ref_cat.error

    # a rollup row written before exact counts: a flat map with the tail under `__other__`
    db.execute(
        text(
            "UPDATE profile_rollups SET categories = CAST(:m AS jsonb)"
            " WHERE contract_id = :c AND field = 'cat'"
        ),
        {"m": json.dumps({"k0": 10, "k1": 5, "__other__": 7}), "c": CONTRACT},
    )
    merged, used = _window(db, START, clock.now())
    assert used and merged["cat"].categories is not None
    assert not merged["cat"].categories.exact and merged["cat"].categories.error >= 7


def test_migration_drops_rollup_buckets_written_as_top_k_maps(committed_db: str) -> None:
    """They rebuild from batch profiles with tighter bounds; current documents stay."""
    from alembic import command
    from sqlalchemy import create_engine

    from core.migrate import alembic_config

    cfg = alembic_config(committed_db)
    command.downgrade(cfg, "4f6a1c9e2d85")
    engine = create_engine(committed_db)
    insert = text(
        "INSERT INTO profile_rollups (contract_id, level, bucket_start, field, type, count,"
        " nulls, categories, batches, last_received_at, computed_at) VALUES ('levels', 'hour', :at,"
        " :f, :t, 3, 0, CAST(:cats AS jsonb), 1, :at, :at)"
    )
    legacy, current = START, START + timedelta(hours=1)
    doc = hh.from_exact({"a": 3}, 10).to_json()
    try:
        with Session(engine) as session:
            register(session, _contract())
            session.commit()
        with engine.begin() as conn:
            for at, cats in ((legacy, {"a": 2, "__other__": 1}), (current, doc)):
                conn.execute(
                    insert, {"at": at, "f": "cat", "t": "category", "cats": json.dumps(cats)}
                )
                conn.execute(insert, {"at": at, "f": "x", "t": "float", "cats": None})
        command.upgrade(cfg, "heads")
        with engine.connect() as conn:
            left = conn.execute(text("SELECT bucket_start, field FROM profile_rollups")).all()
    finally:
        engine.dispose()
    assert sorted((at, f) for at, f in left) == [(current, "cat"), (current, "x")]
