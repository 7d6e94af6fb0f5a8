"""Document every problem response in OpenAPI: `application/problem+json`, per route, truthfully.

FastAPI documents only the 422 of its own validator, as `application/json` with a schema our
handlers never send. A client generator or a fuzzer reading the document then treats every
401, 404 or 413 as undocumented. This module rewrites each operation's error responses from
what the route can actually produce:

- every route: 400 (malformed URL or body), 413 (body over its route's limit), 500;
- a route with a security requirement: 401, 429 (rate limits), 503 (database unavailable);
  one restricted to some roles: 403;
- a route with path parameters: 404 (nothing with that id); with any parameter or body: 422;
- a route's own `responses=` (e.g. 409, 415, 503) keep their description, with problem content.

Statuses that depend on what a service does rather than on the route's shape (409 on a state
conflict, 404 for an unknown name given in a query) are declared next to the route with
`responses=`; `EXTRA_STATUSES` here lists the ones of routes whose decorators this module's
owner does not edit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import _get_api_route_for_openapi

from api.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "An RFC 9457 problem document; `field` and `rule` name what was wrong.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "`urn:driftgate:problem:<slug>`."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path."},
        "field": {"type": "string", "description": "The input at fault."},
        "rule": {"type": "string", "description": "The rule it broke."},
        "errors": {
            "type": "array",
            "description": "Every error found, when there are several.",
            "items": {"type": "object"},
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "Malformed input: the URL or body cannot be parsed.",
    401: "No token, or an unknown or revoked one.",
    403: "The token's role may not do this.",
    404: "Nothing with that id or name.",
    405: "Method not allowed.",
    409: "Conflicts with the current state.",
    413: "The body is over this route's size limit.",
    415: "Unsupported Content-Type.",
    422: "Well-formed, but breaks a rule (the problem names the field and the rule).",
    429: "Too many requests.",
    500: "A bug; logged, no details given.",
    503: "Not available right now.",
}

ALWAYS = (400, 413, 500)

# Statuses a service raises on routes declared outside `api/` (method, path) → statuses.
EXTRA_STATUSES: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/tokens"): (404, 409),  # unknown principal; name taken
    ("POST", "/principals"): (409,),
    ("POST", "/batches"): (404, 409, 415),  # unknown contract; key in flight; format
    ("GET", "/batches"): (404,),
    ("GET", "/lineage/impact"): (404,),
    ("GET", "/lineage/graph"): (404,),
    ("GET", "/lineage/columns"): (404,),
    ("GET", "/lineage/provenance"): (404,),
    ("GET", "/api/v1/lineage"): (404,),
    ("GET", "/api/v1/column-lineage"): (404,),
    ("POST", "/api/v1/lineage"): (401, 403, 415),  # the route reads the token itself
    ("GET", "/monitors/drift"): (404,),
    ("GET", "/monitors/drift/report"): (404,),
    ("GET", "/monitors/quality"): (404,),
    ("GET", "/monitors/references"): (404,),
    ("POST", "/monitors/references"): (404,),
    ("GET", "/monitors/references/active"): (404,),
    ("POST", "/slos"): (404, 409),
    ("POST", "/monitors/sinks"): (409,),
    ("GET", "/promotion-requests"): (404,),
    ("POST", "/contracts"): (409,),
    ("POST", "/contracts/{contract_id}/versions"): (409,),
    ("POST", "/contracts/{contract_id}/versions/{version}/deprecate"): (409,),
    ("POST", "/models/{name}/versions"): (409,),
}


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that documents problem responses (built once, cached)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            document_problems(schema, app.routes)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_problems(schema: dict[str, Any], routes: Iterable[Any]) -> None:
    """Add problem responses to every operation of `schema` from the routes that serve it."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    # Included routers are nested (FastAPI >= 0.16x); walk them as FastAPI's own builder does.
    for context in routing.iter_route_contexts(list(routes)):
        route: Any = _get_api_route_for_openapi(context)  # an APIRoute, or a view of one
        if route is None or not route.include_in_schema:
            continue
        for method in route.methods:
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _document(operation, route, method, ref)
    _drop_unused_validation_schemas(schema)


def _document(operation: dict[str, Any], route: Any, method: str, ref: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = set(ALWAYS) | set(EXTRA_STATUSES.get((method, route.path_format), ()))
    statuses |= {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    if operation.get("security"):
        # Any token route: 429 past a rate limit (api.ratelimit), 503 while the database is
        # unavailable (api.problems).
        statuses |= {401, 429, 503}
    if _restricted(route.dependant):
        statuses.add(403)
    if route.dependant.path_params:
        statuses.add(404)
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    for status in sorted(statuses):
        entry = responses.setdefault(str(status), {})
        if status == 422 or "description" not in entry or not entry["description"]:
            entry["description"] = DESCRIPTIONS.get(status, "Problem.")
        entry["content"] = {PROBLEM_MEDIA_TYPE: {"schema": ref}}


def _restricted(dependant: Dependant) -> bool:
    """Whether a `require(...)` dependency in the tree admits fewer than every role."""
    return any(getattr(call, "restricted", False) for call in _calls(dependant))


def _calls(dependant: Dependant) -> Iterable[Callable[..., Any]]:
    stack = [dependant]
    while stack:
        node = stack.pop()
        if node.call is not None:
            yield node.call
        stack.extend(node.dependencies)


def _drop_unused_validation_schemas(schema: dict[str, Any]) -> None:
    """FastAPI's own 422 schemas are referenced nowhere once every 422 is a problem."""
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # the second is used by the first
        if f"#/components/schemas/{name}'" not in repr(schema.get("paths", {})) + repr(
            {k: v for k, v in components.items() if k != name}
        ):
            components.pop(name, None)
