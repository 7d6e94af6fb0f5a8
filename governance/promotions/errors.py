"""Errors of promotion governance; each maps once to a problem document with its status."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, InvalidInput, MalformedInput, NotFound


class UnreadablePolicy(MalformedInput):
    """The policy body is not YAML/JSON at all (HTTP 400)."""

    type_slug = "unreadable-policy"


class InvalidPolicy(InvalidInput):
    """The policy parses but breaks a rule (HTTP 422)."""

    type_slug = "invalid-policy"


class PolicyVersionNotFound(NotFound):
    type_slug = "policy-version-not-found"


class PromotionRequestNotFound(NotFound):
    type_slug = "promotion-request-not-found"


class PromotionRequestExists(Conflict):
    """The version already has an open (or approved, not yet promoted) request."""

    type_slug = "promotion-request-exists"


class AlreadyChampion(Conflict):
    type_slug = "already-champion"


class RequestClosed(Conflict):
    """The request is in a terminal state (or not in the state this step needs)."""

    type_slug = "promotion-request-closed"


class RequestExpired(Conflict):
    type_slug = "promotion-request-expired"


class AlreadyDecided(Conflict):
    type_slug = "approval-already-decided"


class GatesFailed(Conflict):
    """A blocking gate failed and no admin has overridden it."""

    type_slug = "gates-failed"


class BindingChanged(Conflict):
    """The artifact, metrics, policy or champion changed since approval: approvals are void."""

    type_slug = "approval-binding-changed"


class SeparationOfDuties(Forbidden):
    type_slug = "separation-of-duties"


class InvalidOverride(InvalidInput):
    type_slug = "invalid-override"


class ChampionMoved(Conflict):
    """The champion is no longer the version the caller meant to roll back."""

    type_slug = "champion-moved"
