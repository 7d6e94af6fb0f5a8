"""Drift from stored profiles agrees with scipy and Evidently on the same rows; the champion's
training data is the default reference; the drift API and the Evidently report over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from scipy.stats import chi2_contingency, ks_2samp
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR
from core.settings import Settings
from lineage import emit, naming
from monitors.drift import repository
from monitors.drift.references import build_reference, ensure_reference
from monitors.drift.report import evidently_drift, read_rows
from monitors.drift.service import drift_series
from tests.monitors.drift.test_drift import SHIFTED_MIX
from tests.monitors.factory import events_contract, frame, hourly, post, register, simulated

Auth = Callable[[str], dict[str, str]]
KS_TOLERANCE = 0.01  # sketch buckets are ~0.8% wide (tests/monitors/drift/test_stats.py)


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.data_dir


def _raw(db: Session, batch_ids: list[uuid.UUID], columns: list[str]) -> pl.DataFrame:
    return read_rows(db, batch_ids, columns, max_rows=10_000_000)


@pytest.mark.slow
def test_window_statistics_from_profiles_match_scipy_and_evidently_on_the_raw_rows(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(
        db,
        events_contract(
            fields={"x": {"method": "ks"}, "y": {"method": "ks"}, "cat": {"method": "psi"}}
        ),
    )
    with simulated() as clock:
        ref_batches = hourly(db, clock, data_dir, 4, rows=1500)
        ref = build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        cur_batches = hourly(
            db, clock, data_dir, 2, rows=1500, seed=40, shift=0.2, cat_mix=SHIFTED_MIX
        )
        series = drift_series(
            db, dataset="events", window="PT2H", start=None, end=None, count=1, settings=settings
        )
    ours = series["windows"][0]["fields"]
    reference = _raw(db, [uuid.UUID(b) for b in ref.batch_ids], ["x", "y", "cat"])
    current = _raw(db, [b.id for b in cur_batches], ["x", "y", "cat"])
    assert {str(b.id) for b in ref_batches} == set(ref.batch_ids)
    for name in ("x", "y"):
        truth = ks_2samp(reference[name].to_numpy(), current[name].to_numpy())
        assert ours[name]["statistic"] == pytest.approx(truth.statistic, abs=KS_TOLERANCE)
    # Evidently on the same rows: KS p-values (scipy underneath) and categorical PSI
    snapshot = evidently_drift(reference, current, ["x", "y"], ["cat"], num_method="ks")
    evidently_ks = _values(snapshot)
    truth_x = ks_2samp(reference["x"].to_numpy(), current["x"].to_numpy())
    assert evidently_ks["x"] == pytest.approx(truth_x.pvalue)
    assert (ours["x"]["p_value"] < 0.05) == (evidently_ks["x"] < 0.05)
    assert (ours["y"]["p_value"] < 0.05) == (evidently_ks["y"] < 0.05)
    psi = _values(evidently_drift(reference, current, [], ["cat"], cat_method="psi"))
    assert ours["cat"]["statistic"] == pytest.approx(psi["cat"], rel=1e-6)
    counts = pl.concat(
        [
            reference.select("cat").with_columns(side=pl.lit(0)),
            current.select("cat").with_columns(side=pl.lit(1)),
        ]
    )
    table = counts.pivot(on="cat", index="side", values="side", aggregate_function="len")
    chi2 = chi2_contingency(table.drop("side").fill_null(0).to_numpy(), correction=False)
    assert chi2.pvalue < 1e-6 and ours["cat"]["severity"] == "alert"


def _values(snapshot: object) -> dict[str, float]:
    """Per-column drift values from an Evidently snapshot (`ValueDrift(column=…)` metrics)."""
    out = {}
    for metric in snapshot.dict()["metrics"]:  # type: ignore[attr-defined]
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            out[config["column"]] = float(metric["value"])
    return out


def test_champion_training_data_is_the_default_reference(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(db)
    with simulated() as clock:
        training = hourly(db, clock, data_dir, 2)
        later = hourly(db, clock, data_dir, 3, seed=9)
        trailing = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
        assert trailing is not None and trailing.source == "trailing_window"
        _promote(db, training, model_version="7")
        champion = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
        assert champion is not None and champion.version == trailing.version + 1
        assert (champion.source, champion.model_version) == ("champion_training", "7")
        assert champion.reason == "champion is now ranker v7"
        assert sorted(champion.batch_ids) == sorted(str(b.id) for b in training)
        # the same champion again changes nothing; a new one is recomputed on promotion
        assert (
            ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings) is champion
        )
        _promote(db, later, model_version="8")
        newer = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
    assert newer is not None and newer.model_version == "8"
    assert sorted(newer.batch_ids) == sorted(str(b.id) for b in later)


def _promote(db: Session, batches: list, *, model_version: str) -> None:
    """The lineage the ranker and governance write: features → train → promote."""
    build = f"build-{model_version}"
    emit.record_run(
        db,
        CLI_OPERATOR,
        job=naming.FEATURES_JOB,
        inputs=[
            emit.DatasetRef(None, naming.accepted_rows("events"), version=str(b.id))
            for b in batches
        ],
        outputs=[emit.DatasetRef(None, naming.feature_set("feed"), version=build)],
    )
    model_links = {naming.MODEL_NAME: "ranker", naming.MODEL_VERSION: model_version}
    emit.record_run(
        db,
        CLI_OPERATOR,
        job=naming.TRAIN_JOB,
        inputs=[emit.DatasetRef(None, naming.feature_set("feed"), version=build)],
        outputs=[
            emit.DatasetRef(None, naming.model("ranker"), version=model_version, links=model_links)
        ],
    )
    emit.record_run(
        db,
        CLI_OPERATOR,
        job=naming.PROMOTE_JOB,
        inputs=[emit.DatasetRef(None, naming.model("ranker"), version=model_version)],
        outputs=[
            emit.DatasetRef(
                None, naming.champion("ranker"), version=model_version, links=model_links
            )
        ],
    )
    db.flush()


# --- HTTP -----------------------------------------------------------------------------------


@pytest.fixture
def monitored(db: Session, settings: Settings, data_dir: Path) -> None:
    register(db)


@pytest.mark.usefixtures("monitored")
def test_drift_api_time_series_references_and_report(
    client: TestClient, auth: Auth, db: Session, settings: Settings, data_dir: Path
) -> None:
    with simulated() as clock:
        hourly(db, clock, data_dir, 3)
        db.commit()
        made = client.post("/monitors/references?dataset=events", headers=auth("admin"))
        assert made.status_code == 200, made.text
        assert made.json()["version"] == 1 and made.json()["fields"] == sorted(
            ["x", "y", "n", "cat", "flag", "score"]
        )
        hourly(db, clock, data_dir, 1, seed=3, shift=1.0, cat_mix=SHIFTED_MIX)
        db.commit()
        resp = client.get(
            "/monitors/drift?dataset=events&window=PT1H&count=2", headers=auth("viewer")
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert [w["verdict"] for w in body["windows"]] == ["ok", "alert"]
        assert body["fields"]["x"][-1]["severity"] == "alert"
        assert body["reference"]["source"] == "trailing_window"
        # every field: its effect, its test (Holm-adjusted), its null rate, the rule's levels
        x, cat = body["windows"][-1]["fields"]["x"], body["windows"][-1]["fields"]["cat"]
        assert (x["method"], x["test"], cat["test"]) == ("psi", "ks", "chi2")
        assert x["adjusted_p_value"] <= x["alpha"] and x["effect"] >= x["min_effect"]
        assert x["effect"] < x["statistic"]  # PSI less its sampling bias
        assert (x["null_rate"], x["reference_null_rate"], x["null_severity"]) == (0.0, 0.0, "ok")
        assert x["null_p_value"] is None  # no nulls on either side: nothing to test
        assert len(x["edges"]) == 9 and cat["unseen"] == []  # details pass through
        refs = client.get("/monitors/references?dataset=shop/events", headers=auth("viewer"))
        assert [r["version"] for r in refs.json()] == [1]
        end = clock.now().isoformat()
        start = (clock.now() - timedelta(hours=1)).isoformat()
        report = client.get(
            "/monitors/drift/report",
            headers=auth("viewer"),
            params={"dataset": "events", "start": start, "end": end, "max_rows": 1000},
        )
    assert report.status_code == 200, report.text
    assert report.headers["content-type"].startswith("text/html")
    assert "drift" in report.text.lower() and len(report.text) > 10_000


@pytest.mark.usefixtures("monitored")
@pytest.mark.parametrize(
    ("path", "status", "field", "rule"),
    [
        ("/monitors/drift?dataset=nope", 404, "dataset", "exists"),
        ("/monitors/drift?dataset=events&window=often", 422, "window", "duration_parses"),
        ("/monitors/drift?dataset=events&count=0", 422, "query.count", "greater_than_equal"),
        (
            "/monitors/drift?dataset=events&start=2026-11-02T05:00:00Z&end=2026-11-02T01:00:00Z",
            422,
            "start",
            "start_before_end",
        ),
        (
            "/monitors/drift?dataset=events&window=PT1M&start=2020-01-01T00:00:00Z",
            422,
            "window",
            "max_windows",
        ),
        ("/monitors/drift/report?dataset=events", 409, "dataset", "reference_exists"),
        ("/monitors/drift", 422, "query.dataset", "missing"),
    ],
)
def test_drift_api_bad_requests_are_problems_naming_field_and_rule(
    client: TestClient, auth: Auth, path: str, status: int, field: str, rule: str
) -> None:
    resp = client.get(path, headers=auth("viewer"))
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert (resp.json()["field"], resp.json()["rule"]) == (field, rule)


def test_drift_api_needs_a_token_and_recompute_needs_admin(
    client: TestClient, auth: Auth, db: Session
) -> None:
    register(db)
    db.commit()  # a refused request rolls back the request's (here: the test's) transaction
    assert client.get("/monitors/drift?dataset=events").status_code == 401
    resp = client.post("/monitors/references?dataset=events", headers=auth("producer"))
    assert resp.status_code == 403
    empty = client.post("/monitors/references?dataset=events", headers=auth("admin"))
    assert empty.status_code == 409 and empty.json()["rule"] == "reference_has_data"
    assert repository.active_reference(db, "events") is None


def test_categories_unseen_in_the_reference_are_counted(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, data_dir, 3)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        clock.advance(timedelta(minutes=5))
        rows = frame(600, seed=8, at=clock.now(), start_id=10_000).with_columns(
            cat=pl.Series(["zzz", "a", "b"] * 200)
        )
        post(db, rows, data_dir)
        series = drift_series(
            db, dataset="events", window="batch", start=None, end=None, count=1, settings=settings
        )
    cat = series["windows"][0]["fields"]["cat"]
    assert cat["unseen"] == ["zzz"] and cat["unseen_share"] == pytest.approx(1 / 3)
    assert cat["severity"] == "alert"


def test_champion_without_training_lineage_uses_the_registry_training_data(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    """governance records the champion as `champion/<model>#<version>@<change>` with the
    version in its links, while training batches may only be in the registry row."""
    import json

    from sqlalchemy import text

    register(db)
    with simulated() as clock:
        training = hourly(db, clock, data_dir, 2)
        hourly(db, clock, data_dir, 2, seed=9)
        db.execute(text("INSERT INTO registered_models VALUES ('ranker', '', 3, now(), 't')"))
        db.execute(
            text(
                "INSERT INTO model_versions (id, model_name, version, artifact_uri, "
                "artifact_sha256, artifact_bytes, signature, metrics, training_data, "
                "contract_versions, params, description, created_at, created_by) VALUES "
                "(gen_random_uuid(), 'ranker', 3, 'x', :sha, 1, '{}', '{}', "
                "CAST(:td AS jsonb), '{}', '{}', '', now(), 't')"
            ),
            {
                "sha": "a" * 64,
                "td": json.dumps(
                    [
                        {
                            "batch_id": str(b.id),
                            "contract_id": "events",
                            "contract_version": "1.0.0",
                        }
                        for b in training
                    ]
                ),
            },
        )
        links = {naming.MODEL_NAME: "ranker", naming.MODEL_VERSION: "3"}
        emit.record_run(
            db,
            CLI_OPERATOR,
            job=naming.PROMOTE_JOB,
            inputs=[emit.DatasetRef(None, naming.model("ranker"), version="3", links=links)],
            outputs=[
                emit.DatasetRef(None, naming.champion("ranker"), version="3@change-1", links=links)
            ],
        )
        db.flush()
        ref = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
    assert ref is not None and (ref.source, ref.model_version) == ("champion_training", "3")
    assert sorted(ref.batch_ids) == sorted(str(b.id) for b in training)
