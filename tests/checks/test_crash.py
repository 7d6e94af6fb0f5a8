"""A process that dies mid-batch leaves no partial batch visible."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from checks.storage import process_spool_dir
from core.auth import CLI_OPERATOR, Role, create_token
from tests.builders import contract, csv_bytes, orders, parquet_bytes
from tests.support.servers import free_port, wait_until

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


@pytest.mark.slow  # a child process
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


def _start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
    )

    def healthy() -> bool:
        assert proc.poll() is None, "the server exited during start-up"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, timeout=90, interval=0.2, what="the server to start")
    except AssertionError:
        proc.kill()
        raise
    return proc


def _aged(path: Path, seconds: float = 7200) -> Path:
    old = time.time() - seconds
    os.utime(path, (old, old))
    return path


@pytest.mark.slow  # a child process
def test_a_server_killed_mid_upload_leaves_nothing_counted_and_the_restart_cleans_up(
    committed_db: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    engine = create_engine(committed_db)
    with sessionmaker(bind=engine).begin() as s:
        token = create_token(s, CLI_OPERATOR, name="producer", role=Role.admin, prefix="dg_")
    headers = {"Authorization": f"Bearer {token}"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")}
    env.update(
        DATABASE_URL=committed_db,
        DRIFTGATE_DATA_DIR=str(data),
        DRIFTGATE_MONITOR_RUNNER="false",
        DRIFTGATE_RANKER_SERVING="false",
        DRIFTGATE_GOVERNANCE_BAKE_GUARD="false",
        DRIFTGATE_AUDIT_CHECKPOINTER="false",
    )
    port = free_port()
    server = _start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        registered = httpx.post(f"{base}/contracts", json=contract(), headers=headers, timeout=60)
        assert registered.status_code == 201
        kept = httpx.post(
            f"{base}/batches?contract=orders",
            content=parquet_bytes(orders(30)),
            headers={**headers, "Content-Type": "application/vnd.apache.parquet"},
            timeout=60,
        )
        assert kept.status_code == 201, kept.text
        # A slow streamed upload; the server is killed while it spools the body.
        csv = csv_bytes(orders(20_000))
        sent = threading.Event()

        def slow_body() -> Iterator[bytes]:
            for start in range(0, len(csv), 16_384):
                yield csv[start : start + 16_384]
                sent.set()
                time.sleep(0.02)

        def upload() -> None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(
                    f"{base}/batches?contract=orders",
                    content=slow_body(),
                    headers={**headers, "Content-Type": "text/csv"},
                    timeout=60,
                )

        uploader = threading.Thread(target=upload, daemon=True)
        uploader.start()
        spooled = wait_until(lambda: [p for p in data.glob("incoming/*/*.csv") if p.stat().st_size])
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    uploader.join(timeout=30)
    dead_spool = spooled[0].parent
    assert dead_spool.exists(), "kill -9 leaves the spool behind"

    # Other leftovers and things that must survive the sweep.
    torn = data / "batches" / "orders" / str(uuid.uuid4())
    torn.mkdir(parents=True)
    (torn / "accepted.parquet.tmp").write_bytes(b"half a parquet file")
    _aged(torn / "accepted.parquet.tmp")
    _aged(torn)
    young = data / "batches" / "orders" / str(uuid.uuid4())
    young.mkdir()
    (young / "accepted.parquet.tmp").write_bytes(b"another replica is writing this")
    committed_folder = data / "batches" / "orders" / kept.json()["id"]
    _aged(committed_folder)
    live_spool = process_spool_dir(data / "incoming")  # held by this (live) process
    (live_spool / "in-flight.csv").write_bytes(b"a,b\n")

    env["DRIFTGATE_LEFTOVER_SWEEP_SECONDS"] = "1"
    server = _start_server(env, port)
    try:
        assert not dead_spool.exists(), "the dead process's spool is removed at start-up"
        assert not torn.exists(), "an old uncommitted batch folder is removed"
        assert (young / "accepted.parquet.tmp").exists(), "a young .tmp may be in use"
        assert (committed_folder / "accepted.parquet").exists()
        assert (live_spool / "in-flight.csv").exists(), "a live process's spool is kept"
        listed = httpx.get(f"{base}/batches", headers=headers, timeout=60).json()
        assert [b["id"] for b in listed] == [kept.json()["id"]]
        # On a schedule too: a leftover appearing while the server runs goes within seconds.
        late = data / "incoming" / "ranker-feed.parquet"
        late.write_bytes(b"spooled by a process that died")
        _aged(late)
        wait_until(lambda: not late.exists(), timeout=15)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM batches")).scalar_one() == 1
    engine.dispose()


def _folders(root: Path, n: int) -> list[Path]:
    out = []
    for _ in range(n):
        folder = root / "batches" / "orders" / str(uuid.uuid4())
        folder.mkdir(parents=True)
        (folder / "accepted.parquet").write_bytes(b"x")
        out.append(_aged(folder))
    return out


def test_a_few_uncommitted_batch_folders_are_removed_but_a_foreign_data_dir_is_not(
    db: Session, tmp_path: Path
) -> None:
    from checks.leftovers import sweep_uncommitted_batches

    few = _folders(tmp_path / "ours", 3)
    swept = sweep_uncommitted_batches(db, tmp_path / "ours", min_age_seconds=3600)
    assert swept.batch_folders == 3 and not any(f.exists() for f in few)
    # 40 folders none of which this database knows: another database's data directory.
    foreign = _folders(tmp_path / "theirs", 40)
    swept = sweep_uncommitted_batches(db, tmp_path / "theirs", min_age_seconds=3600)
    assert swept.batch_folders == 0 and all(f.exists() for f in foreign)
