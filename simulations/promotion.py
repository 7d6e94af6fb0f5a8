"""The bad promotion: a candidate that ranks backwards is registered, a policy whose metrics
gate was loosened lets it through, two reviewers approve it and it is promoted, all through
the promotion API. The bake guard is then expected to see its served scores shift (and its
realized AUC fall) and roll back to the previous champion within the bake window.
"""

from __future__ import annotations

import copy
from typing import Any

from core.auth import Principal, Role
from core.db import unit_of_work
from simulations.driver import Driver
from simulations.world import Template

# The root cause the postmortem should find: a metrics gate loosened until it judges nothing.
LOOSE_POLICY = """\
quorum: 2
gates:
  metrics: {margins: {auc: 0.9}}
  slices: {enabled: false}
  error_budget: {enabled: false}
bake:
  duration: PT2H
  min_requests: 20
  min_predictions: 500
  max_latency_p99_ms: 60000
"""
ML_ENGINEER = Principal(name="ml-engineer", role=Role.producer)


def register_backwards_candidate(driver: Driver, template: Template) -> int:
    """A copy of the champion whose last layer is negated: same shapes, reversed ranking."""
    from governance.registry import service
    from governance.registry.schemas import ModelVersionCreate
    from ranker import artifact

    with unit_of_work(driver.sessions) as s:
        row = service.get_version(s, "ranker", template.champion)
        payload = artifact.read(
            artifact.path_of(row.artifact_uri, driver.settings.data_dir), row.artifact_sha256
        )
        signature, metrics, training, params = (
            row.signature,
            row.metrics,
            row.training_data,
            row.params,
        )
    derived: dict[str, Any] = copy.deepcopy(payload)
    derived.pop("format", None)
    weights = derived["state_dict"]
    last = max(k for k in weights if k.startswith("mlp.") and k.endswith(".weight"))
    weights[last].mul_(-1.0)
    derived["note"] = "simulation: backwards"
    stored = artifact.write(derived, data_dir=driver.settings.data_dir, model_name="ranker")
    body = ModelVersionCreate(
        artifact_uri=stored.uri,
        artifact_sha256=stored.sha256,
        signature=signature,
        metrics=metrics,
        training_data=training,
        params=params,
        description="retrained ranker (simulated bad promotion)",
    )
    with unit_of_work(driver.sessions) as s:
        version = service.register_version(
            s, ML_ENGINEER, name="ranker", body=body, data_dir=driver.settings.data_dir
        ).version
    return int(version)


def promote_worse_candidate(driver: Driver, template: Template) -> dict[str, Any]:
    """Policy, request, two approvals, promotion: the API calls a team would make."""
    version = register_backwards_candidate(driver, template)
    c = driver.client
    _ok(c.put("/promotion-policy", content=LOOSE_POLICY, headers=driver.as_("sim-admin")))
    opened = _ok(
        c.post(
            f"/models/ranker/versions/{version}/promotion-requests",
            json={"justification": "retrained on fresher data"},
            headers=driver.as_("ml-engineer"),
        )
    )
    for who in ("reviewer-ann", "reviewer-bob"):
        _ok(
            c.post(
                f"/promotion-requests/{opened['id']}/approvals",
                json={"decision": "approve", "comment": "gates green"},
                headers=driver.as_(who),
            )
        )
    done = _ok(
        c.post(f"/promotion-requests/{opened['id']}/promote", headers=driver.as_("ml-engineer"))
    )
    driver.result.notes.append(f"promoted ranker v{version} (request {opened['id']})")
    return done


def _ok(resp: Any) -> Any:
    if resp.status_code >= 400:
        raise RuntimeError(f"{resp.request.method} {resp.request.url.path}: {resp.text[:400]}")
    return resp.json()
