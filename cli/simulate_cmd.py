"""`driftgate simulate traffic`: synthetic users on a simulated clock, labels posted later."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

from cli.context import context

simulate_app = typer.Typer(help="Simulations on a simulated clock.", no_args_is_help=True)


@simulate_app.command("traffic")
def traffic(
    hours: Annotated[float, typer.Option(min=0.01, help="Simulated hours of traffic.")] = 1.0,
    rps: Annotated[float, typer.Option(min=0.001, help="Requests per simulated second.")] = 1.0,
    candidates: Annotated[int, typer.Option(min=1, max=1000, help="Items per request.")] = 20,
    start: Annotated[
        str | None, typer.Option(help="Simulated start (default: end of the latest feed run).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated users.")] = 11,
    attribution_hours: Annotated[
        float, typer.Option(help="Unclicked items get a negative label after this long.")
    ] = 6.0,
    feed: Annotated[
        bool,
        typer.Option(
            help="Keep posting the synthetic feed hour by hour: the accepted batches serving "
            "refreshes its features from."
        ),
    ] = True,
) -> None:
    """Drive POST /rank (the champion) through the in-process app, then post delayed labels."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from cli.progress import progress_bar
    from cli.ranker_cmd import parse_moment
    from core.auth import Role, create_token, revoke_token
    from core.clock import SimulatedClock, get_clock, set_clock
    from core.db import unit_of_work
    from core.migrate import upgrade
    from ranker import repository
    from ranker.feed_config import FeedConfig
    from ranker.ingest import FeedFollower
    from ranker.simulate import TrafficSimulator

    ctx = context()
    upgrade(ctx.database_url)
    with unit_of_work(ctx.sessions) as session:
        run = repository.latest_feed_run(session)
        if run is None:
            typer.echo("error: no synthetic feed yet; run `driftgate ranker train` first", err=True)
            raise typer.Exit(1)
        config, origin, feed_end = FeedConfig.model_validate(run.config), run.origin, run.window_end
        name = f"simulate-traffic-{uuid.uuid4().hex[:8]}"
        token = create_token(
            session, ctx.operator, name=name, role=Role.producer, prefix=ctx.settings.token_prefix
        )
    t0 = parse_moment(start, "--start") if start else feed_end
    follow = (
        FeedFollower(
            ctx.sessions,
            ctx.operator,
            config=config,
            origin=origin,
            start=max(t0, feed_end),
            data_dir=ctx.settings.data_dir,
        )
        if feed
        else None
    )
    clock, previous = SimulatedClock(t0), get_clock()
    set_clock(clock)
    settings = ctx.settings.model_copy(update={"monitor_runner": False})
    app = create_app(settings, database_url=ctx.database_url)
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    try:
        with TestClient(app) as client, progress_bar("simulating", total=hours) as advance:
            _wait_until_serving(client, headers)

            def on_hour(at: datetime, r: Any) -> None:
                if follow is not None:
                    follow(at)
                typer.echo(f"  {at:%Y-%m-%d %H:%M} requests={r.requests} labels={r.labels_posted}")
                advance((at - t0) / timedelta(hours=1), f"simulated {at:%Y-%m-%d %H:%M}")

            sim = TrafficSimulator(
                client,
                headers,
                clock,
                config=config,
                origin=origin,
                candidates=candidates,
                attribution=timedelta(hours=attribution_hours),
                seed=seed,
                progress=on_hour,
            )
            typer.echo(f"simulating {hours} h at {rps} req/s from {t0.isoformat()} …")
            report = sim.run(t0, hours, rps)
    finally:
        set_clock(previous)
        with unit_of_work(ctx.sessions) as session:
            revoke_token(session, ctx.operator, name=name)
    summary = report.summary()
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    if follow is not None:
        summary["feed_batches_posted"] = sum(len(p.batch_ids) for p in follow.posted)
    typer.echo(json.dumps(summary, indent=2, default=str))
    if report.failed_requests:
        raise typer.Exit(1)


def _wait_until_serving(client: Any, headers: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get("/rank/status", headers=headers).json()
        if status.get("serving"):
            return
        time.sleep(0.2)
    typer.echo(f"error: no champion is served ({status.get('last_error')})", err=True)
    raise typer.Exit(1)
