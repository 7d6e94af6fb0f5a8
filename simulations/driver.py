"""The simulated producer, ranking clients and operators, talking to the in-process app over
its real HTTP routes (POST /batches, /rank, /labels, /promotion-requests, /incidents), plus
the two background loops a deployment runs on a timer, called here at simulated moments:
the monitor runner's `run_once` and the bake guard's `run_guard`.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.settings import Settings
from ranker.feed import FeedBatch
from simulations.measure import RunResult

PARQUET = "application/vnd.apache.parquet"


class Driver:
    def __init__(
        self,
        client: TestClient,
        tokens: dict[str, str],
        clock: SimulatedClock,
        sessions: sessionmaker[Session],
        settings: Settings,
        result: RunResult,
    ) -> None:
        self.client, self.tokens, self.clock = client, tokens, clock
        self.sessions, self.settings, self.result = sessions, settings, result
        self.quarantined_at: datetime | None = None  # first bad batch held back

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post_batch(self, batch: FeedBatch, *, bad: bool, key: str | None = None) -> dict[str, Any]:
        """POST one batch as the producer at its delivery time; rows are counted as sent."""
        self.clock.set(max(self.clock.now(), batch.delivered_at))
        buf = io.BytesIO()
        batch.frame.write_parquet(buf)
        headers = {
            **self.as_("producer"),
            "Content-Type": PARQUET,
            "Idempotency-Key": key or f"{batch.contract_id}-{batch.hour}",
        }
        resp = self.client.post(
            "/batches",
            params={"contract": batch.contract_id},
            content=buf.getvalue(),
            headers=headers,
        )
        if resp.status_code not in (200, 201):
            raise RuntimeError(f"POST /batches: {resp.status_code} {resp.text[:300]}")
        body = resp.json()
        r = self.result
        r.rows_posted += batch.frame.height
        if resp.headers.get("Idempotent-Replayed") == "true":
            r.rows_replayed += batch.frame.height
            r.batches["replayed"] = r.batches.get("replayed", 0) + 1
            return dict(body)
        r.rows_accepted += int(body["rows_accepted"])
        r.rows_quarantined += int(body["rows_quarantined"])
        r.batches[body["status"]] = r.batches.get(body["status"], 0) + 1
        held = body["status"] in ("quarantined", "rejected")
        if bad and held and self.quarantined_at is None:
            self.quarantined_at = self.clock.now()
        return dict(body)

    def run_monitors(self) -> list[dict[str, Any]]:
        """One monitor runner pass at the simulated now; its alert transitions."""
        from monitors.runner import run_once

        report = run_once(self.sessions, settings=self.settings)
        if report.errors:
            self.result.notes.append(f"{self.clock.now():%m-%d %H:%M} monitors: {report.errors}")
        self.result.monitor_runs += 1
        return report.transitions

    def run_bake_guard(self) -> list[dict[str, Any]]:
        """One bake guard pass with the app's own /rank probe; the rollbacks it made."""
        from governance.bake.runner import run_guard

        stats = getattr(self.client.app.state, "serving_stats", None)  # type: ignore[attr-defined]
        outcome = run_guard(self.sessions, self.settings, stats)
        return outcome.rolled_back

    def get(self, path: str, **params: Any) -> Any:
        resp = self.client.get(path, params=params, headers=self.as_("on-call"))
        return resp

    def alerts(self) -> list[dict[str, Any]]:
        resp = self.get("/alerts", limit=1000)
        resp.raise_for_status()
        return list(resp.json())

    def slo_bad_events(self) -> dict[str, int]:
        resp = self.get("/slos")
        resp.raise_for_status()
        return {s["id"]: int((s.get("last_evaluation") or {}).get("bad") or 0) for s in resp.json()}

    def slo_budgets(self) -> dict[str, float | None]:
        resp = self.get("/slos")
        resp.raise_for_status()
        return {
            s["id"]: (s.get("last_evaluation") or {}).get("budget_remaining") for s in resp.json()
        }
