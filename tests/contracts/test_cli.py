"""`driftgate contract register --schema-name` and `driftgate contract pandera`, in a child."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.cli.test_cli import run

pytestmark = pytest.mark.slow  # every test runs the CLI in a child process

FULL = Path(__file__).resolve().parent / "odcs" / "bitol" / "full-example.odcs.yaml"
FULL_ID = "53581432-6c55-4ba2-a65f-72344a91553a"


@pytest.fixture
def env(committed_db: str, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")}
    return {**base, "DATABASE_URL": committed_db, "DRIFTGATE_DATA_DIR": str(tmp_path / "data")}


def test_register_imports_every_odcs_table_or_the_one_named(env: dict[str, str]) -> None:
    one = run(["contract", "register", str(FULL), "--schema-name", "receivers"], env).stdout
    assert f"registered contract {FULL_ID}.receivers v1.1.0 (odcs)" in one
    assert f"{FULL_ID}.tbl" not in one.split("ignored while importing")[0]
    # receivers exists at 1.1.0, so the whole document is refused and tbl is not registered
    both = run(["contract", "register", str(FULL)], env, ok=False)
    assert both.returncode == 1 and "must be greater than the latest 1.1.0" in both.stderr
    listed = run(["contract", "list"], env).stdout
    assert f"{FULL_ID}.tbl" not in listed  # all or nothing: tbl was not registered alone
    bad = run(["contract", "register", str(FULL), "--schema-name", "nope"], env, ok=False)
    assert bad.returncode == 1 and "['tbl', 'receivers']" in bad.stderr


def test_pandera_prints_a_schema_pandera_loads(env: dict[str, str], tmp_path: Path) -> None:
    from contracts import pandera_export
    from tests.builders import contract

    doc = tmp_path / "orders.yaml"
    doc.write_text(yaml.safe_dump(contract()))
    run(["contract", "register", str(doc)], env)
    text = run(["contract", "pandera", "orders"], env).stdout
    assert pandera_export.load(text).name == "orders@1.0.0"
    as_json = run(["contract", "pandera", "orders", "--format", "json"], env).stdout
    assert pandera_export.load(as_json, fmt="json").name == "orders@1.0.0"
    missing = run(["contract", "pandera", "nope"], env, ok=False)
    assert missing.returncode == 1 and "nope" in missing.stderr
