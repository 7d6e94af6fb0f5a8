"""ODCS library quality rules as field rules and dataset rules; other rule types are reported.

Thresholds are read from the comparison operators of v3.0 (`rule:`) and v3.1 (`metric:` with
`arguments`); bad-value counts only map when they allow none at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from contracts.odcs.draft import COMMON_WHY, Draft
from contracts.odcs.values import is_number, probe

_QUALITY_WHY = {
    **COMMON_WHY,
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


@dataclass
class _Range:
    """A threshold from ODCS comparison operators; bounds are None when open."""

    lo: float | None = None
    lo_strict: bool = False
    hi: float | None = None
    hi_strict: bool = False


def _quality_items(draft: Draft, quality: Any, path: str) -> list[tuple[str, dict[str, Any], str]]:
    """Library rules as (path, item, metric); every other rule is reported as ignored."""
    if quality is None:
        return []
    if not isinstance(quality, list):
        draft.report.note_ignored(path, "quality must be a list of rules")
        return []
    items = []
    for i, item in enumerate(quality):
        item_path = f"{path}[{i}]"
        if not isinstance(item, dict):
            draft.report.note_ignored(item_path, "a quality rule must be a mapping")
            continue
        qtype = str(item.get("type", "library")).lower()
        if qtype in _QUALITY_TYPE_WHY:
            draft.report.note_ignored(item_path, _QUALITY_TYPE_WHY[qtype])
            continue
        raw = item.get("metric", item.get("rule"))
        metric = _METRIC_ALIASES.get(str(raw).lower())
        if qtype != "library" or metric is None:
            what = f"library metric {raw!r}" if qtype == "library" else f"type {qtype!r}"
            draft.report.note_ignored(item_path, f"unsupported quality {what}")
            continue
        items.append((item_path, item, metric))
    return items


def property_quality(draft: Draft, quality: Any, path: str, out: dict[str, Any]) -> None:
    for item_path, item, metric in _quality_items(draft, quality, path):
        if metric == "row_count":
            _row_count(draft, item, item_path)
        elif metric == "null":
            _nulls(draft, item, item_path, out)
        elif metric == "duplicate":
            _duplicates(draft, item, item_path, out)
        else:
            _valid_values(draft, item, item_path, out)


def object_quality(draft: Draft, quality: Any, path: str) -> None:
    for item_path, item, metric in _quality_items(draft, quality, path):
        if metric == "row_count":
            _row_count(draft, item, item_path)
        elif metric == "duplicate" and _arguments(item).get("properties"):
            _composite_duplicates(draft, item, item_path)
        else:
            draft.report.note_ignored(
                item_path, f"a schema-level {metric} rule needs a property; put it there"
            )


def _nulls(draft: Draft, item: dict[str, Any], path: str, out: dict[str, Any]) -> None:
    """Zero nulls is `required`; a percentage becomes a null_fraction dataset rule."""
    used = {"type", "metric", "rule", "unit"}
    limit = _count_limit(draft, item, path)
    if limit is None:
        return
    value, strict = limit
    used |= set(_OPERATOR_ALIASES) & set(item)
    unit = str(item.get("unit", "rows")).lower()
    if _means_zero(value, strict, unit):
        out["required"] = True
        draft.report.note_mapped(path, f"fields.{out['name']}.required", "no nulls allowed")
    elif unit in ("percent", "%", "fraction", "ratio"):
        share = value / 100 if unit in ("percent", "%") else value
        if not 0 <= share <= 1:
            draft.report.note_ignored(path, f"null share {share} is outside 0..1")
            return
        if strict:
            draft.report.note_ignored(
                path, f"partly: null share < {share} approximated as <= {share}"
            )
        draft.add_rule(
            {"kind": "null_fraction", "field": out["name"], "max": share}, path, None, item
        )
        used |= {"name", "severity"}
    else:
        draft.report.note_ignored(
            path, "driftgate bounds the share of nulls, not a count; restate it in percent"
        )
        return
    draft.leftovers(item, path, used, _QUALITY_WHY)


def _duplicates(draft: Draft, item: dict[str, Any], path: str, out: dict[str, Any]) -> None:
    limit = _count_limit(draft, item, path)
    if limit is None:
        return
    if not _means_zero(*limit, str(item.get("unit", "rows")).lower()):
        draft.report.note_ignored(path, "only 'no duplicates' maps (to unique); tolerances do not")
        return
    out["unique"] = True
    draft.report.note_mapped(path, f"fields.{out['name']}.unique", "no duplicates allowed")
    used = {"type", "metric", "rule", "unit"} | (set(_OPERATOR_ALIASES) & set(item))
    draft.leftovers(item, path, used, _QUALITY_WHY)


def _composite_duplicates(draft: Draft, item: dict[str, Any], path: str) -> None:
    limit = _count_limit(draft, item, path)
    if limit is None:
        return
    if not _means_zero(*limit, str(item.get("unit", "rows")).lower()):
        draft.report.note_ignored(path, "only 'no duplicates' maps (to unique_key)")
        return
    refs = _arguments(item)["properties"]
    refs = refs if isinstance(refs, list) else [refs]
    names = [draft.columns.get(str(ref).split(".")[-1]) for ref in refs]
    if None in names:
        draft.report.note_ignored(path, f"properties {refs!r} do not all name imported columns")
        return
    draft.add_rule({"kind": "unique_key", "fields": names}, path, None, item)
    used = {"type", "metric", "rule", "unit", "arguments", "name", "severity"}
    draft.leftovers(item, path, used | (set(_OPERATOR_ALIASES) & set(item)), _QUALITY_WHY)


def _valid_values(draft: Draft, item: dict[str, Any], path: str, out: dict[str, Any]) -> None:
    """v3.0 `rule: validValues` lists values directly; v3.1 puts them in `arguments`.

    Allowing no invalid value makes field rules (`allowed_values`, `pattern`); a tolerance
    (`mustBeLessThan: 5` rows, `mustBeLessOrEqualTo: 5` percent) makes an `invalid_fraction`
    dataset rule with the same values, so the batch is judged as a whole.
    """
    args = _arguments(item)
    values = args.get("validValues", item.get("validValues"))
    pattern = args.get("pattern")
    if values is None and pattern is None:
        draft.report.note_ignored(path, "invalidValues without validValues or pattern")
        return
    has_operator = bool(set(_OPERATOR_ALIASES) & set(item))
    limit: tuple[float, bool] | None = (
        _count_limit(draft, item, path) if has_operator else (0, False)
    )
    if limit is None:
        return
    values = _without_null(draft, values, path)
    unit = str(item.get("unit", "rows")).lower()
    used = {"type", "metric", "rule", "unit", "arguments", "validValues"}
    used |= set(_OPERATOR_ALIASES) & set(item)
    if not _means_zero(*limit, unit):
        if _tolerance(draft, item, path, out, values, pattern, limit, unit):
            used |= {"name", "severity", "id"}
            draft.leftovers(item, path, used, _QUALITY_WHY)
        return
    if values is not None:
        error = probe(out["type"], allowed_values=values)
        if error:
            draft.report.note_ignored(path, f"validValues not usable: {error}")
        else:
            out["allowed_values"] = values
            draft.report.note_mapped(path, f"fields.{out['name']}.allowed_values")
    if pattern is not None:
        draft.map_pattern(pattern, f"{path}.arguments.pattern", out)
    draft.leftovers(item, path, used, _QUALITY_WHY)


def _without_null(draft: Draft, values: Any, path: str) -> Any:
    """A null among the valid values says nulls are fine: in driftgate they always are
    (unless the field is required), so it is dropped from the list."""
    if not isinstance(values, list) or None not in values:
        return values
    draft.report.note_mapped(
        f"{path}.validValues", "(nulls)", "null listed as valid: nulls are never invalid values"
    )
    kept = [v for v in values if v is not None]
    return kept or None


def _tolerance(
    draft: Draft,
    item: dict[str, Any],
    path: str,
    out: dict[str, Any],
    values: Any,
    pattern: Any,
    limit: tuple[float, bool],
    unit: str,
) -> bool:
    """Map an invalidValues tolerance to an invalid_fraction rule; False when it cannot."""
    value, strict = limit
    rule: dict[str, Any] = {"kind": "invalid_fraction", "field": out["name"]}
    if unit in ("rows", "row"):
        rule["max_rows"] = math.ceil(value) - 1 if strict else math.floor(value)
    elif unit in ("percent", "%", "fraction", "ratio"):
        share = value / 100 if unit in ("percent", "%") else value
        if not 0 <= share <= 1:
            draft.report.note_ignored(path, f"invalid share {share} is outside 0..1")
            return False
        rule["max"] = share
        if strict:
            draft.report.note_ignored(
                path, f"partly: invalid share < {share} approximated as <= {share}"
            )
    else:
        draft.report.note_ignored(path, f"unit {unit!r}: use rows or percent")
        return False
    if values is not None:
        error = probe(out["type"], allowed_values=values)
        if error:
            draft.report.note_ignored(path, f"validValues not usable: {error}")
            return False
        rule["allowed_values"] = values
    if pattern is not None:
        error = probe(out["type"], pattern=pattern) if isinstance(pattern, str) else "not text"
        if error:
            draft.report.note_ignored(f"{path}.arguments.pattern", f"pattern not usable: {error}")
            return False
        rule["pattern"] = pattern
    draft.add_rule(rule, path, None, item)
    return True


def _row_count(draft: Draft, item: dict[str, Any], path: str) -> None:
    """Row counts are integers, so strict ODCS bounds convert exactly."""
    if str(item.get("unit", "rows")).lower() not in ("rows", "row"):
        draft.report.note_ignored(path, "row counts are bounded in rows only")
        return
    bounds = _range(draft, item, path)
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
            draft.report.note_ignored(path, "row count upper bound below zero")
            return
        rule["max"] = high
    if len(rule) == 1:
        draft.report.note_ignored(path, "the threshold does not bound the row count")
        return
    note = "mustBeBetween read as exclusive, per the ODCS operator docs"
    draft.add_rule(rule, path, note if "mustBeBetween" in item else None, item)
    used = {"type", "metric", "rule", "unit", "name", "severity"}
    draft.leftovers(item, path, used | (set(_OPERATOR_ALIASES) & set(item)), _QUALITY_WHY)


def _range(draft: Draft, item: dict[str, Any], path: str) -> _Range | None:
    """Read ODCS comparison operators; negations have no driftgate equivalent."""
    ops = {_OPERATOR_ALIASES[k]: v for k, v in item.items() if k in _OPERATOR_ALIASES}
    if not ops:
        draft.report.note_ignored(path, "no threshold operator (mustBe...)")
        return None
    if "ne" in ops or "not_between" in ops:
        draft.report.note_ignored(path, "mustNotBe/mustNotBeBetween have no driftgate equivalent")
        return None
    between = ops.get("between")
    if between is not None:
        ok = isinstance(between, list) and len(between) == 2 and all(map(is_number, between))
        if not ok:
            draft.report.note_ignored(path, "mustBeBetween must be two numbers")
            return None
        ops |= {"gt": between[0], "lt": between[1]}
    if not all(is_number(v) for k, v in ops.items() if k != "between"):
        draft.report.note_ignored(path, "threshold values must be numbers")
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


def _count_limit(draft: Draft, item: dict[str, Any], path: str) -> tuple[float, bool] | None:
    """The upper limit on a count of bad values; lower bounds on bad values make no sense."""
    bounds = _range(draft, item, path)
    if bounds is None:
        return None
    if bounds.hi is None or (bounds.lo is not None and bounds.lo > 0):
        draft.report.note_ignored(path, "only an upper limit on bad values can be imported")
        return None
    return bounds.hi, bounds.hi_strict


def _arguments(item: dict[str, Any]) -> dict[str, Any]:
    args = item.get("arguments")
    return args if isinstance(args, dict) else {}


def _means_zero(limit: float, strict: bool, unit: str) -> bool:
    """`mustBe: 0`, `<= 0`, or `< 1` row all mean "none at all" for an integer count."""
    if strict:
        return 0 < limit <= 1 if unit in ("rows", "row") else False
    return limit == 0
