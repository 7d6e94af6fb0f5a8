"""Promotion policy and requests: versioned YAML policy, gates run on open (never a silent
pass), one open request per version, refusals that name the field and the rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from core.auth import CLI_OPERATOR
from governance.promotions.errors import InvalidPolicy, UnreadablePolicy
from governance.promotions.gate_verdicts import (
    as_shown,
    judge_error_budgets,
    judge_metrics,
    judge_slices,
)
from governance.promotions.policy_document import DEFAULT_POLICY_YAML, parse_policy
from incidents.models import Incident
from monitors.slos.service import create_slo
from tests.governance.conftest import FAST_POLICY, Gov, impressions_frame, post_batch


def gates_of(doc: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {g["name"]: g for g in doc["gates"]}


def add_pass_rate_slo(
    gov: Gov,
    slo_id: str = "impressions-pass",
    *,
    name: str = "impressions pass",
    objective: float = 0.99,
    enabled: bool = True,
) -> None:
    """A batch-pass-rate SLO on `impressions` (one event is enough to judge it)."""
    create_slo(
        gov.db,
        CLI_OPERATOR,
        data={
            "id": slo_id,
            "name": name,
            "kind": "batch_pass_rate",
            "contract_id": "impressions",
            "objective": objective,
            "params": {},
            "period": "P28D",
            "time_scale": 1.0,
            "min_events": 1,
            "pending_seconds": 0.0,
            "enabled": enabled,
        },
    )


def open_critical_incident(gov: Gov, title: str) -> Incident:
    """An active critical incident on `impressions`, upstream of the ranker (committed)."""
    incident = Incident(
        id=uuid.uuid4(),
        title=title,
        severity="critical",
        status="active",
        source="manual",
        datasets=["impressions"],
        details={},
        notifications=[],
        opened_at=datetime.now(UTC),
        opened_by="oncall",
    )
    gov.db.add(incident)
    gov.db.commit()
    return incident


def test_the_builtin_policy_is_version_zero_until_an_admin_publishes_one(client, auth) -> None:  # type: ignore[no-untyped-def]
    shown = client.get("/promotion-policy", headers=auth("viewer")).json()
    assert shown["version"] == 0 and shown["document"]["quorum"] == 2
    assert shown["source"] == DEFAULT_POLICY_YAML
    for role in ("viewer", "producer", "reviewer"):
        resp = client.put("/promotion-policy", content="quorum: 1\n", headers=auth(role))
        assert resp.status_code == 403 and resp.json()["rule"] == "role"
    first = client.put(
        "/promotion-policy?comment=faster", content="quorum: 3\n", headers=auth("admin")
    )
    assert first.status_code == 200 and first.json()["version"] == 1
    assert (
        first.json()["document"]["gates"]["metrics"]["margins"]["auc"] == 0.005
    )  # defaults filled
    second = client.put(
        "/promotion-policy", content="quorum: 2\nauto_promote: true\n", headers=auth("admin")
    )
    assert second.json()["version"] == 2
    versions = client.get("/promotion-policy/versions", headers=auth("viewer")).json()
    assert [v["version"] for v in versions] == [0, 1, 2]
    assert (
        client.get("/promotion-policy/versions/1", headers=auth("viewer")).json()["document"][
            "quorum"
        ]
        == 3
    )
    assert client.get("/promotion-policy/versions/9", headers=auth("viewer")).status_code == 404
    published = client.get("/audit?action=promotion.policy.publish", headers=auth("viewer")).json()
    assert [(e["actor"], e["object_id"], e["payload"]["comment"]) for e in published] == [
        ("test-admin", "1", "faster"),
        ("test-admin", "2", ""),
    ]


@pytest.mark.parametrize(
    ("source", "status", "field", "rule"),
    [
        ("quorum: 0\n", 422, "quorum", "greater_than_equal"),
        ("quorum: two\n", 422, "quorum", "int_parsing"),
        ("expires_after: soon\n", 422, "expires_after", "duration"),
        (
            "gates:\n  metrics:\n    margins: {auc: -0.1}\n",
            422,
            "gates.metrics.margins",
            "margin_range",
        ),
        (
            "gates:\n  metrics:\n    margins: {accuracy: 0.1}\n",
            422,
            "gates.metrics.margins.accuracy.[key]",
            "literal_error",
        ),
        ("gates:\n  metrix: {enabled: false}\n", 422, "gates.metrix", "extra_forbidden"),
        ("gates:\n  slices:\n    by: [planet]\n", 422, "gates.slices.by.0", "literal_error"),
        ("bake:\n  require: [vibes]\n", 422, "bake.require.0", "literal_error"),
        ("bake:\n  duration: '-1h'\n", 422, "bake.duration", "duration"),
        ("- a list\n", 422, "body", "mapping"),
        ("quorum: [\n", 400, "body", "syntax"),
    ],
)
def test_bad_policies_are_refused_naming_field_and_rule(
    client, auth, source, status, field, rule
) -> None:  # type: ignore[no-untyped-def]
    resp = client.put("/promotion-policy", content=source, headers=auth("admin"))
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert (resp.json()["field"], resp.json()["rule"]) == (field, rule)
    assert (
        client.get("/promotion-policy", headers=auth("viewer")).json()["version"] == 0
    )  # nothing stored


def test_policy_parsing_refuses_nul_and_bad_utf8() -> None:
    with pytest.raises(UnreadablePolicy) as nul:
        parse_policy("quorum: 2\x00")
    assert nul.value.rule == "no_nul"
    with pytest.raises(UnreadablePolicy) as utf:
        parse_policy(b"quorum: \xff")
    assert utf.value.rule == "utf8"
    with pytest.raises(InvalidPolicy):
        parse_policy("auto_promote: maybe")


def test_opening_a_request_runs_every_gate_and_stores_the_results(gov: Gov) -> None:
    gov.crown(gov.register())
    v2 = gov.register()
    resp = gov.request(v2)
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    assert resp.headers["Location"] == f"/promotion-requests/{doc['id']}"
    assert doc["state"] == "open" and doc["requested_by"] == "test-producer"
    assert doc["quorum"] == 2 and doc["binding"]["policy_version"] == 1
    assert doc["binding"]["champion_version"] == 1
    g = gates_of(doc)
    assert list(g) == [
        "metrics",
        "training_data",
        "incidents",
        "slices",
        "artifact",
        "error_budget",
    ]
    assert g["metrics"]["status"] == g["slices"]["status"] == "disabled"
    assert g["artifact"]["status"] == "passed"
    assert g["training_data"]["status"] == "passed", g["training_data"]
    batch = g["training_data"]["details"]["batches"][0]
    assert (
        batch["status"] == "warned" and batch["check_run"] and batch["quarantine_rate"] == 0
    )  # old data: stale
    assert g["incidents"]["status"] == "passed"
    assert "impressions" in g["incidents"]["details"]["upstream_datasets"]
    # no SLOs exist: the freeze cannot be judged, and says so rather than passing
    assert g["error_budget"]["status"] == "not_evaluated" and not g["error_budget"]["blocking"]
    assert doc["blocking_gates"] == []
    assert gov.get(doc["id"])["gates"] == doc["gates"]
    opened = gov.audit("promotion.request.open")
    assert opened[-1]["object_id"] == doc["id"] and opened[-1]["payload"]["justification"]


def test_one_open_request_per_version_and_never_for_the_champion(gov: Gov) -> None:
    v1 = gov.register()
    gov.crown(v1)
    champ = gov.request(v1)
    assert champ.status_code == 409 and champ.json()["rule"] == "not_champion"
    v2 = gov.register()
    first = gov.open(v2)
    again = gov.request(v2, who="test-admin")
    assert again.status_code == 409 and again.json()["rule"] == "one_open_request"
    assert again.json()["request_id"] == first["id"]
    withdrawn = gov.client.post(
        f"/promotion-requests/{first['id']}/withdraw",
        json={"reason": "wrong data"},
        headers=gov.as_("test-producer"),
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert gov.request(v2).status_code == 201  # a closed request leaves room for a new one


def test_request_bodies_and_roles_are_checked(gov: Gov) -> None:
    v = gov.register()
    for who in ("test-viewer", "test-reviewer", "rev-ann"):
        assert gov.request(v, who=who).status_code == 403
    for extra, field, rule in [
        ({"quorum": 1}, "quorum", "extra_forbidden"),
        ({"state": "approved"}, "state", "extra_forbidden"),
        ({"policy_version": 0}, "policy_version", "extra_forbidden"),
        ({"requested_by": "someone-else"}, "requested_by", "extra_forbidden"),
        ({"justification": ""}, "justification", "string_too_short"),
        ({"justification": "x" * 4001}, "justification", "string_too_long"),
    ]:
        resp = gov.request(v, **extra)
        assert resp.status_code == 422, (extra, resp.text)
        assert (resp.json()["field"], resp.json()["rule"]) == (field, rule)
    assert gov.request(99).status_code == 404
    resp = gov.client.post(
        "/models/ghost/versions/1/promotion-requests",
        json={"justification": "x"},
        headers=gov.as_("test-producer"),
    )
    assert resp.status_code == 404 and resp.json()["field"] == "name"
    bad = gov.client.get("/promotion-requests/not-a-uuid", headers=gov.as_("test-viewer"))
    assert bad.status_code == 422 and bad.json()["field"] == "path.request_id"
    missing = gov.client.get(f"/promotion-requests/{uuid.uuid4()}", headers=gov.as_("test-viewer"))
    assert missing.status_code == 404 and missing.json()["field"] == "request_id"
    assert gov.client.get("/promotion-requests", headers=gov.as_("test-viewer")).json() == []


def test_a_tampered_artifact_fails_its_gate_and_blocks_approval_until_an_admin_overrides(
    gov: Gov,
) -> None:
    v = gov.register()
    gov.artifact_path(v).write_bytes(b"tampered")
    doc = gov.open(v)
    art = gates_of(doc)["artifact"]
    assert art["status"] == "failed" and art["blocking"] and doc["blocking_gates"] == ["artifact"]
    assert art["details"]["actual_sha256"] != art["details"]["registered_sha256"]
    blocked = gov.decide(doc["id"], "rev-ann")
    assert blocked.status_code == 409 and blocked.json()["rule"] == "gates_passed"
    assert blocked.json()["blocking_gates"] == ["artifact"]
    url = f"/promotion-requests/{doc['id']}/override"
    body = {"gates": ["artifact"], "reason": "re-exported with the same weights, verified by hand"}
    assert gov.client.post(url, json=body, headers=gov.as_("rev-ann")).status_code == 403
    for wrong, rule in [
        ({"gates": ["metrics"]}, "gate_is_blocking"),
        ({"gates": ["artifact"], "reason": "ok"}, "string_too_short"),
        ({"gates": ["artifact"], "reason": "a long enough reason", "by": "x"}, "extra_forbidden"),
    ]:
        resp = gov.client.post(url, json={**body, **wrong}, headers=gov.as_("test-admin"))
        assert resp.status_code == 422 and resp.json()["rule"] == rule, resp.text
    ok = gov.client.post(url, json=body, headers=gov.as_("test-admin"))
    assert ok.status_code == 200 and ok.json()["override"]["by"] == "test-admin"
    assert gov.decide(doc["id"], "rev-ann").status_code == 201
    # read back, the overridden gate no longer shows as blocking, and says who lifted it and why
    shown = gov.get(doc["id"])
    art = gates_of(shown)["artifact"]
    assert art["status"] == "failed" and art["blocking"] is False
    assert art["overridden"]["by"] == "test-admin" and art["overridden"]["reason"] == body["reason"]
    assert shown["blocking_gates"] == []
    assert all(g["overridden"] is None for g in shown["gates"] if g["name"] != "artifact")
    card = gov.client.get(f"/models/ranker/versions/{v}/card", headers=gov.as_("test-viewer"))
    assert card.status_code == 200, card.text
    assert "| artifact | failed | overridden by test-admin |" in card.text
    events = gov.audit("promotion.gates.override")
    assert events[-1]["payload"]["after"]["reason"] == body["reason"]


def test_requester_cannot_override_their_own_gates(gov: Gov) -> None:
    v = gov.register()
    gov.artifact_path(v).write_bytes(b"tampered")
    doc = gov.open(v, who="test-admin")
    resp = gov.client.post(
        f"/promotion-requests/{doc['id']}/override",
        json={"gates": ["artifact"], "reason": "trust me, it is fine"},
        headers=gov.as_("test-admin"),
    )
    assert resp.status_code == 403 and resp.json()["rule"] == "requester_cannot_override"


def test_training_batches_with_too_many_quarantined_rows_fail_their_gate(gov: Gov) -> None:
    frame = impressions_frame(hour=1)
    import polars as pl

    dirty = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < pl.len() // 10)
        .then(pl.lit(-5))
        .otherwise(pl.col("position"))
        .alias("position")
    )
    batch = post_batch(gov.client, gov.as_("test-producer"), dirty)
    assert batch["status"] != "rejected" and batch["rows_quarantined"] > 0, batch
    gov.batch = batch
    doc = gov.open(gov.register())
    g = gates_of(doc)["training_data"]
    assert g["status"] == "failed" and g["details"]["over_quarantine_rate"] == [batch["id"]]
    gov.policy(FAST_LENIENT)
    rerun = gov.client.post(
        f"/promotion-requests/{doc['id']}/gates", headers=gov.as_("test-producer")
    )
    assert (
        rerun.status_code == 200 and gates_of(rerun.json())["training_data"]["status"] == "passed"
    )
    assert rerun.json()["binding"]["policy_version"] == 2


FAST_LENIENT = """\
gates:
  metrics: {enabled: false}
  slices: {enabled: false}
  training_data: {max_quarantine_rate: 0.9}
bake: {enabled: false}
"""


def test_an_open_critical_incident_upstream_fails_the_incident_gate(gov: Gov) -> None:
    incident = open_critical_incident(gov, "impressions arrive without item ids")
    doc = gov.open(gov.register())
    g = gates_of(doc)["incidents"]
    assert g["status"] == "failed" and g["details"]["open_incidents"][0]["id"] == str(incident.id)
    incident.status = "closed"
    gov.db.commit()
    rerun = gov.client.post(f"/promotion-requests/{doc['id']}/gates", headers=gov.as_("test-admin"))
    assert gates_of(rerun.json())["incidents"]["status"] == "passed"


def test_an_exhausted_error_budget_freezes_promotion(gov: Gov) -> None:
    rejected = impressions_frame(hour=2).drop("event_time")
    post_batch(gov.client, gov.as_("test-producer"), rejected)
    add_pass_rate_slo(gov)
    gov.db.commit()
    doc = gov.open(gov.register())
    g = gates_of(doc)["error_budget"]
    assert g["status"] == "failed" and g["blocking"], g
    assert g["details"]["slos"][0]["budget_remaining"] < 0


def test_error_budget_gate_says_an_slo_is_disabled_rather_than_undefined(gov: Gov) -> None:
    add_pass_rate_slo(gov, enabled=False)
    gov.db.commit()
    g = gates_of(gov.open(gov.register()))["error_budget"]
    assert g["status"] == "not_evaluated" and not g["blocking"], g
    assert g["summary"] == "1 SLO(s) defined, none enabled: impressions-pass"
    assert g["details"]["disabled_slos"] == ["impressions-pass"]


def test_a_policy_naming_a_disabled_slo_does_not_pass_on_the_others(gov: Gov) -> None:
    gov.policy(
        FAST_POLICY.replace("gates:\n", "gates:\n  error_budget: {slos: [slo-on, slo-off]}\n")
    )
    for slo_id, enabled in (("slo-on", True), ("slo-off", False)):
        add_pass_rate_slo(gov, slo_id, name=slo_id, objective=0.5, enabled=enabled)
    gov.db.commit()
    g = gates_of(gov.open(gov.register()))["error_budget"]
    assert [b["slo_id"] for b in g["details"]["slos"]] == ["slo-on"], g
    assert g["details"]["slos"][0]["budget_remaining"] > 0
    assert g["status"] == "not_evaluated"
    assert g["summary"] == "policy names SLOs that are disabled: slo-off"


def test_only_an_override_in_force_lifts_only_the_gates_it_names() -> None:
    gates = [
        {"name": "artifact", "status": "failed", "blocking": True},
        {"name": "incidents", "status": "failed", "blocking": True},
        {"name": "metrics", "status": "passed", "blocking": False},
    ]
    override = {"by": "ann", "at": "t", "reason": "checked by hand", "gates": ["artifact"]}
    shown = {g["name"]: g for g in as_shown(gates, override)}
    assert shown["artifact"]["blocking"] is False and shown["artifact"]["overridden"]["by"] == "ann"
    assert shown["incidents"]["blocking"] is True and shown["incidents"]["overridden"] is None
    assert shown["metrics"]["overridden"] is None
    pending = as_shown(gates, {**override, "confirmed": False})
    assert [g["blocking"] for g in pending] == [True, True, False]
    assert [g["blocking"] for g in as_shown(gates, None)] == [True, True, False]
    assert gates[0]["blocking"] is True  # the stored verdicts are left alone


def test_gate_verdicts_judge_margins_directions_and_thin_segments() -> None:
    comparison = {
        "window": ["a", "b"],
        "rows": 100,
        "candidate": {"auc": 0.70, "log_loss": 0.160, "ndcg@10": float("nan")},
        "champion": {"auc": 0.71, "log_loss": 0.150, "ndcg@10": 0.5},
        "slices": {
            "country": [
                {
                    "value": "JP",
                    "rows": 900,
                    "positives": 40,
                    "candidate": {"auc": 0.6},
                    "champion": {"auc": 0.7},
                },
                {
                    "value": "DE",
                    "rows": 10,
                    "positives": 1,
                    "candidate": {"auc": 0.1},
                    "champion": {"auc": 0.9},
                },
            ]
        },
    }
    failed = judge_metrics(comparison, {"auc": 0.02, "log_loss": 0.005})
    assert (
        failed.status == "failed" and "log_loss" in failed.summary and "auc" not in failed.summary
    )
    assert judge_metrics(comparison, {"auc": 0.02}).status == "passed"
    assert judge_metrics(comparison, {"ndcg@10": 0.02}).status == "not_evaluated"
    sliced = judge_slices(comparison, metrics=["auc"], margin=0.05, min_rows=100, min_positives=5)
    assert sliced.status == "failed" and sliced.details["skipped"] == ["country=DE"]
    thin = judge_slices(comparison, metrics=["auc"], margin=0.05, min_rows=1000, min_positives=5)
    assert thin.status == "not_evaluated"
    assert judge_error_budgets([]).status == "not_evaluated"
    assert judge_error_budgets([]).summary == "no SLOs are defined"
    off = judge_error_budgets([], disabled=["a", "b"])
    assert off.status == "not_evaluated" and off.summary == "2 SLO(s) defined, none enabled: a, b"
    # a disabled SLO never hides a spent budget of an enabled one
    spent = judge_error_budgets([{"slo_id": "c", "budget_remaining": -0.5}], disabled=["a"])
    assert spent.status == "failed"
    assert (
        judge_error_budgets([{"slo_id": "a", "budget_remaining": None}]).status == "not_evaluated"
    )
    assert judge_error_budgets([{"slo_id": "a", "budget_remaining": 0.2}]).status == "passed"
    assert judge_error_budgets([{"slo_id": "a", "budget_remaining": 0.0}]).status == "failed"


def test_an_override_names_what_blocks_now_without_a_manual_gate_rerun(gov: Gov) -> None:
    """A closed incident stops blocking at the override itself; an open one cannot be skipped."""
    post_batch(gov.client, gov.as_("test-producer"), impressions_frame(hour=2).drop("event_time"))
    add_pass_rate_slo(gov)
    incident = open_critical_incident(gov, "impressions arrive without event times")
    doc = gov.open(gov.register())
    assert set(doc["blocking_gates"]) == {"incidents", "error_budget"}, doc["blocking_gates"]
    url, admin = f"/promotion-requests/{doc['id']}/override", gov.as_("test-admin")
    reason = {"reason": "budget burnt by a fixed producer bug; incident handled"}

    # while the incident is open, overriding only the budget leaves it out: refused
    skipped = gov.client.post(url, json={"gates": ["error_budget"], **reason}, headers=admin)
    assert skipped.status_code == 422, skipped.text
    assert skipped.json()["rule"] == "covers_blocking_gates"

    incident.status = "closed"
    gov.db.commit()
    # no POST .../gates in between: the override re-runs the stale gates itself
    stale = gov.client.post(
        url, json={"gates": ["error_budget", "incidents"], **reason}, headers=admin
    )
    assert stale.status_code == 422 and stale.json()["rule"] == "gate_is_blocking", stale.text
    done = gov.client.post(url, json={"gates": ["error_budget"], **reason}, headers=admin)
    assert done.status_code == 200, done.text
    body = done.json()
    assert gates_of(body)["incidents"]["status"] == "passed"
    assert gates_of(body)["error_budget"]["status"] == "failed"
    assert body["override"]["gates"] == ["error_budget"]
