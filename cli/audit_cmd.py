"""`driftgate audit …` (verify, checkpoint, keygen) and `driftgate db create-app-role`."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from cli.context import context

audit_app = typer.Typer(help="Audit trail: verify, signed checkpoints, keys.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@audit_app.command("verify")
def audit_verify(
    full: Annotated[
        bool,
        typer.Option("--full", help="Recompute from the first event, not the last checkpoint."),
    ] = False,
) -> None:
    """Recompute the hash chain and compare it with the signed checkpoints; exit 1 if broken."""
    from core.audit_trail import verify_trail
    from core.db import unit_of_work

    ctx = context()
    with unit_of_work(ctx.sessions) as session:
        verdict = verify_trail(session, ctx.settings, full=full)
    typer.echo(json.dumps(asdict(verdict), indent=2))
    if not verdict.intact:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Verify the chain, then sign its head and write a checkpoint; exit 1 if it is broken."""
    from core.audit_trail import AuditChainBroken, CheckpointKeyMissing, write_checkpoint
    from core.db import unit_of_work

    ctx = context()
    try:
        with unit_of_work(ctx.sessions) as session:
            outcome = write_checkpoint(session, ctx.settings)
    except (AuditChainBroken, CheckpointKeyMissing) as exc:
        _fail(exc.detail)
    where = f": {outcome.path}" if outcome.path else ""
    typer.echo(f"checkpoint at seq {outcome.seq} {outcome.detail}{where}")


@audit_app.command("keygen")
def audit_keygen(
    algorithm: Annotated[str, typer.Option(help="ed25519 or hmac-sha256.")] = "ed25519",
    public_out: Annotated[
        Path | None,
        typer.Option(help="Also write the Ed25519 public key here, for verify-only hosts."),
    ] = None,
) -> None:
    """Create the checkpoint signing key (never overwrites one)."""
    from core.audit_trail import create_key, key_file
    from core.checkpoints import Ed25519Key

    ctx = context()
    path = key_file(ctx.settings)
    try:
        key = create_key(path, algorithm)
    except FileExistsError:
        _fail(f"{path} exists; move it away first (old checkpoints need it to verify)")
    except ValueError as exc:
        _fail(str(exc), 2)
    typer.echo(f"{key.algorithm} key {key.key_id} written to {path} (mode 0600)")
    if public_out is not None:
        if not isinstance(key, Ed25519Key):
            _fail("--public-out needs --algorithm ed25519", 2)
        assert isinstance(key, Ed25519Key)
        public_out.write_bytes(key.public_pem())
        typer.echo(f"public key written to {public_out}")


def create_app_role(
    name: Annotated[str, typer.Argument(help="Role name, e.g. driftgate_app.")],
    password: Annotated[
        str | None,
        typer.Option(help="Its password (default: a random one, printed once)."),
    ] = None,
) -> None:
    """Create (or reset) the login role the service should run as: no DDL, audit append-only.

    Run it with DATABASE_URL set to the owner (the role that runs migrations), then run the
    service with DATABASE_URL naming the new role and `serve --no-migrate`.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    from core.db_roles import InvalidRoleName
    from core.db_roles import create_app_role as create

    ctx = context()
    url = make_url(ctx.database_url)
    secret = password if password is not None else secrets.token_urlsafe(24)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(libpq) as conn:
            role = create(conn, name, secret)
    except InvalidRoleName as exc:
        _fail(str(exc), 2)
    except psycopg.Error as exc:
        _fail(f"cannot create role {name!r}: {exc}")
    verb = "created" if role.created else "reset (attributes, password, grants)"
    typer.echo(f"role {name!r} {verb}; run the service with (password shown once):")
    service_url = url.set(username=name, password=secret, drivername="postgresql+psycopg")
    typer.echo(service_url.render_as_string(hide_password=False))


def register_db_commands(db_app: typer.Typer) -> None:
    db_app.command("create-app-role")(create_app_role)
