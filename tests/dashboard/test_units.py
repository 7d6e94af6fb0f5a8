"""The dashboard's pure parts, and its boundary: it reaches driftgate over HTTP only."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from dashboard.client import ApiError, DriftgateClient, problem_from
from dashboard.lineage_dot import label, to_dot
from tests.dashboard.live_api import Seeded

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
DRIFTGATE_PACKAGES = {
    "core",
    "contracts",
    "checks",
    "lineage",
    "ranker",
    "monitors",
    "governance",
    "incidents",
    "api",
    "cli",
    "migrations",
}


def test_the_dashboard_imports_no_driftgate_package() -> None:
    imported = set()
    for path in DASHBOARD.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {(path.name, a.name.split(".")[0]) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add((path.name, node.module.split(".")[0]))
    assert {(f, m) for f, m in imported if m in DRIFTGATE_PACKAGES} == set()


def test_a_problem_document_reads_as_one_line_naming_field_and_rule() -> None:
    response = httpx.Response(
        422,
        json={
            "type": "urn:driftgate:problem:invalid-input",
            "title": "Invalid input",
            "status": 422,
            "detail": "version must be semver",
            "field": "version",
            "rule": "semver",
        },
    )
    problem = problem_from(response)
    assert (
        problem.message
        == "422 Invalid input: version must be semver (field `version`, rule `semver`)"
    )


def test_a_non_json_error_still_reads_as_a_problem() -> None:
    problem = problem_from(httpx.Response(502, text="Bad Gateway from the proxy"))
    assert problem.message == "502 Bad Gateway: Bad Gateway from the proxy"


def test_an_unreachable_api_is_a_problem_not_a_stack_trace() -> None:
    client = DriftgateClient("http://127.0.0.1:9", "dg_x", timeout=2)
    with pytest.raises(ApiError) as failed:
        client.me()
    assert failed.value.problem.status == 0
    assert failed.value.problem.message.startswith("0 API unreachable: ConnectError on GET /me")
    assert "dg_x" not in failed.value.problem.message


def test_lineage_dot_draws_known_edges_once_and_fills_the_centre() -> None:
    graph = [
        {
            "id": "dataset:driftgate:feed.impressions",
            "type": "DATASET",
            "inEdges": [],
            "outEdges": [
                {
                    "origin": "dataset:driftgate:feed.impressions",
                    "destination": "job:driftgate:check",
                }
            ],
        },
        {
            "id": "job:driftgate:check",
            "type": "JOB",
            "inEdges": [
                {
                    "origin": "dataset:driftgate:feed.impressions",
                    "destination": "job:driftgate:check",
                }
            ],
            "outEdges": [{"origin": "job:driftgate:check", "destination": "dataset:x:not-shown"}],
        },
    ]
    dot = to_dot(graph, centre="dataset:driftgate:feed.impressions")
    assert dot.count("->") == 1
    assert '"dataset:driftgate:feed.impressions" -> "job:driftgate:check";' in dot
    assert 'fillcolor="#ffe082"' in dot and 'shape="ellipse"' in dot
    assert label("dataset:driftgate:feed.impressions") == "feed.impressions"


def test_me_names_the_principal_and_role_of_each_token(api: Seeded) -> None:
    for who, role in [("rita", "reviewer"), ("vic", "viewer"), ("paula", "producer")]:
        me = DriftgateClient(api.url, api.tokens[who]).me()
        assert (me.name, me.role, me.token_name) == (who, role, who)
    resp = httpx.get(api.url + "/me")
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"
