"""The FastAPI application factory: settings, database, routers, error handlers, guards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI

from api import api_docs, metrics, problem_docs, problems
from api.limits import BodyLimits, single_valued_query
from api.lineage_ingest import LineageIngest
from api.middleware import RequestGuard
from api.ratelimit import LoadGuard
from core.db import make_engine, make_session_factory, resolve_database_url, server_connect_args
from core.settings import Settings, get_settings
from ranker.callers import CallerCache

if TYPE_CHECKING:
    from checks.leftovers import LeftoverSweeper
    from core.audit_trail import CheckpointScheduler
    from governance.bake.runner import BakeGuard
    from governance.registry.serving import RankerServing
    from monitors.runner import MonitorRunner


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> FastAPI:
    """Build the app; the engine is created in the lifespan, never at import time."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        engine = make_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_args=server_connect_args(settings),
        )
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        # POST /rank's token cache: one per app, made before the first request can race for it.
        app.state.rank_callers = CallerCache(settings.ranker_auth_cache_seconds)
        metrics.register_database(app)
        sweeper = _start_leftover_sweeper(app, settings)
        runner = _start_monitor_runner(app, settings)
        ranker = _start_ranker_serving(app, settings)
        guard = _start_bake_guard(app, settings)
        checkpoints = _start_audit_checkpoints(app, settings)
        try:
            yield
        finally:
            sweeper.stop()
            if checkpoints is not None:
                checkpoints.stop()
            if guard is not None:
                guard.stop()
            if ranker is not None:
                ranker.stop()  # flushes the prediction log before the engine goes away
            if runner is not None:
                runner.stop()
            metrics.unregister_database(app)
            engine.dispose()

    app = FastAPI(
        title="driftgate",
        version="0.1.0",
        description="Drift-aware data quality and governance for a served ML model.",
        lifespan=lifespan,
        dependencies=[Depends(single_valued_query)],
        docs_url=None,  # api_docs serves /docs and /redoc from local assets, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    problems.install(app)
    metrics.install(app)
    problem_docs.install(app)
    api_docs.install(app)
    _mount_routers(app)
    app.add_middleware(LineageIngest)  # inside RequestGuard: its guards apply to ingest too
    app.add_middleware(RequestGuard, limits=BodyLimits.from_settings(settings))
    _install_serving_probe(app)
    # Outermost: shed and rate-limit before any work, and count every answer, guards' too.
    app.add_middleware(LoadGuard, settings=settings, state=app.state)
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.http_metrics)
    return app


def _mount_routers(app: FastAPI) -> None:
    from api.system_routes import router as system
    from checks.routes import router as batches
    from contracts.routes import router as contracts
    from governance.promotions.routes import router as promotions
    from governance.registry.routes import router as models
    from governance.reports.routes import router as model_reports
    from incidents.postmortems.routes import router as postmortems
    from incidents.routes import router as incidents
    from incidents.runbook_routes import router as runbooks
    from incidents.simulation_routes import router as simulations
    from lineage.routes import router as lineage
    from monitors.routes import router as monitors
    from ranker.routes import router as ranking

    app.include_router(ranking)  # first: POST /rank is the hot path, matched before the rest
    app.include_router(system)
    app.include_router(contracts)
    app.include_router(batches)
    app.include_router(lineage)
    app.include_router(monitors)
    app.include_router(models)
    app.include_router(promotions)
    app.include_router(model_reports)
    app.include_router(incidents)
    app.include_router(runbooks)
    app.include_router(postmortems)
    app.include_router(simulations)
    app.include_router(metrics.router)


def _start_leftover_sweeper(app: FastAPI, settings: Settings) -> LeftoverSweeper:
    """Remove crash leftovers (dead spools, stale .tmp, uncommitted batch folders) now and on
    a schedule, before the app serves its first request."""
    from checks.leftovers import LeftoverSweeper

    sweeper = LeftoverSweeper(app.state.session_factory, settings)
    sweeper.start()
    app.state.leftover_sweeper = sweeper
    return sweeper


def _start_monitor_runner(app: FastAPI, settings: Settings) -> MonitorRunner | None:
    """The monitor runner thread (`DRIFTGATE_MONITOR_RUNNER=false` leaves it to the CLI)."""
    if not settings.monitor_runner:
        return None
    from monitors.runner import MonitorRunner

    runner = MonitorRunner(app.state.session_factory, settings)
    runner.start()
    app.state.monitor_runner = runner
    return runner


def _start_ranker_serving(app: FastAPI, settings: Settings) -> RankerServing | None:
    """Champion watcher and prediction log writer (`DRIFTGATE_RANKER_SERVING=false`: none)."""
    if not settings.ranker_serving:
        return None
    from governance.registry.serving import start_ranker_serving

    serving = start_ranker_serving(
        settings,
        app.state.engine,
        app.state.session_factory,
        log_predictions=settings.predlog_enabled,
    )
    app.state.ranker = serving
    return serving


def _install_serving_probe(app: FastAPI) -> None:
    """Count POST /rank outcomes per served version: the bake guard's live error rate/latency."""
    from governance.bake.serving_probe import RankStats, ServingProbe

    app.state.serving_stats = RankStats()
    app.add_middleware(ServingProbe, stats=app.state.serving_stats)


def _start_bake_guard(app: FastAPI, settings: Settings) -> BakeGuard | None:
    """The bake guard thread (`DRIFTGATE_GOVERNANCE_BAKE_GUARD=false` leaves it to the CLI)."""
    if not settings.governance_bake_guard:
        return None
    from governance.bake.runner import BakeGuard

    guard = BakeGuard(app.state.session_factory, settings, app.state.serving_stats)
    guard.start()
    app.state.bake_guard = guard
    return guard


def _start_audit_checkpoints(app: FastAPI, settings: Settings) -> CheckpointScheduler | None:
    """Signed audit checkpoints on a timer (`DRIFTGATE_AUDIT_CHECKPOINTER=false`: CLI/cron)."""
    if not settings.audit_checkpointer:
        return None
    from core.audit_trail import CheckpointScheduler

    scheduler = CheckpointScheduler(app.state.session_factory, settings)
    scheduler.start()
    app.state.audit_checkpoints = scheduler
    return scheduler
