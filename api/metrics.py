"""Prometheus metrics at GET /metrics, through `prometheus-client`.

Two sources. Requests are counted and timed in process by an ASGI middleware, labelled with
the route *template* (`/batches/{batch_id}`), never the raw path, so label cardinality is the
size of the route table (calls that match no route share `<unmatched>`). Domain figures
(batches and rows by outcome, recent quarantine rate, drift verdicts, alerts, the audit chain
head) are read from PostgreSQL when scraped, so every replica reports the same totals; they are
cached for `metrics_db_cache_seconds`, and when the database is down the scrape still answers
with `driftgate_database_up 0` and the in-process series. Each app gets its own registry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from api.ratelimit import route_path
from checks import repository as checks_repository
from core import audit_repository
from core.asgi import StatusWatch
from core.auth import authenticate
from core.clock import utcnow
from core.errors import Unauthorized
from monitors.drift import repository as drift_repository
from monitors.slos import repository as slos_repository

UNMATCHED = "<unmatched>"
# Served ahead of the router (api.lineage_ingest), so no route is set in the scope for it.
_OUTSIDE_ROUTER = frozenset({"/api/v1/lineage"})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
QUARANTINE_WINDOW = timedelta(hours=1)


class HttpMetrics:
    """Request counts, latencies and in-flight calls per method and route template."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "driftgate_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "driftgate_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, by route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=registry,
        )


class MetricsMiddleware:
    """Pure ASGI middleware, outermost, so 400/413/429/503 answered by guards are counted."""

    def __init__(self, app: Any, metrics: HttpMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = StatusWatch(send)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, watch)
        finally:
            route = route_label(scope)
            self.metrics.requests.labels(scope["method"], route, str(watch.status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(
                time.perf_counter() - started
            )


def route_label(scope: Any) -> str:
    """The matched route's template; the raw path never becomes a label."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    path = route_path(scope)
    return path if path in _OUTSIDE_ROUTER else UNMATCHED


@dataclass
class _Cached:
    at: float = -1e18
    metrics: list[Metric] = field(default_factory=list)


class DatabaseCollector(Collector):
    """Domain figures read from PostgreSQL at scrape time, cached for a few seconds."""

    def __init__(self, sessions: sessionmaker[Session], cache_seconds: float) -> None:
        self.sessions, self.cache_seconds = sessions, cache_seconds
        self._cache = _Cached()
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = time.monotonic()
            if now - self._cache.at >= self.cache_seconds:
                self._cache = _Cached(now, self._read())
            yield from self._cache.metrics

    def _read(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "driftgate_database_up", "1 when the last scrape could read the database."
        )
        started = time.perf_counter()
        try:
            with self.sessions() as session:
                metrics = [*_batch_metrics(session), *_monitor_metrics(session)]
                metrics += _audit_metrics(session)
        except Exception:  # the database is down: say so, keep the in-process series
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        took = GaugeMetricFamily(
            "driftgate_metrics_database_seconds", "Time the last scrape spent reading PostgreSQL."
        )
        took.add_metric([], time.perf_counter() - started)
        return [up, took, *metrics]


def _batch_metrics(session: Session) -> list[Metric]:
    rows = checks_repository.batch_totals_by_status(session, utcnow() - QUARANTINE_WINDOW)
    batches = CounterMetricFamily(
        "driftgate_batches", "Batches stored, by result status.", labels=["status"]
    )
    counted = CounterMetricFamily(
        "driftgate_batch_rows", "Rows of stored batches, by outcome.", labels=["outcome"]
    )
    totals = [0, 0, 0]
    recent_received = recent_quarantined = 0
    for status, n, received, accepted, quarantined, r_received, r_quarantined in rows:
        batches.add_metric([status], n)
        totals = [totals[0] + received, totals[1] + accepted, totals[2] + quarantined]
        recent_received += r_received
        recent_quarantined += r_quarantined
    for outcome, value in zip(("received", "accepted", "quarantined"), totals, strict=True):
        counted.add_metric([outcome], value)
    rate = GaugeMetricFamily(
        "driftgate_quarantine_ratio",
        "Share of rows quarantined among rows received in the last hour (0 with none).",
    )
    rate.add_metric([], recent_quarantined / recent_received if recent_received else 0.0)
    return [batches, counted, rate]


def _monitor_metrics(session: Session) -> list[Metric]:
    verdicts = CounterMetricFamily(
        "driftgate_drift_verdicts", "Drift verdicts stored, by verdict.", labels=["verdict"]
    )
    for verdict, n in drift_repository.verdict_counts(session):
        verdicts.add_metric([verdict], n)
    latest = GaugeMetricFamily(
        "driftgate_drift_latest_verdict",
        "1 for the verdict of each contract's newest scheduled drift window.",
        labels=["contract", "verdict"],
    )
    for contract_id, verdict in drift_repository.newest_window_verdicts(session):
        latest.add_metric([contract_id, verdict], 1)
    alerts = GaugeMetricFamily(
        "driftgate_alerts", "Alerts by state and severity.", labels=["state", "severity"]
    )
    for state, severity, n in slos_repository.alert_counts(session):
        alerts.add_metric([state, severity], n)
    return [verdicts, latest, alerts]


def _audit_metrics(session: Session) -> list[Metric]:
    head = audit_repository.chain_head(session)
    seq = GaugeMetricFamily(
        "driftgate_audit_chain_head_seq", "Sequence number of the newest audit event (0: none)."
    )
    info = GaugeMetricFamily(
        "driftgate_audit_chain_head",
        "1, labelled with the newest audit event's hash.",
        labels=["hash"],
    )
    seq.add_metric([], head[0] if head else 0)
    if head:
        info.add_metric([head[1]], 1)
    return [seq, info]


class ProcessCollector(Collector):
    """This process's load shedding, rate limiting and served model, read from app state."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        guard = getattr(self.state, "load_guard", None)
        if guard is not None:
            limited = CounterMetricFamily(
                "driftgate_rate_limited",
                "Calls refused with 429 by this process, by route class.",
                labels=["route_class"],
            )
            for route, n in sorted(guard.limited.items()):
                limited.add_metric([route], n)
            shed = CounterMetricFamily(
                "driftgate_shed",
                "Calls shed with 503 by this process, by route.",
                labels=["method", "route"],
            )
            in_flight = GaugeMetricFamily(
                "driftgate_in_flight",
                "Shed-guarded calls being handled now.",
                labels=["method", "route"],
            )
            for endpoint, n in guard.shed.items():
                labels = endpoint.split(" ", 1)
                shed.add_metric(labels, n)
                in_flight.add_metric(labels, guard.in_flight[endpoint])
            yield from (limited, shed, in_flight)
        serving = getattr(self.state, "ranker", None)
        current = serving.holder.current if serving is not None else None
        served = GaugeMetricFamily(
            "driftgate_ranker_served",
            "1, labelled with the model version and artifact sha256 this process serves.",
            labels=["model", "version", "sha256"],
        )
        if current is not None:
            served.add_metric(
                [current.ref.model_name, str(current.ref.version), current.ref.sha256], 1
            )
        yield served


def install(app: Any, sessions: sessionmaker[Session] | None = None) -> CollectorRegistry:
    """Give the app a registry with the request metrics and the process collector."""
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    app.state.http_metrics = HttpMetrics(registry)
    registry.register(ProcessCollector(app.state))
    return registry


def register_database(app: Any) -> None:
    """Add the database collector once the lifespan has made the session factory."""
    settings = app.state.settings
    collector = DatabaseCollector(app.state.session_factory, settings.metrics_db_cache_seconds)
    app.state.metrics_registry.register(collector)
    app.state.metrics_database = collector


def unregister_database(app: Any) -> None:
    """Drop the lifespan's database collector when its engine goes away. An app whose lifespan
    runs again (tests, ASGI harnesses) would otherwise keep every earlier collector, and each
    scrape would reopen connections on the disposed engines and leave them idle."""
    collector = getattr(app.state, "metrics_database", None)
    if collector is not None:
        app.state.metrics_registry.unregister(collector)
        app.state.metrics_database = None


router = APIRouter(tags=["system"])
_bearer = HTTPBearer(auto_error=False, description="An API token from `driftgate token create`.")


def _metrics_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Any role may scrape; with `metrics_public`, no token is needed."""
    if request.app.state.settings.metrics_public:
        return
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized(
            "send an API token as `Authorization: Bearer <token>`",
            field="Authorization",
            rule="bearer_token",
        )
    with request.app.state.session_factory() as session:
        authenticate(session, credentials.credentials)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
def metrics(request: Request, _: Annotated[None, Depends(_metrics_reader)]) -> Response:
    """Prometheus metrics: requests per route, batches, rows, drift, alerts, audit head."""
    return Response(
        generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST
    )
