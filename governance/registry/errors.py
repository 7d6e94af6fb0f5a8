"""Registry errors: the model or version does not exist, or the registration is not acceptable."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, InvalidInput, NotFound


class ModelNotFound(NotFound):
    type_slug = "model-not-found"


class ModelVersionNotFound(NotFound):
    type_slug = "model-version-not-found"


class ArtifactMismatch(InvalidInput):
    """The artifact named in a registration is missing or does not hash to the given sha256."""

    type_slug = "artifact-mismatch"


class TrainingDataMismatch(InvalidInput):
    """A training batch named in a registration does not exist or is not what it claims."""

    type_slug = "training-data-mismatch"


class ArtifactAlreadyRegistered(Conflict):
    type_slug = "artifact-already-registered"


class ChampionNeedsAdmin(Forbidden):
    type_slug = "champion-needs-admin"


class NoPreviousChampion(Conflict):
    type_slug = "no-previous-champion"
