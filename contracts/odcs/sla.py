"""SLA properties as freshness: `latency` gives max_lag on a temporal field, `frequency` the
cadence; other SLA properties are reported as not checked."""

from __future__ import annotations

from typing import Any

from contracts.durations import parse_duration
from contracts.odcs.draft import Draft
from contracts.odcs.values import is_number

_SLA_WHY = {
    "driver": "SLA drivers are not modelled",
    "description": "SLA descriptions are not carried",
    "valueExt": "extended SLA values are not modelled",
    "scheduler": "driftgate checks freshness on each batch; schedules do not apply",
    "schedule": "driftgate checks freshness on each batch; schedules do not apply",
    "element": "cadence applies to the whole dataset; no element is needed",
    "id": "ODCS element ids have no driftgate equivalent",
}

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


def freshness(draft: Draft) -> dict[str, str] | None:
    """`latency` (ODCS's word for freshness) gives max_lag; `frequency` gives the cadence."""
    sla = draft.doc.get("slaProperties")
    lag, cadence = _sla_entries(draft, sla)
    default = draft.doc.get("slaDefaultElement")
    if lag is None:
        if cadence is not None:
            draft.report.note_ignored(cadence[0], "frequency needs a latency SLA to anchor it")
        if default is not None:
            draft.report.note_ignored("slaDefaultElement", "no latency SLA uses it")
        return None
    lag_path, lag_item = lag
    column = _sla_column(draft, lag_path, lag_item, default)
    max_lag = _sla_duration(draft, lag_path, lag_item)
    if column is None or max_lag is None:
        if cadence is not None:
            draft.report.note_ignored(cadence[0], "no usable latency SLA to pair it with")
        return None
    out = {"field": column, "max_lag": max_lag}
    draft.report.note_mapped(f"{lag_path}.value", "freshness.max_lag", _as_read(lag_item, max_lag))
    draft.leftovers(lag_item, lag_path, {"property", "value", "unit", "element"}, _SLA_WHY)
    if cadence is not None:
        every = _sla_duration(draft, *cadence)
        if every is not None:
            out["cadence"] = every
            draft.report.note_mapped(
                f"{cadence[0]}.value", "freshness.cadence", _as_read(cadence[1], every)
            )
            draft.leftovers(cadence[1], cadence[0], {"property", "value", "unit"}, _SLA_WHY)
    return out


def _sla_entries(
    draft: Draft, sla: Any
) -> tuple[tuple[str, dict[str, Any]] | None, tuple[str, dict[str, Any]] | None]:
    lag = cadence = None
    if sla is not None and not isinstance(sla, list):
        draft.report.note_ignored("slaProperties", "must be a list")
        return None, None
    for i, item in enumerate(sla or []):
        path = f"slaProperties[{i}]"
        kind = str(item.get("property", "")).lower() if isinstance(item, dict) else ""
        if kind in _LAG_PROPERTIES and lag is None:
            lag = (path, item)
        elif kind in _CADENCE_PROPERTIES and cadence is None:
            cadence = (path, item)
        elif kind in _LAG_PROPERTIES | _CADENCE_PROPERTIES:
            draft.report.note_ignored(path, f"only the first {kind} SLA is imported")
        else:
            label = item.get("property") if isinstance(item, dict) else item
            draft.report.note_ignored(path, f"SLA property {label!r} is not checked by driftgate")
    return lag, cadence


def _sla_column(draft: Draft, path: str, item: dict[str, Any], default: Any) -> str | None:
    """Elements are `object.column` (object optional); it must be a temporal field."""
    element = item.get("element")
    source = f"{path}.element"
    if element is None and default is not None:
        element, source = default, "slaDefaultElement"
    elif default is not None:
        draft.report.note_ignored("slaDefaultElement", "the latency SLA names its own element")
    if not isinstance(element, str) or not element.strip():
        draft.report.note_ignored(path, "latency SLA names no element (object.column)")
        return None
    if "," in element:
        draft.report.note_ignored(source, "several elements; freshness measures one field")
        return None
    obj, _, col = element.strip().rpartition(".")
    column = draft.columns.get(col)
    every_object: set[str] = set()
    for o in draft.doc["schema"]:
        every_object |= {str(o[k]) for k in ("name", "physicalName", "id") if o.get(k)}
    unknown_object = bool(obj) and obj not in every_object
    elsewhere = (obj and not unknown_object and obj not in draft.object_names) or (
        column is None and col in draft.document_columns
    )
    if elsewhere:
        reason = f"element {element!r} is on another schema object, whose contract carries it"
    elif column is None:
        reason = f"element {element!r} is not an imported column"
    elif unknown_object and len(draft.document_columns.get(col, set())) > 1:
        reason = f"{obj!r} names no schema object and several objects have a column {col!r}"
    elif draft.fields[column]["type"] not in ("timestamp", "date"):
        reason = f"element {element!r} is not a timestamp or date column"
    else:
        # The ODCS examples write `tab1.txn_ref_dt` for the table `tbl` / `tbl_1`: an object
        # part that names no object resolves by the column, when only this object has it.
        note = (
            f"{obj!r} names no schema object; {col!r} is a column of this one"
            if unknown_object
            else None
        )
        draft.report.note_mapped(source, "freshness.field", note)
        return column
    draft.report.note_ignored(path, reason)
    return None


def _sla_duration(draft: Draft, path: str, item: dict[str, Any]) -> str | None:
    """Convert value + unit to an ISO 8601 duration; calendar units have no fixed length."""
    value, unit = item.get("value"), str(item.get("unit", "")).strip().lower()
    if isinstance(value, str) and not unit:
        try:
            parse_duration(value)
        except ValueError as exc:
            draft.report.note_ignored(f"{path}.value", str(exc))
            return None
        return value
    amount = _as_number(value)
    if amount is None or amount <= 0:
        draft.report.note_ignored(f"{path}.value", "must be a positive number")
        return None
    if unit not in _UNIT_SECONDS:
        why = "calendar units have no fixed length" if unit in _CALENDAR_UNITS else "unknown"
        draft.report.note_ignored(f"{path}.unit", f"unit {unit!r}: {why}")
        return None
    return _iso_duration(amount * _UNIT_SECONDS[unit])


def _as_read(item: dict[str, Any], duration: str) -> str:
    """Show how value + unit was read, since units like `m` are ambiguous in the wild."""
    unit = item.get("unit")
    return f"{item.get('value')}{f' {unit}' if unit else ''} read as {duration}"


def _as_number(value: Any) -> float | None:
    """SLA values may be numbers or numeric strings (the ODCS schema allows both)."""
    if is_number(value):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
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
