"""The `driftgate` command: migrate, serve, principals and tokens, contracts, batches, audit,
demo."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer

from cli import simulate_incidents_cmd  # noqa: F401  (registers `simulate incident/catalog`)
from cli.audit_cmd import audit_app, register_db_commands
from cli.context import context
from cli.dashboard_cmd import register_dashboard_commands
from cli.incidents_cmd import incidents_app
from cli.lineage_cmd import lineage_app
from cli.model_cmd import model_app
from cli.monitors_cmd import monitors_app
from cli.postmortems_cmd import action_items_app, postmortem_app
from cli.ranker_cmd import ranker_app
from cli.simulate_cmd import simulate_app
from cli.worker_cmd import worker

app = typer.Typer(help="driftgate: drift-aware data quality and governance.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
principal_app = typer.Typer(
    help="Principals: the people and service accounts that own tokens.", no_args_is_help=True
)
contract_app = typer.Typer(help="Data contracts.", no_args_is_help=True)
batch_app = typer.Typer(help="Batches.", no_args_is_help=True)
db_app = typer.Typer(help="The database: embedded server, service role.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(principal_app, name="principal")
app.add_typer(contract_app, name="contract")
app.add_typer(batch_app, name="batch")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
register_db_commands(db_app)
register_dashboard_commands(app)
app.add_typer(lineage_app, name="lineage")
app.add_typer(monitors_app, name="monitors")
app.add_typer(ranker_app, name="ranker")
app.add_typer(model_app, name="model")
app.add_typer(incidents_app, name="incidents")
app.add_typer(simulate_app, name="simulate")
app.add_typer(postmortem_app, name="postmortem")
app.add_typer(action_items_app, name="action-items")
app.command("worker")(worker)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest revision."""
    from core.migrate import upgrade

    ctx = context()
    upgrade(ctx.database_url)
    typer.echo("database migrated to head")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Migrate before serving.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes. Each has its own event loop (and lineage writer), so more "
            "than one uses more cores; see docs/lineage.md.",
        ),
    ] = 1,
    background: Annotated[
        str,
        typer.Option(
            help="Where the monitor runner and the audit checkpointer run: `process` (one "
            "supervised `driftgate worker` child, so their work stays off the serving loop) "
            "or `thread` (inside every API process).",
        ),
    ] = "process",
) -> None:
    """Serve the REST API with uvicorn (and its background worker)."""
    import os

    import uvicorn

    from api.app import create_app
    from cli.background import IN_PROCESS_OFF, WorkerProcess, stop_with_server
    from cli.served_url import adopt_served_url
    from core.migrate import upgrade

    if background not in ("process", "thread"):
        _fail(f"--background must be `process` or `thread`, not {background!r}", 2)
    ctx = context()
    if migrate_first:
        upgrade(ctx.database_url)
    settings, worker = adopt_served_url(ctx.settings, host, port), None
    if background == "process" and (settings.monitor_runner or settings.audit_checkpointer):
        worker = WorkerProcess(ctx.database_url)
        worker.start()
        stop_with_server(worker)
        settings = settings.model_copy(
            update={"monitor_runner": False, "audit_checkpointer": False}
        )
        os.environ.update(IN_PROCESS_OFF)  # for API worker processes built from the environment
    typer.echo(f"driftgate API on http://{host}:{port} (docs at /docs)")
    try:
        if workers == 1:
            uvicorn.run(create_app(settings, database_url=ctx.database_url), host=host, port=port)
            return
        # Worker processes build the app from the environment: hand them the resolved database
        # (the embedded server's URL when DATABASE_URL is unset), so they all share one.
        os.environ["DRIFTGATE_DATABASE_URL"] = ctx.database_url
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers)
    finally:
        if worker is not None:
            worker.stop()


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="viewer, producer, reviewer or admin.")],
    name: Annotated[str, typer.Option(help="Unique token name.")],
    principal: Annotated[
        str | None,
        typer.Option(
            help="The principal (person or service account) the token belongs to; it must "
            "exist (`driftgate principal create`). Omitted: the principal named like the token, "
            "created if it does not exist."
        ),
    ] = None,
) -> None:
    """Issue a token. The secret is printed once, alone on the last line."""
    from core.auth import Role, create_token
    from core.db import unit_of_work
    from core.errors import DriftgateError

    try:
        role_value = Role(role)
    except ValueError:
        _fail(f"unknown role {role!r}; use one of {[r.value for r in Role]}", 2)
    ctx = context()
    try:
        with unit_of_work(ctx.sessions) as session:
            raw = create_token(
                session,
                ctx.operator,
                name=name,
                role=role_value,
                prefix=ctx.settings.token_prefix,
                principal=principal,
            )
    except DriftgateError as exc:
        _fail(exc.detail)
    owner = principal or name
    typer.echo(
        f"token {name!r} of {owner!r} with role {role_value.value} (shown once, store it now):"
    )
    typer.echo(raw)


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets) with the principal each belongs to."""
    from core.auth import list_tokens
    from core.db import unit_of_work

    ctx = context()
    with unit_of_work(ctx.sessions) as session:
        for t, owner in list_tokens(session):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            typer.echo(f"{t.name:30} {owner:24} {t.role:9} {t.display_prefix}…  {state}")


@principal_app.command("create")
def principal_create(
    name: Annotated[str, typer.Argument(help="Unique name of the person or service.")],
    kind: Annotated[str, typer.Option(help="person or service.")] = "person",
) -> None:
    """Register a person or service account (audited); then issue it tokens."""
    from core.auth import create_principal
    from core.db import unit_of_work
    from core.errors import DriftgateError

    ctx = context()
    try:
        with unit_of_work(ctx.sessions) as session:
            create_principal(session, ctx.operator, name=name, kind=kind)
    except DriftgateError as exc:
        _fail(exc.detail)
    typer.echo(f"principal {name!r} ({kind}) created")


@principal_app.command("list")
def principal_list() -> None:
    """List principals."""
    from core.auth import list_principals
    from core.db import unit_of_work

    ctx = context()
    with unit_of_work(ctx.sessions) as session:
        for p in list_principals(session):
            typer.echo(f"{p.name:30} {p.kind:8} created {p.created_at:%Y-%m-%d} by {p.created_by}")


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Revoke a token."""
    from core.auth import revoke_token
    from core.db import unit_of_work
    from core.errors import DriftgateError

    ctx = context()
    try:
        with unit_of_work(ctx.sessions) as session:
            revoke_token(session, ctx.operator, name=name)
    except DriftgateError as exc:
        _fail(exc.detail)
    typer.echo(f"token {name!r} revoked")


@contract_app.command("register")
def contract_register(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="YAML/JSON contract or ODCS v3.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto, driftgate or odcs.")] = "auto",
    schema_name: Annotated[
        str | None,
        typer.Option(help="ODCS: import only this schema object (default: every object)."),
    ] = None,
) -> None:
    """Register a contract, or add the file as a new version if the contract exists."""
    from cli.flows import register_contract_file
    from core.errors import DriftgateError

    try:
        typer.echo(register_contract_file(context(), file, fmt, schema_name))
    except DriftgateError as exc:
        _fail(_describe(exc))


@contract_app.command("list")
def contract_list() -> None:
    """List contracts."""
    from contracts import repository
    from core.db import unit_of_work

    ctx = context()
    with unit_of_work(ctx.sessions) as session:
        for c in repository.list_contracts(session, limit=1000, offset=0):
            typer.echo(f"{c.id:30} v{c.latest_version:10} {c.compatibility:9} owner={c.owner}")


@contract_app.command("pandera")
def contract_pandera(
    contract_id: Annotated[str, typer.Argument(help="Contract id.")],
    version: Annotated[str | None, typer.Option(help="Version; default the newest active.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
) -> None:
    """Print the contract as a pandera schema (load it with DataFrameSchema.from_yaml)."""
    from contracts import pandera_export, service
    from core.db import unit_of_work
    from core.errors import DriftgateError

    if fmt not in ("yaml", "json"):
        _fail(f"--format must be yaml or json, not {fmt!r}")
    ctx = context()
    try:
        with unit_of_work(ctx.sessions) as session:
            spec = service.spec_of(service.resolve_version(session, contract_id, version))
    except DriftgateError as exc:
        _fail(_describe(exc))
    typer.echo(pandera_export.to_json(spec) if fmt == "json" else pandera_export.to_yaml(spec))


@batch_app.command("submit")
def batch_submit(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Parquet, CSV or NDJSON file.")
    ],
    contract: Annotated[str, typer.Option(help="Contract id.")],
    version: Annotated[
        str | None, typer.Option(help="Contract version (default newest active).")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Retry key.")] = None,
) -> None:
    """Validate a batch file against a contract and store it; exit 1 if it is rejected."""
    from cli.flows import submit_batch_file
    from core.errors import DriftgateError

    try:
        text, status = submit_batch_file(context(), file, contract, version, idempotency_key)
    except DriftgateError as exc:
        _fail(_describe(exc))
    typer.echo(text)
    if status == "rejected":
        raise typer.Exit(1)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (only when DATABASE_URL is unset)."""
    from core.embedded import stop_embedded

    ctx = context()
    if ctx.settings.database_url:
        _fail("DATABASE_URL is set: driftgate does not manage that server")
    stopped = stop_embedded(ctx.settings.embedded_pg_dir)
    typer.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@app.command()
def demo(
    ranker: Annotated[
        bool,
        typer.Option(
            "--ranker/--no-ranker",
            help="On a database with no ranker yet, also post two days of the synthetic feed "
            "and train a small champion and a candidate (about a minute, first run only).",
        ),
    ] = True,
) -> None:
    """Seed a sample contract and a few batches (good and bad), and a small ranker to review."""
    from cli.flows import run_demo
    from core.migrate import upgrade

    ctx = context()
    upgrade(ctx.database_url)
    run_demo(ctx, typer.echo, ranker=ranker)


def _describe(exc: object) -> str:
    from core.errors import DriftgateError

    assert isinstance(exc, DriftgateError)
    lines = [exc.detail]
    lines += [
        f"  - {e.get('field')}: {e.get('message') or e.get('kind')} [{e.get('rule')}]"
        for e in exc.errors
    ]
    return "\n".join(lines)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    app(prog_name="driftgate")


if __name__ == "__main__":
    main()
