"""Moving the champion alias: one function for every path (admin set, promotion, rollback,
automatic rollback), so each move locks the alias, is audited, and lands in the champion
history that rollback walks back through."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal
from core.clock import utcnow
from governance.registry import repository
from governance.registry.errors import ModelNotFound, ModelVersionNotFound, NoPreviousChampion
from governance.registry.models import ChampionChange, ModelAlias, ModelVersion

Via = Literal["set", "promote", "rollback", "auto_rollback"]
ACTIONS: dict[str, str] = {
    "set": "model.champion.set",
    "promote": "model.champion.promote",
    "rollback": "model.champion.rollback",
    "auto_rollback": "model.champion.rollback",
}


def _version(session: Session, name: str, version: int) -> ModelVersion:
    if repository.get_model(session, name) is None:
        raise ModelNotFound(f"no model {name!r}", field="name")
    row = repository.get_version(session, name, version)
    if row is None:
        raise ModelVersionNotFound(f"model {name!r} has no version {version}", field="version")
    return row


def move_champion(
    session: Session,
    actor: Principal,
    *,
    name: str,
    version: int,
    via: Via,
    reason: str = "",
    request_id: uuid.UUID | None = None,
) -> ModelAlias:
    """Point `champion` at `version` under a row lock; a no-op when it already points there."""
    target = _version(session, name, version)
    alias = repository.lock_champion(session, name)
    previous = alias.version if alias else None
    if alias is not None and previous == version:
        return alias
    now = utcnow()
    if alias is None:
        alias = ModelAlias(model_name=name, alias=repository.CHAMPION, version=version)
        session.add(alias)
    alias.version, alias.reason, alias.set_at, alias.set_by = version, reason, now, actor.name
    change = ChampionChange(
        model_name=name,
        version=version,
        previous_version=previous,
        via=via,
        request_id=request_id,
        actor=actor.name,
        reason=reason,
        at=now,
    )
    session.add(change)
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action=ACTIONS[via],
        object_type="model",
        object_id=name,
        before={"version": previous} if previous is not None else None,
        after={"version": version, "artifact_sha256": target.artifact_sha256},
        reason=reason,
        via=via,
        request_id=str(request_id) if request_id else None,
    )
    _lineage(session, actor, change, target.artifact_sha256)
    return alias


def _lineage(session: Session, actor: Principal, change: ChampionChange, sha256: str) -> None:
    """One `governance.promote` run: read `models/<name>#v`, wrote `champion/<name>`.

    The champion's dataset version is `<model version>@<change id>`, not the bare model
    version: lineage keeps the earliest production time of a version, so a rollback to an
    earlier version must be a new version to become the latest one (which is how monitors
    find the champion's training data). The links carry the model version itself.
    """
    from lineage import emit, naming

    links = {naming.MODEL_NAME: change.model_name, naming.MODEL_VERSION: str(change.version)}
    emit.record_run(
        session,
        actor,
        job=naming.PROMOTE_JOB,
        inputs=[
            emit.DatasetRef(
                None, naming.model(change.model_name), version=str(change.version), links=links
            )
        ],
        outputs=[
            emit.DatasetRef(
                None,
                naming.champion(change.model_name),
                version=f"{change.version}@{change.id}",
                links=links,
            )
        ],
        run_facets={
            "championChange": emit.facet(
                "urn:driftgate:lineage:facets:ChampionChangeRunFacet:1-0-0",
                via=change.via,
                previousVersion=change.previous_version,
                artifactSha256=sha256,
                promotionRequest=str(change.request_id) if change.request_id else None,
                reason=change.reason,
            )
        },
        links={**links, "champion_change": str(change.id)},
    )


def champion_stack(session: Session, name: str) -> list[int]:
    """Champions in the order they took over, with rolled-back ones popped off.

    Replays the champion history: a set or a promotion pushes its version, a rollback pops
    the version it rolled away from. The last element is the champion; the one below it is
    where a rollback goes.
    """
    stack: list[int] = []
    for change in repository.champion_changes(session, name):
        version, via = change.version, change.via
        if via in ("rollback", "auto_rollback"):
            while stack and stack[-1] != version:
                stack.pop()
            if not stack:
                stack.append(version)
        else:
            stack.append(version)
    return stack


def rollback_target(session: Session, name: str) -> tuple[int, int]:
    """(current champion, the champion before it), with the alias row locked."""
    alias = repository.lock_champion(session, name)
    stack = champion_stack(session, name)
    if alias is not None and (not stack or stack[-1] != alias.version):
        stack.append(alias.version)  # a champion set before the history existed
    below = [v for v in stack[:-1] if alias is None or v != alias.version]
    if alias is None or not below:
        raise NoPreviousChampion(
            f"model {name!r} has no previous champion to roll back to",
            field="name",
            rule="has_previous_champion",
        )
    return alias.version, below[-1]
