"""The `driftgate` command against DATABASE_URL and against the embedded PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.builders import orders

pytestmark = pytest.mark.slow  # every test runs the CLI in a child process

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


@pytest.fixture
def env(committed_db: str, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")}
    return {**base, "DATABASE_URL": committed_db, "DRIFTGATE_DATA_DIR": str(tmp_path / "data")}


def test_token_create_prints_the_secret_alone_on_the_last_line(env: dict[str, str]) -> None:
    proc = run(["token", "create", "--role", "admin", "--name", "first-admin"], env)
    token = proc.stdout.strip().splitlines()[-1]
    assert token.startswith("dg_") and " " not in token and len(token) > 40
    assert "first-admin" in run(["token", "list"], env).stdout
    dup = run(["token", "create", "--role", "admin", "--name", "first-admin"], env, ok=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    bad = run(["token", "create", "--role", "root", "--name", "x"], env, ok=False)
    assert bad.returncode == 2 and "unknown role" in bad.stderr


def test_register_contract_and_submit_batches(env: dict[str, str], tmp_path: Path) -> None:
    doc = tmp_path / "orders.yaml"
    import yaml

    from tests.builders import contract

    doc.write_text(yaml.safe_dump(contract()))
    assert (
        "registered contract orders v1.0.0" in run(["contract", "register", str(doc)], env).stdout
    )
    good = tmp_path / "good.parquet"
    orders(5).write_parquet(good)
    out = run(["batch", "submit", "--contract", "orders", str(good)], env).stdout
    assert "PASSED" in out and "accepted 5" in out
    bad = tmp_path / "bad.csv"
    orders(3).drop("placed_at").write_csv(bad)
    rejected = run(["batch", "submit", "--contract", "orders", str(bad)], env, ok=False)
    assert (
        rejected.returncode == 1
        and "REJECTED" in rejected.stdout
        and "placed_at.present" in rejected.stdout
    )
    assert '"intact": true' in run(["audit", "verify"], env).stdout


def test_invalid_contract_file_names_the_field_and_rule(
    env: dict[str, str], tmp_path: Path
) -> None:
    import yaml

    from tests.builders import contract

    doc = contract()
    doc["fields"][0]["pattern"] = "([unclosed"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    proc = run(["contract", "register", str(path)], env, ok=False)
    assert proc.returncode == 1 and "regex_compiles" in proc.stderr and "order_id" in proc.stderr


def test_demo_seeds_a_contract_and_good_and_bad_batches(env: dict[str, str]) -> None:
    # the ranker seeding has its own test (tests/cli/test_demo_ranker.py)
    out = run(["demo", "--no-ranker"], env).stdout
    for word in ("PASSED", "QUARANTINED", "REJECTED", "WARNED", "position.max"):
        assert word in out
    again = run(["demo", "--no-ranker"], env).stdout  # idempotent: the contract is reused
    assert "already registered" in again


def test_cli_works_against_the_embedded_postgres(tmp_path: Path) -> None:
    pg_dir = tmp_path / "pg"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL",) and not k.startswith("DRIFTGATE_")
    }
    env.update(
        {"DRIFTGATE_EMBEDDED_PG_DIR": str(pg_dir), "DRIFTGATE_DATA_DIR": str(tmp_path / "data")}
    )
    try:
        run(["migrate"], env)
        token = (
            run(["token", "create", "--role", "viewer", "--name", "v"], env)
            .stdout.strip()
            .splitlines()[-1]
        )
        assert token.startswith("dg_")
        # The data persists across processes (and restarts): the token is still listed.
        assert "v " in run(["token", "list"], env).stdout
    finally:
        stopped = run(["db", "stop"], env)
    assert "stopped" in stopped.stdout
    assert not (pg_dir / "postmaster.pid").exists()


def test_batch_file_in_an_unknown_format_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "batch.xlsx"
    pl.DataFrame({"a": [1]}).write_csv(path)
    proc = run(["batch", "submit", "--contract", "orders", str(path)], env, ok=False)
    assert proc.returncode == 1 and "cannot take a batch" in proc.stderr
