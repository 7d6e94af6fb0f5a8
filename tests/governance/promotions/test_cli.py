"""`driftgate model …` acts as the owner of an API token, so separation of duties holds in the
terminal exactly as over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.auth import CLI_OPERATOR
from core.settings import get_settings
from governance.promotions.policy_versions import publish_policy
from tests.support.trained import Real

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(real: Real, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", real.url)
    monkeypatch.setenv("DRIFTGATE_DATA_DIR", str(real.data_dir))
    monkeypatch.delenv("DRIFTGATE_TOKEN", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (args, result.output)
    return result.output


def test_request_approve_promote_history_and_rollback_from_the_terminal(
    cli: CliRunner, real: Real
) -> None:
    with real.sessions.begin() as s:
        publish_policy(s, CLI_OPERATOR, source="quorum: 2\nbake: {enabled: false}\n")
    version = real.candidates["nudged"]
    out = run(
        cli,
        "model",
        "request-promotion",
        "ranker",
        str(version),
        "-j",
        "fresher data",
        "--as",
        real.tokens["ops-admin"],
    )
    rid = re.search(r"request ([0-9a-f-]{36})", out).group(1)  # type: ignore[union-attr]
    assert "is open (0 of 2 approvals" in out and "metrics" in out and "passed" in out

    assert "needs --as TOKEN" in run(cli, "model", "approve", rid, code=2)
    producer = run(cli, "model", "approve", rid, "--as", real.tokens["ml-engineer"], code=1)
    assert "role 'producer' may not do this" in producer
    own = run(cli, "model", "approve", rid, "--as", real.tokens["ops-admin"], code=1)
    assert "requester_cannot_approve" in own
    assert "unknown or revoked" in run(cli, "model", "approve", rid, "--as", "dg_nope", code=1)

    run(cli, "model", "approve", rid, "-m", "slices fine", "--as", real.tokens["rev-ann"])
    twice = run(cli, "model", "approve", rid, "--as", real.tokens["rev-ann"], code=1)
    assert "decides_once" in twice
    approved = run(cli, "model", "approve", rid, "--as", real.tokens["rev-bob"])
    assert "is approved (2 of 2 approvals" in approved
    promoted = run(cli, "model", "promote", rid, "--as", real.tokens["rev-bob"])
    assert "is promoted" in promoted
    assert "approve" in run(cli, "model", "show", rid)

    back = run(cli, "model", "rollback", "ranker", "-r", "CTR dip", "--as", real.tokens["rev-ann"])
    assert f"champion rolled back v{version} → v{real.champion} by rev-ann" in back
    history = run(cli, "model", "history", "ranker")
    for line in (
        "requested promotion",
        "ops-admin was not allowed to decide",
        "rev-ann approved",
        "approved (2 of 2 reviewers)",
        "promoted by rev-bob",
        "rolled back",
    ):
        assert line in history, line
    card = run(cli, "model", "card", "ranker", str(version))
    assert card.startswith(f"# Model card: ranker v{version}") and "rev-bob" in card
    assert "not a request id" in run(cli, "model", "show", "nope", code=2)


def test_a_second_token_of_one_person_from_the_terminal_counts_as_that_person(
    cli: CliRunner, real: Real
) -> None:
    """`driftgate principal create` + `token create --principal`: the new token acts as its
    principal, so its approval is that person's and cannot be given twice."""
    assert "principal 'rev-dee' (person) created" in run(cli, "principal", "create", "rev-dee")
    assert "already exists" in run(cli, "principal", "create", "rev-dee", code=1)
    assert "rev-dee" in run(cli, "principal", "list")
    tokens = {}
    for name in ("dee-laptop", "dee-phone"):
        out = run(
            cli, "token", "create", "--role", "reviewer", "--name", name, "--principal", "rev-dee"
        )
        assert f"token '{name}' of 'rev-dee'" in out
        tokens[name] = out.strip().splitlines()[-1]
    assert "no principal named 'nobody'" in run(
        cli, "token", "create", "--role", "viewer", "--name", "x", "--principal", "nobody", code=1
    )
    listed = run(cli, "token", "list")
    assert re.search(r"dee-phone\s+rev-dee\s+reviewer", listed), listed

    policy = "quorum: 2\ngates: {metrics: {enabled: false}, slices: {enabled: false}}\n"
    with real.sessions.begin() as s:
        publish_policy(s, CLI_OPERATOR, source=policy + "bake: {enabled: false}\n")
    version = real.candidates["backwards"]
    out = run(
        cli,
        "model",
        "request-promotion",
        "ranker",
        str(version),
        "-j",
        "try it",
        "--as",
        real.tokens["ml-engineer"],
    )
    rid = re.search(r"request ([0-9a-f-]{36})", out).group(1)  # type: ignore[union-attr]
    first = run(cli, "model", "approve", rid, "--as", tokens["dee-laptop"])
    assert "is open (1 of 2 approvals" in first, first
    again = run(cli, "model", "approve", rid, "--as", tokens["dee-phone"], code=1)
    assert "decides_once" in again
    closed = run(cli, "model", "reject", rid, "-m", "backwards", "--as", real.tokens["rev-ann"])
    assert "is rejected" in closed


def test_break_glass_from_the_terminal_waits_for_a_second_admin(cli: CliRunner, real: Real) -> None:
    with real.sessions.begin() as s:
        policy = "quorum: 2\nbake: {enabled: false}\n"
        publish_policy(s, CLI_OPERATOR, source=policy + "break_glass: {second_principal: true}\n")
    target = str(real.candidates["nudged"])
    assert "needs a reason" in run(cli, "ranker", "champion", target, code=1)
    proposed = run(cli, "ranker", "champion", target, "--reason", "pager: v1 misranks")
    assert f"proposed v{target} as champion of ranker" in proposed
    again = run(cli, "ranker", "champion", target, "--reason", "me again", code=1)
    assert "second_principal" in again
    with real.sessions() as s:
        from governance.registry import repository

        assert repository.get_alias(s, "ranker").version != int(target)  # type: ignore[union-attr]
    assert "waits for a second admin" in run(cli, "model", "history", "ranker")
    with real.sessions.begin() as s:
        publish_policy(s, CLI_OPERATOR, source=policy)
