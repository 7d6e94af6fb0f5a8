"""Every page renders against the real API and shows the values the API holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, no_failure
from tests.dashboard.live_api import Seeded

Open = Callable[..., AppTest]


def texts(at: AppTest) -> str:
    """Everything written on the page as text, tables included."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [s.value for s in at.success] + [i.value for i in at.info]
    parts += [str(m.value) + str(m.label) for m in at.metric]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(parts)


def test_sign_in_names_the_principal_and_role(dashboard: Open) -> None:
    at = dashboard("rita")
    no_failure(at)
    assert "**rita** · `reviewer`" in [m.value for m in at.sidebar.markdown]


def test_an_unknown_token_is_refused_with_the_apis_message(
    api: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTGATE_DASHBOARD_API_URL", api.url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.text_input[0].input("dg_not-a-token")
    at.button[0].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "401 Unauthorized: the bearer token is unknown or revoked"
    ]
    assert [t.value for t in at.title] == ["driftgate"]


def test_overview_shows_the_firing_alert_champion_and_waiting_requests(
    dashboard: Open, api: Seeded, api_get: Callable[..., Any]
) -> None:
    at = dashboard("rita", "overview")
    no_failure(at)
    shown = texts(at)
    alerts = api_get("/alerts", state="firing")
    assert alerts and all(a["summary"] in shown for a in alerts)
    assert all(f"[runbook]({a['runbook_url']})" in shown for a in alerts), alerts[0]["runbook_url"]
    assert all("/runbooks/" in a["runbook_url"] for a in alerts)
    assert f"ranker v{api.champion}" in shown
    # "four" stays open in this suite (test_actions decides "two" and "three")
    assert f"ranker v{api.requests['four']['version']}** requested by paula" in shown
    counts = {m.label: m.value for m in at.metric}
    assert counts["quarantined"] == "1" and counts["rejected"] == "1"
    assert "impressions" in shown and "fresh" in shown
    evidence = alerts[0]["evidence"]["batches"]
    assert {b["batch_id"] for b in evidence} == {
        api.batches["bad-rows"]["id"],
        api.batches["missing-column"]["id"],
    }
    at.button(key=f"alert_{alerts[0]['id']}_{evidence[0]['batch_id']}").click().run()
    no_failure(at)
    assert [t.value for t in at.title] == ["Batches & quarantine"]
    assert at.text_input(key="batch_id").value == evidence[0]["batch_id"]


def test_contracts_lists_owner_versions_and_the_diff(
    dashboard: Open, api_get: Callable[..., Any]
) -> None:
    at = dashboard("vic", "contracts")
    no_failure(at)
    shown = texts(at)
    contract = api_get("/contracts/impressions")
    assert contract["owner"] in shown and contract["latest_version"] == "1.1.0"
    diff = api_get("/contracts/impressions/diff", **{"from": "1.0.0", "to": "1.1.0"})
    assert [c["path"] for c in diff["changes"]] == ["fields.user_id.max_length"]
    assert "fields.user_id.max_length" in shown and "FORWARD" in shown
    at.toggle(key="gx_suite").set_value(True).run()
    no_failure(at)
    assert any(
        b.label.startswith("Download the Great Expectations") for b in at.get("download_button")
    )  # type: ignore[attr-defined]


def test_batches_shows_rules_quarantined_rows_and_profile(
    dashboard: Open, api: Seeded, api_get: Callable[..., Any]
) -> None:
    at = dashboard("vic", "batches")
    no_failure(at)
    listing = at.dataframe[0].value
    assert set(api.batches[n]["id"] for n in api.batches) <= set(listing["id"])
    bad = api.batches["bad-rows"]["id"]
    at.text_input(key="batch_id").input(bad).run()
    no_failure(at)
    shown = texts(at)
    assert "**QUARANTINED**" in shown
    failing = [r for r in api_get(f"/batches/{bad}")["rules"] if not r["passed"]]
    assert [r["rule_id"] for r in failing] == ["position.max"]
    assert "position.max" in shown
    at.segmented_control(key="batch_section").set_value("Quarantine").run()
    no_failure(at)
    page = api_get(f"/batches/{bad}/quarantine", limit=50)
    rows = next(d.value for d in at.dataframe if "_reasons" in d.value.columns)
    assert len(rows) == min(50, page["total"]) == 40
    assert set(rows["_reasons"]) == {"position.max: value is above max 49"}
    at.segmented_control(key="batch_section").set_value("Profile").run()
    no_failure(at)
    profile = api_get(f"/batches/{bad}/profile")["columns"]
    stats = at.dataframe[-1].value.set_index("field")
    assert int(stats.loc["position", "count"]) == profile["position"]["count"] == 760


def test_drift_shows_the_drifted_fields_and_follows_to_the_batch(
    dashboard: Open, api: Seeded, api_get: Callable[..., Any]
) -> None:
    at = dashboard("vic", "drift")
    at.selectbox(key="drift_window").select("per batch").run()
    no_failure(at)
    series = api_get("/monitors/drift", dataset="impressions", window="batch", count=24)
    drifted = [x for x in series["windows"] if x["verdict"] == "alert"]
    assert [x["batch_ids"] for x in drifted] == [[api.batches["drifted"]["id"]]]
    shown = texts(at)
    assert drifted[0]["reason"] in shown
    assert "**position** · psi · warn 0.1 · alert 0.25" in shown
    assert at.selectbox(key="drift_batch").value == api.batches["drifted"]["id"]
    at.button(key="open_batch").click().run()
    no_failure(at)
    assert [t.value for t in at.title] == ["Batches & quarantine"]
    assert at.text_input(key="batch_id").value == api.batches["drifted"]["id"]


def test_model_quality_shows_each_window_the_api_computed(
    dashboard: Open, api_get: Callable[..., Any]
) -> None:
    at = dashboard("vic", "quality")
    no_failure(at)
    doc = api_get("/monitors/quality", model="ranker", window="PT1H", count=24)
    table = at.dataframe[0].value
    assert list(table["status"]) == [w["status"] for w in reversed(doc["windows"])]
    assert list(table["predictions"]) == [w["predictions"] for w in reversed(doc["windows"])]
    split = api_get("/monitors/quality/segments", segment="surface", window="PT1H", count=24)
    served = [s["value"] for s in split["segments"]]
    if served:  # the seed may serve no traffic: then the page says so
        assert set(at.dataframe[1].value["surface"]) == set(served)
    else:
        assert "No served predictions in these windows yet." in [c.value for c in at.caption]


def test_models_page_shows_champion_gates_and_the_card(
    dashboard: Open, api: Seeded, api_get: Callable[..., Any]
) -> None:
    at = dashboard("rita", "models")
    no_failure(at)
    shown = texts(at)
    champion = api_get("/models/ranker/champion")
    assert f"**Champion:** v{champion['version']}" in shown
    request = api.requests["four"]
    gates = api_get(f"/promotion-requests/{request['id']}")["gates"]
    for gate in gates:
        assert gate["summary"] in shown
    assert not any(m.value.startswith("# Model card") for m in at.markdown)  # on request
    at.selectbox(key="card_version").select(champion["version"]).run()
    no_failure(at)
    assert f"# Model card: ranker v{champion['version']}" in texts(at)


def test_lineage_draws_the_graph_and_lists_impact(dashboard: Open) -> None:
    at = dashboard("vic", "lineage")
    no_failure(at)
    charts = at.get("graphviz_chart")
    assert charts, "no lineage graph"
    dot = charts[0].proto.spec
    assert '"dataset:driftgate:feed.impressions"' in dot and "checks.validate.impressions" in dot
    assert "contracts/impressions/accepted" in texts(at)


def test_audit_shows_the_chain_verdict_and_filters_by_actor(
    dashboard: Open, api_get: Callable[..., Any]
) -> None:
    at = dashboard("vic", "audit")
    no_failure(at)
    verdict = api_get("/audit/verify")
    assert verdict["intact"] and f"head #{verdict['head_seq']}" in texts(at)
    at.text_input(key="audit_actor").input("paula").run()
    no_failure(at)
    table = at.dataframe[0].value
    expected = api_get("/audit", actor="paula", limit=100)
    assert list(table["seq"]) == [e["seq"] for e in expected] and set(table["actor"]) == {"paula"}


@pytest.mark.slow
def test_drift_builds_the_evidently_report_of_a_window_on_demand(dashboard: Open) -> None:
    at = dashboard("vic", "drift")
    at.selectbox(key="drift_window").select("hourly").run()
    no_failure(at)
    assert not at.get("iframe")
    at.button(key="evidently").click().run()
    no_failure(at)
    frames = at.get("iframe")
    assert len(frames) == 1
    report = frames[0].proto.srcdoc  # the API's HTML, embedded as the iframe's document
    assert report.lstrip().startswith("<!DOCTYPE html>") and "root_metric_" in report
    assert [b.label for b in at.get("download_button")] == ["Open / save the report (HTML)"]
