"""Post the synthetic feed through driftgate itself: the shipped contracts, then every batch.

Each batch goes through `checks.service.submit_batch` in its own transaction, received at the
moment the producer would have delivered it (the process clock is simulated for the call), so
contract checks, quarantine, freshness and the audit trail see exactly what a real producer
would cause. Only accepted rows are ever read back for training.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from checks.service import IncomingBatch, submit_batch
from contracts import repository as contract_repo
from contracts import service as contracts
from contracts.loader import load_contract_document, parse_document
from contracts.semver import SemVer
from core import audit
from core.auth import Principal
from core.clock import SimulatedClock, get_clock, set_clock, utcnow
from core.db import unit_of_work
from ranker.feed import FeedBatch, deliver, hours_between
from ranker.feed_config import FeedConfig
from ranker.models import FeedRun

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
CONTRACT_FILES = ("impressions.contract.yaml", "labels.contract.yaml")


def ensure_contracts(session: Session, actor: Principal) -> list[str]:
    """Register the shipped contracts, or add their version when an older one is registered."""
    notes = []
    for name in CONTRACT_FILES:
        spec, source, _report = load_contract_document(
            parse_document((CONTRACTS_DIR / name).read_bytes())
        )
        existing = contract_repo.get_contract(session, spec.id)
        if existing is None:
            contracts.register_contract(session, actor, spec=spec, source_format=source)
            notes.append(f"registered contract {spec.id} v{spec.version}")
        elif SemVer.parse(existing.latest_version) < spec.semver:
            contracts.add_version(
                session, actor, contract_id=spec.id, spec=spec, source_format=source
            )
            notes.append(f"added version {spec.version} to contract {spec.id}")
    return notes


@contextmanager
def received_at(moment: datetime) -> Iterator[None]:
    """Run a block as if the process clock read `moment` (the batch's delivery time)."""
    previous = get_clock()
    set_clock(SimulatedClock(moment))
    try:
        yield
    finally:
        set_clock(previous)


@dataclass
class PostedFeed:
    run_id: uuid.UUID
    statuses: dict[str, int] = field(default_factory=dict)
    batch_ids: list[uuid.UUID] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def post_feed(
    sessions: sessionmaker[Session],
    actor: Principal,
    *,
    config: FeedConfig,
    origin: datetime,
    start: datetime,
    end: datetime,
    data_dir: Path,
    example_values: int = 5,
    progress: Callable[[FeedBatch, str], None] | None = None,
) -> PostedFeed:
    """Generate the feed for [start, end) and post every batch; record the run (and its config,
    which the oracle needs) with an audit event."""
    with unit_of_work(sessions) as session:
        ensure_contracts(session, actor)
    batches = deliver(config, origin, hours_between(origin, start), hours_between(origin, end))
    posted = PostedFeed(run_id=uuid.uuid4())
    spool = data_dir / "incoming"
    spool.mkdir(parents=True, exist_ok=True)
    for batch in batches:
        status, batch_id, accepted = _post_one(
            sessions, actor, batch, spool, data_dir, example_values
        )
        posted.statuses[status] = posted.statuses.get(status, 0) + 1
        posted.rows[batch.contract_id] = posted.rows.get(batch.contract_id, 0) + accepted
        posted.batch_ids.append(batch_id)
        if progress:
            progress(batch, status)
    with unit_of_work(sessions) as session:
        session.add(
            FeedRun(
                id=posted.run_id,
                config=config.model_dump(mode="json"),
                origin=origin,
                window_start=start,
                window_end=end,
                batch_ids=[str(b) for b in posted.batch_ids],
                batches_rejected=posted.statuses.get("rejected", 0),
                created_at=utcnow(),
                created_by=actor.name,
            )
        )
        session.flush()
        audit.record(
            session,
            actor=actor.name,
            action="feed.generate",
            object_type="feed_run",
            object_id=str(posted.run_id),
            after={
                "seed": config.seed,
                "origin": origin,
                "window": [start, end],
                "batches": len(posted.batch_ids),
                "statuses": posted.statuses,
                "rows_accepted": posted.rows,
            },
        )
    return posted


def _post_one(
    sessions: sessionmaker[Session],
    actor: Principal,
    batch: FeedBatch,
    spool: Path,
    data_dir: Path,
    example_values: int,
) -> tuple[str, uuid.UUID, int]:
    with tempfile.NamedTemporaryFile(dir=spool, suffix=".parquet", delete=False) as fh:
        path = Path(fh.name)
    try:
        batch.frame.write_parquet(path)
        body = IncomingBatch(
            path=path,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            size=path.stat().st_size,
            format="parquet",
        )
        with received_at(batch.delivered_at), unit_of_work(sessions) as session:
            sub = submit_batch(
                session,
                actor,
                contract_id=batch.contract_id,
                version=None,
                body=body,
                data_dir=data_dir,
                example_values=example_values,
            )
            return sub.batch.status, sub.batch.id, int(sub.batch.rows_accepted)
    finally:
        path.unlink(missing_ok=True)


def default_window(now: datetime, days: float) -> tuple[datetime, datetime]:
    """The last `days` days, ending at the start of the current hour."""
    end = now.replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=days), end


class FeedFollower:
    """Posts the synthetic feed hour by hour as simulated time passes, so accepted batches keep
    landing while simulated users rank: the data serving refreshes its features from (without
    it, a simulation serves features frozen at the end of training and the model decays)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        actor: Principal,
        *,
        config: FeedConfig,
        origin: datetime,
        start: datetime,
        data_dir: Path,
    ) -> None:
        self.sessions, self.actor, self.config = sessions, actor, config
        self.origin, self.data_dir = origin, data_dir
        self.next_hour = hours_between(origin, start)
        self.posted: list[PostedFeed] = []

    def __call__(self, now: datetime) -> PostedFeed | None:
        """Post the hours that closed by `now` and were not posted yet (one feed run)."""
        end_hour = hours_between(self.origin, now)
        if end_hour <= self.next_hour:
            return None
        posted = post_feed(
            self.sessions,
            self.actor,
            config=self.config,
            origin=self.origin,
            start=self.origin + timedelta(hours=self.next_hour),
            end=self.origin + timedelta(hours=end_hour),
            data_dir=self.data_dir,
        )
        self.next_hour = end_hour
        self.posted.append(posted)
        return posted
