"""Writes from the dashboard act as the signed-in person; viewers get no write controls, and
the API's refusals show up as its own message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.client import ApiError, DriftgateClient
from tests.dashboard.conftest import APP, close_open_incidents, no_failure
from tests.dashboard.live_api import Seeded

Open = Callable[..., AppTest]
WRITE_LABELS = {"Approve", "Reject", "Promote to champion", "Roll back to the previous champion"}


def labels(at: AppTest) -> set[str]:
    return {b.label for b in at.button}


def audit_of(api_get: Callable[..., Any], object_id: str, action: str) -> list[dict[str, Any]]:
    return [e for e in api_get("/audit", object=object_id, limit=1000) if e["action"] == action]


def test_a_reviewer_approves_promotes_and_rolls_back_as_themself(
    dashboard: Open, api: Seeded, api_get: Callable[..., Any]
) -> None:
    request = api.requests["two"]
    rid = request["id"]
    at = dashboard("rita", "models")
    # the seed's page alert opened an incident upstream: the incidents gate refuses
    at.text_area(key=f"comment_{rid}").input("gates and card checked")
    at.button(key=f"approve_{rid}").click().run()
    assert not at.exception
    refusal = " ".join(e.value for e in at.error)
    assert refusal.startswith("409 ") and "incidents" in refusal, refusal
    assert api_get(f"/promotion-requests/{rid}")["state"] == "open"
    close_open_incidents(api, "rita")
    at = dashboard("rita", "models")
    at.text_area(key=f"comment_{rid}").input("gates and card checked")
    at.button(key=f"approve_{rid}").click().run()
    no_failure(at)
    assert f"approved v{request['version']} as rita" in [s.value for s in at.success]
    decided = api_get(f"/promotion-requests/{rid}")
    assert decided["state"] == "approved"
    assert [(a["reviewer"], a["decision"], a["comment"]) for a in decided["approvals"]] == [
        ("rita", "approve", "gates and card checked")
    ]
    assert {e["actor"] for e in audit_of(api_get, rid, "promotion.approval.approve")} == {"rita"}

    at.segmented_control(key="request_state").set_value("approved").run()
    at.button(key=f"promote_{rid}").click().run()
    no_failure(at)
    assert api_get("/models/ranker/champion")["version"] == request["version"]

    at.text_input(key="rollback_reason").input("latency regression on web")
    next(b for b in at.button if b.label.startswith("Roll back")).click().run()
    no_failure(at)
    champion = api_get("/models/ranker/champion")
    assert champion["version"] == api.champion and champion["set_by"] == "rita"
    rollbacks = audit_of(api_get, "ranker", "model.champion.rollback")
    assert [(e["actor"], e["payload"]["reason"]) for e in rollbacks] == [
        ("rita", "latency regression on web")
    ]


def test_a_reviewer_rejects_with_a_comment(
    dashboard: Open, api: Seeded, api_get: Callable[..., Any]
) -> None:
    rid = api.requests["three"]["id"]
    at = dashboard("ray", "models")
    at.text_area(key=f"comment_{rid}").input("no evidence on the web slice")
    at.button(key=f"reject_{rid}").click().run()
    no_failure(at)
    decided = api_get(f"/promotion-requests/{rid}")
    assert decided["state"] == "rejected" and decided["decided_by"] == "ray"
    assert decided["approvals"][0]["comment"] == "no evidence on the web slice"
    assert {e["actor"] for e in audit_of(api_get, rid, "promotion.approval.reject")} == {"ray"}


@pytest.mark.parametrize("page", ["models", "contracts", "overview"])
def test_a_viewer_sees_no_write_controls(dashboard: Open, page: str) -> None:
    at = dashboard("vic", page)
    no_failure(at)
    assert not labels(at) & (WRITE_LABELS | {"Register"})
    assert not at.text_area and not at.get("file_uploader")


def test_a_forged_write_with_a_viewer_token_is_refused_by_the_api(api: Seeded) -> None:
    client = DriftgateClient(api.url, api.tokens["vic"])
    with pytest.raises(ApiError) as refused:
        client.decide(api.requests["four"]["id"], "approve", "forged")
    assert refused.value.problem.status == 403
    assert refused.value.problem.rule == "role"


def test_a_kiosk_token_reads_but_offers_no_writes_even_for_an_admin_token(
    api: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTGATE_DASHBOARD_API_URL", api.url)
    monkeypatch.setenv("DRIFTGATE_DASHBOARD_TOKEN", api.tokens["root"])
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    no_failure(at)
    assert [t.value for t in at.title] == ["Overview"]
    assert "read-only kiosk" in at.sidebar.markdown[0].value
    at.switch_page("pages/models.py").run()
    no_failure(at)
    assert not labels(at) & WRITE_LABELS


def test_api_refusals_render_as_the_problems_message(dashboard: Open) -> None:
    at = dashboard("root", "contracts")
    at.text_area(key="contract_text").input("id: impressions\nversion: not-semver\n").run()
    at.button(key="register").click().run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("422 ")

    existing = (APP.parents[1] / "examples" / "impressions.contract.yaml").read_text()
    at.text_area(key="contract_text").input(existing).run()
    at.button(key="register").click().run()
    assert not at.exception
    assert len(at.error) == 1, [e.value for e in at.error]
    assert at.error[0].value.startswith("409 ")
    assert at.error[0].value.endswith("(field `id`, rule `unique`)")


def test_an_admin_sees_a_contract_changes_impact_before_registering(
    dashboard: Open, api: Seeded
) -> None:
    at = dashboard("root", "contracts")
    current = (APP.parents[1] / "examples" / "impressions.contract.yaml").read_text()
    proposed = current.replace("version: 1.0.0", "version: 1.2.0", 1).replace(
        "    max: 49\n", "    max: 99\n", 1
    )
    at.text_area(key="contract_text").input(proposed).run()
    at.selectbox(key="contract_target").select("impressions").run()
    at.button(key="impact").click().run()
    no_failure(at)
    impact = DriftgateClient(api.url, api.tokens["root"]).contract_impact("impressions", proposed)
    # against 1.1.0: position.max raised here, user_id.max_length back to 64
    assert [f["field"] for f in impact["fields"]] == ["position", "user_id"]
    markdown = [m.value for m in at.markdown]
    assert f"**{len(impact['changes'])} change(s)** to fields position, user_id" in markdown
    assert any(
        f"Model versions reading them: {len(impact['model_versions'])}" in m for m in markdown
    )
    versions = DriftgateClient(api.url, api.tokens["vic"]).get("/contracts/impressions/versions")
    assert [v["version"] for v in versions] == ["1.0.0", "1.1.0"]  # nothing registered
