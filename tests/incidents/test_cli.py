"""`driftgate incidents …` against a committed database, with the API's roles."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from cli.main import app
from core.auth import CLI_OPERATOR, Role, create_token
from core.db import make_session_factory, unit_of_work
from core.settings import get_settings


@pytest.fixture
def cli(committed_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CliRunner, dict]]:
    engine = create_engine(committed_db)
    with unit_of_work(make_session_factory(engine)) as s:
        tokens = {
            r.value: create_token(s, CLI_OPERATOR, name=f"cli-{r.value}", role=r, prefix="dg_")
            for r in Role
        }
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", committed_db)
    monkeypatch.delenv("DRIFTGATE_TOKEN", raising=False)
    get_settings.cache_clear()
    yield CliRunner(), tokens
    get_settings.cache_clear()


def run(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (args, result.output)
    return result.output


def test_open_note_status_list_and_show_from_the_terminal(cli: tuple[CliRunner, dict]) -> None:
    runner, tokens = cli
    denied = run(
        runner,
        "incidents",
        "open",
        "--title",
        "x",
        "--severity",
        "major",
        "--as",
        tokens["producer"],
        code=1,
    )
    assert "role 'producer' may not do this" in denied
    out = run(
        runner,
        "incidents",
        "open",
        "--title",
        "stale impressions",
        "--severity",
        "major",
        "--dataset",
        "impressions",
        "--commander",
        "ann",
        "--as",
        tokens["reviewer"],
    )
    iid = re.search(r"opened incident ([0-9a-f-]{36})", out).group(1)  # type: ignore[union-attr]
    assert "noted" in run(
        runner, "incidents", "note", iid, "feed restarted", "--as", tokens["producer"]
    )
    assert "is stable" in run(runner, "incidents", "status", iid, "stable", "--reason", "restarted")
    assert "is closed" in run(runner, "incidents", "status", iid, "closed")
    refused = run(runner, "incidents", "status", iid, "active", code=1)
    assert "closed_is_final" in refused
    bad = run(runner, "incidents", "open", "--title", "y", "--severity", "sev0", code=1)
    assert "field severity" in bad
    listed = run(runner, "incidents", "list", "--status", "closed")
    assert "1 incident(s)" in listed and "stale impressions" in listed
    shown = run(runner, "incidents", "show", iid)
    for kind in ("opened", "note", "status_change"):
        assert kind in shown
    doc = json.loads(run(runner, "incidents", "show", iid, "--json"))
    assert doc["status"] == "closed" and doc["commander"] == "ann"
    assert [e["kind"] for e in doc["timeline"]] == [
        "opened",
        "note",
        "status_change",
        "status_change",
    ]
    assert "not an incident id" in run(runner, "incidents", "show", "nope", code=2)
