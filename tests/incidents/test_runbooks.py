"""Runbooks: one file per name in the catalog, commands that exist, mapping and routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli_app
from incidents import runbooks
from incidents.runbooks import RUNBOOKS, runbook_for_alert, runbook_for_source

Auth = Callable[[str], dict[str, str]]
# `driftgate ...` inside inline code or at the start of a line of a fenced block
COMMAND = re.compile(r"(?:`|^\s*)(driftgate(?: [^`\n]*)?)", re.MULTILINE)


def _commands(markdown: str) -> list[str]:
    return [m.group(1).strip() for m in COMMAND.finditer(markdown)]


def _resolve(line: str) -> tuple[Any, list[str], list[str]]:
    """The (Typer's click) command a quoted line names, its path, and the words after it."""
    words, path = line.split()[1:], []
    cmd: Any = typer.main.get_command(cli_app)
    while hasattr(cmd, "commands") and words and words[0] in cmd.commands:
        path.append(words[0])
        cmd = cmd.commands[words.pop(0)]
    assert not hasattr(cmd, "commands"), f"{line!r} names a group, not a command"
    return cmd, path, words


def _options(cmd: Any) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}


def test_every_name_in_the_catalog_has_a_file_with_a_title_and_applies_to() -> None:
    files = {p.name.removesuffix(".md") for p in runbooks.RUNBOOK_DIR.iterdir()}
    assert set(RUNBOOKS) <= files
    for name in RUNBOOKS:
        book = runbooks.read_runbook(name)
        text = book.markdown.splitlines()
        assert text[0].startswith("# ") and book.title == text[0][2:]
        assert book.applies_to and any(line.startswith("Applies to:") for line in text[:4])
        for section in ("## Confirm", "## Mitigate", "## Recover"):
            assert section in book.markdown, (name, section)


@pytest.mark.parametrize("name", RUNBOOKS)
def test_every_quoted_command_exists_with_its_options(name: str) -> None:
    quoted = _commands(runbooks.read_runbook(name).markdown)
    assert quoted, f"{name} quotes no driftgate command"
    for line in quoted:
        cmd, path, words = _resolve(line)
        flags = {w.split("=")[0] for w in words if w.startswith("-")}
        unknown = flags - _options(cmd)
        assert not unknown, f"{name}: {line!r} uses options {unknown} that {path} lacks"
        # the subcommand's help exists, as a reader would check
        result = CliRunner().invoke(cli_app, [*path, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, (line, result.output)


def test_the_command_check_catches_an_invented_command_and_flag() -> None:
    with pytest.raises(AssertionError):
        _resolve("driftgate monitors")  # a group, not a command
    cmd, _, words = _resolve("driftgate monitors alerts --sate firing")
    assert "--sate" not in _options(cmd) and words == ["--sate", "firing"]


@pytest.mark.parametrize(
    ("kind", "evidence", "expected"),
    [
        ("batch_pass_rate", {"batches": [{"status": "rejected"}]}, "bad-batch-schema-break"),
        ("drift_free", {"windows": [{"signals": {"clicks": ["null_rate"]}}]}, "null-spike"),
        (
            "drift_free",
            {"windows": [{"signals": {"country": ["new_categories", "distribution"]}}]},
            "new-categories",
        ),
        ("drift_free", {"windows": [{"signals": {"dwell": ["unit_change"]}}]}, "unit-change"),
        ("drift_free", {"windows": [{"signals": {"dwell": ["distribution"]}}]}, "covariate-drift"),
        ("drift_free", {}, "covariate-drift"),
        (
            "realized_auc",
            {"windows": [{"status": "mature", "auc": 0.5}]},
            "concept-drift-quality-burn",
        ),
        ("realized_auc", {"windows": [{"status": "insufficient_labels"}]}, "label-outage"),
        ("freshness", {"url": "http://h/contracts/impressions/freshness"}, "stale-feed"),
        ("freshness", {"url": "http://h/contracts/labels/freshness"}, "label-outage"),
        ("label_coverage", {}, "label-outage"),
        ("no_such_kind", {}, None),
    ],
)
def test_an_alert_maps_to_its_runbook(kind: str, evidence: dict, expected: str | None) -> None:
    assert runbook_for_alert(kind, evidence) == expected


def test_drift_field_signals_read_the_drift_document() -> None:
    null = {"severity": "alert", "null_severity": "alert", "distribution_severity": "ok"}
    scale = {
        "severity": "alert",
        "distribution_severity": "alert",
        "reference_share": [0.1] * 10,
        "current_share": [0.0] * 9 + [0.97],
    }
    assert runbooks.field_signals(null) == ["null_rate"]
    assert runbooks.field_signals(scale) == ["unit_change", "distribution"]
    assert runbook_for_alert("drift_free", {"windows": [{"fields": {"dwell": scale}}]}) == (
        "unit-change"
    )


@pytest.mark.parametrize(
    ("source", "details", "expected"),
    [
        ("bake_guard", {}, "bad-promotion-rollback"),
        ("batch_failures", {"batches": 5}, "bad-batch-schema-break"),
        ("alert", {"slo_kind": "freshness", "evidence": {}}, "stale-feed"),
        ("alert", {"slo": {"kind": "realized_auc"}}, "concept-drift-quality-burn"),
        ("manual", {"runbook": "audit-chain-broken"}, "audit-chain-broken"),
        ("manual", {"runbook": "../../etc/passwd"}, None),
        ("manual", {}, None),
    ],
)
def test_an_incident_source_maps_to_its_runbook(
    source: str, details: dict, expected: str | None
) -> None:
    assert runbook_for_source(source, details) == expected


def test_lists_runbooks_with_title_and_applies_to(client: TestClient, auth: Auth) -> None:
    resp = client.get("/runbooks", headers=auth("viewer"))
    assert resp.status_code == 200
    body = resp.json()
    assert [r["name"] for r in body] == list(RUNBOOKS)
    stale = next(r for r in body if r["name"] == "stale-feed")
    assert stale["title"] == "Stale feed" and "freshness" in stale["applies_to"]
    assert client.get("/runbooks").status_code == 401


def test_serves_a_runbook_as_markdown_or_json(client: TestClient, auth: Auth) -> None:
    md = client.get("/runbooks/null-spike", headers=auth("viewer"))
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Null spike\n")
    js = client.get("/runbooks/null-spike?format=json", headers=auth("viewer")).json()
    assert js["name"] == "null-spike" and js["title"] == "Null spike"
    assert js["markdown"] == md.text and "null-rate" in js["applies_to"]
    bad = client.get("/runbooks/null-spike?format=html", headers=auth("viewer"))
    assert bad.status_code == 422 and bad.json()["field"] == "query.format"


@pytest.mark.parametrize(
    "path",
    [
        "/runbooks/no-such-runbook",
        "/runbooks/..%2F..%2FREADME",
        "/runbooks/..%2Fmonitors",
        "/runbooks/%2E%2E",
        "/runbooks/README",
        "/runbooks/null-spike.md",
        "/runbooks/NULL-SPIKE",
    ],
)
def test_an_unknown_or_traversing_name_is_404_and_reads_no_file(
    client: TestClient, auth: Auth, path: str
) -> None:
    resp = client.get(path, headers=auth("viewer"))
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert "# " not in resp.text  # no file content leaked


def test_read_runbook_refuses_names_outside_the_catalog() -> None:
    for name in ("../README", "/etc/passwd", "null-spike/../../README", ""):
        with pytest.raises(runbooks.RunbookNotFound):
            runbooks.read_runbook(name)


def test_a_drift_alerts_evidence_names_each_fields_signals_and_picks_the_runbook() -> None:
    from datetime import UTC, datetime, timedelta

    from monitors.drift.models import DriftWindow
    from monitors.slos.evidence import _drift_window

    end = datetime(2026, 12, 7, 12, tzinfo=UTC)
    fields = {
        "clicks": {"severity": "alert", "null_severity": "alert", "distribution_severity": "ok"},
        "dwell": {"severity": "alert", "distribution_severity": "alert"},
        "country": {"severity": "ok", "new_category_severity": "warn"},
    }
    window = DriftWindow(
        kind="batch",
        window_start=end - timedelta(minutes=1),
        window_end=end,
        verdict="alert",
        batches=1,
        fields={"fields": fields, "reason": "2 of 3 fields drifted"},
    )
    shown = _drift_window(window, "impressions", "http://h")
    assert shown["signals"] == {"clicks": ["null_rate"], "dwell": ["distribution"]}
    assert runbook_for_alert("drift_free", {"windows": [shown]}) == "null-spike"
    del fields["clicks"]
    shown = _drift_window(window, "impressions", "http://h")
    assert runbook_for_alert("drift_free", {"windows": [shown]}) == "covariate-drift"
