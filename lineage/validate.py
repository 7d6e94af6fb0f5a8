"""Validate a posted document against the OpenLineage schema and name the JSON path of each error.

Valid events take the fast path (a validator compiled by fastjsonschema, ~0.25 ms for a realistic
event); only invalid ones are walked again with `jsonschema`, which lists every error with its
JSON path. Both use the same schema (the fast one with its conditionals rewritten into an
equivalent form, `spec.without_conditionals`) and the same format checks.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

from core.safe_parse import check_json_depth
from lineage.errors import InvalidLineageEvent, UnreadableLineageEvent
from lineage.spec import event_kind, event_schemas, without_conditionals

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_ERRORS = 20


def parse_event_time(value: str) -> datetime:
    """ISO 8601 with a time part; a missing offset means UTC (as openlineage-python allows)."""
    if "t" not in value.lower():
        raise ValueError("date-time needs a time part")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parse_event_time(value)
    except ValueError:
        return False
    return True


def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(_UUID.match(value))


_FORMATS = {"date-time": _is_date_time, "uuid": _is_uuid}


@cache
def _fast_validators() -> dict[str, Any]:
    import fastjsonschema

    return {
        kind: fastjsonschema.compile(without_conditionals(schema), formats=_FORMATS)
        for kind, schema in event_schemas().items()
    }


@cache
def _detailed_validators() -> dict[str, Any]:
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    for name, check in _FORMATS.items():
        checker.checks(name)(check)
    return {
        kind: jsonschema.Draft202012Validator(schema, format_checker=checker)
        for kind, schema in event_schemas().items()
    }


def warm_up() -> None:
    """Compile the validators now rather than on the first event (~0.2 s)."""
    _fast_validators()
    _detailed_validators()


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not valid JSON")


def _finite(literal: str) -> float:
    number = float(literal)
    if math.isinf(number):  # 1e999: valid JSON, but no float (nor JSONB) holds it
        raise ValueError(f"the number {literal} is out of range")
    return number


def parse_body(raw: bytes) -> Any:
    """JSON with no NaN/Infinity and no number out of float range (JSONB refuses them).

    Nesting past `core.safe_parse.MAX_DEPTH` is refused (422) before parsing: the gzip body
    is only seen here, after decoding, and every walk after `json.loads` recurses.
    """
    check_json_depth(raw, field="$")
    try:
        return json.loads(raw, parse_constant=_refuse, parse_float=_finite)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableLineageEvent(
            f"the body is not valid JSON: {exc}", field="$", rule="json"
        ) from None


def validate_event(document: Any, *, check_nul: bool = True) -> str:
    """Return the event kind (RunEvent, DatasetEvent, JobEvent) or raise naming every error.

    `check_nul=False` skips the NUL walk when the caller already knows the raw JSON has no
    escaped NUL (`\\u0000`); raw NUL bytes never survive `json.loads`.
    """
    if not isinstance(document, dict):
        raise InvalidLineageEvent("an OpenLineage event is a JSON object", field="$", rule="type")
    kind = event_kind(document)
    import fastjsonschema

    try:
        _fast_validators()[kind](document)
    except fastjsonschema.JsonSchemaValueException as fast_error:
        _raise_detailed(kind, document, fast_error)
    nul = _nul_path(document, "$") if check_nul else None
    if nul:
        raise InvalidLineageEvent(
            f"{nul}: text must not contain NUL characters", field=nul, rule="no_nul"
        )
    return kind


def _raise_detailed(kind: str, document: dict[str, Any], fast_error: Any) -> None:
    import jsonschema

    found = sorted(
        _detailed_validators()[kind].iter_errors(document), key=jsonschema.exceptions.relevance
    )
    errors = [_describe(e) for e in found[:MAX_ERRORS]]
    if not errors:  # the validators disagree only on exotic input; report the fast one
        path = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in fast_error.path[1:]
        )
        errors = [{"field": path, "rule": fast_error.rule, "message": fast_error.message}]
    first = errors[0]
    raise InvalidLineageEvent(
        f"not a valid OpenLineage {kind}: {first['field']}: {first['message']}",
        field=first["field"],
        rule=first["rule"],
        errors=errors,
        extra={"event_kind": kind},
    )


def _describe(error: Any) -> dict[str, str]:
    path = error.json_path
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        if missing:
            path = f"{path}.{missing[0]}"
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return {"field": path, "rule": str(error.validator), "message": message}


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if "\x00" in k:
                return path
            found = _nul_path(v, f"{path}.{k}")
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_path(v, f"{path}[{i}]")
            if found:
                return found
    return None
