"""A process that dies mid-batch leaves no partial batch visible."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

from tests.builders import contract, orders

ROOT = Path(__file__).resolve().parents[2]

# Registers the contract, then submits a batch in a process that is killed (os._exit, no
# cleanup, no rollback) right when the audit event would be written: after the Parquet files
# are on disk and the batch, rule and profile rows are flushed, before the commit.
CRASHER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from cli.context import context
    from cli.flows import register_contract_file, submit_batch_file
    from checks import service

    ctx = context()
    register_contract_file(ctx, Path(sys.argv[1]))
    service.audit.record = lambda *a, **k: os._exit(17)
    submit_batch_file(ctx, Path(sys.argv[2]), "orders", None, None)
    """
)


def test_killed_process_mid_batch_commits_nothing(committed_db: str, tmp_path: Path) -> None:
    doc, batch = tmp_path / "orders.yaml", tmp_path / "orders.parquet"
    doc.write_text(yaml.safe_dump(contract()))
    orders(1000).write_parquet(batch)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")}
    env.update({"DATABASE_URL": committed_db, "DRIFTGATE_DATA_DIR": str(tmp_path / "data")})
    proc = subprocess.run(
        [sys.executable, "-c", CRASHER, str(doc), str(batch)], cwd=ROOT, env=env, timeout=120
    )
    assert proc.returncode == 17
    written = list((tmp_path / "data" / "batches").rglob("*.parquet"))
    assert written, "the crash should come after the files were written"
    engine = create_engine(committed_db)
    with engine.connect() as conn:
        for table in ("batches", "rule_results", "column_profiles", "idempotency_keys"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM contracts")).scalar_one() == 1
        actions = [r[0] for r in conn.execute(text("SELECT action FROM audit_events"))]
    engine.dispose()
    assert actions == ["contract.register"]
