"""What `driftgate run` adds to `driftgate demo` so every dashboard page has something to show:
an SLO that the demo's bad batches make fire, a drifted batch against a reference, and an
open promotion request for a candidate ranker when one is registered (`driftgate demo` trains
a small champion and a candidate on a database with no ranker: cli/demo_ranker.py).

It goes through the HTTP API like any client (so every step is audited under a named
token), and only adds what is missing, so running it on every `make run` is harmless.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

PASS_RATE_SLO = {
    "id": "impressions-pass-rate",
    "name": "impressions batches pass their contract",
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
DEMO_PRODUCER = "demo-producer"


class DemoClient:
    def __init__(self, api_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )

    def call(self, method: str, path: str, ok: tuple[int, ...] = (), **kw: Any) -> Any:
        resp = self.http.request(method, path, **kw)
        if resp.status_code >= 400 and resp.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None


def drifted(good: Path) -> bytes:
    """The demo's good batch with positions pushed down the list and scores inflated."""
    import polars as pl

    frame = pl.read_parquet(good).with_columns(
        (pl.col("position") + 30).clip(0, 49).alias("position"),
        (1 - (1 - pl.col("score")) ** 4).alias("score"),
        # new ids (the hex digits reversed), so the batch is new rows, not a replay
        pl.format("evt_{}", pl.col("event_id").str.slice(4).str.reverse()).alias("event_id"),
    )
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def ensure_reference(api: DemoClient) -> None:
    """A reference from the demo's batches when there is none yet (forced below the minimum:
    the demo has hours of data, not the days a real reference wants)."""
    active = api.call("GET", "/monitors/references/active", params={"dataset": "impressions"})
    if active.get("reference") is None:
        api.call("POST", "/monitors/references", params={"dataset": "impressions", "force": True})


def producer_token(api: DemoClient) -> str:
    """A fresh token of the demo's producer, who opens promotion requests (not the reviewer)."""
    from datetime import UTC, datetime

    name = f"{DEMO_PRODUCER}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    principals = {p["name"] for p in api.call("GET", "/principals")}
    if DEMO_PRODUCER not in principals:
        api.call("POST", "/principals", json={"name": DEMO_PRODUCER, "kind": "service"})
    body = {"name": name, "role": "producer", "principal": DEMO_PRODUCER}
    return str(api.call("POST", "/tokens", json=body)["token"])


def open_candidate_request(api: DemoClient, api_url: str, echo: Callable[[str], None]) -> None:
    models = {m["name"]: m for m in api.call("GET", "/models", params={"limit": 100})}
    ranker = models.get("ranker")
    if ranker is None or ranker["champion_version"] is None:
        echo(
            "  no champion ranker yet: `.venv/bin/driftgate demo` (without --no-ranker) trains a "
            "small one and a candidate; a candidate gets a promotion request on the next "
            "`make run`"
        )
        return
    if ranker["latest_version"] <= ranker["champion_version"]:
        echo("  no candidate newer than the champion: train one for a promotion request")
        return
    open_now = api.call("GET", "/promotion-requests", params={"model": "ranker", "state": "open"})
    if open_now:
        return
    producer = DemoClient(api_url, producer_token(api))
    version = ranker["latest_version"]
    opened = producer.call(
        "POST",
        f"/models/ranker/versions/{version}/promotion-requests",
        json={"justification": f"demo: ranker v{version} trained on the latest accepted rows"},
    )
    echo(f"  opened a promotion request for ranker v{version} (as {DEMO_PRODUCER})")
    if opened["blocking_gates"]:
        echo(
            f"  its blocking gates: {', '.join(opened['blocking_gates'])} (the demo's bad "
            "batches opened an incident and spent the SLO's budget): the README's "
            "Governance section says how a reviewer gets it approved"
        )


def enrich(api_url: str, admin_token: str, data_dir: Path, echo: Callable[[str], None]) -> None:
    """SLO, reference, drifted batch, monitor run, candidate request: whatever is missing."""
    api = DemoClient(api_url, admin_token)
    api.call("POST", "/slos", ok=(409,), json=PASS_RATE_SLO)
    good = data_dir / "demo" / "good.parquet"
    if good.exists():
        ensure_reference(api)
        from cli.flows import demo_contract

        api.call(
            "POST",
            "/batches",
            # the demo's version, as its other batches: see run_demo
            params={"contract": "impressions", "version": demo_contract().version},
            content=drifted(good),
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )
        echo("  posted a drifted impressions batch")
    api.call("POST", "/monitors/run", json={})
    firing = api.call("GET", "/alerts", params={"state": "firing"})
    echo(f"  monitors ran: {len(firing)} alert(s) firing")
    open_candidate_request(api, api_url, echo)
