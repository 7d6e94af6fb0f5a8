"""Approvals: separation of duties (refused and audited), quorum of distinct reviewers, one
rejection closes, a reviewer decides once, binding to artifact/metrics/policy/champion,
expiry by the core clock, terminal states; promotion and rollback through the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from core.clock import SimulatedClock, SystemClock, set_clock
from governance.promotions.requests import expire_due
from tests.governance.conftest import FAST_POLICY, Gov


@pytest.fixture
def clock() -> Iterator[SimulatedClock]:
    sim = SimulatedClock(datetime.now(UTC))
    set_clock(sim)
    yield sim
    set_clock(SystemClock())


def live(doc: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(a["reviewer"], a["decision"]) for a in doc["approvals"] if a["voided_at"] is None]


def test_the_requester_and_the_versions_creator_cannot_approve_and_the_attempt_is_audited(
    gov: Gov,
) -> None:
    by_admin = gov.register(who="test-admin")
    doc = gov.open(by_admin, who="test-producer")
    creator = gov.decide(doc["id"], "test-admin")
    assert creator.status_code == 403, creator.text
    assert creator.headers["content-type"] == "application/problem+json"
    assert (creator.json()["field"], creator.json()["rule"]) == (
        "Authorization",
        "creator_cannot_approve",
    )
    mine = gov.register()
    own = gov.open(mine, who="test-admin")
    requester = gov.decide(own["id"], "test-admin", decision="reject")
    assert requester.status_code == 403 and requester.json()["rule"] == "requester_cannot_approve"
    refused = gov.audit("promotion.approval.refused")
    assert [(e["actor"], e["payload"]["after"]["rule"]) for e in refused] == [
        ("test-admin", "creator_cannot_approve"),
        ("test-admin", "requester_cannot_approve"),
    ]
    assert gov.get(doc["id"])["approvals"] == [] and gov.get(doc["id"])["state"] == "open"
    for who in ("test-viewer", "test-producer"):
        resp = gov.decide(doc["id"], who)
        assert resp.status_code == 403 and resp.json()["rule"] == "role"


def test_a_quorum_of_distinct_reviewers_approves_and_each_decides_once(gov: Gov) -> None:
    doc = gov.open(gov.register())
    first = gov.decide(doc["id"], "rev-ann")
    assert first.status_code == 201 and first.json()["state"] == "open"
    assert first.json()["approvals_live"] == 1
    twice = gov.decide(doc["id"], "rev-ann")
    assert twice.status_code == 409 and twice.json()["rule"] == "decides_once"
    second = gov.decide(doc["id"], "rev-bob")
    assert second.status_code == 201 and second.json()["state"] == "approved"
    assert second.json()["decided_by"] == "rev-bob"
    late = gov.decide(doc["id"], "rev-cy")
    assert late.status_code == 409 and late.json()["rule"] == "state"
    approved = gov.audit("promotion.request.approved")
    assert len(approved) == 1 and approved[0]["payload"]["approvals"] == 2


def test_one_rejection_closes_the_request_and_closed_requests_refuse_everything(gov: Gov) -> None:
    doc = gov.open(gov.register())
    gov.decide(doc["id"], "rev-ann")
    rejected = gov.decide(doc["id"], "rev-bob", decision="reject")
    assert rejected.status_code == 201 and rejected.json()["state"] == "rejected"
    rid, h = doc["id"], gov.as_("test-admin")
    for resp in (
        gov.decide(rid, "rev-cy"),
        gov.client.post(f"/promotion-requests/{rid}/withdraw", json={"reason": "x"}, headers=h),
        gov.client.post(f"/promotion-requests/{rid}/promote", headers=h),
        gov.client.post(f"/promotion-requests/{rid}/gates", headers=h),
        gov.client.post(
            f"/promotion-requests/{rid}/override",
            json={"gates": ["artifact"], "reason": "x" * 20},
            headers=h,
        ),
    ):
        assert resp.status_code == 409, resp.text
        assert resp.json()["rule"] == "terminal_state" and resp.json()["state"] == "rejected"


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"decision": "maybe"}, "decision", "literal_error"),
        ({}, "decision", "missing"),
        ({"decision": "approve", "reviewer": "rev-bob"}, "reviewer", "extra_forbidden"),
        ({"decision": "approve", "quorum": 1}, "quorum", "extra_forbidden"),
        ({"decision": "approve", "comment": "x" * 4001}, "comment", "string_too_long"),
        ({"decision": "approve", "comment": "a\x00b"}, "body", "value_error"),
    ],
)
def test_decision_bodies_are_closed(gov: Gov, body: dict, field: str, rule: str) -> None:  # type: ignore[type-arg]
    doc = gov.open(gov.register())
    resp = gov.client.post(
        f"/promotion-requests/{doc['id']}/approvals", json=body, headers=gov.as_("rev-ann")
    )
    assert resp.status_code == 422, resp.text
    assert (resp.json()["field"], resp.json()["rule"]) == (field, rule)
    assert gov.get(doc["id"])["approvals"] == []


def test_a_new_policy_voids_earlier_approvals_and_the_new_quorum_applies(gov: Gov) -> None:
    doc = gov.open(gov.register())
    gov.decide(doc["id"], "rev-ann")
    gov.policy(FAST_POLICY.replace("quorum: 2", "quorum: 3"))
    resp = gov.decide(doc["id"], "rev-bob")
    assert resp.status_code == 201, resp.text
    after = resp.json()
    assert after["binding"]["policy_version"] == 2 and after["quorum"] == 3
    assert live(after) == [("rev-bob", "approve")]
    voided = [a for a in after["approvals"] if a["voided_at"]]
    assert voided[0]["reviewer"] == "rev-ann" and "policy_version" in voided[0]["void_reason"]
    assert voided[0]["binding"]["policy_version"] == 1
    assert gov.decide(doc["id"], "rev-ann").json()["state"] == "open"  # may decide again: 2 of 3
    assert gov.decide(doc["id"], "rev-cy").json()["state"] == "approved"
    regate = gov.audit("promotion.request.regate")
    assert regate[-1]["payload"]["changed"] == ["policy_version"]
    assert regate[-1]["payload"]["voided_approvals"] == ["rev-ann"]


def test_a_changed_artifact_voids_approvals_and_blocks(gov: Gov) -> None:
    v = gov.register()
    doc = gov.open(v)
    gov.decide(doc["id"], "rev-ann")
    gov.artifact_path(v).write_bytes(b"swapped after review")
    resp = gov.decide(doc["id"], "rev-bob")
    assert resp.status_code == 409 and resp.json()["rule"] == "gates_passed"
    shown = gov.get(doc["id"])  # the re-gate was kept although the approval was refused
    assert live(shown) == [] and shown["blocking_gates"] == ["artifact"]
    assert shown["binding"]["artifact_sha256"] != doc["binding"]["artifact_sha256"]


def test_changed_metrics_void_approvals(gov: Gov) -> None:
    v = gov.register()
    doc = gov.open(v)
    gov.decide(doc["id"], "rev-ann")
    # Versions are immutable (a trigger); only someone bypassing it could change metrics.
    gov.db.execute(
        text("ALTER TABLE model_versions DISABLE TRIGGER model_versions_no_update_delete")
    )
    gov.db.execute(
        text('UPDATE model_versions SET metrics = \'{"model": {"auc": 0.99}}\' WHERE version = :v'),
        {"v": v},
    )
    gov.db.execute(
        text("ALTER TABLE model_versions ENABLE TRIGGER model_versions_no_update_delete")
    )
    gov.db.commit()
    after = gov.decide(doc["id"], "rev-bob").json()
    assert after["state"] == "open" and live(after) == [("rev-bob", "approve")]
    assert after["binding"]["metrics_sha256"] != doc["binding"]["metrics_sha256"]


def test_a_champion_move_voids_an_approved_request_and_promote_refuses(gov: Gov) -> None:
    v1, v2, v3 = gov.register(), gov.register(), gov.register()
    gov.crown(v1)
    doc = gov.open(v2)
    gov.decide(doc["id"], "rev-ann")
    assert gov.decide(doc["id"], "rev-bob").json()["state"] == "approved"
    gov.crown(v3)  # break-glass move while the request waited
    resp = gov.client.post(f"/promotion-requests/{doc['id']}/promote", headers=gov.as_("rev-ann"))
    assert resp.status_code == 409 and resp.json()["rule"] == "binding_changed"
    shown = gov.get(doc["id"])
    assert shown["state"] == "open" and live(shown) == []
    assert shown["binding"]["champion_version"] == 3
    champion = gov.client.get("/models/ranker/champion", headers=gov.as_("test-viewer")).json()
    assert champion["version"] == 3


def test_requests_expire_by_the_core_clock(gov: Gov, clock: SimulatedClock) -> None:
    gov.policy(FAST_POLICY.replace("expires_after: P7D", "expires_after: 2h"))
    doc = gov.open(gov.register())
    other = gov.open(gov.register())
    gov.decide(doc["id"], "rev-ann")
    clock.advance(timedelta(hours=2, seconds=1))
    resp = gov.decide(doc["id"], "rev-bob")
    assert resp.status_code == 409 and resp.json()["rule"] == "not_expired"
    assert gov.get(doc["id"])["state"] == "expired"  # the expiry itself is kept
    assert expire_due(gov.db) == 1 and gov.get(other["id"])["state"] == "expired"
    gov.db.commit()
    expired = gov.audit("promotion.request.expired")
    assert {e["object_id"] for e in expired} == {doc["id"], other["id"]}
    assert {e["actor"] for e in expired} == {"driftgate (expiry)"}
    again = gov.decide(doc["id"], "rev-cy")
    assert again.status_code == 409 and again.json()["rule"] == "terminal_state"


def test_promotion_moves_the_champion_and_rollback_restores_the_previous_one(gov: Gov) -> None:
    v1, v2 = gov.register(), gov.register()
    gov.crown(v1)
    doc = gov.open(v2)
    early = gov.client.post(f"/promotion-requests/{doc['id']}/promote", headers=gov.as_("rev-ann"))
    assert early.status_code == 409 and early.json()["rule"] == "state"
    gov.decide(doc["id"], "rev-ann")
    gov.decide(doc["id"], "rev-bob")
    viewer = gov.client.post(
        f"/promotion-requests/{doc['id']}/promote", headers=gov.as_("test-viewer")
    )
    assert viewer.status_code == 403
    done = gov.client.post(
        f"/promotion-requests/{doc['id']}/promote", headers=gov.as_("test-producer")
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "promoted" and done.json()["previous_version"] == v1
    assert done.json()["bake_state"] is None  # the fast policy has no bake period
    champion = gov.client.get("/models/ranker/champion", headers=gov.as_("test-viewer")).json()
    assert champion["version"] == v2 and champion["set_by"] == "test-producer"
    again = gov.client.post(
        f"/promotion-requests/{doc['id']}/promote", headers=gov.as_("test-admin")
    )
    assert again.status_code == 409 and again.json()["rule"] == "terminal_state"

    url = "/models/ranker/rollback"
    for who in ("test-viewer", "test-producer"):
        assert gov.client.post(url, json={"reason": "x"}, headers=gov.as_(who)).status_code == 403
    for body, field, rule in [
        ({}, "reason", "missing"),
        ({"reason": ""}, "reason", "string_too_short"),
        ({"reason": "x", "to_version": 1}, "to_version", "extra_forbidden"),
        ({"reason": "x", "from_version": 0}, "from_version", "greater_than_equal"),
    ]:
        resp = gov.client.post(url, json=body, headers=gov.as_("rev-cy"))
        assert resp.status_code == 422 and (resp.json()["field"], resp.json()["rule"]) == (
            field,
            rule,
        )
    moved = gov.client.post(
        url, json={"reason": "x", "from_version": v1}, headers=gov.as_("rev-cy")
    )
    assert moved.status_code == 409 and moved.json()["rule"] == "is_current_champion"
    back = gov.client.post(
        url, json={"reason": "CTR dropped", "from_version": v2}, headers=gov.as_("rev-cy")
    )
    assert back.status_code == 200, back.text
    assert (back.json()["from_version"], back.json()["to_version"], back.json()["by"]) == (
        v2,
        v1,
        "rev-cy",
    )
    champion = gov.client.get("/models/ranker/champion", headers=gov.as_("test-viewer")).json()
    assert champion["version"] == v1
    none_left = gov.client.post(url, json={"reason": "again"}, headers=gov.as_("test-admin"))
    assert none_left.status_code == 409 and none_left.json()["rule"] == "has_previous_champion"
    rollbacks = gov.audit("model.champion.rollback")
    assert [
        (e["actor"], e["payload"]["before"], e["payload"]["after"]["version"]) for e in rollbacks
    ] == [("rev-cy", {"version": v2}, v1)]
    assert gov.client.get("/audit/verify", headers=gov.as_("test-viewer")).json()["intact"]


def test_rollback_walks_back_through_promotions_not_forward(gov: Gov) -> None:
    v1, v2, v3 = gov.register(), gov.register(), gov.register()
    gov.crown(v1)
    for v in (v2, v3):
        doc = gov.open(v)
        gov.decide(doc["id"], "rev-ann")
        gov.decide(doc["id"], "rev-bob")
        assert (
            gov.client.post(
                f"/promotion-requests/{doc['id']}/promote", headers=gov.as_("test-admin")
            ).status_code
            == 200
        )
    steps = []
    for _ in range(2):
        resp = gov.client.post(
            "/models/ranker/rollback", json={"reason": "undo"}, headers=gov.as_("rev-ann")
        )
        steps.append((resp.json()["from_version"], resp.json()["to_version"]))
    assert steps == [(v3, v2), (v2, v1)]


def test_auto_promote_promotes_when_the_quorum_is_reached(gov: Gov) -> None:
    gov.policy(FAST_POLICY + "auto_promote: true\n")
    gov.crown(gov.register())
    doc = gov.open(gov.register())
    gov.decide(doc["id"], "rev-ann")
    done = gov.decide(doc["id"], "rev-bob").json()
    assert done["state"] == "promoted" and done["promoted_by"] == "rev-bob"
    assert gov.audit("promotion.request.promoted")[-1]["payload"]["auto"] is True


def test_withdrawal_is_for_the_requester_or_an_admin(gov: Gov) -> None:
    doc = gov.open(gov.register())
    other = gov.person("other-producer", "producer")
    url = f"/promotion-requests/{doc['id']}/withdraw"
    resp = gov.client.post(url, json={"reason": "not mine"}, headers=other)
    assert resp.status_code == 403 and resp.json()["rule"] == "requester_or_admin"
    assert gov.client.post(url, json={}, headers=gov.as_("test-producer")).status_code == 422
    ok = gov.client.post(url, json={"reason": "found a bug"}, headers=gov.as_("test-admin"))
    assert ok.status_code == 200 and ok.json()["state"] == "withdrawn"


def test_a_bake_that_holds_can_be_confirmed_by_a_person_and_a_newer_champion_supersedes_it(
    gov: Gov,
) -> None:
    from governance.bake import guard

    gov.policy(FAST_POLICY.replace("bake: {enabled: false}", "bake: {duration: 1h}"))
    v1, v2, v3 = gov.register(), gov.register(), gov.register()
    gov.crown(v1)
    rids = []
    for v in (v2, v3):
        doc = gov.open(v, who="test-admin")
        gov.decide(doc["id"], "rev-ann")
        gov.decide(doc["id"], "rev-bob")
        promoted = gov.client.post(
            f"/promotion-requests/{doc['id']}/promote", headers=gov.as_("rev-ann")
        )
        assert promoted.json()["bake_state"] == "baking"
        rids.append(doc["id"])
        if v == v2:
            status = gov.client.get(
                f"/promotion-requests/{doc['id']}/bake", headers=gov.as_("test-viewer")
            )
            assert status.status_code == 200 and status.json()["verdict"] == "baking"
            signals = {s["name"]: s["status"] for s in status.json()["signals"]}
            assert set(signals.values()) == {"no_data"}, signals  # nothing vouches yet
    outcome = guard.guard_once(gov.db, stats=None)
    gov.db.commit()
    assert gov.get(rids[0])["bake_state"] == "superseded" and outcome.holding == []
    url = f"/promotion-requests/{rids[1]}/bake/confirm"
    assert (
        gov.client.post(url, json={"reason": "x"}, headers=gov.as_("test-producer")).status_code
        == 403
    )
    own = gov.client.post(url, json={"reason": "looks fine"}, headers=gov.as_("test-admin"))
    assert own.status_code == 403 and own.json()["rule"] == "requester_cannot_confirm"
    assert gov.client.post(url, json={}, headers=gov.as_("rev-cy")).status_code == 422
    ok = gov.client.post(
        url, json={"reason": "dashboards clean for a day"}, headers=gov.as_("rev-cy")
    )
    assert ok.status_code == 200 and ok.json()["bake_state"] == "confirmed"
    again = gov.client.post(url, json={"reason": "again"}, headers=gov.as_("rev-cy"))
    assert again.status_code == 409 and again.json()["rule"] == "baking"
    history = gov.client.get("/models/ranker/history", headers=gov.as_("test-viewer")).json()
    text = "\n".join(e["summary"] for e in history)
    assert "confirmed by rev-cy: dashboards clean for a day" in text and "superseded" in text
