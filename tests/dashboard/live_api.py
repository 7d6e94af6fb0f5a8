"""A real driftgate API on a free local port, and a seed posted through that API.

The dashboard is an HTTP client, so its tests drive a real uvicorn on a freshly migrated
database, seeded the way people use driftgate: contracts, good and bad batches, a drifted
batch, an SLO that fires, a registered model with a champion and open promotion requests.
Only the first admin token is made directly, as `driftgate token create` does.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "examples" / "impressions.contract.yaml"

# Quorum of one and only the gates a stand-in model can pass, so one review decides a request.
POLICY = """\
quorum: 1
expires_after: P7D
gates:
  metrics: {enabled: false}
  slices: {enabled: false}
  artifact: {enabled: false}
  error_budget: {enabled: false}
bake: {enabled: false}
"""

SLO = {
    "id": "impressions-pass-rate",
    "name": "impressions batches pass",
    "kind": "batch_pass_rate",
    "contract_id": "impressions",
    "objective": 0.99,
    "params": {},
    "period": "P30D",
    "time_scale": 1.0,
    "min_events": 0,
    "pending_seconds": 0.0,
    "enabled": True,
}


@contextmanager
def running_api(database_url: str, data_dir: Path) -> Iterator[str]:
    """uvicorn serving driftgate's app in a thread; yields its base URL."""
    import uvicorn

    from api.app import create_app
    from core.settings import Settings

    settings = Settings(
        data_dir=data_dir,
        monitor_runner=False,
        monitor_reference_min_batches=1,
        monitor_reference_min_rows=1,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database_url=database_url),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str) -> str:
    """A new, empty database on the server, migrated from scratch; returns its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    from core.migrate import upgrade

    name = f"driftgate_dashboard_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = (
        make_url(server_url)
        .set(database=name, drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )
    upgrade(url)
    return url


def drop_database(server_url: str, url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def first_admin_token(database_url: str) -> str:
    """The bootstrap token, made the way `driftgate token create --role admin` makes it."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from core.auth import CLI_OPERATOR, Role, create_token

    engine = create_engine(database_url)
    try:
        with sessionmaker(bind=engine).begin() as s:
            return create_token(s, CLI_OPERATOR, name="root", role=Role.admin, prefix="dg_")
    finally:
        engine.dispose()


def impressions(n: int, *, seed: int, now: datetime, drifted: bool = False) -> pl.DataFrame:
    """`n` impressions of the hour before `now`; `drifted` skews positions and scores."""
    rng = np.random.default_rng(seed)
    position = rng.integers(0, 20, n)
    score = rng.beta(2, 5, n)
    if drifted:
        position = rng.integers(30, 50, n)
        score = rng.beta(6, 2, n)
    seconds = rng.integers(0, 3600, n)
    return pl.DataFrame(
        {
            "event_id": [f"evt_{v:016x}" for v in rng.integers(0, 2**63, n)],
            "event_time": [now - timedelta(seconds=int(s)) for s in seconds],
            "user_id": [f"u{v}" for v in rng.integers(0, 500, n)],
            "item_id": [f"i{v}" for v in rng.integers(0, 300, n)],
            "position": position,
            "surface": rng.choice(["feed", "profile"], n),
            "country": rng.choice(["US", "GB", "DE", "FR", "IN", "BR", "JP"], n),
            "device": rng.choice(["ios", "android", "web"], n),
            "hour": np.full(n, now.hour),
            "score": score,
            "dwell_ms": rng.exponential(3000.0, n),
        }
    ).with_columns(pl.col("event_time").dt.replace_time_zone("UTC"))


def parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


@dataclass
class Seeded:
    """What the seed made, for tests to look for on the pages."""

    url: str
    tokens: dict[str, str]
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    champion: int = 0


class Seeder:
    """Drives the API as named people, one token each."""

    def __init__(self, url: str, admin_token: str, data_dir: Path) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)
        self.data_dir = data_dir
        self.out = Seeded(url=url, tokens={"root": admin_token})

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.out.tokens[who]}"}

    def call(self, method: str, path: str, who: str = "root", **kw: Any) -> Any:
        headers = {**self.as_(who), **kw.pop("headers", {})}
        resp = self.http.request(method, path, headers=headers, **kw)
        assert resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def person(self, name: str, role: str) -> None:
        doc = self.call("POST", "/tokens", json={"name": name, "role": role})
        self.out.tokens[name] = doc["token"]

    def batch(self, name: str, frame: pl.DataFrame, who: str = "paula") -> dict[str, Any]:
        doc = self.call(
            "POST",
            "/batches?contract=impressions",
            who,
            content=parquet(frame),
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )
        self.out.batches[name] = doc
        return dict(doc)

    def model_version(self, note: str, batch: dict[str, Any]) -> int:
        """A registered version whose artifact is a stand-in file (no gate here loads it)."""
        content = f"stand-in ranker {note}".encode()
        sha = hashlib.sha256(content).hexdigest()
        path = (self.data_dir / "models" / "ranker" / f"{sha}.pt").resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        body = {
            "artifact_uri": path.as_uri(),
            "artifact_sha256": sha,
            "signature": {
                "inputs": [{"name": "position", "kind": "numeric", "dtype": "float32"}],
                "output": {"name": "p_click"},
            },
            "metrics": {"model": {"auc": 0.70 + len(note) / 1000}},
            "training_data": [
                {
                    "batch_id": batch["id"],
                    "contract_id": "impressions",
                    "contract_version": batch["contract_version"],
                    "accepted_sha256": batch["accepted_sha256"],
                    "rows_used": batch["rows_accepted"],
                }
            ],
        }
        return int(self.call("POST", "/models/ranker/versions", "paula", json=body)["version"])


def seed(url: str, admin_token: str, data_dir: Path) -> Seeded:
    """The world every dashboard page has something real to show from."""
    s = Seeder(url, admin_token, data_dir)
    for name, role in [("paula", "producer"), ("rita", "reviewer"), ("vic", "viewer")]:
        s.person(name, role)
    s.person("ray", "reviewer")
    s.call(
        "POST",
        "/contracts",
        content=CONTRACT.read_bytes(),
        headers={"Content-Type": "application/yaml"},
    )
    evolved = CONTRACT.read_text().replace("version: 1.0.0", "version: 1.1.0", 1)
    evolved = evolved.replace("max_length: 64\n    pii: true", "max_length: 128\n    pii: true", 1)
    s.call(
        "POST",
        "/contracts/impressions/versions",
        content=evolved.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    now = datetime.now(UTC)
    good = s.batch("good", impressions(800, seed=1, now=now))
    s.batch("good-2", impressions(800, seed=5, now=now))
    s.call("POST", "/monitors/references?dataset=impressions&force=true")
    bad = impressions(800, seed=2, now=now).with_columns(
        pl.when(pl.int_range(pl.len()) % 20 == 0)
        .then(99)
        .otherwise(pl.col("position"))
        .alias("position")
    )
    s.batch("bad-rows", bad)
    s.batch("missing-column", impressions(200, seed=3, now=now).drop("event_time"))
    s.batch("drifted", impressions(800, seed=4, now=now, drifted=True))
    s.call("POST", "/slos", json=SLO)
    s.call("POST", "/monitors/run", json={})
    s.call(
        "PUT",
        "/promotion-policy?comment=dashboard%20seed",
        content=POLICY.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    v1 = s.model_version("one", good)
    s.call("PUT", "/models/ranker/champion", json={"version": v1, "reason": "first champion"})
    s.out.champion = v1
    for note in ("two", "three", "four"):
        version = s.model_version(note, good)
        s.out.requests[note] = s.call(
            "POST",
            f"/models/ranker/versions/{version}/promotion-requests",
            "paula",
            json={"justification": f"candidate {note}: better on the last week"},
        )
    s.http.close()
    return s.out
