"""`driftgate ranker …` and `driftgate simulate traffic` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.trained import Trained

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--set",
    "n_users=200",
    "--set",
    "n_items=120",
    "--set",
    "requests_per_hour=100",
    "--set",
    "new_users_per_day=5",
    "--set",
    "new_items_per_hour=1",
    "--set",
    "horizon_days=5",
]


def run(args: list[str], env: dict[str, str], code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == code, proc.stderr + proc.stdout
    return proc


def environment(url: str, data_dir: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")}
    return {
        **base,
        "DATABASE_URL": url,
        "DRIFTGATE_DATA_DIR": str(data_dir),
        "DRIFTGATE_MONITOR_RUNNER": "false",
    }


def test_train_on_a_fresh_database_generates_data_trains_registers_and_crowns(
    committed_db: str, tmp_path: Path
) -> None:
    env = environment(committed_db, tmp_path / "data")
    out = run(
        [
            "ranker",
            "train",
            "--from",
            "2026-11-02T00:00",
            "--to",
            "2026-11-03T00:00",
            "--attribution-hours",
            "2",
            *TINY,
        ],
        env,
    ).stdout
    assert "posting a synthetic feed" in out and "'passed': 48" in out
    for scorer in ("model", "popularity", "oracle"):
        assert f"\n{scorer} " in out
    assert "registered ranker v1" in out and "champion: v1" in out
    engine = create_engine(committed_db)
    with engine.connect() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT DISTINCT action FROM audit_events"))]
    engine.dispose()
    assert {"feed.generate", "batch.submit", "model.version.register", "model.champion.set"} <= set(
        actions
    )


def test_simulating_traffic_before_any_feed_exists_says_what_to_do_first(
    committed_db: str, tmp_path: Path
) -> None:
    proc = run(
        ["simulate", "traffic", "--hours", "0.1"], environment(committed_db, tmp_path), code=1
    )
    assert "run `driftgate ranker train` first" in proc.stderr


def test_evaluate_list_versions_and_set_the_champion(trained: Trained) -> None:
    env = environment(trained.url, trained.data_dir)
    evaluated = run(["ranker", "evaluate", "1"], env).stdout
    assert "sha256 verified" in evaluated and "matches the registered metrics" in evaluated
    assert "* v1" in run(["ranker", "versions"], env).stdout
    assert "champion of ranker: v1" in run(["ranker", "champion", "1"], env).stdout


def test_simulated_traffic_is_ranked_logged_and_labelled_later(trained: Trained) -> None:
    env = environment(trained.url, trained.data_dir)
    out = run(
        ["simulate", "traffic", "--hours", "0.25", "--rps", "0.3", "--candidates", "15"], env
    ).stdout
    summary = json.loads(out[out.index("{") :])
    assert summary["requests"] > 150 and summary["failed_requests"] == 0
    assert summary["predictions"] == summary["requests"] * 15
    assert summary["labels_unknown"] == 0
    assert summary["labels_joined"] == summary["labels_posted"] > 0.9 * summary["predictions"]
    assert summary["served_versions"] == {"1": summary["requests"]}
    with trained.engine.connect() as conn:
        joined = conn.execute(
            text(
                "SELECT count(*) FROM prediction_labels l JOIN predictions p USING (prediction_id) "
                "WHERE p.served_at >= :t AND l.label_time > p.served_at"
            ),
            {"t": trained.end},
        ).scalar_one()
    assert joined == summary["labels_joined"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["ranker", "train", "--from", "2026-11-05", "--to", "2026-11-04"],
            2,
            "--to must be after --from",
        ),
        (["ranker", "feed", "--set", "colour=red"], 2, "colour"),
        (["ranker", "evaluate", "99"], 1, "no version 99"),
    ],
)
def test_cli_mistakes_exit_non_zero_with_a_message(
    trained: Trained, args: list[str], code: int, message: str
) -> None:
    proc = run(args, environment(trained.url, trained.data_dir), code=code)
    assert message in proc.stderr


def test_window_options_are_parsed_in_process_with_utc_as_the_default_zone() -> None:
    import click
    import typer

    from cli.ranker_cmd import feed_config, parse_moment, window

    assert parse_moment("2026-11-02T03:00", "--from").isoformat() == "2026-11-02T03:00:00+00:00"
    assert window("2026-11-02", "2026-11-05", 7)[1].day == 5
    with pytest.raises((typer.Exit, click.exceptions.Exit)):
        parse_moment("yesterday", "--from")
    assert (
        feed_config(None, 3, ["n_users=50", 'concept_drift={"at_hours": 2, "strength": 0.5}']).seed
        == 3
    )
    with pytest.raises((typer.Exit, click.exceptions.Exit)):
        feed_config(None, None, ["colour=red"])


def test_a_default_window_starts_where_the_feed_does_when_nothing_lies_before(
    trained: Trained,
) -> None:
    """After `make run` only the demo's 48 hours exist: a 7-day default window would give the
    time-ordered train split nothing, so it starts where the synthetic feed does."""
    from governance.flows import covered_start

    week_before = trained.end - timedelta(days=7)
    inside = trained.start + timedelta(hours=1)
    with trained.sessions() as s:
        clipped = covered_start(s, start=week_before, end=trained.end)
        kept = covered_start(s, start=inside, end=trained.end)
        empty = covered_start(s, start=week_before, end=trained.start)
    assert clipped == trained.start and clipped.tzinfo is UTC
    assert kept == inside
    assert empty == week_before  # no feed run inside the window: nothing to start from
