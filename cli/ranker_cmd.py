"""`driftgate ranker …`: generate the synthetic feed, train, evaluate, list, set the champion."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.context import context

ranker_app = typer.Typer(
    help="The feed ranker: data, training, evaluation, champion.", no_args_is_help=True
)

FromOpt = Annotated[
    str | None, typer.Option("--from", help="Window start, ISO 8601 (UTC if no offset).")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Window end, ISO 8601 (exclusive).")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name (default: settings).")]


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def parse_moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"{option}: {text!r} is not an ISO 8601 date or time", 2)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def window(start: str | None, end: str | None, days: float) -> tuple[datetime, datetime]:
    """Explicit bounds, or the last `days` days ending at the start of the current hour."""
    from core.clock import utcnow
    from ranker.ingest import default_window

    if end is None and start is None:
        return default_window(utcnow(), days)
    t1 = parse_moment(end, "--to") if end else utcnow().replace(minute=0, second=0, microsecond=0)
    t0 = parse_moment(start, "--from") if start else t1 - timedelta(days=days)
    if t1 <= t0:
        _fail("--to must be after --from", 2)
    return t0, t1


def feed_config(path: Path | None, seed: int | None, overrides: list[str]) -> Any:
    """A FeedConfig from a YAML/JSON file, `--seed`, and `--set key=value` (JSON values)."""
    import yaml
    from pydantic import ValidationError

    from ranker.feed_config import FeedConfig

    doc: dict[str, Any] = yaml.safe_load(path.read_text()) if path else {}
    if seed is not None:
        doc["seed"] = seed
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            _fail(f"--set {item!r}: use key=value", 2)
        try:
            doc[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            doc[key.strip()] = value
    try:
        return FeedConfig.model_validate(doc or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        _fail(f"feed config {where}: {first['msg']} [{first['type']}]", 2)


def _describe(exc: Any) -> str:
    lines = [exc.detail]
    if exc.field or exc.rule:
        lines[0] += f" (field {exc.field}, rule {exc.rule})"
    return "\n".join(lines)


def post_feed_with_progress(
    ctx: Any, *, config: Any, origin: datetime, start: datetime, end: datetime
) -> Any:
    """`post_feed` with a bar over the window's hours (batches arrive in delivery order)."""
    from cli.progress import progress_bar
    from ranker.feed import hours_between
    from ranker.ingest import post_feed

    first, total = hours_between(origin, start), hours_between(start, end)
    posted = 0

    def on_batch(batch: Any, status: str) -> None:
        nonlocal posted
        posted += 1
        advance(batch.hour + config.batch_hours - first, f"feed: {posted} batches posted")

    with progress_bar("feed: generating", total=max(total, 1)) as advance:
        return post_feed(
            ctx.sessions,
            ctx.operator,
            config=config,
            origin=origin,
            start=start,
            end=end,
            data_dir=ctx.settings.data_dir,
            example_values=ctx.settings.example_values,
            progress=on_batch,
        )


def _echo_and(retitle: Callable[[str], None]) -> Callable[[str], None]:
    """Echo a step's line, and name the step on the spinner."""

    def echo(line: str) -> None:
        typer.echo(line)
        retitle(line.rstrip(" …"))

    return echo


def _from_where_data_starts(ctx: Any, start: datetime, end: datetime) -> datetime:
    """A default window starts where its data does (see `governance.flows.covered_start`)."""
    from core.db import unit_of_work
    from governance.flows import covered_start

    with unit_of_work(ctx.sessions) as session:
        begins = covered_start(session, start=start, end=end)
    if begins > start:
        typer.echo(
            f"no ranker data before {begins:%Y-%m-%d %H:%M} UTC (the synthetic feed starts "
            "there): the window starts there too (--from or --generate to choose otherwise)"
        )
    return begins


def _feed_for_training(
    ctx: Any, generate: bool | None, config: Any, start: datetime, end: datetime
) -> str | None:
    """Post the synthetic feed for the window when asked (or when it has too little data)."""
    from core.db import unit_of_work
    from governance.flows import needs_feed

    with unit_of_work(ctx.sessions) as session:
        wanted = generate if generate is not None else needs_feed(session, start=start, end=end)
    if not wanted:
        return None
    typer.echo(
        f"posting a synthetic feed (seed {config.seed}) for {start:%Y-%m-%d %H:%M} .. "
        f"{end:%Y-%m-%d %H:%M} UTC through the contracts …"
    )
    posted = post_feed_with_progress(ctx, config=config, origin=start, start=start, end=end)
    note = (
        f"feed run {posted.run_id}: {len(posted.batch_ids)} batches {posted.statuses}, "
        f"accepted rows {posted.rows}"
    )
    typer.echo(note)
    return note


@ranker_app.command("train")
def train(
    start: FromOpt = None,
    end: ToOpt = None,
    days: Annotated[float, typer.Option(help="Window length when --from is not given.")] = 7,
    model: ModelOpt = None,
    generate: Annotated[
        bool | None,
        typer.Option(
            "--generate/--no-generate",
            help="Post a synthetic feed first (default: only when the window has no data).",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the synthetic feed.")] = None,
    config: Annotated[
        Path | None, typer.Option("--feed-config", exists=True, help="FeedConfig YAML/JSON.")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Feed knob, key=value (JSON value).")
    ] = None,
    attribution_hours: Annotated[
        float, typer.Option(help="A click counts if it arrives within this many hours.")
    ] = 6.0,
) -> None:
    """Train on accepted feed data, evaluate against popularity and the oracle, register."""
    from cli.progress import spinner
    from core.errors import DriftgateError
    from core.migrate import upgrade
    from governance.flows import train_and_register
    from ranker.evaluation import format_table

    t0, t1 = window(start, end, days)
    knobs = feed_config(config, seed, set_ or [])
    ctx = context()
    upgrade(ctx.database_url)
    if start is None and generate is None:
        t0 = _from_where_data_starts(ctx, t0, t1)
    typer.echo(f"window {t0.isoformat()} .. {t1.isoformat()}")
    try:
        feed_note = _feed_for_training(ctx, generate, knobs, t0, t1)
        with spinner("training") as retitle:
            outcome = train_and_register(
                ctx.sessions,
                ctx.operator,
                model_name=model or ctx.settings.ranker_model_name,
                start=t0,
                end=t1,
                data_dir=ctx.settings.data_dir,
                generate=False,  # posted above, with a progress bar
                feed_config=knobs,
                attribution=timedelta(hours=attribution_hours),
                echo=_echo_and(retitle),
                on_epoch=lambda e, most: retitle(
                    f"training: epoch {int(e['epoch'])} of at most {most}, "
                    f"validation log loss {e['val_log_loss']:.4f}"
                ),
            )
    except DriftgateError as exc:
        _fail(_describe(exc))
    if feed_note:
        outcome.notes.insert(0, feed_note)
    m = outcome.metrics
    typer.echo(f"\ntest split {m['test_window'][0]} .. {m['test_window'][1]}, rows {m['rows']}")
    typer.echo(format_table(m))
    typer.echo(
        f"\nregistered {outcome.model_name} v{outcome.version} "
        f"(artifact sha256 {outcome.artifact.sha256[:16]}…, {outcome.artifact.size:,} bytes)"
    )
    for note in outcome.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"champion: v{outcome.champion}" if outcome.champion else "champion: none")


@ranker_app.command("evaluate")
def evaluate(
    version: Annotated[int, typer.Argument(help="Model version to evaluate.")],
    model: ModelOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
) -> None:
    """Re-evaluate a registered version on its test split, or on another window."""
    from core.db import unit_of_work
    from core.errors import DriftgateError
    from governance.registry import service
    from ranker import artifact
    from ranker.evaluation import format_table
    from ranker.training import evaluate_window, reevaluate

    ctx = context()
    name = model or ctx.settings.ranker_model_name
    try:
        with unit_of_work(ctx.sessions) as session:
            row = service.get_version(session, name, version)
            payload = artifact.read(
                artifact.path_of(row.artifact_uri, ctx.settings.data_dir), row.artifact_sha256
            )
            if start or end:
                t0, t1 = window(start, end, 1)
                metrics = evaluate_window(session, payload, start=t0, end=t1)
                typer.echo(f"{name} v{version} on {t0.isoformat()} .. {t1.isoformat()}")
            else:
                metrics = reevaluate(session, payload)
                typer.echo(f"{name} v{version} on its registered test split (sha256 verified)")
    except DriftgateError as exc:
        _fail(_describe(exc))
    typer.echo(format_table(metrics))
    if not (start or end):
        registered = row.metrics.get("model", {}).get("auc")
        same = registered is not None and abs(registered - metrics["model"]["auc"]) < 1e-9
        typer.echo(
            "matches the registered metrics" if same else f"registered model AUC was {registered}"
        )


@ranker_app.command("feed")
def feed(
    start: FromOpt = None,
    end: ToOpt = None,
    days: Annotated[float, typer.Option(help="Window length when --from is not given.")] = 1,
    origin: Annotated[
        str | None, typer.Option(help="The feed's origin (default: its latest run's, or --from).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: 7).")] = None,
    config: Annotated[
        Path | None, typer.Option("--feed-config", exists=True, help="FeedConfig YAML/JSON.")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Knob, key=value (JSON value).")
    ] = None,
) -> None:
    """Post a window of the synthetic feed through the contracts (knobs for incidents)."""
    from core.db import unit_of_work
    from core.errors import DriftgateError
    from core.migrate import upgrade
    from ranker import repository

    t0, t1 = window(start, end, days)
    cfg = feed_config(config, seed, set_ or [])
    ctx = context()
    upgrade(ctx.database_url)
    with unit_of_work(ctx.sessions) as session:
        latest = repository.latest_feed_run(session)
        anchor = latest.origin if latest else t0
    t_origin = parse_moment(origin, "--origin") if origin else anchor
    try:
        posted = post_feed_with_progress(ctx, config=cfg, origin=t_origin, start=t0, end=t1)
    except (DriftgateError, ValueError) as exc:
        _fail(_describe(exc) if isinstance(exc, DriftgateError) else str(exc))
    typer.echo(
        f"feed run {posted.run_id}: {len(posted.batch_ids)} batches {posted.statuses}, "
        f"accepted rows {posted.rows}"
    )


@ranker_app.command("versions")
def versions(model: ModelOpt = None) -> None:
    """List a model's versions with their offline AUCs; `*` marks the champion."""
    from core.db import unit_of_work
    from governance.registry import repository

    ctx = context()
    name = model or ctx.settings.ranker_model_name
    with unit_of_work(ctx.sessions) as session:
        alias = repository.get_alias(session, name)
        rows = repository.list_versions(session, name, limit=1000, offset=0)
        if not rows:
            _fail(f"no versions of {name!r}")
        for r in rows:
            auc = r.metrics.get("model", {}).get("auc")
            mark = "*" if alias and alias.version == r.version else " "
            typer.echo(
                f"{mark} v{r.version:<4} auc={auc:.4f}  {r.created_at:%Y-%m-%d %H:%M}  "
                f"{r.created_by}  {r.artifact_sha256[:12]}"
            )


@ranker_app.command("champion")
def champion(
    version: Annotated[int, typer.Argument(help="Version to serve.")],
    model: ModelOpt = None,
    reason: Annotated[
        str, typer.Option(help="Why (kept in the audit trail); required to move the champion.")
    ] = "",
) -> None:
    """Point the champion alias at a version (audited); running servers swap to it live."""
    from core.db import unit_of_work
    from core.errors import DriftgateError
    from governance.promotions.break_glass import Proposal, set_champion

    ctx = context()
    name = model or ctx.settings.ranker_model_name
    try:
        with unit_of_work(ctx.sessions) as session:
            alias = set_champion(session, ctx.operator, name=name, version=version, reason=reason)
    except DriftgateError as exc:
        _fail(_describe(exc))
    if isinstance(alias, Proposal):  # the policy asks a second admin to repeat the move
        typer.echo(
            f"proposed v{alias.version} as champion of {name}; another admin must run the "
            f"same command before {alias.expires_at:%Y-%m-%d %H:%M} UTC"
        )
        return
    typer.echo(f"champion of {name}: v{alias.version}")
