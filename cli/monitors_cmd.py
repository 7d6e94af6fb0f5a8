"""`driftgate monitors`: run the monitor runner, declare SLOs from a file, look at drift."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

monitors_app = typer.Typer(help="Drift monitors, SLOs and alerts.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@monitors_app.command("run")
def run(
    loop: Annotated[bool, typer.Option(help="Keep running on the configured interval.")] = False,
    interval: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds between runs with --loop.")
    ] = None,
) -> None:
    """Evaluate drift, SLOs and alerts once (or forever) and deliver due notifications."""
    from cli.context import context
    from cli.progress import spinner
    from monitors.runner import run_once

    ctx = context()
    pause = interval or ctx.settings.monitor_interval_seconds
    while True:
        with spinner("monitors: rolling up profiles, judging drift, SLOs and alerts"):
            report = run_once(ctx.sessions, settings=ctx.settings)
        typer.echo(json.dumps(report.to_json()))
        if not loop:
            if report.errors:
                raise typer.Exit(1)
            return
        time.sleep(pause)


@monitors_app.command("apply-slos")
def apply_slos(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON list of SLOs.")
    ],
) -> None:
    """Declare SLOs from a file: create the new ones, update the ones that exist."""
    import yaml
    from pydantic import ValidationError

    from cli.context import context
    from core.db import unit_of_work
    from core.errors import DriftgateError
    from monitors.schemas import SloCreate
    from monitors.slos import repository
    from monitors.slos import service as slos

    docs: Any = yaml.safe_load(file.read_text())
    if isinstance(docs, dict):
        docs = docs.get("slos", [docs])
    if not isinstance(docs, list):
        _fail("the file must hold a list of SLOs (or a mapping with an `slos` list)", 2)
    ctx = context()
    try:
        with unit_of_work(ctx.sessions) as session:
            for doc in docs:
                body = SloCreate.model_validate(doc).model_dump()
                if repository.get_slo(session, body["id"]) is None:
                    slos.create_slo(session, ctx.operator, data=body)
                    typer.echo(f"created {body['id']}")
                else:
                    changes = {
                        k: body[k]
                        for k in SloCreate.model_fields
                        if k in doc and k not in ("id", "kind", "contract_id")
                    }
                    slos.update_slo(
                        session,
                        ctx.operator,
                        slo_id=body["id"],
                        changes=changes,
                        settings=ctx.settings,
                    )
                    typer.echo(f"updated {body['id']}")
    except ValidationError as exc:
        err = exc.errors()[0]
        _fail(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} [{err['type']}]")
    except DriftgateError as exc:
        _fail(f"{exc.detail} [{exc.field}: {exc.rule}]")


@monitors_app.command("drift")
def drift(
    dataset: Annotated[str, typer.Argument(help="Contract id or dataset name.")],
    window: Annotated[str, typer.Option(help="Window length (PT1H, 1d) or `batch`.")] = "PT1H",
    count: Annotated[int, typer.Option(min=1, max=2000, help="How many windows.")] = 24,
) -> None:
    """Print the drift verdict per window and the drifted fields."""
    from cli.context import context
    from core.db import unit_of_work
    from core.errors import DriftgateError
    from monitors.drift.service import drift_series

    ctx = context()
    try:
        with unit_of_work(ctx.sessions) as session:
            series = drift_series(
                session,
                dataset=dataset,
                window=window,
                start=None,
                end=None,
                count=count,
                settings=ctx.settings,
            )
    except DriftgateError as exc:
        _fail(exc.detail)
    ref = series["reference"]
    if ref is None:
        typer.echo(f"reference: none ({series['reference_pending']})")
    else:
        typer.echo(
            f"reference: v{ref['version']} {ref['source']}"
            + (f" {ref['model_name']} v{ref['model_version']}" if ref["model_version"] else "")
            + f", {ref['batches']} batches, {ref['rows']} rows"
            + (
                f", {ref['first_batch_at']:%Y-%m-%d %H:%M} .. {ref['last_batch_at']:%Y-%m-%d %H:%M}"
                if ref["first_batch_at"] and ref["last_batch_at"]
                else ""
            )
            + (f", seasonality {ref['seasonality']}" if ref["seasonality"] else "")
        )
    for w in series["windows"]:
        typer.echo(
            f"{w['start']:%Y-%m-%d %H:%M}  {w['verdict']:8} {w['rows']:>9} rows  {w['reason']}"
        )


@monitors_app.command("alerts")
def alerts(
    state: Annotated[str | None, typer.Option(help="pending, firing or resolved.")] = None,
) -> None:
    """List alerts, newest first."""
    from cli.context import context
    from core.db import unit_of_work
    from monitors.slos import repository

    ctx = context()
    with unit_of_work(ctx.sessions) as session:
        rows = repository.list_alerts(
            session, state=state, slo_id=None, severity=None, limit=100, offset=0
        )
        for a in rows:
            typer.echo(
                f"{a.opened_at:%Y-%m-%d %H:%M} {a.state:9} {a.severity:7} {a.slo_id:30} {a.summary}"
            )
