"""A small typed client of driftgate's REST API: the dashboard's only way to reach driftgate.

It knows URLs and JSON, nothing of driftgate's packages, so the dashboard can run on another
machine than the API. Every request carries the signed-in person's own token, so the API
authorizes and audits that person; a refusal becomes an `ApiError` holding the problem
document (RFC 9457), whose message is what the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import httpx

JSON = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """The parts of an RFC 9457 problem document a person needs to read."""

    status: int
    title: str
    detail: str
    field: str | None = None
    rule: str | None = None
    errors: list[JSON] = dataclass_field(default_factory=list)

    @property
    def message(self) -> str:
        """One line: the API's own words, then which field and rule it names."""
        where = ", ".join(
            f"{k} `{v}`" for k, v in (("field", self.field), ("rule", self.rule)) if v
        )
        text = f"{self.status} {self.title}: {self.detail}"
        return f"{text} ({where})" if where else text


class ApiError(Exception):
    """The API answered with an error status (or could not be reached)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class Me:
    """Who the token belongs to: the name the audit trail records, and the role."""

    name: str
    role: str
    token_name: str | None

    @property
    def can_review(self) -> bool:
        return self.role in ("reviewer", "admin")

    @property
    def can_produce(self) -> bool:
        return self.role in ("producer", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def problem_from(response: httpx.Response) -> Problem:
    """Read a problem document; a non-problem error body still becomes a readable problem."""
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        text = response.text.strip()[:300] or response.reason_phrase
        return Problem(status=response.status_code, title=response.reason_phrase, detail=text)
    return Problem(
        status=int(doc.get("status") or response.status_code),
        title=str(doc.get("title") or response.reason_phrase),
        detail=str(doc.get("detail") or ""),
        field=doc.get("field"),
        rule=doc.get("rule"),
        errors=list(doc.get("errors") or []),
    )


class DriftgateClient:
    """One person's connection to the API; pass it a token, never store it elsewhere."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never show the token, e.g. in an exception report
        return f"DriftgateClient({self.base_url!r})"

    # --- transport -------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = kwargs.pop("params", None)
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None and v != ""}
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                Problem(
                    status=0,
                    title="API unreachable",
                    detail=f"{type(exc).__name__} on {method} {path}",
                )
            ) from None
        if response.status_code >= 400:
            raise ApiError(problem_from(response))
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, params=params).json()

    def text(self, path: str, **params: Any) -> str:
        return self._send("GET", path, params=params).text

    def post(self, path: str, body: JSON | None = None, **params: Any) -> Any:
        return self._send("POST", path, json=body or {}, params=params).json()

    def patch(self, path: str, body: JSON) -> Any:
        return self._send("PATCH", path, json=body).json()

    def post_document(self, path: str, text: str, **params: Any) -> Any:
        """POST a YAML or JSON document as written (the API detects ODCS)."""
        kind = "application/json" if text.lstrip().startswith("{") else "application/yaml"
        return self._send(
            "POST", path, content=text.encode(), headers={"Content-Type": kind}, params=params
        ).json()

    # --- who and what ------------------------------------------------------------------------

    def health(self) -> JSON:
        return dict(self.get("/health"))

    def ready(self) -> JSON:
        """Readiness; a 503 is an answer here, not an error."""
        try:
            return dict(self.get("/ready"))
        except ApiError as exc:
            return {"status": "unavailable", "detail": exc.problem.detail}

    def me(self) -> Me:
        doc = self.get("/me")
        return Me(name=doc["name"], role=doc["role"], token_name=doc.get("token_name"))

    # --- writes (each one audited under the token's principal) ------------------------------

    def decide(self, request_id: str, decision: str, comment: str) -> JSON:
        return dict(
            self.post(
                f"/promotion-requests/{request_id}/approvals",
                {"decision": decision, "comment": comment},
            )
        )

    def promote(self, request_id: str) -> JSON:
        return dict(self.post(f"/promotion-requests/{request_id}/promote"))

    def rollback(self, model: str, reason: str) -> JSON:
        return dict(self.post(f"/models/{model}/rollback", {"reason": reason}))

    def register_contract(self, text: str, contract_id: str | None = None) -> JSON:
        path = f"/contracts/{contract_id}/versions" if contract_id else "/contracts"
        return dict(self.post_document(path, text))

    def contract_impact(self, contract_id: str, text: str) -> JSON:
        return dict(self.post_document(f"/contracts/{contract_id}/impact", text))

    def update_incident(self, incident_id: str, **changes: Any) -> JSON:
        body = {k: v for k, v in changes.items() if v is not None}
        return dict(self.patch(f"/incidents/{incident_id}", body))

    def note_incident(self, incident_id: str, note: str) -> JSON:
        return dict(self.post(f"/incidents/{incident_id}/timeline", {"note": note}))

    def draft_postmortem(self, incident_id: str) -> JSON:
        return dict(self.post(f"/incidents/{incident_id}/postmortem"))

    def update_postmortem(self, postmortem_id: str, changes: JSON) -> JSON:
        return dict(self.patch(f"/postmortems/{postmortem_id}", changes))

    def postmortem_step(self, postmortem_id: str, step: str) -> JSON:
        """`submit`, `publish` or `revisions` (amend a published one by a new draft)."""
        return dict(self.post(f"/postmortems/{postmortem_id}/{step}"))

    def update_action_item(self, item_id: str, status: str) -> JSON:
        return dict(self.patch(f"/action-items/{item_id}", {"status": status}))
