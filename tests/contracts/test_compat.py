"""Contract evolution: which changes each compatibility mode refuses, and whether that matches
what the validation engine actually does with real batches.

The first half is a table of single changes and the directions they break. The second half ties
the classifier to `checks.engine.validate` with hypothesis: when `violations(old, new, BACKWARD)`
is empty, no batch that passes the old version may be quarantined or rejected by the new one
(and symmetrically for FORWARD).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checks.engine import BatchStatus, validate
from contracts.compat import BACKWARD, FORWARD, diff, violations
from contracts.loader import load_spec
from contracts.spec import Compatibility, ContractSpec
from tests import builders

RECEIVED_AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
B, F = BACKWARD, FORWARD
MODES = list(Compatibility)
FORBIDDEN = {
    Compatibility.BACKWARD: {B},
    Compatibility.FORWARD: {F},
    Compatibility.FULL: {B, F},
    Compatibility.NONE: set(),
}
OK = {BatchStatus.passed, BatchStatus.warned}

BASE: dict[str, Any] = {
    "id": "orders",
    "version": "1.0.0",
    "owner": "data-platform",
    "dataset": "shop.orders",
    "fields": [
        {
            "name": "order_id",
            "type": "string",
            "required": True,
            "unique": True,
            "pattern": "^o[0-9]+$",
        },
        {"name": "qty", "type": "integer", "required": True, "min": 0, "max": 100},
        {"name": "price", "type": "float", "min": 0.0, "max": 1000.0},
        {"name": "status", "type": "category", "allowed_values": ["new", "paid", "shipped"]},
        {"name": "note", "type": "string", "min_length": 1, "max_length": 50},
        {"name": "day", "type": "date"},
        {"name": "placed_at", "type": "timestamp", "required": True},
    ],
    "dataset_rules": [
        {"kind": "row_count", "min": 1, "max": 1000},
        {"kind": "null_fraction", "field": "price", "max": 0.1},
        {"kind": "unique_key", "fields": ["order_id"]},
        {"kind": "expression", "name": "cheap", "expr": "price < 1000"},
    ],
    "freshness": {"field": "placed_at", "max_lag": "PT2H"},
}


def spec(doc: dict[str, Any]) -> ContractSpec:
    return load_spec(doc)


def evolve(change: Callable[[dict[str, Any]], Any], version: str = "1.1.0") -> ContractSpec:
    doc = copy.deepcopy(BASE)
    doc["version"] = version
    change(doc)
    return spec(doc)


def fld(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in doc["fields"] if f["name"] == name)


def setf(name: str, **attrs: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        f = fld(doc, name)
        for k, v in attrs.items():
            if v is None:
                f.pop(k, None)
            else:
                f[k] = v

    return change


def rules(change: Callable[[list[dict[str, Any]]], Any]) -> Callable[[dict[str, Any]], None]:
    return lambda doc: change(doc["dataset_rules"])


def top(**attrs: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        for k, v in attrs.items():
            if v is None:
                doc.pop(k, None)
            else:
                doc[k] = v

    return change


def drop_field(name: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["fields"] = [f for f in doc["fields"] if f["name"] != name]
        doc["dataset_rules"] = [
            r
            for r in doc["dataset_rules"]
            if r.get("field") != name and name not in r.get("fields", [])
        ]

    return change


def add_field(**field: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["fields"].append(field)


# (id, change, expected kind, expected breaks)
CHANGES: list[tuple[str, Callable[[dict[str, Any]], Any], str, set[str]]] = [
    (
        "required-field-added",
        add_field(name="coupon", type="string", required=True),
        "required_field_added",
        {B},
    ),
    (
        "optional-field-added",
        add_field(name="coupon", type="string"),
        "optional_field_added",
        set(),
    ),
    ("required-field-dropped", drop_field("qty"), "field_removed", {B, F}),
    ("optional-field-dropped", drop_field("note"), "field_removed", {F}),
    ("type-widened-int-float", setf("qty", type="float"), "type_widened", {F}),
    ("type-widened-date-timestamp", setf("day", type="timestamp"), "type_widened", {F}),
    ("type-narrowed-float-int", setf("price", type="integer"), "type_narrowed", {B}),
    ("type-narrowed-timestamp-date", setf("placed_at", type="date"), "type_narrowed", {B}),
    ("type-relabelled-string-category", setf("note", type="category"), "type_relabelled", set()),
    ("type-relabelled-category-string", setf("status", type="string"), "type_relabelled", set()),
    (
        "type-changed-int-string",
        setf("qty", type="string", min=None, max=None),
        "type_changed",
        {B, F},
    ),
    ("required-added", setf("price", required=True), "required_added", {B}),
    ("required-removed", setf("qty", required=False), "required_removed", {F}),
    ("nullable-alias-false", setf("price", nullable=False), "required_added", {B}),
    ("min-raised", setf("qty", min=5), "min_raised", {B}),
    ("min-lowered", setf("qty", min=-5), "min_lowered", {F}),
    ("min-added", setf("day", min="2024-01-01"), "min_added", {B}),
    ("min-removed", setf("qty", min=None), "min_removed", {F}),
    ("max-lowered", setf("price", max=500.0), "max_lowered", {B}),
    ("max-raised", setf("price", max=5000), "max_raised", {F}),
    ("max-added", setf("placed_at", max="2030-01-01T00:00:00Z"), "max_added", {B}),
    ("max-removed", setf("price", max=None), "max_removed", {F}),
    ("min_length-raised", setf("note", min_length=2), "min_length_raised", {B}),
    ("max_length-lowered", setf("note", max_length=10), "max_length_lowered", {B}),
    ("max_length-raised", setf("note", max_length=100), "max_length_raised", {F}),
    ("max_length-removed", setf("note", max_length=None), "max_length_removed", {F}),
    (
        "allowed-narrowed",
        setf("status", allowed_values=["new", "paid"]),
        "allowed_values_narrowed",
        {B},
    ),
    (
        "allowed-widened",
        setf("status", allowed_values=["new", "paid", "shipped", "void"]),
        "allowed_values_widened",
        {F},
    ),
    (
        "allowed-changed",
        setf("status", allowed_values=["new", "paid", "void"]),
        "allowed_values_changed",
        {B, F},
    ),
    ("allowed-added", setf("note", allowed_values=["x", "y"]), "allowed_values_added", {B}),
    ("allowed-removed", setf("status", allowed_values=None), "allowed_values_removed", {F}),
    ("pattern-added", setf("note", pattern="^[a-z ]*$"), "pattern_added", {B}),
    ("pattern-removed", setf("order_id", pattern=None), "pattern_removed", {F}),
    ("pattern-changed", setf("order_id", pattern="^o[0-9]{1,9}$"), "pattern_changed", {B, F}),
    ("unique-added", setf("qty", unique=True), "unique_added", {B}),
    ("unique-removed", setf("order_id", unique=False), "unique_removed", {F}),
    (
        "rule-added",
        rules(lambda rs: rs.append({"kind": "expression", "name": "small", "expr": "qty < 50"})),
        "rule_added",
        {B},
    ),
    ("rule-removed", rules(lambda rs: rs.pop(2)), "rule_removed", {F}),
    ("rule-changed", rules(lambda rs: rs[3].update(expr="price <= 1000")), "rule_changed", {B, F}),
    (
        "rule-severity-changed",
        rules(lambda rs: rs[2].update(severity="warn")),
        "severity_changed",
        set(),
    ),
    ("row_count-min-raised", rules(lambda rs: rs[0].update(min=10)), "min_raised", {B}),
    ("row_count-max-raised", rules(lambda rs: rs[0].update(max=5000)), "max_raised", {F}),
    ("row_count-max-lowered", rules(lambda rs: rs[0].update(max=10)), "max_lowered", {B}),
    ("null_fraction-tightened", rules(lambda rs: rs[1].update(max=0.05)), "max_lowered", {B}),
    ("null_fraction-loosened", rules(lambda rs: rs[1].update(max=0.5)), "max_raised", {F}),
    (
        "freshness-tightened",
        top(freshness={"field": "placed_at", "max_lag": "1h"}),
        "max_lag_lowered",
        {B},
    ),
    (
        "freshness-loosened",
        top(freshness={"field": "placed_at", "max_lag": "P1D"}),
        "max_lag_raised",
        {F},
    ),
    ("freshness-removed", top(freshness=None), "freshness_removed", {F}),
    (
        "freshness-field-changed",
        top(freshness={"field": "day", "max_lag": "PT2H"}),
        "freshness_field_changed",
        {B, F},
    ),
    (
        "freshness-cadence",
        top(freshness={"field": "placed_at", "max_lag": "PT2H", "cadence": "PT1H"}),
        "freshness_schedule_changed",
        set(),
    ),
    ("description", setf("qty", description="units"), "description_changed", set()),
    ("pii", setf("note", pii=True), "pii_changed", set()),
    ("field-severity", setf("qty", severity="warn"), "severity_changed", set()),
    ("owner", top(owner="someone-else"), "owner_changed", set()),
    ("policy", top(policy={"field": "reject"}), "policy_changed", set()),
    (
        "monitoring",
        top(monitoring={"fields": {"qty": {"method": "ks"}}}),
        "monitoring_changed",
        set(),
    ),
    ("compatibility", top(compatibility="FULL"), "compatibility_changed", set()),
]


@pytest.mark.parametrize(
    ("change", "kind", "breaks"), [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES]
)
def test_change_is_classified(
    change: Callable[[dict[str, Any]], Any], kind: str, breaks: set[str]
) -> None:
    old, new = spec(BASE), evolve(change)
    changes = diff(old, new)
    assert [(c.kind, set(c.breaks)) for c in changes] == [(kind, breaks)]
    assert changes[0].to_json()["breaks"] == sorted(breaks)


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
@pytest.mark.parametrize(
    ("change", "breaks"), [(c[1], c[3]) for c in CHANGES], ids=[c[0] for c in CHANGES]
)
def test_mode_refuses_exactly_the_forbidden_directions(
    change: Callable[[dict[str, Any]], Any], breaks: set[str], mode: Compatibility
) -> None:
    old, new = spec(BASE), evolve(change)
    refused = violations(old, new, mode)
    assert bool(refused) == bool(breaks & FORBIDDEN[mode])
    # A major version bump allows anything, in every mode.
    assert violations(old, evolve(change, version="2.0.0"), mode) == []


def test_identical_versions_have_no_changes() -> None:
    assert diff(spec(BASE), evolve(lambda doc: None)) == []
    for mode in MODES:
        assert violations(spec(BASE), evolve(lambda doc: None), mode) == []


def test_reordering_allowed_values_or_fields_is_no_change() -> None:
    def shuffle(doc: dict[str, Any]) -> None:
        fld(doc, "status")["allowed_values"] = ["shipped", "new", "paid"]
        doc["fields"].reverse()

    assert diff(spec(BASE), evolve(shuffle)) == []


def test_field_paths_and_values_are_reported() -> None:
    [change] = diff(spec(BASE), evolve(setf("qty", min=5)))
    assert change.to_json() == {
        "path": "fields.qty.min",
        "kind": "min_raised",
        "old": 0,
        "new": 5,
        "breaks": ["BACKWARD"],
    }


def test_bounds_compare_as_values_not_text() -> None:
    # Same instant, different spelling: no change. Later instant: tightening.
    old = evolve(setf("placed_at", min="2024-01-01T00:00:00Z"))
    same = evolve(setf("placed_at", min="2024-01-01T01:00:00+01:00"))
    later = evolve(setf("placed_at", min="2024-01-02T00:00:00Z"))
    assert diff(old, same) == []
    assert [c.kind for c in diff(old, later)] == ["min_raised"]


def test_several_changes_combine_directions() -> None:
    def both(doc: dict[str, Any]) -> None:
        fld(doc, "qty")["min"] = 5  # tightens
        fld(doc, "price")["max"] = 5000  # loosens

    old, new = spec(BASE), evolve(both)
    assert {c.kind for c in violations(old, new, Compatibility.BACKWARD)} == {"min_raised"}
    assert {c.kind for c in violations(old, new, Compatibility.FORWARD)} == {"max_raised"}
    assert {c.kind for c in violations(old, new, Compatibility.FULL)} == {
        "min_raised",
        "max_raised",
    }
    assert violations(old, new, Compatibility.NONE) == []


@pytest.mark.parametrize("version", ["1.0.1", "1.5.0", "1.0.0-rc.1", "0.9.0"])
def test_same_or_lower_major_does_not_unlock(version: str) -> None:
    new = evolve(setf("qty", min=5), version=version)
    assert violations(spec(BASE), new, Compatibility.BACKWARD)


@pytest.mark.parametrize("version", ["2.0.0", "2.0.0-rc.1", "10.0.0"])
def test_major_bump_allows_everything(version: str) -> None:
    def everything(doc: dict[str, Any]) -> None:
        drop_field("qty")(doc)
        fld(doc, "status")["allowed_values"] = ["void"]
        doc["fields"].append({"name": "coupon", "type": "string", "required": True})

    new = evolve(everything, version=version)
    assert len(diff(spec(BASE), new)) == 3  # the changes are still reported ...
    for mode in MODES:
        assert violations(spec(BASE), new, mode) == []  # ... but none is refused


# ------------------------------------------------------------------------------------------
# Property tests: the classifier against the validation engine
# ------------------------------------------------------------------------------------------

# The generated contracts cover every ordered and text type, including date <-> timestamp type
# changes, timestamp bounds written with an offset, without one (read as UTC) and as a bare
# date, and both open (`extra_columns: warn`) and closed (`extra_columns: reject`) versions.
# Temporal values reach the engine the ways producers send them: as dates, as UTC, naive and
# zoned datetimes, and as ISO text.
NAMES = ["f0", "f1", "f2", "f3"]
NUMERIC = ("integer", "float")
TEXT = ("category", "string")
TEMPORAL = ("date", "timestamp")
FAMILIES = (NUMERIC, TEXT, TEMPORAL)
TYPES = NUMERIC + TEXT + TEMPORAL
SIBLING = {
    "integer": "float",
    "float": "integer",
    "category": "string",
    "string": "category",
    "date": "timestamp",
    "timestamp": "date",
}
DAYS = [date(2023, 12, 31), date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
INSTANTS = [datetime.combine(d, time(), tzinfo=UTC) for d in DAYS] + [
    datetime(2024, 1, 1, 15, tzinfo=UTC),
    datetime(2024, 1, 1, 23, 30, tzinfo=UTC),  # already Jan 2 in Berlin
    datetime(2024, 1, 2, 23, 59, 59, 999_999, tzinfo=UTC),
]
DOMAIN: dict[str, list[Any]] = {
    "integer": list(range(-2, 8)),
    "float": [x / 2 for x in range(-4, 16)],
    "category": ["a", "b", "cc", "dd", "eee"],
    "string": ["a", "b", "cc", "dd", "eee"],
    "date": INSTANTS,  # a date field reads an instant as its UTC day
    "timestamp": INSTANTS,
}
BOUND_TEXT = {
    "date": [d.isoformat() for d in DAYS],
    "timestamp": [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00",  # no offset: UTC
        "2024-01-02",  # a bare date: midnight UTC
        "2024-01-01T15:00:00",
        "2024-01-01T10:00:00-05:00",  # 15:00 UTC
        "2024-01-02T00:30:00+01:00",  # 23:30 UTC on Jan 1
        "2024-01-02T23:59:59.999999Z",
    ],
}
LENGTHS = list(range(5))
PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _weighted(keep: int, *others: str) -> st.SearchStrategy[str]:
    return st.sampled_from(["keep"] * keep + list(others))


def _family(t: str) -> tuple[str, ...]:
    return next(f for f in FAMILIES if t in f)


def _bound_value(t: str, value: Any) -> Any:
    """A bound as a comparable value, read independently of contracts.spec."""
    if t == "date":
        return date.fromisoformat(value)
    if t == "timestamp":
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return value


def _ordered(lo: Any, hi: Any, t: str = "integer") -> tuple[Any, Any]:
    if lo is not None and hi is not None and _bound_value(t, lo) > _bound_value(t, hi):
        return hi, lo
    return lo, hi


def _bound_keys(t: str) -> tuple[str, str]:
    return ("min_length", "max_length") if t in TEXT else ("min", "max")


def _bound_choices(t: str) -> list[Any]:
    return BOUND_TEXT[t] if t in TEMPORAL else DOMAIN[t] if t in NUMERIC else LENGTHS


@st.composite
def _bounds(draw: st.DrawFn, t: str) -> dict[str, Any]:
    values, keys = _bound_choices(t), _bound_keys(t)
    lo, hi = _ordered(
        draw(st.none() | st.sampled_from(values)), draw(st.none() | st.sampled_from(values)), t
    )
    return {k: v for k, v in zip(keys, (lo, hi), strict=True) if v is not None}


def _allowed(t: str) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(DOMAIN[t]), min_size=1, max_size=4, unique=True)


@st.composite
def field_docs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    t = draw(st.sampled_from(TYPES))
    doc: dict[str, Any] = {"name": name, "type": t, "required": draw(st.booleans())}
    if draw(st.integers(0, 4)) == 0:
        doc["unique"] = True
    doc.update(draw(_bounds(t)))
    if t not in TEMPORAL and draw(st.booleans()):
        doc["allowed_values"] = draw(_allowed(t))
    return doc


def _retype(old: dict[str, Any], t: str) -> dict[str, Any]:
    """The field under a new type, keeping whatever of its rules still applies."""
    new = {k: v for k, v in old.items() if k in ("name", "required", "unique")}
    new["type"] = t
    if _family(old["type"]) != _family(t):
        return new
    for k in ("min", "max", "min_length", "max_length"):
        if k in old:
            new[k] = old[k]
            if t == "date" and old["type"] == "timestamp":  # the bound's UTC day
                new[k] = _bound_value("timestamp", old[k]).date().isoformat()
    if "allowed_values" in old:
        values = old["allowed_values"]
        if t == "integer":
            values = [int(v) for v in values if float(v).is_integer()]
        if values:
            new["allowed_values"] = values
    return new


@st.composite
def mutated_field(draw: st.DrawFn, old: dict[str, Any]) -> dict[str, Any]:
    t = old["type"]
    how = draw(_weighted(5, "sibling", "unrelated"))
    if how == "sibling":
        t = SIBLING[t]
    elif how == "unrelated":
        t = draw(st.sampled_from([x for x in TYPES if _family(x) != _family(t)]))
    new = _retype(old, t)
    if draw(_weighted(3, "flip")) == "flip":
        new["required"] = not new["required"]
    if draw(_weighted(4, "flip")) == "flip":
        new["unique"] = not new.get("unique", False)
    keys = _bound_keys(t)
    for k in keys:
        action = draw(_weighted(2, "drop", "redraw"))
        if action == "drop":
            new.pop(k, None)
        elif action == "redraw":
            new[k] = draw(st.sampled_from(_bound_choices(t)))
    new[keys[0]], new[keys[1]] = _ordered(new.get(keys[0]), new.get(keys[1]), t)
    new = {k: v for k, v in new.items() if v is not None}
    if t in TEMPORAL:
        return new
    action = draw(_weighted(2, "drop", "redraw", "subset", "superset"))
    current = new.get("allowed_values")
    if action == "drop":
        new.pop("allowed_values", None)
    elif action == "redraw" or (action in ("subset", "superset") and current is None):
        new["allowed_values"] = draw(_allowed(t))
    elif action == "subset":
        assert current is not None
        keep = draw(st.lists(st.sampled_from(current), min_size=1, unique=True))
        new["allowed_values"] = keep
    elif action == "superset":
        assert current is not None
        extra = draw(st.lists(st.sampled_from(DOMAIN[t]), max_size=3, unique=True))
        new["allowed_values"] = current + [v for v in extra if v not in current]
    return new


@st.composite
def dataset_rule_docs(draw: st.DrawFn, names: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if draw(st.booleans()):
        lo, hi = _ordered(draw(st.none() | st.integers(0, 4)), draw(st.none() | st.integers(0, 6)))
        if lo is None and hi is None:
            lo = 1
        out.append(
            {
                "kind": "row_count",
                **({"min": lo} if lo is not None else {}),
                **({"max": hi} if hi is not None else {}),
            }
        )
    if draw(st.booleans()):
        out.append(
            {
                "kind": "null_fraction",
                "field": draw(st.sampled_from(names)),
                "max": draw(st.sampled_from([0.0, 0.2, 0.5, 1.0])),
            }
        )
    if draw(st.integers(0, 3)) == 0:
        out.append({"kind": "unique_key", "fields": [draw(st.sampled_from(names))]})
    return out


def _contract(
    version: str,
    fields: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    extra_columns: str = "warn",
) -> dict[str, Any]:
    return {
        "id": "prop",
        "version": version,
        "owner": "qa",
        "dataset": "prop.data",
        "fields": fields,
        "dataset_rules": rules,
        "policy": {"extra_columns": extra_columns},
    }


@st.composite
def old_docs(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    fields = [draw(field_docs(n)) for n in names]
    extra = draw(st.sampled_from(["warn", "reject"]))
    return _contract("1.2.0", fields, draw(dataset_rule_docs(names)), extra)


@st.composite
def new_docs(draw: st.DrawFn, old: dict[str, Any]) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    for f in old["fields"]:
        action = draw(_weighted(4, "drop", "mutate", "mutate"))
        if action == "drop":
            continue
        fields.append(draw(mutated_field(f)) if action == "mutate" else copy.deepcopy(f))
    taken = {f["name"] for f in old["fields"]}
    for name in NAMES:
        if name not in taken and draw(_weighted(5, "add")) == "add":
            fields.append(draw(field_docs(name)))
    if not fields:
        fields.append(draw(field_docs(draw(st.sampled_from(NAMES)))))
    names = [f["name"] for f in fields]
    rules: list[dict[str, Any]] = []
    for r in old["dataset_rules"]:
        refs = [r["field"]] if "field" in r else r.get("fields", [])
        action = draw(_weighted(3, "drop", "tweak"))
        if action == "drop" or any(n not in names for n in refs):
            continue
        r = copy.deepcopy(r)
        if action == "tweak" and r["kind"] == "null_fraction":
            r["max"] = draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]))
        elif action == "tweak" and r["kind"] == "row_count":
            lo, hi = _ordered(r.get("min"), draw(st.none() | st.integers(0, 6)))
            r = {"kind": "row_count", "min": lo if lo is not None else 0}
            if hi is not None:
                r["max"] = hi
        rules.append(r)
    kinds = {r["kind"] for r in rules}
    for extra in draw(dataset_rule_docs(names)):
        if extra["kind"] not in kinds and draw(_weighted(4, "add")) == "add":
            rules.append(extra)
    extra_columns = old["policy"]["extra_columns"]
    if draw(_weighted(3, "flip")) == "flip":
        extra_columns = {"warn": "reject", "reject": "warn"}[extra_columns]
    return _contract("1.3.0", fields, rules, extra_columns)


def _valid_values(f: dict[str, Any]) -> list[Any]:
    t = f["type"]
    out = []
    lo = _bound_value(t, f["min"]) if "min" in f else None
    hi = _bound_value(t, f["max"]) if "max" in f else None
    for v in DOMAIN[t]:
        x = v.date() if t == "date" else v
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            continue
        if "min_length" in f and len(v) < f["min_length"]:
            continue
        if "max_length" in f and len(v) > f["max_length"]:
            continue
        if "allowed_values" in f and v not in f["allowed_values"]:
            continue
        out.append(v)
    return out


def _temporal_series(name: str, t: str, values: list[Any], how: str) -> pl.Series:
    """Aware UTC instants sent as a producer might: dates, datetimes in some zone, or text."""
    if how == "date":
        return pl.Series(name, [v and v.date() for v in values], dtype=pl.Date())
    if how == "text":
        text = [v and (v.date().isoformat() if t == "date" else v.isoformat()) for v in values]
        return pl.Series(name, text, dtype=pl.String())
    utc = pl.Series(name, values, dtype=pl.Datetime("us", "UTC"))
    if how == "naive":
        return utc.dt.replace_time_zone(None)
    if how == "berlin":
        return utc.dt.convert_time_zone("Europe/Berlin")
    return utc


@st.composite
def batches(draw: st.DrawFn, doc: dict[str, Any]) -> pl.DataFrame:
    """A small batch built from `doc`'s value domains, biased towards valid values."""
    n = draw(st.integers(0, 5))
    columns: dict[str, pl.Series] = {}
    for f in doc["fields"]:
        if not f["required"] and draw(_weighted(3, "absent")) == "absent":
            continue
        t = f["type"]
        valid = _valid_values(f)
        choices: list[st.SearchStrategy[Any]] = []
        if valid:
            choices += [st.sampled_from(valid)] * 6
        choices.append(st.sampled_from(DOMAIN[t]))
        if not f["required"] or draw(_weighted(9, "nulls")) == "nulls":
            choices.append(st.none())
        values = draw(st.lists(st.one_of(choices), min_size=n, max_size=n))
        if t in TEMPORAL:
            how = draw(st.sampled_from(["utc", "naive", "berlin", "date", "text"]))
            columns[f["name"]] = _temporal_series(f["name"], t, values, how)
            continue
        dtype: pl.DataType = {
            "integer": pl.Int64(),
            "float": pl.Float64(),
            "category": pl.String(),
            "string": pl.String(),
        }[t]
        integral = t in NUMERIC and all(v is None or float(v).is_integer() for v in values)
        raw = draw(_weighted(3, "other"))
        if raw == "other" and t == "integer":
            dtype = pl.Float64()  # integers sent as whole floats
        elif raw == "other" and t == "float" and integral:
            values = [None if v is None else int(v) for v in values]
            dtype = pl.Int64()  # floats sent as integers
        elif raw == "other" and t in TEXT:
            dtype = pl.Categorical()  # dictionary-encoded text
        columns[f["name"]] = pl.Series(f["name"], values, dtype=dtype)
    return pl.DataFrame(list(columns.values()))


def status(batch: pl.DataFrame, s: ContractSpec) -> BatchStatus:
    return validate(batch, s, received_at=RECEIVED_AT, with_profile=False).status


@st.composite
def evolutions(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    old = draw(old_docs())
    return old, draw(new_docs(old))


@PROPERTY_SETTINGS
@given(data=st.data(), pair=evolutions())
def test_backward_compatible_change_keeps_old_valid_batches_valid(
    data: st.DataObject, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    old_doc, new_doc = pair
    old, new = load_spec(old_doc), load_spec(new_doc)
    assume(not violations(old, new, Compatibility.BACKWARD))
    batch = data.draw(batches(old_doc), label="batch")
    assume(status(batch, old) == BatchStatus.passed)
    assert status(batch, new) in OK


@PROPERTY_SETTINGS
@given(data=st.data(), pair=evolutions())
def test_forward_compatible_change_keeps_new_valid_batches_valid_for_old(
    data: st.DataObject, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    old_doc, new_doc = pair
    old, new = load_spec(old_doc), load_spec(new_doc)
    assume(not violations(old, new, Compatibility.FORWARD))
    batch = data.draw(batches(new_doc), label="batch")
    assume(status(batch, new) == BatchStatus.passed)
    assert status(batch, old) in OK


@PROPERTY_SETTINGS
@given(pair=evolutions())
def test_full_is_backward_union_forward(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = (load_spec(d) for d in pair)

    def paths(mode: Compatibility) -> set[tuple[str, str]]:
        return {(c.path, c.kind) for c in violations(old, new, mode)}

    full = paths(Compatibility.FULL)
    assert full == paths(Compatibility.BACKWARD) | paths(Compatibility.FORWARD)
    assert paths(Compatibility.NONE) == set()
    assert full == {(c.path, c.kind) for c in diff(old, new) if c.breaks}
    bumped = load_spec({**pair[1], "version": "2.0.0"})
    assert all(violations(old, bumped, m) == [] for m in MODES)


# --- the classifier is not vacuous: each refused change has a batch it actually breaks -------


def _mini(
    *fields: dict[str, Any],
    rules: list[dict[str, Any]] | None = None,
    version: str = "1.0.0",
    **extra: Any,
) -> ContractSpec:
    return load_spec({**_contract(version, list(fields), rules or []), **extra})


INT = {"name": "n", "type": "integer"}
CAT = {"name": "c", "type": "category"}

# (id, old, new, batch, status under new) for BACKWARD: old-valid batch, broken by new.
TIGHTENINGS = [
    (
        "min-raised",
        _mini({**INT, "min": 0}),
        _mini({**INT, "min": 3}, version="1.1.0"),
        {"n": [1, 5]},
        BatchStatus.quarantined,
    ),
    (
        "max-lowered",
        _mini({**INT, "max": 9}),
        _mini({**INT, "max": 3}, version="1.1.0"),
        {"n": [1, 5]},
        BatchStatus.quarantined,
    ),
    (
        "allowed-narrowed",
        _mini({**CAT, "allowed_values": ["a", "b"]}),
        _mini({**CAT, "allowed_values": ["a"]}, version="1.1.0"),
        {"c": ["a", "b"]},
        BatchStatus.quarantined,
    ),
    (
        "required-added",
        _mini(INT),
        _mini({**INT, "required": True}, version="1.1.0"),
        {"n": [1, None]},
        BatchStatus.quarantined,
    ),
    (
        "required-field-added",
        _mini(INT),
        _mini(INT, {**CAT, "required": True}, version="1.1.0"),
        {"n": [1]},
        BatchStatus.rejected,
    ),
    (
        "type-narrowed",
        _mini({"name": "n", "type": "float"}),
        _mini(INT, version="1.1.0"),
        {"n": [1.5]},
        BatchStatus.quarantined,
    ),
    (
        "unique-added",
        _mini(INT),
        _mini({**INT, "unique": True}, version="1.1.0"),
        {"n": [1, 1]},
        BatchStatus.quarantined,
    ),
    (
        "pattern-added",
        _mini(CAT),
        _mini({**CAT, "pattern": "^a$"}, version="1.1.0"),
        {"c": ["a", "b"]},
        BatchStatus.quarantined,
    ),
    (
        "null_fraction-tightened",
        _mini(INT, rules=[{"kind": "null_fraction", "field": "n", "max": 0.5}]),
        _mini(INT, rules=[{"kind": "null_fraction", "field": "n", "max": 0.1}], version="1.1.0"),
        {"n": [1, None, 2, 3]},
        BatchStatus.rejected,
    ),
    (
        "row_count-rule-added",
        _mini(INT),
        _mini(INT, rules=[{"kind": "row_count", "min": 5}], version="1.1.0"),
        {"n": [1]},
        BatchStatus.rejected,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "columns", "expected"),
    [t[1:] for t in TIGHTENINGS],
    ids=[t[0] for t in TIGHTENINGS],
)
def test_tightening_breaks_an_old_valid_batch(
    old: ContractSpec, new: ContractSpec, columns: dict[str, list[Any]], expected: BatchStatus
) -> None:
    batch = pl.DataFrame(columns)
    assert violations(old, new, Compatibility.BACKWARD), "the classifier must refuse it"
    assert not violations(old, new, Compatibility.FORWARD)
    assert status(batch, old) == BatchStatus.passed
    assert status(batch, new) == expected


@pytest.mark.parametrize(
    ("old", "new", "columns", "expected"),
    [t[1:] for t in TIGHTENINGS if t[0] not in ("required-field-added", "type-narrowed")],
    ids=[t[0] for t in TIGHTENINGS if t[0] not in ("required-field-added", "type-narrowed")],
)
def test_loosening_lets_through_a_batch_the_old_version_refuses(
    old: ContractSpec, new: ContractSpec, columns: dict[str, list[Any]], expected: BatchStatus
) -> None:
    # Swap roles: `new` becomes the old version, `old` the looser new one.
    looser = old.model_copy(update={"version": "1.2.0"})
    batch = pl.DataFrame(columns)
    assert violations(new, looser, Compatibility.FORWARD)
    assert not violations(new, looser, Compatibility.BACKWARD)
    assert status(batch, looser) == BatchStatus.passed
    assert status(batch, new) == expected


def test_required_field_dropped_breaks_both_directions() -> None:
    old = _mini({**INT, "required": True}, CAT)
    new = _mini(CAT, version="1.1.0")
    assert violations(old, new, Compatibility.BACKWARD)
    assert violations(old, new, Compatibility.FORWARD)
    new_valid = pl.DataFrame({"c": ["a"]})
    assert status(new_valid, new) == BatchStatus.passed
    assert status(new_valid, old) == BatchStatus.rejected


# --- regressions: changes the classifier once let through although the engine breaks them ----


def test_date_to_timestamp_with_required_added_is_refused_or_harmless() -> None:
    old = _mini(INT, {"name": "d", "type": "date"})
    new = _mini(INT, {"name": "d", "type": "timestamp", "required": True}, version="1.1.0")
    batch = pl.DataFrame({"n": [1]})
    assert status(batch, old) == BatchStatus.passed
    assert status(batch, new) == BatchStatus.rejected  # d.present fails
    assert violations(old, new, Compatibility.BACKWARD)  # so compat must refuse it


def test_date_to_timestamp_with_min_raised_is_refused_or_harmless() -> None:
    old = _mini({"name": "d", "type": "date", "min": "2024-01-01"})
    new = _mini({"name": "d", "type": "timestamp", "min": "2025-01-01T00:00:00Z"}, version="1.1.0")
    batch = pl.DataFrame({"d": [date(2024, 6, 1)]})
    assert status(batch, old) == BatchStatus.passed
    assert status(batch, new) == BatchStatus.quarantined
    assert violations(old, new, Compatibility.BACKWARD)


def test_optional_field_dropped_under_extra_columns_reject() -> None:
    policy = {"extra_columns": "reject"}
    old = _mini(INT, {"name": "x", "type": "integer"}, policy=policy)
    new = _mini(INT, version="1.1.0", policy=policy)
    batch = pl.DataFrame({"n": [1], "x": [2]})
    assert status(batch, old) == BatchStatus.passed
    assert status(batch, new) == BatchStatus.rejected
    assert violations(old, new, Compatibility.BACKWARD)


def test_optional_field_added_under_extra_columns_reject() -> None:
    policy = {"extra_columns": "reject"}
    old = _mini(INT, policy=policy)
    new = _mini(INT, {"name": "x", "type": "integer"}, version="1.1.0", policy=policy)
    batch = pl.DataFrame({"n": [1], "x": [2]})
    assert status(batch, new) == BatchStatus.passed
    assert status(batch, old) == BatchStatus.rejected
    assert violations(old, new, Compatibility.FORWARD)


def test_timestamp_to_date_with_max_removed_is_refused_or_harmless() -> None:
    old = _mini({"name": "d", "type": "timestamp", "max": "2024-01-01T00:00:00Z"})
    new = _mini({"name": "d", "type": "date"}, version="1.1.0")
    batch = pl.DataFrame({"d": [date(2024, 1, 2)]})
    assert status(batch, new) == BatchStatus.passed
    assert status(batch, old) == BatchStatus.quarantined  # d.max fails
    assert violations(old, new, Compatibility.FORWARD)


NAIVE = {"name": "t", "type": "timestamp", "min": "2024-01-02T00:00:00"}  # no offset
AWARE = {"name": "t", "type": "timestamp", "min": "2024-01-01T00:00:00Z"}


def test_diff_compares_naive_and_aware_timestamp_bounds() -> None:
    old, new = _mini(AWARE), _mini(NAIVE, version="1.1.0")
    assert [c.kind for c in diff(old, new)] == ["min_raised"]


def test_naive_timestamp_bound_validates() -> None:
    batch = pl.DataFrame({"t": [datetime(2024, 1, 3, tzinfo=UTC)]})
    assert status(batch, _mini(NAIVE)) == BatchStatus.passed


def test_same_instant_with_and_without_offset_is_no_change() -> None:
    old = _mini({**AWARE, "min": "2024-01-01T00:00:00Z"})
    new = _mini({**NAIVE, "min": "2024-01-01T00:00:00"}, version="1.1.0")
    assert diff(old, new) == []


# --- closed versions: with extra_columns=reject, the set of columns decides validity ----------

X = {"name": "x", "type": "integer"}
X_REQUIRED = {**X, "required": True}


@pytest.mark.parametrize(
    ("old_policy", "new_policy", "old_fields", "new_fields", "kind", "breaks"),
    [
        ("reject", "reject", [INT], [INT, X], "optional_field_added", {F}),
        ("reject", "reject", [INT, X], [INT], "field_removed", {B}),
        ("reject", "reject", [INT], [INT, X_REQUIRED], "required_field_added", {B, F}),
        ("reject", "reject", [INT, X_REQUIRED], [INT], "field_removed", {B, F}),
        # Only the version that meets the other's batches matters: the new one for a dropped
        # column (old batches carry it), the old one for an added column (new batches do).
        ("warn", "reject", [INT], [INT, X], "optional_field_added", set()),
        ("warn", "reject", [INT, X], [INT], "field_removed", {B}),
        ("reject", "warn", [INT], [INT, X], "optional_field_added", {F}),
        ("reject", "warn", [INT, X], [INT], "field_removed", {F}),
        ("warn", "warn", [INT], [INT, X_REQUIRED], "required_field_added", {B}),
        ("quarantine", "quarantine", [INT, X], [INT], "field_removed", {F}),  # engine: warn
    ],
)
def test_closed_versions_classify_added_and_dropped_columns(
    old_policy: str,
    new_policy: str,
    old_fields: list[dict[str, Any]],
    new_fields: list[dict[str, Any]],
    kind: str,
    breaks: set[str],
) -> None:
    old = _mini(*old_fields, policy={"extra_columns": old_policy})
    new = _mini(*new_fields, version="1.1.0", policy={"extra_columns": new_policy})
    field_changes = [c for c in diff(old, new) if c.path == "fields.x"]
    assert [(c.kind, set(c.breaks)) for c in field_changes] == [(kind, breaks)]


def test_closing_a_version_alone_breaks_nothing() -> None:
    # A batch that passed the open version carried no extra columns, so the closed one passes it.
    old = _mini(INT)
    new = _mini(INT, version="1.1.0", policy={"extra_columns": "reject"})
    assert [(c.kind, c.breaks) for c in diff(old, new)] == [("policy_changed", frozenset())]


# --- date <-> timestamp: bounds compare as the UTC days a date field reads ----------------------

DAY = {"name": "d", "type": "date"}
MOMENT = {"name": "d", "type": "timestamp"}


@pytest.mark.parametrize(
    ("old_field", "new_field", "kinds"),
    [
        pytest.param(
            {**DAY, "min": "2024-01-01"},
            {**MOMENT, "min": "2024-01-01T00:00:00Z"},
            {("type_widened", frozenset({F}))},
            id="date-min-is-midnight",
        ),
        pytest.param(
            {**DAY, "max": "2024-01-01"},
            {**MOMENT, "max": "2024-01-01T23:59:59.999999"},
            {("type_widened", frozenset({F}))},
            id="date-max-is-end-of-day",
        ),
        pytest.param(
            {**DAY, "max": "2024-01-01"},
            {**MOMENT, "max": "2024-01-01T00:00:00Z"},
            {("type_widened", frozenset({F})), ("max_lowered", frozenset({B}))},
            id="date-max-to-midnight-lowers-it",
        ),
        pytest.param(
            {**MOMENT, "min": "2024-01-01T10:00:00Z"},
            {**DAY, "min": "2024-01-01"},
            {("type_narrowed", frozenset({B})), ("min_lowered", frozenset({F}))},
            id="timestamp-min-to-its-day-lowers-it",
        ),
        pytest.param(
            {**MOMENT, "unique": True},
            {**DAY, "unique": False, "required": True},
            {
                ("type_narrowed", frozenset({B})),
                ("unique_removed", frozenset({F})),
                ("required_added", frozenset({B})),
            },
            id="presence-rules-still-compare",
        ),
    ],
)
def test_date_timestamp_changes_compare_bounds_as_instants(
    old_field: dict[str, Any], new_field: dict[str, Any], kinds: set[tuple[str, frozenset[str]]]
) -> None:
    old, new = _mini(old_field), _mini(new_field, version="1.1.0")
    assert {(c.kind, c.breaks) for c in diff(old, new)} == kinds


def test_date_max_moved_to_midnight_breaks_a_batch_carrying_times() -> None:
    old = _mini({**DAY, "max": "2024-01-01"})
    new = _mini({**MOMENT, "max": "2024-01-01T00:00:00Z"}, version="1.1.0")
    batch = pl.DataFrame({"d": [datetime(2024, 1, 1, 15, tzinfo=UTC)]})  # a Parquet datetime
    assert status(batch, old) == BatchStatus.passed  # read as the day 2024-01-01
    assert status(batch, new) == BatchStatus.quarantined
    assert {c.kind for c in violations(old, new, Compatibility.BACKWARD)} == {"max_lowered"}


def test_timestamp_min_moved_to_its_day_lets_through_what_the_old_refuses() -> None:
    old = _mini({**MOMENT, "min": "2024-01-01T10:00:00Z"})
    new = _mini({**DAY, "min": "2024-01-01"}, version="1.1.0")
    batch = pl.DataFrame({"d": [date(2024, 1, 1)]})
    assert status(batch, new) == BatchStatus.passed
    assert status(batch, old) == BatchStatus.quarantined  # midnight is before 10:00
    assert {c.kind for c in violations(old, new, Compatibility.FORWARD)} == {"min_lowered"}


# --- unrelated type changes still report presence rules and metadata ---------------------------


def test_unrelated_type_change_reports_required_unique_and_description() -> None:
    old = _mini({**INT, "min": 0})
    new = _mini(
        {"name": "n", "type": "string", "required": True, "unique": True, "description": "id"},
        version="1.1.0",
    )
    assert [(c.kind, set(c.breaks)) for c in diff(old, new)] == [
        ("type_changed", {B, F}),
        ("required_added", {B}),
        ("unique_added", {B}),
        ("description_changed", set()),
    ]


def test_invalid_fraction_tolerances_tighten_when_lowered() -> None:
    def version(v: str, **limit: Any) -> ContractSpec:
        rule = {"kind": "invalid_fraction", "field": "status", "allowed_values": ["new"], **limit}
        return load_spec(builders.contract(version=v, dataset_rules=[rule]))

    lowered = diff(version("1.0.0", max_rows=5), version("1.1.0", max_rows=2))
    assert [(c.path, c.kind, c.breaks) for c in lowered] == [
        ("dataset_rules.invalid_fraction:status.max_rows", "max_rows_lowered", {BACKWARD})
    ]
    raised = diff(version("1.0.0", max=0.01), version("1.1.0", max=0.05))
    assert [(c.kind, c.breaks) for c in raised] == [("max_raised", {FORWARD})]
    switched = diff(version("1.0.0", max=0.01), version("1.1.0", max_rows=5))
    assert [c.kind for c in switched] == ["rule_changed"]
