"""Contract errors. "The contract itself is invalid" is kept apart from "a batch violates it"."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, MalformedInput, NotFound


class ContractNotFound(NotFound):
    type_slug = "contract-not-found"


class ContractVersionNotFound(NotFound):
    type_slug = "contract-version-not-found"


class ContractExists(Conflict):
    type_slug = "contract-exists"


class VersionNotIncreasing(Conflict):
    type_slug = "version-not-increasing"


class IncompatibleChange(Conflict):
    """A new version breaks the contract's compatibility mode without a major bump."""

    title = "Incompatible contract change"
    type_slug = "incompatible-change"


class InvalidContractSpec(InvalidInput):
    """The contract document does not describe a valid contract."""

    title = "Invalid contract"
    type_slug = "invalid-contract"


class UnreadableContractDocument(MalformedInput):
    type_slug = "unreadable-contract-document"
