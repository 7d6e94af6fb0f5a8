"""Schema properties as driftgate fields: names, types, flags, PII, logicalTypeOptions."""

from __future__ import annotations

import math
import re
from typing import Any

from contracts.odcs import quality
from contracts.odcs.draft import COMMON_WHY, Draft
from contracts.odcs.report import OdcsImportError
from contracts.odcs.values import is_number, plain, probe
from contracts.spec import NAME_PATTERN

_PROPERTY_WHY = {
    **COMMON_WHY,
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

_OPTION_WHY = {
    "format": "format hints (email, uuid, i32, date patterns) are not enforced",
    "multipleOf": "multipleOf has no driftgate equivalent",
    "timezone": "timezone handling is not declared in driftgate contracts",
    "defaultTimezone": "timezone handling is not declared in driftgate contracts",
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

_NAME = re.compile(NAME_PATTERN)


def properties(draft: Draft, obj: dict[str, Any], base: str) -> None:
    """Map every property of the schema object; its primary key makes fields or a rule unique."""
    primary: list[tuple[int, int, str]] = []
    for i, prop in enumerate(obj["properties"]):
        path = f"{base}.properties[{i}]"
        if not isinstance(prop, dict) or not prop.get("name"):
            raise OdcsImportError(path, "a property must be a mapping with a name")
        name = _field(draft, prop, path)
        if name and prop.get("primaryKey") is True:
            position = prop.get("primaryKeyPosition")
            position = position if isinstance(position, int) and position > 0 else 10**6
            primary.append((position, i, name))
    if not draft.fields:
        raise OdcsImportError(f"{base}.properties", "no property could be imported")
    _primary_key(draft, sorted(primary), base)


def _field(draft: Draft, prop: dict[str, Any], path: str) -> str | None:
    """Map one property; returns the field name, or None when the property is ignored."""
    key = "physicalName" if prop.get("physicalName") else "name"
    name = str(prop[key])
    if name in draft.fields:
        draft.report.note_ignored(path, f"column {name!r} is declared twice")
        return None
    if not _NAME.match(name):
        draft.report.note_ignored(path, f"{name!r} is not a driftgate field name ({NAME_PATTERN})")
        return None
    typed = _field_type(draft, prop, path, name)
    if typed is None:
        return None
    out: dict[str, Any] = {"name": name, "type": typed[0]}
    draft.report.note_mapped(f"{path}.{key}", f"fields.{name}.name")
    draft.fields[name] = out
    draft.columns.update({str(prop["name"]): name, name: name})
    used = {"name", "physicalName", "logicalType", "quality"} | typed[1]
    used |= _flags(draft, prop, path, out) | _pii(draft, prop, path, out)
    if isinstance(prop.get("description"), str) and prop["description"].strip():
        out["description"] = prop["description"].strip()
        draft.report.note_mapped(f"{path}.description", f"fields.{name}.description")
        used.add("description")
    if "logicalTypeOptions" in prop:
        used.add("logicalTypeOptions")
        options_path = f"{path}.logicalTypeOptions"
        _options(draft, prop["logicalTypeOptions"], options_path, out, prop.get("logicalType"))
    quality.property_quality(draft, prop.get("quality"), f"{path}.quality", out)
    if key == "physicalName" and prop["name"] != prop["physicalName"]:
        draft.report.note_ignored(
            f"{path}.name", "physicalName names the column; name only resolves references"
        )
    draft.leftovers(prop, path, used, _PROPERTY_WHY)
    return name


def _field_type(
    draft: Draft, prop: dict[str, Any], path: str, name: str
) -> tuple[str, set[str]] | None:
    """The driftgate type and the keys it was read from; None when there is no equivalent."""
    logical = prop.get("logicalType")
    physical = str(prop.get("physicalType", "")).strip().lower().split("(")[0].strip()
    physical_type = (
        "timestamp" if physical.startswith("timestamp") else _PHYSICAL_TYPES.get(physical)
    )
    if logical is None:
        if physical_type is None:
            draft.report.note_ignored(path, "no logicalType and no recognised physicalType")
            return None
        note = f"no logicalType; inferred {physical_type}"
        draft.report.note_mapped(f"{path}.physicalType", f"fields.{name}.type", note)
        return physical_type, {"physicalType"}
    logical = str(logical).lower()
    if logical not in _LOGICAL_TYPES:
        reason = {
            "time": "time-of-day values have no driftgate type",
            "object": "nested objects are not supported; flatten them into columns",
            "array": "arrays are not supported; flatten them into columns",
        }.get(logical, f"unknown logicalType {logical!r}")
        draft.report.note_ignored(path, reason)
        return None
    draft.report.note_mapped(f"{path}.logicalType", f"fields.{name}.type")
    fmt = str((prop.get("logicalTypeOptions") or {}).get("format", ""))
    if logical == "date" and (physical_type == "timestamp" or "H" in fmt):
        note = "date with a timestamp physicalType/format; ODCS v3.0 has no timestamp type"
        draft.report.note_mapped(f"{path}.physicalType", f"fields.{name}.type", note)
        return "timestamp", {"physicalType"}
    return _LOGICAL_TYPES[logical], set()


def _flags(draft: Draft, prop: dict[str, Any], path: str, out: dict[str, Any]) -> set[str]:
    name = out["name"]
    used: set[str] = set()
    for key in ("required", "unique"):
        if isinstance(prop.get(key), bool):
            out[key] = prop[key]
            used.add(key)
            draft.report.note_mapped(f"{path}.{key}", f"fields.{name}.{key}")
    if isinstance(prop.get("primaryKey"), bool):
        used |= {"primaryKey", "primaryKeyPosition"} if prop["primaryKey"] else {"primaryKey"}
        if prop["primaryKey"]:
            out["required"] = True
            draft.report.note_mapped(
                f"{path}.primaryKey", f"fields.{name}.required", "key columns are not null"
            )
    return used


def _primary_key(draft: Draft, primary: list[tuple[int, int, str]], base: str) -> None:
    """A single key column is unique; a composite key is unique only in combination."""
    if len(primary) == 1:
        _, index, name = primary[0]
        draft.fields[name]["unique"] = True
        draft.report.note_mapped(f"{base}.properties[{index}].primaryKey", f"fields.{name}.unique")
    elif len(primary) > 1:
        names = [name for _, _, name in primary]
        draft.add_rule(
            {"kind": "unique_key", "fields": names},
            f"{base}.properties[*].primaryKey",
            "composite primary key, ordered by primaryKeyPosition",
        )


def _pii(draft: Draft, prop: dict[str, Any], path: str, out: dict[str, Any]) -> set[str]:
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
            draft.report.note_mapped(f"{path}.classification", f"fields.{name}.pii", note)
        else:
            draft.report.note_ignored(
                f"{path}.classification", f"classification {level!r} is not a known level"
            )
    custom = prop.get("customProperties")
    if isinstance(custom, list):
        used.add("customProperties")
        for j, item in enumerate(custom):
            _custom_property(draft, item, f"{path}.customProperties[{j}]", out)
    tags = prop.get("tags")
    if isinstance(tags, list) and any(str(t).lower() in _PII_KEYS for t in tags):
        used.add("tags")
        out["pii"] = True
        draft.report.note_mapped(f"{path}.tags", f"fields.{name}.pii", "tagged pii")
    return used


def _custom_property(draft: Draft, item: Any, path: str, out: dict[str, Any]) -> None:
    key = str(item.get("property", "")) if isinstance(item, dict) else ""
    if key.lower() in _PII_KEYS:
        value = item.get("value")
        out["pii"] = out.get("pii", False) or value is True or str(value).lower() == "true"
        draft.report.note_mapped(path, f"fields.{out['name']}.pii")
    else:
        draft.report.note_ignored(path, f"custom property {key!r} has no driftgate meaning")


def _options(draft: Draft, options: Any, path: str, out: dict[str, Any], logical: Any) -> None:
    if not isinstance(options, dict):
        draft.report.note_ignored(path, "logicalTypeOptions must be a mapping")
        return
    used: set[str] = set()
    if out["type"] in ("integer", "float", "date", "timestamp"):
        used |= _bound(draft, options, path, out, "min", "minimum", "exclusiveMinimum")
        used |= _bound(draft, options, path, out, "max", "maximum", "exclusiveMaximum")
    if out["type"] == "string":
        used |= _text_options(draft, options, path, out)
    if out["type"] == "timestamp" and logical == "date" and "H" in str(options.get("format")):
        used.add("format")  # it is what marked this v3.0 date as a timestamp
    for key in options:
        if key not in used:
            reason = _OPTION_WHY.get(key, f"does not apply to a {out['type']} field")
            draft.report.note_ignored(f"{path}.{key}", reason)


def _bound(
    draft: Draft,
    options: dict[str, Any],
    path: str,
    out: dict[str, Any],
    side: str,
    incl: str,
    excl: str,
) -> set[str]:
    """v3.0 marks a bound exclusive with a boolean flag; v3.1 gives the exclusive value."""
    value, strict, source = plain(options.get(incl)), False, incl
    flag = plain(options.get(excl))
    if isinstance(flag, bool):
        strict = flag and value is not None
        if flag and value is None:
            draft.report.note_ignored(f"{path}.{excl}", f"flag set but no {incl} given")
    elif flag is not None:
        if value is not None:
            draft.report.note_ignored(
                f"{path}.{incl}", f"both {incl} and {excl} given; {excl} is imported"
            )
        value, strict, source = flag, True, excl
    used = {k for k in (incl, excl) if k in options}
    if value is None:
        return used
    note = None
    if strict and out["type"] == "integer" and is_number(value):
        value = math.floor(value) + 1 if side == "min" else math.ceil(value) - 1
        note = f"strict bound made inclusive as {value} (exact for integers)"
    elif out["type"] == "integer" and is_number(value):
        value = math.ceil(value) if side == "min" else math.floor(value)
    elif strict:
        op = ">" if side == "min" else "<"
        draft.report.note_ignored(
            f"{path}.{excl}",
            f"driftgate bounds are inclusive: {op} {value!r} approximated as "
            f"{op}= {value!r}, so {value!r} itself passes",
        )
        note = "approximated as inclusive"
    error = probe(out["type"], **{side: value})
    if error:
        draft.report.note_ignored(f"{path}.{source}", f"unusable bound: {error}")
        return used
    out[side] = value
    draft.report.note_mapped(f"{path}.{source}", f"fields.{out['name']}.{side}", note)
    return used


def _text_options(
    draft: Draft, options: dict[str, Any], path: str, out: dict[str, Any]
) -> set[str]:
    used: set[str] = set()
    for key, target in (("minLength", "min_length"), ("maxLength", "max_length")):
        if key in options:
            used.add(key)
            value = options[key]
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                out[target] = value
                draft.report.note_mapped(f"{path}.{key}", f"fields.{out['name']}.{target}")
            else:
                draft.report.note_ignored(f"{path}.{key}", "must be a non-negative integer")
    if "pattern" in options:
        used.add("pattern")
        draft.map_pattern(options["pattern"], f"{path}.pattern", out)
    return used
