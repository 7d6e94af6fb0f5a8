"""Promotion fixtures.

- `gov` (function scope, inside the rolled-back test transaction): a real batch posted
  through the API (so its check run is in lineage), versions registered with small stand-in
  artifacts, extra reviewer tokens, and a policy without the model-scoring gates. Fast: no
  model is trained.
- `real` (tests/support/trained.py): this worker's clone of the run's trained champion and
  its three candidate versions, for the gates that score models, serving and the bake period.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR, Role, create_token
from core.settings import Settings
from ranker.feed import deliver
from ranker.ingest import ensure_contracts
from tests.support.trained import ORIGIN, Real, small_config

FAST_POLICY = """\
quorum: 2
expires_after: P7D
gates:
  metrics: {enabled: false}
  slices: {enabled: false}
bake: {enabled: false}
"""


@dataclass
class LoadableArtifact:
    """A real ranker artifact's payload, to write loadable stand-ins that differ by a note.

    The artifact gate loads every candidate the way serving does, so stand-ins must be real
    artifacts; a note in the payload makes each one a distinct file (a distinct sha256)."""

    payload: dict[str, Any]

    def to_bytes(self, payload: dict[str, Any] | None = None, *, note: str = "") -> bytes:
        from ranker import artifact

        body = {k: v for k, v in (payload or self.payload).items() if k != "format"}
        if note:
            body["note"] = note
        return artifact.to_bytes(body)


@dataclass
class Gov:
    """Drives the API the way people do, with one token per named person."""

    client: TestClient
    db: Session
    settings: Settings
    tokens: dict[str, str]
    batch: dict[str, Any] = field(default_factory=dict)
    artifact: LoadableArtifact | None = None
    _artifacts: int = 0

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def person(self, name: str, role: str) -> dict[str, str]:
        if name not in self.tokens:
            self.tokens[name] = create_token(
                self.db, CLI_OPERATOR, name=name, role=Role(role), prefix="dg_"
            )
            self.db.commit()
        return self.as_(name)

    def policy(self, yaml_text: str) -> dict[str, Any]:
        resp = self.client.put(
            "/promotion-policy",
            content=yaml_text,
            headers={**self.as_("test-admin"), "Content-Type": "application/yaml"},
        )
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    def register(
        self,
        who: str = "test-producer",
        content: bytes | None = None,
        training_data: list[dict[str, Any]] | None = None,
    ) -> int:
        self._artifacts += 1
        if content is None:
            note = f"stand-in {self._artifacts}"
            content = self.artifact.to_bytes(note=note) if self.artifact else note.encode()
        sha = hashlib.sha256(content).hexdigest()
        path = (self.settings.data_dir / "models" / "ranker" / f"{sha}.pt").resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        b = self.batch
        body = {
            "artifact_uri": path.as_uri(),
            "artifact_sha256": sha,
            "signature": {
                "inputs": [{"name": "x", "kind": "numeric", "dtype": "float32"}],
                "output": {"name": "p"},
            },
            "metrics": {"model": {"auc": 0.7 + self._artifacts / 1000}},
            "training_data": training_data
            if training_data is not None
            else [
                {
                    "batch_id": b["id"],
                    "contract_id": "impressions",
                    "contract_version": b["contract_version"],
                    "accepted_sha256": b["accepted_sha256"],
                    "rows_used": b["rows_accepted"],
                }
            ],
        }
        resp = self.client.post("/models/ranker/versions", json=body, headers=self.as_(who))
        assert resp.status_code == 201, resp.text
        return resp.json()["version"]  # type: ignore[no-any-return]

    def artifact_path(self, version: int) -> Path:
        from governance.registry import service

        row = service.get_version(self.db, "ranker", version)
        return Path(row.artifact_uri.removeprefix("file://"))

    def crown(self, version: int) -> None:
        resp = self.client.put(
            "/models/ranker/champion",
            json={"version": version, "reason": "baseline"},
            headers=self.as_("test-admin"),
        )
        assert resp.status_code == 200, resp.text

    def request(self, version: int, who: str = "test-producer", **body: Any) -> Any:
        return self.client.post(
            f"/models/ranker/versions/{version}/promotion-requests",
            json={"justification": "better on the last week", **body},
            headers=self.as_(who),
        )

    def open(self, version: int, who: str = "test-producer") -> dict[str, Any]:
        resp = self.request(version, who)
        assert resp.status_code == 201, resp.text
        return resp.json()  # type: ignore[no-any-return]

    def decide(self, request_id: str, who: str, decision: str = "approve", **extra: Any) -> Any:
        return self.client.post(
            f"/promotion-requests/{request_id}/approvals",
            json={"decision": decision, "comment": f"{who} looked", **extra},
            headers=self.as_(who),
        )

    def get(self, request_id: str) -> dict[str, Any]:
        resp = self.client.get(f"/promotion-requests/{request_id}", headers=self.as_("test-viewer"))
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    def audit(self, action: str) -> list[dict[str, Any]]:
        resp = self.client.get(
            f"/audit?action={action}&limit=1000", headers=self.as_("test-viewer")
        )
        return resp.json()  # type: ignore[no-any-return]


def post_batch(client: TestClient, headers: dict[str, str], frame: Any) -> dict[str, Any]:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    resp = client.post(
        "/batches?contract=impressions",
        content=buf.getvalue(),
        headers={**headers, "Content-Type": "application/vnd.apache.parquet"},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


def impressions_frame(hour: int = 0) -> Any:
    return next(
        b.frame
        for b in deliver(small_config(), ORIGIN, hour, hour + 1)
        if b.contract_id == "impressions"
    )


@pytest.fixture(scope="session")
def loadable_artifact(real: Real) -> LoadableArtifact:
    """The trained champion's payload, for loadable stand-in artifacts."""
    from governance.registry import service
    from ranker import artifact

    with real.sessions() as s:
        row = service.get_version(s, "ranker", real.champion)
        path = artifact.path_of(row.artifact_uri, real.data_dir)
        return LoadableArtifact(artifact.read(path, row.artifact_sha256))


@pytest.fixture
def gov(
    client: TestClient,
    db: Session,
    settings: Settings,
    tokens: dict[str, str],
    loadable_artifact: LoadableArtifact,
) -> Gov:
    ensure_contracts(db, CLI_OPERATOR)
    db.commit()
    g = Gov(
        client,
        db,
        settings,
        {f"test-{k}": v for k, v in tokens.items()},
        artifact=loadable_artifact,
    )
    g.batch = post_batch(client, g.as_("test-producer"), impressions_frame())
    g.person("rev-ann", "reviewer")
    g.person("rev-bob", "reviewer")
    g.person("rev-cy", "reviewer")
    g.policy(FAST_POLICY)
    return g
