"""Attacks on the approvals API, each of which once got a ranker version served without the
gates or the people the policy asks for. Every test here failed on the code before its fix.

1. forged lineage: a producer rewrites driftgate's own check run to hide a quarantine;
2. two approved promotions race and both move the champion;
3. one person approves twice through two tokens (or through principals they created);
4. an approval outlives a change of the evidence it saw (a new contract version);
5. an artifact that does not load passes its gate, or makes the gates answer 500.
"""

# ruff: noqa: F811  (pytest fixtures imported from tests/governance/conftest.py)
from __future__ import annotations

import copy
import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from core.auth import CLI_OPERATOR, Role, create_token
from core.settings import Settings
from lineage.routes import PRODUCER_ROLES, authorize_producer, lineage_writer
from lineage.writer import GroupCommitWriter
from ranker.ingest import ensure_contracts
from tests.governance.conftest import (  # noqa: F401 (fixtures)
    FAST_POLICY,
    Gov,
    gov,
    impressions_frame,
    loadable_artifact,
    post_batch,
)
from tests.support.servers import serve

LINEAGE = "/api/v1/lineage"


@pytest.fixture
def app(app: Any, db: Any) -> Iterator[Any]:
    """The app of tests/conftest.py; lineage ingest writes into the test's session."""
    writer = GroupCommitWriter(lambda: db, authorize_producer, roles=PRODUCER_ROLES)
    writer.start()
    app.dependency_overrides[lineage_writer] = lambda: writer
    yield app
    writer.stop()


def _gate(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(g for g in doc["gates"] if g["name"] == name)


def _problem(resp: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert resp.status_code in statuses, (resp.status_code, resp.text)
    assert resp.headers["content-type"] == "application/problem+json", resp.headers
    return resp.json()  # type: ignore[no-any-return]


# --- 1. forged lineage ------------------------------------------------------------------------


def _quarantining_batch(gov: Gov, share: float = 0.3) -> dict[str, Any]:
    """A batch whose `share` of rows break the contract (position out of range)."""
    frame = impressions_frame(hour=1)
    bad = int(frame.height * share)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < bad)
        .then(pl.lit(99, dtype=frame.schema["position"]))
        .otherwise(pl.col("position"))
        .alias("position")
    )
    batch = post_batch(gov.client, gov.as_("test-producer"), frame)
    assert batch["rows_quarantined"] == bad and bad / batch["rows_received"] > 0.25, batch
    return batch


def _check_run(gov: Gov, batch_id: str) -> tuple[str, dict[str, Any]]:
    """driftgate's own check run of a batch, and its batchCheck facet."""
    row = gov.db.execute(
        text(
            """
            SELECT r.run_uuid, f.facet FROM lineage_dataset_versions v
            JOIN lineage_runs r ON r.run_uuid = v.producer_run_uuid
            JOIN lineage_facets f ON f.owner_kind = 'run' AND f.owner_id = r.id
                                  AND f.name = 'batchCheck'
            WHERE v.version = :batch
            """
        ),
        {"batch": batch_id},
    ).first()
    assert row is not None
    return str(row.run_uuid), row.facet


def _forged_check(run_id: str, facet: dict[str, Any], *, job_namespace: str) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2030-01-01T00:00:00Z",
        "producer": "https://example.com/forger",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {
            "runId": run_id,
            "facets": {
                "batchCheck": {
                    **facet,
                    "status": "accepted",
                    "rowsAccepted": facet["rowsReceived"],
                    "rowsQuarantined": 0,
                }
            },
        },
        "job": {"namespace": job_namespace, "name": "checks.validate.impressions"},
        "inputs": [],
        "outputs": [],
    }


def _open_on_batch(gov: Gov, batch: dict[str, Any]) -> dict[str, Any]:
    gov.batch = batch
    return gov.open(gov.register())


def test_forged_check_run_is_refused_and_the_gate_reads_driftgates_own_batch_record(
    gov: Gov,
) -> None:
    batch = _quarantining_batch(gov)
    req = _open_on_batch(gov, batch)
    assert _gate(req, "training_data")["status"] == "failed"
    run_id, facet = _check_run(gov, batch["id"])

    forged = _forged_check(run_id, facet, job_namespace="driftgate")
    refused = _problem(gov.client.post(LINEAGE, json=forged, headers=gov.as_("test-producer")), 403)
    assert refused["rule"] == "reserved_namespace" and refused["field"] == "$.job.namespace"
    # The same run id under another namespace is another job's run: refused as well.
    elsewhere = _forged_check(run_id, facet, job_namespace="etl")
    other = _problem(
        gov.client.post(LINEAGE, json=elsewhere, headers=gov.as_("test-producer")), 422
    )
    assert other["rule"] == "run_belongs_to_one_job"

    regated = gov.client.post(
        f"/promotion-requests/{req['id']}/gates", headers=gov.as_("test-admin")
    )
    assert regated.status_code == 200, regated.text
    gate = _gate(regated.json(), "training_data")
    assert gate["status"] == "failed" and gate["blocking"]
    facts = gate["details"]["batches"][0]
    assert facts["rows_quarantined"] == batch["rows_quarantined"]
    assert facts["source"] == "checks.batches"


def test_forged_check_run_through_the_router_is_refused_too(app, gov: Gov) -> None:
    """Behind a root_path, ingest is served by the router's declared route, not the
    middleware in front of it; the namespace rule holds there as well."""
    batch = _quarantining_batch(gov)
    run_id, facet = _check_run(gov, batch["id"])
    forged = _forged_check(run_id, facet, job_namespace="driftgate")
    with TestClient(app, root_path="/dg", raise_server_exceptions=False) as prefixed:
        resp = prefixed.post("/dg" + LINEAGE, json=forged, headers=gov.as_("test-producer"))
        anonymous = prefixed.post("/dg" + LINEAGE, json=forged)
    assert _problem(resp, 403)["rule"] == "reserved_namespace"
    assert anonymous.status_code == 401  # who you are is still checked before what you sent


def test_outside_jobs_may_still_read_driftgate_datasets(gov: Gov) -> None:
    """The rule is about driftgate's jobs and runs; a downstream job reading its datasets is
    ordinary lineage."""
    event = _forged_check(str(uuid.uuid4()), {"rowsReceived": 1}, job_namespace="etl")
    event["job"]["name"] = "warehouse.load"
    event["run"]["facets"] = {}
    event["inputs"] = [{"namespace": "driftgate", "name": "contracts/impressions/accepted"}]
    resp = gov.client.post(LINEAGE, json=event, headers=gov.as_("test-producer"))
    assert resp.status_code == 201, resp.text


# --- 2. two promotions racing -------------------------------------------------------------------


@dataclass
class Served:
    url: str
    settings: Settings
    tokens: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def served(committed_db: str, tmp_path: Path, loadable_artifact: Any) -> Iterator[Served]:
    """The real app under uvicorn on a committed database, with reviewers and a batch."""
    from api.app import create_app

    settings = Settings.model_validate(
        {
            "data_dir": tmp_path / "data",
            "monitor_runner": False,
            "ranker_serving": False,
            "governance_bake_guard": False,
        }
    )
    engine = create_engine(committed_db)
    with engine.begin() as conn:
        from sqlalchemy.orm import Session

        s = Session(bind=conn)
        ensure_contracts(s, CLI_OPERATOR)
        tokens = {
            name: create_token(s, CLI_OPERATOR, name=name, role=Role(role), prefix="dg_")
            for name, role in [
                ("test-admin", "admin"),
                ("test-producer", "producer"),
                ("test-viewer", "viewer"),
                ("rev-ann", "reviewer"),
            ]
        }
        s.flush()
    engine.dispose()
    with serve(create_app(settings, database_url=committed_db)) as base:
        yield Served(base, settings, tokens)


def _approved_pair(served: Served, loadable_artifact: Any, *, crown: bool) -> list[str]:
    """Two approved requests (quorum 1) for versions 2 and 3 (v1 crowned when `crown`)."""
    with httpx.Client(base_url=served.url, timeout=60) as http:
        gov = Gov(http, None, served.settings, served.tokens, artifact=loadable_artifact)  # type: ignore[arg-type]
        gov.batch = post_batch(http, gov.as_("test-producer"), impressions_frame())  # type: ignore[arg-type]
        gov.policy(FAST_POLICY.replace("quorum: 2", "quorum: 1"))
        first = gov.register()
        if crown:
            gov.crown(first)
        ids = []
        for _ in range(2):
            req = gov.open(gov.register())
            assert gov.decide(req["id"], "rev-ann").status_code == 201
            assert gov.get(req["id"])["state"] == "approved"
            ids.append(req["id"])
    return ids


def _race_promotions(served: Served, committed_db: str, ids: list[str]) -> list[httpx.Response]:
    """Both promotions start while the test holds the champion table, so both are inside the
    promote step before either can move the champion; then the table is let go."""
    engine = create_engine(committed_db)
    results: list[httpx.Response | None] = [None, None]
    with engine.connect() as holder:
        holder.execute(text("LOCK TABLE model_aliases IN EXCLUSIVE MODE"))

        def promote(i: int) -> None:
            with httpx.Client(base_url=served.url, timeout=60) as http:
                results[i] = http.post(
                    f"/promotion-requests/{ids[i]}/promote", headers=served.as_("test-producer")
                )

        threads = [threading.Thread(target=promote, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        with engine.connect() as probe:
            while time.monotonic() < deadline:
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    )
                ).scalar()
                probe.rollback()  # pg_stat_activity is a snapshot per transaction
                if waiting == 2:
                    break
                time.sleep(0.05)
            activity = probe.execute(
                text(
                    "SELECT state, wait_event_type, wait_event, left(query, 120) FROM "
                    "pg_stat_activity WHERE datname = current_database()"
                )
            ).all()
            done = [(r.status_code, r.text[:300]) for r in results if r is not None]
            assert waiting == 2, f"both promotions should be waiting on a lock: {activity} {done}"
        holder.rollback()  # let go of the table
    for t in threads:
        t.join(60)
    engine.dispose()
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def _champion_moves(committed_db: str) -> list[tuple[int | None, int]]:
    engine = create_engine(committed_db)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT previous_version, version FROM champion_changes "
                "WHERE via = 'promote' ORDER BY id"
            )
        ).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


@pytest.mark.slow
def test_two_approved_promotions_racing_move_the_champion_once(
    served: Served, committed_db: str, loadable_artifact: Any
) -> None:
    ids = _approved_pair(served, loadable_artifact, crown=True)
    results = _race_promotions(served, committed_db, ids)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert _problem(loser, 409)["rule"] == "binding_changed"
    moves = _champion_moves(committed_db)
    assert len(moves) == 1 and moves[0][0] == 1, moves


@pytest.mark.slow
def test_two_promotions_racing_for_a_model_without_champion_give_409_not_500(
    served: Served, committed_db: str, loadable_artifact: Any
) -> None:
    ids = _approved_pair(served, loadable_artifact, crown=False)
    results = _race_promotions(served, committed_db, ids)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [(r.status_code, r.text) for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert _problem(loser, 409)["rule"] == "binding_changed"
    moves = _champion_moves(committed_db)
    assert len(moves) == 1 and moves[0][0] is None, moves


# --- 3. separation of duties by principal -------------------------------------------------------


def _mint(gov: Gov, name: str, role: str, *, principal: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "role": role}
    if principal is not None:
        body["principal"] = principal
    resp = gov.client.post("/tokens", json=body, headers=gov.as_("test-admin"))
    assert resp.status_code == 201, resp.text
    gov.tokens[name] = resp.json()["token"]
    return resp.json()["token"]  # type: ignore[no-any-return]


def test_an_admin_cannot_approve_their_own_request_through_reviewer_tokens_of_their_own(
    gov: Gov,
) -> None:
    req = gov.open(gov.register(), who="test-admin")
    _mint(gov, "admin-as-reviewer-1", "reviewer", principal="test-admin")
    _mint(gov, "admin-as-reviewer-2", "reviewer", principal="test-admin")
    for token in ("admin-as-reviewer-1", "admin-as-reviewer-2"):
        body = _problem(gov.decide(req["id"], token), 403)
        assert body["rule"] == "requester_cannot_approve"
    assert gov.get(req["id"])["state"] == "open"
    refusals = gov.audit("promotion.approval.refused")
    assert {e["payload"]["token"] for e in refusals} >= {
        "admin-as-reviewer-1",
        "admin-as-reviewer-2",
    }


def test_an_admin_cannot_approve_through_principals_or_tokens_they_created(gov: Gov) -> None:
    """Minting fresh identities is how the attack was first done: their decisions on the
    minting admin's own request do not count."""
    req = gov.open(gov.register(), who="test-admin")
    _mint(gov, "sock-puppet-1", "reviewer")  # a new principal of the same name
    resp = gov.client.post(
        "/principals",
        json={"name": "sock-puppet-2", "kind": "person"},
        headers=gov.as_("test-admin"),
    )
    assert resp.status_code == 201, resp.text
    _mint(gov, "sock-puppet-2-token", "reviewer", principal="sock-puppet-2")
    for token in ("sock-puppet-1", "sock-puppet-2-token"):
        body = _problem(gov.decide(req["id"], token), 403)
        assert body["rule"] == "issuer_cannot_approve"
    assert gov.get(req["id"])["state"] == "open"


def test_two_tokens_of_one_reviewer_count_once_toward_the_quorum(gov: Gov) -> None:
    _mint(gov, "ann-laptop", "reviewer", principal="rev-ann")
    req = gov.open(gov.register())
    assert gov.decide(req["id"], "rev-ann").status_code == 201
    again = _problem(gov.decide(req["id"], "ann-laptop"), 409)
    assert again["rule"] == "decides_once"
    doc = gov.get(req["id"])
    assert doc["state"] == "open" and doc["approvals_live"] == 1
    assert gov.decide(req["id"], "rev-bob").status_code == 201
    assert gov.get(req["id"])["state"] == "approved"


def test_lineage_posted_with_a_second_token_is_received_from_its_principal(gov: Gov) -> None:
    _mint(gov, "producer-laptop", "producer", principal="test-producer")
    run_id = str(uuid.uuid4())
    event = _forged_check(run_id, {"rowsReceived": 1}, job_namespace="etl")
    event["job"]["name"], event["run"]["facets"] = "warehouse.copy", {}
    resp = gov.client.post(LINEAGE, json=event, headers=gov.as_("producer-laptop"))
    assert resp.status_code == 201, resp.text
    received_by = gov.db.execute(
        text("SELECT received_by FROM lineage_events WHERE run_uuid = :run"), {"run": run_id}
    ).scalar()
    assert received_by == "test-producer"
    ingested = [e for e in gov.audit("lineage.event.ingest") if e["object_id"] == run_id]
    assert [e["actor"] for e in ingested] == ["test-producer"]


def test_principals_are_created_by_admins_and_audited(gov: Gov) -> None:
    body = {"name": "deploy-bot", "kind": "service"}
    refused = gov.client.post("/principals", json=body, headers=gov.as_("rev-ann"))
    assert _problem(refused, 403)["rule"] == "role"
    created = gov.client.post("/principals", json=body, headers=gov.as_("test-admin"))
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "test-admin"
    dup = gov.client.post("/principals", json=body, headers=gov.as_("test-admin"))
    assert _problem(dup, 409)["rule"] == "unique"
    unknown = gov.client.post(
        "/tokens",
        json={"name": "t", "role": "viewer", "principal": "nobody"},
        headers=gov.as_("test-admin"),
    )
    assert _problem(unknown, 404)["field"] == "principal"
    events = gov.audit("principal.create")
    assert any(e["object_id"] == "deploy-bot" for e in events)
    _mint(gov, "deploy-bot-ci", "producer", principal="deploy-bot")
    tokens = gov.audit("token.create")
    minted = next(e for e in tokens if e["object_id"] == "deploy-bot-ci")
    assert minted["payload"]["after"]["principal"] == "deploy-bot"


def test_the_override_path_is_policy_controlled(gov: Gov) -> None:
    gov.policy(FAST_POLICY + "override: {enabled: false}\n")
    gov.batch = _quarantining_batch(gov)
    req = gov.open(gov.register())
    assert "training_data" in req["blocking_gates"]
    body = {"gates": ["training_data"], "reason": "we know, the batch is fine"}
    refused = gov.client.post(
        f"/promotion-requests/{req['id']}/override", json=body, headers=gov.as_("test-admin")
    )
    assert _problem(refused, 403)["rule"] == "override_enabled"

    gov.policy(FAST_POLICY + "override: {enabled: true, second_principal: true}\n")
    req = gov.client.post(f"/promotion-requests/{req['id']}/gates", headers=gov.as_("test-admin"))
    req = req.json()
    gov.person("admin-two", "admin")
    first = gov.client.post(
        f"/promotion-requests/{req['id']}/override", json=body, headers=gov.as_("test-admin")
    )
    assert first.status_code == 200, first.text
    assert first.json()["override"]["confirmed"] is False
    # Not in force yet: approval is still blocked.
    blocked = _problem(gov.decide(req["id"], "rev-ann"), 409)
    assert blocked["rule"] == "gates_passed"
    same = gov.client.post(
        f"/promotion-requests/{req['id']}/override", json=body, headers=gov.as_("test-admin")
    )
    assert _problem(same, 403)["rule"] == "second_principal"
    second = gov.client.post(
        f"/promotion-requests/{req['id']}/override", json=body, headers=gov.as_("admin-two")
    )
    assert second.status_code == 200, second.text
    assert second.json()["override"]["confirmed"] is True
    assert gov.decide(req["id"], "rev-ann").status_code == 201


def test_the_break_glass_path_is_policy_controlled_and_needs_a_reason(gov: Gov) -> None:
    first, second = gov.register(), gov.register()
    gov.crown(first)
    no_reason = gov.client.put(
        "/models/ranker/champion", json={"version": second}, headers=gov.as_("test-admin")
    )
    assert _problem(no_reason, 422)["field"] == "reason"
    gov.policy(FAST_POLICY + "break_glass: {enabled: false}\n")
    off = gov.client.put(
        "/models/ranker/champion",
        json={"version": second, "reason": "pager says so"},
        headers=gov.as_("test-admin"),
    )
    assert _problem(off, 403)["rule"] == "break_glass_enabled"

    gov.policy(FAST_POLICY + "break_glass: {enabled: true, second_principal: true}\n")
    gov.person("admin-two", "admin")
    body = {"version": second, "reason": "v1 serves garbage, v2 is known good"}
    proposed = gov.client.put("/models/ranker/champion", json=body, headers=gov.as_("test-admin"))
    assert proposed.status_code == 202, proposed.text
    assert (
        gov.client.get("/models/ranker/champion", headers=gov.as_("test-viewer")).json()["version"]
        == first
    )
    same = gov.client.put("/models/ranker/champion", json=body, headers=gov.as_("test-admin"))
    assert _problem(same, 403)["rule"] == "second_principal"
    confirmed = gov.client.put("/models/ranker/champion", json=body, headers=gov.as_("admin-two"))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["version"] == second


# --- 4. approvals bound to the evidence ----------------------------------------------------------


def test_a_new_contract_version_voids_approvals(gov: Gov) -> None:
    req = gov.open(gov.register())
    assert gov.decide(req["id"], "rev-ann").status_code == 201
    assert gov.decide(req["id"], "rev-bob").status_code == 201
    assert gov.get(req["id"])["state"] == "approved"

    spec = gov.client.get(
        "/contracts/impressions/versions/1.2.0?format=yaml", headers=gov.as_("test-viewer")
    ).json()["spec"]
    spec["version"] = "1.3.0"
    spec["fields"].append({"name": "experiment", "type": "string"})
    added = gov.client.post(
        "/contracts/impressions/versions", json=spec, headers=gov.as_("test-admin")
    )
    assert added.status_code == 201, added.text

    promoted = gov.client.post(
        f"/promotion-requests/{req['id']}/promote", headers=gov.as_("test-producer")
    )
    assert _problem(promoted, 409)["rule"] == "binding_changed"
    doc = gov.get(req["id"])
    assert doc["state"] == "open" and doc["approvals_live"] == 0
    assert all(a["void_reason"] and "evidence" in a["void_reason"] for a in doc["approvals"])


# --- 5. artifacts that do not load ----------------------------------------------------------------


def test_an_artifact_that_is_not_a_pickle_fails_its_gate_with_the_reason(gov: Gov) -> None:
    req = gov.request(gov.register(content=b"\x80\x04definitely not a torch file"))
    assert req.status_code == 201, req.text
    gate = _gate(req.json(), "artifact")
    assert gate["status"] == "failed" and gate["blocking"]
    assert "does not load" in gate["summary"] and gate["details"]["error"]


def test_an_artifact_with_wrong_shapes_fails_its_gate(gov: Gov, loadable_artifact: Any) -> None:
    payload = copy.deepcopy(loadable_artifact.payload)
    key = next(k for k in payload["state_dict"] if k.endswith(".weight"))
    import torch

    payload["state_dict"][key] = torch.zeros(3, 3)
    req = gov.request(gov.register(content=loadable_artifact.to_bytes(payload)))
    assert req.status_code == 201, req.text
    gate = _gate(req.json(), "artifact")
    assert gate["status"] == "failed" and gate["blocking"], gate
    assert "size mismatch" in gate["details"]["error"] or "shape" in gate["details"]["error"]


def test_unreadable_champion_and_candidate_never_answer_500(gov: Gov) -> None:
    """With the model-scoring gates on, an artifact that does not unpickle is a gate result."""
    gov.policy(FAST_POLICY.replace("  metrics: {enabled: false}\n", ""))
    champion = gov.register(content=b"PK\x03\x04 broken zip")
    gov.crown(champion)
    resp = gov.request(gov.register(content=b"\x80\x05garbage"))
    assert resp.status_code == 201, resp.text
    assert _gate(resp.json(), "artifact")["status"] == "failed"
    assert _gate(resp.json(), "metrics")["status"] in ("failed", "not_evaluated")


def test_the_default_policy_blocks_not_evaluated_artifact_and_training_data_gates(
    gov: Gov,
) -> None:
    from governance.promotions.gate_verdicts import NOT_EVALUATED, GateResult, finalize
    from governance.promotions.policy_document import DEFAULT_POLICY_YAML, parse_policy

    default = gov.client.get("/promotion-policy/versions/0", headers=gov.as_("test-viewer"))
    gates = default.json()["document"]["gates"]
    assert gates["artifact"]["on_not_evaluated"] == "block"
    assert gates["training_data"]["on_not_evaluated"] == "block"
    for policy in (parse_policy(DEFAULT_POLICY_YAML), parse_policy("quorum: 2")):
        for name in ("artifact", "training_data"):
            verdict = finalize(GateResult(name, NOT_EVALUATED, "cannot tell"), policy)
            assert verdict.blocking, (name, policy)
        assert not finalize(GateResult("incidents", NOT_EVALUATED, "?"), policy).blocking


def test_sha256_of_stand_ins_differ(loadable_artifact: Any) -> None:
    """The fixture's loadable stand-ins are distinct artifacts (distinct hashes)."""
    a, b = loadable_artifact.to_bytes(note="a"), loadable_artifact.to_bytes(note="b")
    assert hashlib.sha256(a).hexdigest() != hashlib.sha256(b).hexdigest()
