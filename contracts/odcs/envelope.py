"""The contract around the schema: envelope checks, id, version, owner, description, dataset.

Everything ODCS says at the top level that driftgate does not model (servers, pricing, roles,
support channels, tenancy) is reported as ignored with the reason, never dropped silently.
"""

from __future__ import annotations

import re
from typing import Any

from contracts.odcs.draft import COMMON_WHY, Draft
from contracts.odcs.report import OdcsImportError
from contracts.semver import SemVer

# ASCII digits only, and `\Z` so a trailing newline is not silently accepted.
_API_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?\Z", re.ASCII)

_SHORT_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?\Z", re.ASCII)

_TOP_WHY = {
    **COMMON_WHY,
    "name": "driftgate contracts are identified by id, not by a display name",
    "status": "lifecycle status is not modelled; published driftgate versions are immutable",
    "tenant": "tenancy is not modelled",
    "servers": "driftgate validates the batches it is sent; it does not connect to servers",
    "support": "support channels are not modelled",
    "price": "pricing is not modelled",
    "roles": "access roles are not modelled; driftgate grants no access",
    "contractCreatedTs": "driftgate records its own creation time",
    "dataProduct": "data products are not modelled (used only as an owner fallback)",
    "quality": "ODCS v3 has no top-level quality; put rules under a schema object or property",
}

OBJECT_WHY = {
    **COMMON_WHY,
    "physicalType": "the storage kind (table, view, topic) does not change the checks",
    "dataGranularityDescription": "free-text granularity is not modelled",
    "relationships": "foreign keys span datasets; driftgate checks one batch at a time",
}


def check_envelope(document: Any) -> None:
    """Refuse documents that are not ODCS v3 data contracts before mapping anything."""
    if not isinstance(document, dict):
        raise OdcsImportError("(document)", "an ODCS document must be a mapping")
    api = document.get("apiVersion")
    if api is None:
        raise OdcsImportError("apiVersion", "is required (e.g. v3.0.2)")
    match = _API_VERSION.match(str(api).strip())
    if not match:
        raise OdcsImportError("apiVersion", f"{api!r} is not an ODCS version like v3.0.2")
    if match.group(1) != "3":
        raise OdcsImportError("apiVersion", f"only ODCS v3 documents are supported, got {api}")
    kind = document.get("kind")
    if not isinstance(kind, str) or kind.lower() != "datacontract":
        raise OdcsImportError("kind", f"must be DataContract, got {kind!r}")
    for key in ("id", "version"):
        if document.get(key) in (None, "") or isinstance(document.get(key), bool | list | dict):
            raise OdcsImportError(key, "is required and must be a string")
    schema = document.get("schema")
    if not isinstance(schema, list) or not schema:
        raise OdcsImportError("schema", "must be a non-empty list of schema objects")
    for i, obj in enumerate(schema):
        if not isinstance(obj, dict):
            raise OdcsImportError(f"schema[{i}]", "a schema object must be a mapping")


def object_names(schema: list[dict[str, Any]]) -> list[str]:
    return [
        str(o.get("name") or o.get("physicalName") or f"schema[{i}]") for i, o in enumerate(schema)
    ]


def find_object(schema: list[dict[str, Any]], schema_name: str) -> int:
    """The object whose `name` or `physicalName` is `schema_name`."""
    for i, obj in enumerate(schema):
        if schema_name in (obj.get("name"), obj.get("physicalName")):
            return i
    known = object_names(schema)
    raise OdcsImportError("schema", f"no object named {schema_name!r} (has {known})")


def use_object(draft: Draft, index: int, *, note_others: bool) -> dict[str, Any]:
    """driftgate contracts govern one dataset, so each ODCS schema object is one contract."""
    schema: list[dict[str, Any]] = draft.doc["schema"]
    if note_others:
        for i in range(len(schema)):
            if i != index:
                draft.report.note_ignored(
                    f"schema[{i}]",
                    "each schema object is its own contract; import it with its schema_name, "
                    "or the whole document without one",
                )
    obj = schema[index]
    props = obj.get("properties")
    if not isinstance(props, list) or not props:
        raise OdcsImportError(f"schema[{index}].properties", "must be a non-empty list")
    return obj


def document_columns(schema: list[dict[str, Any]]) -> dict[str, set[int]]:
    """Which objects carry each column (`name` or `physicalName`), to resolve SLA elements."""
    out: dict[str, set[int]] = {}
    for i, obj in enumerate(schema):
        for prop in obj.get("properties") or []:
            if isinstance(prop, dict):
                for key in ("name", "physicalName"):
                    if isinstance(prop.get(key), str):
                        out.setdefault(prop[key], set()).add(i)
    return out


def _slug(raw: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", raw.strip().lower()).strip("-_.")


def object_contract_id(document: dict[str, Any], index: int) -> str:
    """`<id>` for a one-object document; `<id>.<object name>` when there are several."""
    slug = _slug(str(document["id"]))[:100]
    if not slug:
        raise OdcsImportError("id", f"{document['id']!r} has no characters usable in a contract id")
    schema = document["schema"]
    if len(schema) == 1:
        return slug
    name = _slug(object_names(schema)[index])
    if not name:
        raise OdcsImportError(f"schema[{index}].name", "has no characters usable in a contract id")
    full = f"{slug}.{name}"
    if len(full) > 100:
        raise OdcsImportError(
            "id", f"{full!r} is longer than the 100 characters a contract id may have"
        )
    return full


def contract_id(draft: Draft, index: int) -> str:
    slug = object_contract_id(draft.doc, index)
    raw = str(draft.doc["id"])
    schema = draft.doc["schema"]
    if len(schema) > 1:
        key = "name" if schema[index].get("name") else "physicalName"
        draft.report.note_mapped(f"schema[{index}].{key}", "id", f"{raw!r} + object name")
    draft.report.note_mapped("id", "id", None if slug == raw else f"slugified from {raw!r}")
    return slug


def version(draft: Draft) -> str:
    """ODCS does not enforce semver, but driftgate orders versions by it."""
    raw = draft.doc["version"]
    text = str(raw).strip()
    text = text[1:] if text[:1] in ("v", "V") else text
    try:
        SemVer.parse(text)
    except ValueError:
        match = _SHORT_VERSION.match(text)
        if not match:
            raise OdcsImportError(
                "version", f"{raw!r} is not a version driftgate can order (use 1.2.3)"
            ) from None
        text = ".".join(str(int(part or 0)) for part in match.groups())
    note = None if text == str(raw) else f"normalized {raw!r} to semver {text!r}"
    draft.report.note_mapped("version", "version", note)
    return text


def owner(draft: Draft) -> str:
    """Prefer the team's name, then a current member whose role is owner."""
    team = draft.doc.get("team")
    if isinstance(team, dict) and isinstance(team.get("name"), str) and team["name"].strip():
        draft.report.note_mapped("team.name", "owner")
        draft.report.note_ignored("team", "members and team details are not modelled")
        return team["name"].strip()
    members = team.get("members") if isinstance(team, dict) else team
    members_path = "team.members" if isinstance(team, dict) else "team"
    for i, member in enumerate(members if isinstance(members, list) else []):
        if _is_current_owner(member):
            key = "username" if member.get("username") else "name"
            draft.report.note_mapped(f"{members_path}[{i}].{key}", "owner")
            draft.report.note_ignored("team", "other members and dates are not modelled")
            return str(member[key]).strip()
    for key in ("dataProduct", "domain"):
        value = draft.doc.get(key)
        if isinstance(value, str) and value.strip():
            draft.report.note_mapped(key, "owner", "no team owner given")
            if team is not None:
                draft.report.note_ignored("team", "no team name or current owner member")
            draft.owner_source = key
            return value.strip()
    draft.report.note_ignored(
        "team", "no owner in team, dataProduct or domain; owner set to 'unknown'"
    )
    return "unknown"


def _is_current_owner(member: Any) -> bool:
    if not isinstance(member, dict) or member.get("dateOut"):
        return False
    role = str(member.get("role", "")).lower()
    return "owner" in role and bool(member.get("username") or member.get("name"))


def description(draft: Draft, obj: dict[str, Any], base: str) -> str:
    """Contract-level purpose/usage/limitations first, then the object's own description."""
    parts: list[str] = []
    top = draft.doc.get("description")
    if isinstance(top, str) and top.strip():
        parts.append(top.strip())
        draft.report.note_mapped("description", "description")
    elif isinstance(top, dict):
        for key in ("purpose", "usage", "limitations"):
            if isinstance(top.get(key), str) and top[key].strip():
                parts.append(f"{key.capitalize()}: {top[key].strip()}")
                draft.report.note_mapped(f"description.{key}", "description")
        draft.leftovers(top, "description", {"purpose", "usage", "limitations"}, COMMON_WHY)
    if isinstance(obj.get("description"), str) and obj["description"].strip():
        parts.append(obj["description"].strip())
        draft.report.note_mapped(f"{base}.description", "description")
    return "\n\n".join(parts)


def dataset(draft: Draft, obj: dict[str, Any], base: str) -> dict[str, str]:
    key = "physicalName" if obj.get("physicalName") else "name"
    if not obj.get(key):
        raise OdcsImportError(f"{base}.name", "a schema object needs a name")
    dataset = {"name": str(obj[key])}
    draft.report.note_mapped(f"{base}.{key}", "dataset.name")
    if key == "physicalName" and obj.get("name") not in (None, obj["physicalName"]):
        draft.report.note_ignored(
            f"{base}.name", "physicalName names the dataset; name only resolves SLA elements"
        )
    domain = draft.doc.get("domain")
    if isinstance(domain, str) and domain.strip():
        dataset["namespace"] = domain.strip()
        draft.report.note_mapped("domain", "dataset.namespace")
    return dataset


def top_leftovers(draft: Draft) -> None:
    used = {"apiVersion", "kind", "id", "version", "description", "schema", "domain", "team"}
    used |= {"slaProperties", "slaDefaultElement"}
    used.add(draft.owner_source)
    draft.leftovers(draft.doc, "", used, _TOP_WHY)
