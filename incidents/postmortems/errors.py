"""Errors of postmortems; each maps once to a problem document with its status."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound


class PostmortemNotFound(NotFound):
    type_slug = "postmortem-not-found"


class ActionItemNotFound(NotFound):
    type_slug = "action-item-not-found"


class IncidentNotFound(NotFound):
    """The postmortem's incident does not exist (read here, not through the incidents core)."""

    type_slug = "incident-not-found"


class PostmortemExists(Conflict):
    """The incident already has a draft or in-review revision: edit that one (its id is in
    the problem's `postmortem_id`), or amend a published one through its revisions."""

    type_slug = "postmortem-exists"


class PostmortemPublished(Conflict):
    """A published revision never changes: amend it with `POST /postmortems/{id}/revisions`."""

    type_slug = "postmortem-published"


class IllegalPostmortemTransition(Conflict):
    """The step does not apply to the revision's status (submit a draft, publish one in review,
    revise a published one that is the newest revision)."""

    type_slug = "illegal-postmortem-transition"


class ActionItemSuperseded(Conflict):
    """The item belongs to a revision a newer one replaced: change the newest revision's item."""

    type_slug = "action-item-superseded"


class IncompletePostmortem(InvalidInput):
    """Publishing needs the narrative a reader relies on (summary, root causes, resolution)."""

    type_slug = "incomplete-postmortem"


class InvalidActionItems(InvalidInput):
    """The action items list names an item not of this revision, or one item twice."""

    type_slug = "invalid-action-items"
