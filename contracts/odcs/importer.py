"""Import Open Data Contract Standard (ODCS) v3 documents as driftgate contract documents.

ODCS describes much more than driftgate checks (servers, pricing, roles, SQL and vendor quality
rules, lineage), so the import is lossy by design. Everything carried over is listed in
`ImportReport.mapped` and everything dropped is listed in `ImportReport.ignored` with the reason,
so nobody mistakes an imported contract for a faithful copy of the ODCS one.

Both v3.0.x (`rule:`, boolean `exclusiveMinimum`, `team` as a list, timestamps as
`logicalType: date` + a timestamp `physicalType`) and v3.1 (`metric:` + `arguments`, numeric
exclusive bounds, `team` as an object, `logicalType: timestamp`) spellings are read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from contracts.durations import parse_duration
from contracts.semver import SemVer
from contracts.spec import NAME_PATTERN, FieldSpec


class OdcsImportError(ValueError):
    """The document cannot be imported at all; `path` names the offending ODCS element."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass
class ImportReport:
    """What the import carried over (`source -> target`) and what it dropped, with reasons."""

    mapped: list[str] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)

    def note_mapped(self, source: str, target: str, note: str | None = None) -> None:
        self.mapped.append(f"{source} -> {target}" + (f" ({note})" if note else ""))

    def note_ignored(self, path: str, reason: str) -> None:
        self.ignored.append({"path": path, "reason": reason})

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


# Why each ODCS element that driftgate does not model is dropped, per level of the document.
_COMMON_WHY = {
    "tags": "tags are catalogue metadata; driftgate does not use them",
    "customProperties": "custom properties have no driftgate meaning",
    "authoritativeDefinitions": "links to external definitions are not modelled",
    "businessName": "business names are catalogue metadata",
    "id": "ODCS element ids have no driftgate equivalent",
}
_TOP_WHY = {
    **_COMMON_WHY,
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
_OBJECT_WHY = {
    **_COMMON_WHY,
    "physicalType": "the storage kind (table, view, topic) does not change the checks",
    "dataGranularityDescription": "free-text granularity is not modelled",
    "relationships": "foreign keys span datasets; driftgate checks one batch at a time",
}
_PROPERTY_WHY = {
    **_COMMON_WHY,
    "physicalType": "physical storage types are not checked; driftgate checks logical types",
    "examples": "sample values are documentation, not rules",
    "criticalDataElement": "criticality is not modelled",
    "partitioned": "partitioning is a storage concern",
    "partitionKeyPosition": "partitioning is a storage concern",
    "encryptedName": "encryption is not modelled",
    "transformSourceObjects": "lineage is not modelled",
    "transformLogic": "lineage is not modelled",
    "transformDescription": "lineage is not modelled",
    "relationships": "foreign keys span datasets; driftgate checks one batch at a time",
    "primaryKeyPosition": "position is only meaningful for a composite primary key",
    "items": "nested array items are not supported",
    "properties": "nested object properties are not supported",
}
_QUALITY_WHY = {
    **_COMMON_WHY,
    "name": "rule names are kept only for dataset-level rules",
    "description": "quality rule descriptions are not carried",
    "dimension": "quality dimensions are not modelled",
    "method": "quality methods are not modelled",
    "businessImpact": "business impact is not modelled",
    "schedule": "driftgate checks each batch on arrival; schedules do not apply",
    "scheduler": "driftgate checks each batch on arrival; schedules do not apply",
    "severity": "field rules take the field's severity; set it on the field after import",
    "unit": "unit not needed for this rule",
}
_SLA_WHY = {
    "driver": "SLA drivers are not modelled",
    "description": "SLA descriptions are not carried",
    "valueExt": "extended SLA values are not modelled",
    "scheduler": "driftgate checks freshness on each batch; schedules do not apply",
    "schedule": "driftgate checks freshness on each batch; schedules do not apply",
    "element": "cadence applies to the whole dataset; no element is needed",
    "id": "ODCS element ids have no driftgate equivalent",
}
_OPTION_WHY = {
    "format": "format hints (email, uuid, i32, date patterns) are not enforced",
    "multipleOf": "multipleOf has no driftgate equivalent",
    "timezone": "timezone handling is not declared in driftgate contracts",
    "defaultTimezone": "timezone handling is not declared in driftgate contracts",
}
_QUALITY_TYPE_WHY = {
    "text": "free-text quality expectations cannot be checked",
    "sql": "SQL quality queries target the source database; driftgate does not run them",
    "custom": "vendor-specific (custom engine) rules are not run by driftgate",
}
_METRIC_ALIASES = {
    "nullvalues": "null",
    "nullcheck": "null",
    "notnull": "null",
    "duplicatevalues": "duplicate",
    "duplicatecount": "duplicate",
    "uniquecheck": "duplicate",
    "invalidvalues": "invalid",
    "validvalues": "invalid",
    "rowcount": "row_count",
    "countcheck": "row_count",
}
_OPERATOR_ALIASES = {
    "mustBe": "eq",
    "mustNotBe": "ne",
    "mustBeGreaterThan": "gt",
    "mustBeGreaterOrEqualTo": "ge",
    "mustBeGreaterThanOrEqualTo": "ge",
    "mustBeLessThan": "lt",
    "mustBeLessOrEqualTo": "le",
    "mustBeLessThanOrEqualTo": "le",
    "mustBeBetween": "between",
    "mustNotBeBetween": "not_between",
}
_LOGICAL_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
_PHYSICAL_TYPES = {
    **dict.fromkeys(("varchar", "char", "text", "string", "nvarchar", "nchar", "uuid"), "string"),
    **dict.fromkeys(("character varying", "character", "clob"), "string"),
    **dict.fromkeys(
        ("int", "integer", "smallint", "bigint", "tinyint", "long", "short"), "integer"
    ),
    **dict.fromkeys(("int2", "int4", "int8", "int16", "int32", "int64", "serial"), "integer"),
    **dict.fromkeys(("float", "float4", "float8", "double", "double precision", "real"), "float"),
    **dict.fromkeys(("decimal", "numeric", "number"), "float"),
    **dict.fromkeys(("bool", "boolean"), "boolean"),
    "date": "date",
    **dict.fromkeys(("datetime", "datetime2", "timestamptz"), "timestamp"),
}
_PII_CLASSES = {"restricted", "confidential", "highly_confidential", "sensitive", "pii", "personal"}
_PII_CLASSES |= {"highly-confidential", "personal_data", "secret"}
_NON_PII_CLASSES = {"public", "internal", "general", "none", "unclassified", "non-sensitive"}
_PII_KEYS = {"pii", "ispii", "containspii", "personaldata", "personal_data"}
_SEVERITY = {"error": "reject", "critical": "reject", "fatal": "reject"}
_SEVERITY |= {"warning": "warn", "warn": "warn", "info": "warn"}
_LAG_PROPERTIES = {"latency", "ly", "freshness"}
_CADENCE_PROPERTIES = {"frequency", "fy"}
_UNIT_SECONDS = {
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "mn", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "week", "weeks"), 604800),
}
_CALENDAR_UNITS = {"y", "yr", "yrs", "year", "years", "mo", "mon", "month", "months"}
# ASCII digits only, and `\Z` so a trailing newline is not silently accepted.
_API_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?\Z", re.ASCII)
_SHORT_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?\Z", re.ASCII)
_RULE_ID = re.compile(r"^[A-Za-z0-9_.:+-]{1,200}\Z")
_NAME = re.compile(NAME_PATTERN)


def import_odcs(
    document: dict[str, Any], schema_name: str | None = None
) -> tuple[dict[str, Any], ImportReport]:
    """Map an ODCS v3 document onto a driftgate contract document.

    Returns a plain dict for `ContractSpec.model_validate` and a report of what was mapped and
    what was ignored. One ODCS schema object becomes the contract: `schema_name` (matched
    against `name` or `physicalName`) or else the first. Raises `OdcsImportError` naming the
    path when the document is structurally unusable.
    """
    _check_envelope(document)
    return _Importer(document).run(schema_name)


def _check_envelope(document: Any) -> None:
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


@dataclass
class _Range:
    """A threshold from ODCS comparison operators; bounds are None when open."""

    lo: float | None = None
    lo_strict: bool = False
    hi: float | None = None
    hi_strict: bool = False


class _Importer:
    """One import run: holds the report and the columns mapped so far for reference lookups."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        self.report = ImportReport()
        self.rules: list[dict[str, Any]] = []
        self.rule_ids: set[str] = set()
        self.fields: dict[str, dict[str, Any]] = {}
        self.columns: dict[str, str] = {}  # ODCS name or physicalName -> driftgate field name
        self.object_names: set[str] = set()
        self.owner_source = ""

    def run(self, schema_name: str | None) -> tuple[dict[str, Any], ImportReport]:
        index, obj = self._pick_object(schema_name)
        base = f"schema[{index}]"
        self.object_names = {str(obj[k]) for k in ("name", "physicalName", "id") if obj.get(k)}
        spec: dict[str, Any] = {
            "id": self._contract_id(),
            "version": self._version(),
            "owner": self._owner(),
        }
        description = self._description(obj, base)
        if description:
            spec["description"] = description
        spec["dataset"] = self._dataset(obj, base)
        self._properties(obj, base)
        self._object_quality(obj.get("quality"), f"{base}.quality")
        spec["fields"] = list(self.fields.values())
        if self.rules:
            spec["dataset_rules"] = self.rules
        freshness = self._freshness()
        if freshness:
            spec["freshness"] = freshness
        used = {"name", "physicalName", "description", "properties", "quality", "logicalType"}
        self._leftovers(obj, base, used, _OBJECT_WHY)
        self._top_leftovers()
        return spec, self.report

    # -- contract envelope ---------------------------------------------------------------

    def _pick_object(self, schema_name: str | None) -> tuple[int, dict[str, Any]]:
        """driftgate contracts govern one dataset, so one ODCS schema object is imported."""
        schema: list[dict[str, Any]] = self.doc["schema"]
        index = 0
        if schema_name is not None:
            names = [{o.get("name"), o.get("physicalName")} for o in schema]
            matches = [i for i, n in enumerate(names) if schema_name in n]
            if not matches:
                known = sorted(str(o.get("name")) for o in schema)
                raise OdcsImportError("schema", f"no object named {schema_name!r} (has {known})")
            index = matches[0]
        for i in range(len(schema)):
            if i != index:
                self.report.note_ignored(
                    f"schema[{i}]",
                    "a driftgate contract governs one dataset; import it separately "
                    "with schema_name",
                )
        obj = schema[index]
        props = obj.get("properties")
        if not isinstance(props, list) or not props:
            raise OdcsImportError(f"schema[{index}].properties", "must be a non-empty list")
        return index, obj

    def _contract_id(self) -> str:
        raw = str(self.doc["id"])
        slug = re.sub(r"[^a-z0-9_.-]+", "-", raw.strip().lower()).strip("-_.")[:100]
        if not slug:
            raise OdcsImportError("id", f"{raw!r} has no characters usable in a contract id")
        self.report.note_mapped("id", "id", None if slug == raw else f"slugified from {raw!r}")
        return slug

    def _version(self) -> str:
        """ODCS does not enforce semver, but driftgate orders versions by it."""
        raw = self.doc["version"]
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
        self.report.note_mapped("version", "version", note)
        return text

    def _owner(self) -> str:
        """Prefer the team's name, then a current member whose role is owner."""
        team = self.doc.get("team")
        if isinstance(team, dict) and isinstance(team.get("name"), str) and team["name"].strip():
            self.report.note_mapped("team.name", "owner")
            self.report.note_ignored("team", "members and team details are not modelled")
            return team["name"].strip()
        members = team.get("members") if isinstance(team, dict) else team
        members_path = "team.members" if isinstance(team, dict) else "team"
        for i, member in enumerate(members if isinstance(members, list) else []):
            if self._is_current_owner(member):
                key = "username" if member.get("username") else "name"
                self.report.note_mapped(f"{members_path}[{i}].{key}", "owner")
                self.report.note_ignored("team", "other members and dates are not modelled")
                return str(member[key]).strip()
        for key in ("dataProduct", "domain"):
            value = self.doc.get(key)
            if isinstance(value, str) and value.strip():
                self.report.note_mapped(key, "owner", "no team owner given")
                if team is not None:
                    self.report.note_ignored("team", "no team name or current owner member")
                self.owner_source = key
                return value.strip()
        self.report.note_ignored(
            "team", "no owner in team, dataProduct or domain; owner set to 'unknown'"
        )
        return "unknown"

    @staticmethod
    def _is_current_owner(member: Any) -> bool:
        if not isinstance(member, dict) or member.get("dateOut"):
            return False
        role = str(member.get("role", "")).lower()
        return "owner" in role and bool(member.get("username") or member.get("name"))

    def _description(self, obj: dict[str, Any], base: str) -> str:
        """Contract-level purpose/usage/limitations first, then the object's own description."""
        parts: list[str] = []
        top = self.doc.get("description")
        if isinstance(top, str) and top.strip():
            parts.append(top.strip())
            self.report.note_mapped("description", "description")
        elif isinstance(top, dict):
            for key in ("purpose", "usage", "limitations"):
                if isinstance(top.get(key), str) and top[key].strip():
                    parts.append(f"{key.capitalize()}: {top[key].strip()}")
                    self.report.note_mapped(f"description.{key}", "description")
            self._leftovers(top, "description", {"purpose", "usage", "limitations"}, _COMMON_WHY)
        if isinstance(obj.get("description"), str) and obj["description"].strip():
            parts.append(obj["description"].strip())
            self.report.note_mapped(f"{base}.description", "description")
        return "\n\n".join(parts)

    def _dataset(self, obj: dict[str, Any], base: str) -> dict[str, str]:
        key = "physicalName" if obj.get("physicalName") else "name"
        if not obj.get(key):
            raise OdcsImportError(f"{base}.name", "a schema object needs a name")
        dataset = {"name": str(obj[key])}
        self.report.note_mapped(f"{base}.{key}", "dataset.name")
        if key == "physicalName" and obj.get("name") not in (None, obj["physicalName"]):
            self.report.note_ignored(
                f"{base}.name", "physicalName names the dataset; name only resolves SLA elements"
            )
        domain = self.doc.get("domain")
        if isinstance(domain, str) and domain.strip():
            dataset["namespace"] = domain.strip()
            self.report.note_mapped("domain", "dataset.namespace")
        return dataset

    def _top_leftovers(self) -> None:
        used = {"apiVersion", "kind", "id", "version", "description", "schema", "domain", "team"}
        used |= {"slaProperties", "slaDefaultElement"}
        used.add(self.owner_source)
        self._leftovers(self.doc, "", used, _TOP_WHY)

    def _leftovers(
        self, node: dict[str, Any], path: str, used: set[str], why: Mapping[str, str]
    ) -> None:
        """Report every key of `node` the import did not consume, so nothing is dropped silently."""
        for key in node:
            if key not in used:
                reason = why.get(key, "not part of the driftgate contract model")
                self.report.note_ignored(f"{path}.{key}" if path else key, reason)

    # -- fields ----------------------------------------------------------------------------

    def _properties(self, obj: dict[str, Any], base: str) -> None:
        primary: list[tuple[int, int, str]] = []
        for i, prop in enumerate(obj["properties"]):
            path = f"{base}.properties[{i}]"
            if not isinstance(prop, dict) or not prop.get("name"):
                raise OdcsImportError(path, "a property must be a mapping with a name")
            name = self._field(prop, path)
            if name and prop.get("primaryKey") is True:
                position = prop.get("primaryKeyPosition")
                position = position if isinstance(position, int) and position > 0 else 10**6
                primary.append((position, i, name))
        if not self.fields:
            raise OdcsImportError(f"{base}.properties", "no property could be imported")
        self._primary_key(sorted(primary), base)

    def _field(self, prop: dict[str, Any], path: str) -> str | None:
        """Map one property; returns the field name, or None when the property is ignored."""
        key = "physicalName" if prop.get("physicalName") else "name"
        name = str(prop[key])
        if name in self.fields:
            self.report.note_ignored(path, f"column {name!r} is declared twice")
            return None
        if not _NAME.match(name):
            self.report.note_ignored(
                path, f"{name!r} is not a driftgate field name ({NAME_PATTERN})"
            )
            return None
        typed = self._field_type(prop, path, name)
        if typed is None:
            return None
        out: dict[str, Any] = {"name": name, "type": typed[0]}
        self.report.note_mapped(f"{path}.{key}", f"fields.{name}.name")
        self.fields[name] = out
        self.columns.update({str(prop["name"]): name, name: name})
        used = {"name", "physicalName", "logicalType", "quality"} | typed[1]
        used |= self._flags(prop, path, out) | self._pii(prop, path, out)
        if isinstance(prop.get("description"), str) and prop["description"].strip():
            out["description"] = prop["description"].strip()
            self.report.note_mapped(f"{path}.description", f"fields.{name}.description")
            used.add("description")
        if "logicalTypeOptions" in prop:
            used.add("logicalTypeOptions")
            options_path = f"{path}.logicalTypeOptions"
            self._options(prop["logicalTypeOptions"], options_path, out, prop.get("logicalType"))
        self._property_quality(prop.get("quality"), f"{path}.quality", out)
        if key == "physicalName" and prop["name"] != prop["physicalName"]:
            self.report.note_ignored(
                f"{path}.name", "physicalName names the column; name only resolves references"
            )
        self._leftovers(prop, path, used, _PROPERTY_WHY)
        return name

    def _field_type(
        self, prop: dict[str, Any], path: str, name: str
    ) -> tuple[str, set[str]] | None:
        """The driftgate type and the keys it was read from; None when there is no equivalent."""
        logical = prop.get("logicalType")
        physical = str(prop.get("physicalType", "")).strip().lower().split("(")[0].strip()
        physical_type = (
            "timestamp" if physical.startswith("timestamp") else _PHYSICAL_TYPES.get(physical)
        )
        if logical is None:
            if physical_type is None:
                self.report.note_ignored(path, "no logicalType and no recognised physicalType")
                return None
            note = f"no logicalType; inferred {physical_type}"
            self.report.note_mapped(f"{path}.physicalType", f"fields.{name}.type", note)
            return physical_type, {"physicalType"}
        logical = str(logical).lower()
        if logical not in _LOGICAL_TYPES:
            reason = {
                "time": "time-of-day values have no driftgate type",
                "object": "nested objects are not supported; flatten them into columns",
                "array": "arrays are not supported; flatten them into columns",
            }.get(logical, f"unknown logicalType {logical!r}")
            self.report.note_ignored(path, reason)
            return None
        self.report.note_mapped(f"{path}.logicalType", f"fields.{name}.type")
        fmt = str((prop.get("logicalTypeOptions") or {}).get("format", ""))
        if logical == "date" and (physical_type == "timestamp" or "H" in fmt):
            note = "date with a timestamp physicalType/format; ODCS v3.0 has no timestamp type"
            self.report.note_mapped(f"{path}.physicalType", f"fields.{name}.type", note)
            return "timestamp", {"physicalType"}
        return _LOGICAL_TYPES[logical], set()

    def _flags(self, prop: dict[str, Any], path: str, out: dict[str, Any]) -> set[str]:
        name = out["name"]
        used: set[str] = set()
        for key in ("required", "unique"):
            if isinstance(prop.get(key), bool):
                out[key] = prop[key]
                used.add(key)
                self.report.note_mapped(f"{path}.{key}", f"fields.{name}.{key}")
        if isinstance(prop.get("primaryKey"), bool):
            used |= {"primaryKey", "primaryKeyPosition"} if prop["primaryKey"] else {"primaryKey"}
            if prop["primaryKey"]:
                out["required"] = True
                self.report.note_mapped(
                    f"{path}.primaryKey", f"fields.{name}.required", "key columns are not null"
                )
        return used

    def _primary_key(self, primary: list[tuple[int, int, str]], base: str) -> None:
        """A single key column is unique; a composite key is unique only in combination."""
        if len(primary) == 1:
            _, index, name = primary[0]
            self.fields[name]["unique"] = True
            self.report.note_mapped(
                f"{base}.properties[{index}].primaryKey", f"fields.{name}.unique"
            )
        elif len(primary) > 1:
            names = [name for _, _, name in primary]
            self._add_rule(
                {"kind": "unique_key", "fields": names},
                f"{base}.properties[*].primaryKey",
                "composite primary key, ordered by primaryKeyPosition",
            )

    def _pii(self, prop: dict[str, Any], path: str, out: dict[str, Any]) -> set[str]:
        """ODCS has no pii flag; classification, a pii custom property or tag stand in for it."""
        name, used = out["name"], set()
        level = prop.get("classification")
        if level is not None:
            used.add("classification")
            text = str(level).strip().lower()
            if text in _PII_CLASSES or text in _NON_PII_CLASSES:
                personal = text in _PII_CLASSES
                out["pii"] = out.get("pii", False) or personal
                note = f"{level!r} read as {'' if personal else 'not '}personal data"
                self.report.note_mapped(f"{path}.classification", f"fields.{name}.pii", note)
            else:
                self.report.note_ignored(
                    f"{path}.classification", f"classification {level!r} is not a known level"
                )
        custom = prop.get("customProperties")
        if isinstance(custom, list):
            used.add("customProperties")
            for j, item in enumerate(custom):
                self._custom_property(item, f"{path}.customProperties[{j}]", out)
        tags = prop.get("tags")
        if isinstance(tags, list) and any(str(t).lower() in _PII_KEYS for t in tags):
            used.add("tags")
            out["pii"] = True
            self.report.note_mapped(f"{path}.tags", f"fields.{name}.pii", "tagged pii")
        return used

    def _custom_property(self, item: Any, path: str, out: dict[str, Any]) -> None:
        key = str(item.get("property", "")) if isinstance(item, dict) else ""
        if key.lower() in _PII_KEYS:
            value = item.get("value")
            out["pii"] = out.get("pii", False) or value is True or str(value).lower() == "true"
            self.report.note_mapped(path, f"fields.{out['name']}.pii")
        else:
            self.report.note_ignored(path, f"custom property {key!r} has no driftgate meaning")

    # -- logicalTypeOptions ------------------------------------------------------------------

    def _options(self, options: Any, path: str, out: dict[str, Any], logical: Any) -> None:
        if not isinstance(options, dict):
            self.report.note_ignored(path, "logicalTypeOptions must be a mapping")
            return
        used: set[str] = set()
        if out["type"] in ("integer", "float", "date", "timestamp"):
            used |= self._bound(options, path, out, "min", "minimum", "exclusiveMinimum")
            used |= self._bound(options, path, out, "max", "maximum", "exclusiveMaximum")
        if out["type"] == "string":
            used |= self._text_options(options, path, out)
        if out["type"] == "timestamp" and logical == "date" and "H" in str(options.get("format")):
            used.add("format")  # it is what marked this v3.0 date as a timestamp
        for key in options:
            if key not in used:
                reason = _OPTION_WHY.get(key, f"does not apply to a {out['type']} field")
                self.report.note_ignored(f"{path}.{key}", reason)

    def _bound(
        self,
        options: dict[str, Any],
        path: str,
        out: dict[str, Any],
        side: str,
        incl: str,
        excl: str,
    ) -> set[str]:
        """v3.0 marks a bound exclusive with a boolean flag; v3.1 gives the exclusive value."""
        value, strict, source = _plain(options.get(incl)), False, incl
        flag = _plain(options.get(excl))
        if isinstance(flag, bool):
            strict = flag and value is not None
            if flag and value is None:
                self.report.note_ignored(f"{path}.{excl}", f"flag set but no {incl} given")
        elif flag is not None:
            if value is not None:
                self.report.note_ignored(
                    f"{path}.{incl}", f"both {incl} and {excl} given; {excl} is imported"
                )
            value, strict, source = flag, True, excl
        used = {k for k in (incl, excl) if k in options}
        if value is None:
            return used
        note = None
        if strict and out["type"] == "integer" and _is_number(value):
            value = math.floor(value) + 1 if side == "min" else math.ceil(value) - 1
            note = f"strict bound made inclusive as {value} (exact for integers)"
        elif out["type"] == "integer" and _is_number(value):
            value = math.ceil(value) if side == "min" else math.floor(value)
        elif strict:
            op = ">" if side == "min" else "<"
            self.report.note_ignored(
                f"{path}.{excl}",
                f"driftgate bounds are inclusive: {op} {value!r} approximated as "
                f"{op}= {value!r}, so {value!r} itself passes",
            )
            note = "approximated as inclusive"
        error = _probe(out["type"], **{side: value})
        if error:
            self.report.note_ignored(f"{path}.{source}", f"unusable bound: {error}")
            return used
        out[side] = value
        self.report.note_mapped(f"{path}.{source}", f"fields.{out['name']}.{side}", note)
        return used

    def _text_options(self, options: dict[str, Any], path: str, out: dict[str, Any]) -> set[str]:
        used: set[str] = set()
        for key, target in (("minLength", "min_length"), ("maxLength", "max_length")):
            if key in options:
                used.add(key)
                value = options[key]
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    out[target] = value
                    self.report.note_mapped(f"{path}.{key}", f"fields.{out['name']}.{target}")
                else:
                    self.report.note_ignored(f"{path}.{key}", "must be a non-negative integer")
        if "pattern" in options:
            used.add("pattern")
            self._pattern(options["pattern"], f"{path}.pattern", out)
        return used

    def _pattern(self, pattern: Any, path: str, out: dict[str, Any]) -> None:
        """ODCS patterns are ECMA-262; keep only those the polars regex engine accepts."""
        error = _probe("string", pattern=pattern) if isinstance(pattern, str) else "not a string"
        if error:
            self.report.note_ignored(path, f"pattern not usable: {error}")
            return
        out["pattern"] = pattern
        self.report.note_mapped(path, f"fields.{out['name']}.pattern")

    # -- quality -----------------------------------------------------------------------------

    def _quality_items(self, quality: Any, path: str) -> list[tuple[str, dict[str, Any], str]]:
        """Library rules as (path, item, metric); every other rule is reported as ignored."""
        if quality is None:
            return []
        if not isinstance(quality, list):
            self.report.note_ignored(path, "quality must be a list of rules")
            return []
        items = []
        for i, item in enumerate(quality):
            item_path = f"{path}[{i}]"
            if not isinstance(item, dict):
                self.report.note_ignored(item_path, "a quality rule must be a mapping")
                continue
            qtype = str(item.get("type", "library")).lower()
            if qtype in _QUALITY_TYPE_WHY:
                self.report.note_ignored(item_path, _QUALITY_TYPE_WHY[qtype])
                continue
            raw = item.get("metric", item.get("rule"))
            metric = _METRIC_ALIASES.get(str(raw).lower())
            if qtype != "library" or metric is None:
                what = f"library metric {raw!r}" if qtype == "library" else f"type {qtype!r}"
                self.report.note_ignored(item_path, f"unsupported quality {what}")
                continue
            items.append((item_path, item, metric))
        return items

    def _property_quality(self, quality: Any, path: str, out: dict[str, Any]) -> None:
        for item_path, item, metric in self._quality_items(quality, path):
            if metric == "row_count":
                self._row_count(item, item_path)
            elif metric == "null":
                self._nulls(item, item_path, out)
            elif metric == "duplicate":
                self._duplicates(item, item_path, out)
            else:
                self._valid_values(item, item_path, out)

    def _object_quality(self, quality: Any, path: str) -> None:
        for item_path, item, metric in self._quality_items(quality, path):
            if metric == "row_count":
                self._row_count(item, item_path)
            elif metric == "duplicate" and _arguments(item).get("properties"):
                self._composite_duplicates(item, item_path)
            else:
                self.report.note_ignored(
                    item_path, f"a schema-level {metric} rule needs a property; put it there"
                )

    def _nulls(self, item: dict[str, Any], path: str, out: dict[str, Any]) -> None:
        """Zero nulls is `required`; a percentage becomes a null_fraction dataset rule."""
        used = {"type", "metric", "rule", "unit"}
        limit = self._count_limit(item, path)
        if limit is None:
            return
        value, strict = limit
        used |= set(_OPERATOR_ALIASES) & set(item)
        unit = str(item.get("unit", "rows")).lower()
        if _means_zero(value, strict, unit):
            out["required"] = True
            self.report.note_mapped(path, f"fields.{out['name']}.required", "no nulls allowed")
        elif unit in ("percent", "%", "fraction", "ratio"):
            share = value / 100 if unit in ("percent", "%") else value
            if not 0 <= share <= 1:
                self.report.note_ignored(path, f"null share {share} is outside 0..1")
                return
            if strict:
                self.report.note_ignored(
                    path, f"partly: null share < {share} approximated as <= {share}"
                )
            self._add_rule(
                {"kind": "null_fraction", "field": out["name"], "max": share}, path, None, item
            )
            used |= {"name", "severity"}
        else:
            self.report.note_ignored(
                path, "driftgate bounds the share of nulls, not a count; restate it in percent"
            )
            return
        self._leftovers(item, path, used, _QUALITY_WHY)

    def _duplicates(self, item: dict[str, Any], path: str, out: dict[str, Any]) -> None:
        limit = self._count_limit(item, path)
        if limit is None:
            return
        if not _means_zero(*limit, str(item.get("unit", "rows")).lower()):
            self.report.note_ignored(
                path, "only 'no duplicates' maps (to unique); tolerances do not"
            )
            return
        out["unique"] = True
        self.report.note_mapped(path, f"fields.{out['name']}.unique", "no duplicates allowed")
        used = {"type", "metric", "rule", "unit"} | (set(_OPERATOR_ALIASES) & set(item))
        self._leftovers(item, path, used, _QUALITY_WHY)

    def _composite_duplicates(self, item: dict[str, Any], path: str) -> None:
        limit = self._count_limit(item, path)
        if limit is None:
            return
        if not _means_zero(*limit, str(item.get("unit", "rows")).lower()):
            self.report.note_ignored(path, "only 'no duplicates' maps (to unique_key)")
            return
        refs = _arguments(item)["properties"]
        refs = refs if isinstance(refs, list) else [refs]
        names = [self.columns.get(str(ref).split(".")[-1]) for ref in refs]
        if None in names:
            self.report.note_ignored(path, f"properties {refs!r} do not all name imported columns")
            return
        self._add_rule({"kind": "unique_key", "fields": names}, path, None, item)
        used = {"type", "metric", "rule", "unit", "arguments", "name", "severity"}
        self._leftovers(item, path, used | (set(_OPERATOR_ALIASES) & set(item)), _QUALITY_WHY)

    def _valid_values(self, item: dict[str, Any], path: str, out: dict[str, Any]) -> None:
        """v3.0 `rule: validValues` lists values directly; v3.1 puts them in `arguments`."""
        args = _arguments(item)
        values = args.get("validValues", item.get("validValues"))
        pattern = args.get("pattern")
        if values is None and pattern is None:
            self.report.note_ignored(path, "invalidValues without validValues or pattern")
            return
        has_operator = bool(set(_OPERATOR_ALIASES) & set(item))
        limit: tuple[float, bool] | None = (
            self._count_limit(item, path) if has_operator else (0, False)
        )
        if limit is None:
            return
        if not _means_zero(*limit, str(item.get("unit", "rows")).lower()):
            self.report.note_ignored(
                path, "driftgate allows no invalid values; tolerances do not map"
            )
            return
        if values is not None:
            error = _probe(out["type"], allowed_values=values)
            if error:
                self.report.note_ignored(path, f"validValues not usable: {error}")
            else:
                out["allowed_values"] = values
                self.report.note_mapped(path, f"fields.{out['name']}.allowed_values")
        if pattern is not None:
            self._pattern(pattern, f"{path}.arguments.pattern", out)
        used = {"type", "metric", "rule", "unit", "arguments", "validValues"}
        self._leftovers(item, path, used | (set(_OPERATOR_ALIASES) & set(item)), _QUALITY_WHY)

    def _row_count(self, item: dict[str, Any], path: str) -> None:
        """Row counts are integers, so strict ODCS bounds convert exactly."""
        if str(item.get("unit", "rows")).lower() not in ("rows", "row"):
            self.report.note_ignored(path, "row counts are bounded in rows only")
            return
        bounds = self._range(item, path)
        if bounds is None:
            return
        rule: dict[str, Any] = {"kind": "row_count"}
        if bounds.lo is not None:
            low = math.floor(bounds.lo) + 1 if bounds.lo_strict else math.ceil(bounds.lo)
            if low > 0:
                rule["min"] = low
        if bounds.hi is not None:
            high = math.ceil(bounds.hi) - 1 if bounds.hi_strict else math.floor(bounds.hi)
            if high < 0:
                self.report.note_ignored(path, "row count upper bound below zero")
                return
            rule["max"] = high
        if len(rule) == 1:
            self.report.note_ignored(path, "the threshold does not bound the row count")
            return
        note = "mustBeBetween read as exclusive, per the ODCS operator docs"
        self._add_rule(rule, path, note if "mustBeBetween" in item else None, item)
        used = {"type", "metric", "rule", "unit", "name", "severity"}
        self._leftovers(item, path, used | (set(_OPERATOR_ALIASES) & set(item)), _QUALITY_WHY)

    def _range(self, item: dict[str, Any], path: str) -> _Range | None:
        """Read ODCS comparison operators; negations have no driftgate equivalent."""
        ops = {_OPERATOR_ALIASES[k]: v for k, v in item.items() if k in _OPERATOR_ALIASES}
        if not ops:
            self.report.note_ignored(path, "no threshold operator (mustBe...)")
            return None
        if "ne" in ops or "not_between" in ops:
            self.report.note_ignored(
                path, "mustNotBe/mustNotBeBetween have no driftgate equivalent"
            )
            return None
        between = ops.get("between")
        if between is not None:
            ok = isinstance(between, list) and len(between) == 2 and all(map(_is_number, between))
            if not ok:
                self.report.note_ignored(path, "mustBeBetween must be two numbers")
                return None
            ops |= {"gt": between[0], "lt": between[1]}
        if not all(_is_number(v) for k, v in ops.items() if k != "between"):
            self.report.note_ignored(path, "threshold values must be numbers")
            return None
        out = _Range()
        if "eq" in ops:
            out.lo = out.hi = ops["eq"]
        for key, strict in (("gt", True), ("ge", False)):
            if key in ops:
                out.lo, out.lo_strict = ops[key], strict
        for key, strict in (("lt", True), ("le", False)):
            if key in ops:
                out.hi, out.hi_strict = ops[key], strict
        return out

    def _count_limit(self, item: dict[str, Any], path: str) -> tuple[float, bool] | None:
        """The upper limit on a count of bad values; lower bounds on bad values make no sense."""
        bounds = self._range(item, path)
        if bounds is None:
            return None
        if bounds.hi is None or (bounds.lo is not None and bounds.lo > 0):
            self.report.note_ignored(path, "only an upper limit on bad values can be imported")
            return None
        return bounds.hi, bounds.hi_strict

    def _add_rule(
        self,
        rule: dict[str, Any],
        path: str,
        note: str | None,
        item: dict[str, Any] | None = None,
    ) -> None:
        """Dataset rules keep the ODCS rule name as id and map its severity to an action."""
        item = item or {}
        name = item.get("name")
        if isinstance(name, str) and _RULE_ID.match(name):
            rule["id"] = name
        elif name is not None:
            self.report.note_ignored(f"{path}.name", f"{name!r} is not a usable rule id")
        severity = item.get("severity")
        if severity is not None:
            action = _SEVERITY.get(str(severity).lower())
            if action:
                rule["severity"] = action
            else:
                self.report.note_ignored(f"{path}.severity", f"unknown severity {severity!r}")
        rule_id = rule.get("id") or _default_rule_id(rule)
        if rule_id in self.rule_ids:
            self.report.note_ignored(path, f"duplicate dataset rule {rule_id!r}; the first is kept")
            return
        self.rule_ids.add(rule_id)
        self.rules.append(rule)
        self.report.note_mapped(path, f"dataset_rules[{len(self.rules) - 1}]", note)

    # -- SLA -----------------------------------------------------------------------------------

    def _freshness(self) -> dict[str, str] | None:
        """`latency` (ODCS's word for freshness) gives max_lag; `frequency` gives the cadence."""
        sla = self.doc.get("slaProperties")
        lag, cadence = self._sla_entries(sla)
        default = self.doc.get("slaDefaultElement")
        if lag is None:
            if cadence is not None:
                self.report.note_ignored(cadence[0], "frequency needs a latency SLA to anchor it")
            if default is not None:
                self.report.note_ignored("slaDefaultElement", "no latency SLA uses it")
            return None
        lag_path, lag_item = lag
        column = self._sla_column(lag_path, lag_item, default)
        max_lag = self._sla_duration(lag_path, lag_item)
        if column is None or max_lag is None:
            if cadence is not None:
                self.report.note_ignored(cadence[0], "no usable latency SLA to pair it with")
            return None
        out = {"field": column, "max_lag": max_lag}
        self.report.note_mapped(
            f"{lag_path}.value", "freshness.max_lag", _as_read(lag_item, max_lag)
        )
        self._leftovers(lag_item, lag_path, {"property", "value", "unit", "element"}, _SLA_WHY)
        if cadence is not None:
            every = self._sla_duration(*cadence)
            if every is not None:
                out["cadence"] = every
                self.report.note_mapped(
                    f"{cadence[0]}.value", "freshness.cadence", _as_read(cadence[1], every)
                )
                self._leftovers(cadence[1], cadence[0], {"property", "value", "unit"}, _SLA_WHY)
        return out

    def _sla_entries(
        self, sla: Any
    ) -> tuple[tuple[str, dict[str, Any]] | None, tuple[str, dict[str, Any]] | None]:
        lag = cadence = None
        if sla is not None and not isinstance(sla, list):
            self.report.note_ignored("slaProperties", "must be a list")
            return None, None
        for i, item in enumerate(sla or []):
            path = f"slaProperties[{i}]"
            kind = str(item.get("property", "")).lower() if isinstance(item, dict) else ""
            if kind in _LAG_PROPERTIES and lag is None:
                lag = (path, item)
            elif kind in _CADENCE_PROPERTIES and cadence is None:
                cadence = (path, item)
            elif kind in _LAG_PROPERTIES | _CADENCE_PROPERTIES:
                self.report.note_ignored(path, f"only the first {kind} SLA is imported")
            else:
                label = item.get("property") if isinstance(item, dict) else item
                self.report.note_ignored(
                    path, f"SLA property {label!r} is not checked by driftgate"
                )
        return lag, cadence

    def _sla_column(self, path: str, item: dict[str, Any], default: Any) -> str | None:
        """Elements are `object.column` (object optional); it must be a temporal field."""
        element = item.get("element")
        source = f"{path}.element"
        if element is None and default is not None:
            element, source = default, "slaDefaultElement"
        elif default is not None:
            self.report.note_ignored("slaDefaultElement", "the latency SLA names its own element")
        if not isinstance(element, str) or not element.strip():
            self.report.note_ignored(path, "latency SLA names no element (object.column)")
            return None
        if "," in element:
            self.report.note_ignored(source, "several elements; freshness measures one field")
            return None
        obj, _, col = element.strip().rpartition(".")
        column = self.columns.get(col)
        if obj and obj not in self.object_names:
            reason = f"element {element!r} is not on the imported object"
        elif column is None:
            reason = f"element {element!r} is not an imported column"
        elif self.fields[column]["type"] not in ("timestamp", "date"):
            reason = f"element {element!r} is not a timestamp or date column"
        else:
            self.report.note_mapped(source, "freshness.field")
            return column
        self.report.note_ignored(path, reason)
        return None

    def _sla_duration(self, path: str, item: dict[str, Any]) -> str | None:
        """Convert value + unit to an ISO 8601 duration; calendar units have no fixed length."""
        value, unit = item.get("value"), str(item.get("unit", "")).strip().lower()
        if isinstance(value, str) and not unit:
            try:
                parse_duration(value)
            except ValueError as exc:
                self.report.note_ignored(f"{path}.value", str(exc))
                return None
            return value
        amount = _as_number(value)
        if amount is None or amount <= 0:
            self.report.note_ignored(f"{path}.value", "must be a positive number")
            return None
        if unit not in _UNIT_SECONDS:
            why = "calendar units have no fixed length" if unit in _CALENDAR_UNITS else "unknown"
            self.report.note_ignored(f"{path}.unit", f"unit {unit!r}: {why}")
            return None
        return _iso_duration(amount * _UNIT_SECONDS[unit])


def _as_read(item: dict[str, Any], duration: str) -> str:
    """Show how value + unit was read, since units like `m` are ambiguous in the wild."""
    unit = item.get("unit")
    return f"{item.get('value')}{f' {unit}' if unit else ''} read as {duration}"


def _arguments(item: dict[str, Any]) -> dict[str, Any]:
    args = item.get("arguments")
    return args if isinstance(args, dict) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """YAML turns unquoted dates into date objects; the output must stay JSON-serializable."""
    return value.isoformat() if isinstance(value, date | datetime) else value


def _as_number(value: Any) -> float | None:
    """SLA values may be numbers or numeric strings (the ODCS schema allows both)."""
    if _is_number(value):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _means_zero(limit: float, strict: bool, unit: str) -> bool:
    """`mustBe: 0`, `<= 0`, or `< 1` row all mean "none at all" for an integer count."""
    if strict:
        return 0 < limit <= 1 if unit in ("rows", "row") else False
    return limit == 0


def _default_rule_id(rule: dict[str, Any]) -> str:
    """Mirror `contracts.spec.dataset_rule_id` to catch duplicates before validation does."""
    if rule["kind"] == "null_fraction":
        return f"null_fraction:{rule['field']}"
    if rule["kind"] == "unique_key":
        return "unique_key:" + "+".join(rule["fields"])
    return str(rule["kind"])


def _probe(ftype: str, **attrs: Any) -> str | None:
    """Validate one rule the way ContractSpec will, so a bad rule is dropped, not fatal."""
    try:
        FieldSpec.model_validate({"name": "probe", "type": ftype, **attrs})
    except ValidationError as exc:
        return str(exc.errors(include_url=False)[0]["msg"])
    return None


def _iso_duration(seconds: float) -> str:
    seconds = round(seconds, 3)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    date_part = f"{int(days)}D" if days else ""
    time_part = (f"{int(hours)}H" if hours else "") + (f"{int(minutes)}M" if minutes else "")
    if secs:
        time_part += format(round(secs, 3), "f").rstrip("0").rstrip(".") + "S"
    return "P" + date_part + (f"T{time_part}" if time_part else "")
