"""Multi-step CLI flows (register-or-evolve, submit a file, the demo), kept out of main.py."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from checks.readers import detect_format
from checks.service import IncomingBatch, submit_batch
from cli.context import CliContext
from contracts import repository as contract_repo
from contracts import service as contracts
from contracts.loader import load_contract_document, load_contract_documents, parse_document
from contracts.spec import ContractSpec
from core.clock import utcnow
from core.db import unit_of_work
from ranker.demo_world import FEED_DAYS

# the example contracts, packaged with the CLI (a link to examples/ in the source tree)
EXAMPLES = Path(__file__).resolve().parent / "demo_examples"
DEMO_CONTRACT = "impressions.contract.yaml"


def register_contract_file(
    ctx: CliContext, file: Path, fmt: str = "auto", schema_name: str | None = None
) -> str:
    """Register each contract the file holds (one per ODCS schema object), or add it as a new
    version where the contract exists; all in one transaction."""
    loaded = load_contract_documents(
        parse_document(file.read_bytes()), fmt, schema_name=schema_name
    )
    texts = []
    with unit_of_work(ctx.sessions) as session:
        for spec, source, report in loaded:
            texts.append(_register_or_evolve(session, ctx, spec, source, report))
    return "\n".join(texts)


def _register_or_evolve(
    session: Session, ctx: CliContext, spec: ContractSpec, source: str, report: Any
) -> str:
    if contract_repo.get_contract(session, spec.id) is None:
        contracts.register_contract(
            session, ctx.operator, spec=spec, source_format=source, import_report=report
        )
        text = f"registered contract {spec.id} v{spec.version} ({source})"
    else:
        _, changes = contracts.add_version(
            session,
            ctx.operator,
            contract_id=spec.id,
            spec=spec,
            source_format=source,
            import_report=report,
        )
        text = f"added version {spec.version} to {spec.id}: {len(changes)} change(s)"
    if report and report.get("ignored"):
        text += "\nignored while importing:\n" + "\n".join(
            f"  - {i['path']}: {i['reason']}" for i in report["ignored"]
        )
    return text


def submit_batch_file(
    ctx: CliContext, file: Path, contract_id: str, version: str | None, key: str | None
) -> tuple[str, str]:
    body = IncomingBatch(
        path=file,
        sha256=hashlib.sha256(file.read_bytes()).hexdigest(),
        size=file.stat().st_size,
        format=detect_format(None, file.name),
    )
    with unit_of_work(ctx.sessions) as session:
        sub = submit_batch(
            session,
            ctx.operator,
            contract_id=contract_id,
            version=version,
            body=body,
            data_dir=ctx.settings.data_dir,
            idempotency_key=key,
            example_values=ctx.settings.example_values,
            category_cap=ctx.settings.profile_category_cap,
        )
        from checks.repository import rule_results

        rules = rule_results(session, sub.batch.id)
        b = sub.batch
        lines = [
            f"batch {b.id} against {b.contract_id} v{b.contract_version}: {b.status.upper()}"
            + (" (replayed)" if sub.replayed else ""),
            f"  rows received {b.rows_received}, accepted {b.rows_accepted}, "
            f"quarantined {b.rows_quarantined}",
        ]
        lines += [
            f"  ✗ {r.rule_id:32} {r.action:10} failing={r.failing_rows} observed={r.observed} "
            f"threshold={r.threshold} e.g. {r.examples[:3]}"
            for r in rules
            if not r.passed
        ]
        return "\n".join(lines), b.status


DEMO_COLUMNS = [
    "event_id",
    "event_time",
    "user_id",
    "item_id",
    "position",
    "surface",
    "country",
    "device",
    "hour",
    "score",
    "dwell_ms",
]
DEMO_FEED_DAYS = FEED_DAYS  # `driftgate ranker train`'s default window: its feed's origin


def demo_impressions(n: int, *, seed: int, now: datetime) -> pl.DataFrame:
    """`n` impressions of the three hours before `now`, drawn from the ranker's synthetic feed.

    The demo's batches come from the same world, traffic and time of day as the feed that
    `driftgate ranker train` posts for its default window (origin seven days before the current
    hour), so the drift monitors judge them like any clean hour of that feed: rows of another
    population (uniform countries, uniform positions) read as drift against the champion's
    training data and paged the README's drift-free SLO on a clean demo. Event ids are the
    demo's own, so they never collide with the feed's batches.
    """
    from ranker.feed import generate
    from ranker.feed_config import FeedConfig

    origin = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=DEMO_FEED_DAYS)
    last = int((now - origin) // timedelta(hours=1))  # the hour `now` falls in, from the origin
    rows = generate(FeedConfig(), origin, max(0, last - 3), max(1, last))
    rng = np.random.default_rng(seed)
    picked = rows.select(DEMO_COLUMNS).sample(min(n, rows.height), seed=seed)
    ids = rng.integers(0, 2**63, picked.height)
    return picked.with_columns(pl.Series("event_id", [f"evt_{v:016x}" for v in ids]))


def demo_contract() -> ContractSpec:
    """The example impressions contract the demo registers and writes its batches for."""
    return load_contract_document(parse_document((EXAMPLES / DEMO_CONTRACT).read_bytes()))[0]


def run_demo(ctx: CliContext, echo: Callable[[str], None], *, ranker: bool = True) -> None:
    """The example contract and four batches; with `ranker`, a small champion and candidate
    too when the database has no ranker yet (cli/demo_ranker.py)."""
    contract_file = EXAMPLES / DEMO_CONTRACT
    spec = demo_contract()
    with unit_of_work(ctx.sessions) as session:
        exists = contract_repo.get_contract(session, spec.id) is not None
    echo(
        f"contract {spec.id}: "
        + ("already registered" if exists else register_contract_file(ctx, contract_file))
    )
    now = utcnow()
    good = demo_impressions(2_000, seed=1, now=now)
    bad = demo_impressions(2_000, seed=2, now=now).with_columns(
        pl.when(pl.int_range(pl.len()) % 50 == 0)
        .then(99)
        .otherwise(pl.col("position"))
        .alias("position"),
        pl.when(pl.int_range(pl.len()) % 97 == 0)
        .then(pl.lit("tablet"))
        .otherwise(pl.col("device"))
        .alias("device"),
    )
    rejected = demo_impressions(500, seed=3, now=now).drop("event_time")
    stale = demo_impressions(500, seed=4, now=now - timedelta(hours=6))
    workdir = ctx.settings.data_dir / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    for name, frame in [
        ("good", good),
        ("bad-rows", bad),
        ("missing-column", rejected),
        ("stale", stale),
    ]:
        path = workdir / f"{name}.parquet"
        frame.write_parquet(path)
        # the version the files are written for: the ranker's newer one (cli/demo_ranker.py)
        # adds fields these rows lack, which would read as null-rate drift against its data
        text, _ = submit_batch_file(ctx, path, spec.id, spec.version, None)
        echo(f"\n[{name}] {text}")
    if ranker:
        from cli.demo_ranker import seed_ranker

        echo("")
        seed_ranker(ctx, echo)
    echo(
        "\nNext: create a token (driftgate token create --role admin --name you) "
        "and explore the API at /docs."
    )
