"""Simulated traffic: synthetic users call POST /rank on a simulated clock, and the outcomes of
what they were shown come back later through POST /labels.

Requests are drawn from the same world as the training feed (users, items, the true click
model), so the served model meets the data it was trained for and its realized accuracy can
be checked. Clicks arrive after a log-normal delay; items shown but not clicked get a
`clicked=false` label when their attribution window closes. The clock only moves forward,
a simulated minute at a time, so hours of traffic take seconds to minutes of wall time.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from core.clock import SimulatedClock
from ranker.feed import SURFACE_MIX, click_probability, outcomes
from ranker.feed_config import DEVICES, SURFACES, FeedConfig
from ranker.metrics import roc_auc
from ranker.world import World, build_world

US_PER_HOUR = 3_600_000_000


class HttpClient(Protocol):
    def post(self, url: str, *, json: Any, headers: dict[str, str]) -> Any: ...


@dataclass
class SimulationReport:
    requests: int = 0
    failed_requests: int = 0
    predictions: int = 0
    labels_posted: int = 0
    labels_joined: int = 0
    labels_unknown: int = 0
    clicks: int = 0
    pending_labels: int = 0
    served_versions: dict[int, int] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)
    clicked: list[bool] = field(default_factory=list)

    def realized_auc(self) -> float:
        return roc_auc(np.array(self.clicked), np.array(self.scores))

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failed_requests": self.failed_requests,
            "predictions": self.predictions,
            "labels_posted": self.labels_posted,
            "labels_joined": self.labels_joined,
            "labels_unknown": self.labels_unknown,
            "clicks": self.clicks,
            "labels_not_yet_arrived": self.pending_labels,
            "served_versions": self.served_versions,
            "realized_ctr": self.clicks / self.predictions if self.predictions else None,
            "realized_auc": self.realized_auc() if self.clicked else None,
        }


@dataclass(order=True)
class _Pending:
    due_us: int
    label: dict[str, Any] = field(compare=False)


class TrafficSimulator:
    """Drive an app with simulated users; `client` is e.g. a TestClient around `create_app`."""

    def __init__(
        self,
        client: HttpClient,
        headers: dict[str, str],
        clock: SimulatedClock,
        *,
        config: FeedConfig,
        origin: datetime,
        candidates: int = 20,
        attribution: timedelta = timedelta(hours=6),
        seed: int = 11,
        progress: Callable[[datetime, SimulationReport], None] | None = None,
    ) -> None:
        self.client, self.headers, self.clock = client, headers, clock
        self.world: World = build_world(config)
        self.origin = origin
        self.candidates = candidates
        self.attribution = attribution
        self.rng = np.random.default_rng([config.seed, 9, seed])
        self.progress = progress
        self.pending: list[_Pending] = []
        self.report = SimulationReport()

    def _hours(self, moment: datetime) -> float:
        return (moment - self.origin).total_seconds() / 3600

    def _request(self, moment: datetime) -> dict[str, Any] | None:
        world, rng, h = self.world, self.rng, self._hours(moment)
        users, items = world.users, world.items
        live_users = np.flatnonzero(users.created_h <= h)
        lifetime = world.config.item_lifetime_days * 24
        live = np.flatnonzero((items.created_h <= h) & (items.created_h > h - lifetime))
        if len(live_users) == 0 or len(live) < self.candidates:
            return None
        weights = users.activity[live_users] / users.activity[live_users].sum()
        user = int(live_users[rng.choice(len(live_users), p=weights)])
        picked = live[rng.choice(len(live), self.candidates, replace=False)]
        surface = int(rng.choice(3, p=SURFACE_MIX))
        device = int(users.device[user] if rng.random() < 0.9 else rng.integers(0, 3))
        return {
            "user": user,
            "items": picked,
            "surface": surface,
            "device": device,
            "body": {
                "user_id": f"u{user:06d}",
                "item_ids": [f"i{i:07d}" for i in picked],
                "context": {
                    "surface": SURFACES[surface],
                    "device": DEVICES[device],
                    "hour": moment.hour,
                },
            },
        }

    def _outcomes(self, moment: datetime, req: dict[str, Any], answer: dict[str, Any]) -> None:
        """What the user does with the ranked list, scheduled as labels for later."""
        shown = answer["items"]
        index = {f"i{i:07d}": i for i in req["items"]}
        item = np.array([index[x["item_id"]] for x in shown])
        n = len(item)
        h = self._hours(moment)
        p = click_probability(
            self.world,
            np.full(n, req["user"]),
            item,
            np.arange(n),
            np.full(n, h),
            np.full(n, req["surface"]),
            np.full(n, req["device"]),
            np.full(n, moment.hour),
        )
        clicked, delay_min, dwell = outcomes(self.world, self.rng, p, item)
        now_us = int(moment.timestamp() * 1_000_000)
        window_us = int(self.attribution.total_seconds() * 1_000_000)
        for x, c, d, w in zip(shown, clicked, delay_min, dwell, strict=True):
            due = now_us + (int(d * 60_000_000) if c else window_us)
            label = {"prediction_id": x["prediction_id"], "clicked": bool(c)}
            if c:
                label["dwell_ms"] = float(w)
            heapq.heappush(self.pending, _Pending(due, label))
            self.report.scores.append(float(x["score"]))
            self.report.clicked.append(bool(c and d * 60 <= self.attribution.total_seconds()))
        self.report.clicks += int(clicked.sum())
        self.report.predictions += n

    def _post_due(self, until: datetime) -> None:
        until_us = int(until.timestamp() * 1_000_000)
        due = []
        while self.pending and self.pending[0].due_us <= until_us:
            item = heapq.heappop(self.pending)
            label_time = datetime.fromtimestamp(item.due_us / 1e6, tz=until.tzinfo)
            due.append({**item.label, "label_time": label_time.isoformat()})
        for i in range(0, len(due), 50_000):
            chunk = due[i : i + 50_000]
            resp = self.client.post("/labels", json={"labels": chunk}, headers=self.headers)
            resp.raise_for_status()
            body = resp.json()
            self.report.labels_posted += len(chunk)
            self.report.labels_joined += body["joined"]
            self.report.labels_unknown += len(body["unknown"])

    def run(self, start: datetime, hours: float, rps: float) -> SimulationReport:
        """Serve `hours` of traffic at `rps` requests per simulated second, then let labels land."""
        end = start + timedelta(hours=hours)
        minute = start
        while minute < end:
            n = int(self.rng.poisson(rps * 60))
            offsets = np.sort(self.rng.uniform(0, 60, n))
            for offset in offsets:
                moment = minute + timedelta(seconds=float(offset))
                if moment >= end:
                    break
                self._serve(moment)
            minute += timedelta(minutes=1)
            self.clock.set(minute)
            self._post_due(minute)
            if self.progress and minute.minute == 0:
                self.progress(minute, self.report)
        # Let the attribution window close on the last impressions, labels landing as they do.
        tail = end + self.attribution
        while minute < tail:
            minute = min(minute + timedelta(minutes=15), tail)
            self.clock.set(minute)
            self._post_due(minute)
        self.report.pending_labels = len(self.pending)
        return self.report

    def _serve(self, moment: datetime) -> None:
        req = self._request(moment)
        if req is None:
            return
        self.clock.set(moment)
        resp = self.client.post("/rank", json=req["body"], headers=self.headers)
        self.report.requests += 1
        if resp.status_code != 200:
            self.report.failed_requests += 1
            return
        answer = resp.json()
        version = int(answer["model"]["version"])
        self.report.served_versions[version] = self.report.served_versions.get(version, 0) + 1
        self._outcomes(moment, req, answer)
