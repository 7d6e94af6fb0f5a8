"""Contract evolution rules in the spirit of Confluent Schema Registry's compatibility modes.

A change *tightens* when the new version accepts less than the old one (old data may now fail:
breaks BACKWARD), and *loosens* when it accepts more (data under the new version may break
consumers of the old one: breaks FORWARD). Dropping a required field breaks both, since
consumers lose a guarantee. FULL forbids both directions, NONE allows everything, and a major
version bump allows any change. Descriptions, owners, PII flags, monitoring and actions are
reported but never break compatibility: they change how data is handled, not what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from contracts.spec import (
    Action,
    Compatibility,
    ContractSpec,
    FieldSpec,
    FieldType,
    InvalidFractionRule,
    NullFractionRule,
    Policy,
    RowCountRule,
    dataset_rule_id,
)

BACKWARD = "BACKWARD"
FORWARD = "FORWARD"

# Widening conversions: every value of the first type is a value of the second.
_WIDENS = {(FieldType.integer, FieldType.float), (FieldType.date, FieldType.timestamp)}
_SAME_VALUES = {(FieldType.string, FieldType.category), (FieldType.category, FieldType.string)}
# Types whose values (and so whose min/max, allowed values and text rules) compare across a
# type change. Dates compare with timestamps as the UTC days the engine reads them as.
_FAMILIES = (
    {FieldType.integer, FieldType.float},
    {FieldType.date, FieldType.timestamp},
    {FieldType.string, FieldType.category},
)


@dataclass(frozen=True)
class Change:
    path: str
    kind: str
    old: Any
    new: Any
    breaks: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "old": self.old,
            "new": self.new,
            "breaks": sorted(self.breaks),
        }


def _tighten(path: str, kind: str, old: Any, new: Any) -> Change:
    return Change(path, kind, old, new, frozenset({BACKWARD}))


def _loosen(path: str, kind: str, old: Any, new: Any) -> Change:
    return Change(path, kind, old, new, frozenset({FORWARD}))


def _both(path: str, kind: str, old: Any, new: Any) -> Change:
    return Change(path, kind, old, new, frozenset({BACKWARD, FORWARD}))


def _info(path: str, kind: str, old: Any, new: Any) -> Change:
    return Change(path, kind, old, new)


def diff(old: ContractSpec, new: ContractSpec) -> list[Change]:
    """Every difference between two versions, each classified by the directions it breaks."""
    changes: list[Change] = []
    old_fields = {f.name: f for f in old.fields}
    new_fields = {f.name: f for f in new.fields}
    for name, f in old_fields.items():
        if name not in new_fields:
            changes.append(_field_removed(f, new.policy))
    for name, f in new_fields.items():
        if name not in old_fields:
            changes.append(_field_added(f, old.policy))
        else:
            changes.extend(_field_changes(old_fields[name], f))
    changes.extend(_dataset_rule_changes(old, new))
    changes.extend(_freshness_changes(old, new))
    for attr in ("owner", "description", "compatibility", "policy", "monitoring", "dataset"):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            changes.append(_info(attr, f"{attr}_changed", _plain(a), _plain(b)))
    return changes


def _closed(policy: Policy) -> bool:
    """Whether a version refuses batches carrying columns it does not name.

    Like JSON Schema's closed content model in Confluent's registry: a column one version
    names and the other does not then decides validity, not just handling.
    """
    return policy.extra_columns == Action.reject


def _field_removed(f: FieldSpec, new_policy: Policy) -> Change:
    """Consumers lose a required field's guarantee (both directions). An optional field's
    column is unchecked extra data under an open new version (FORWARD); a closed one rejects
    the old-valid batches that still carry it (BACKWARD)."""
    breaks = {BACKWARD, FORWARD} if f.required else set()
    breaks.add(BACKWARD if _closed(new_policy) else FORWARD)
    return Change(f"fields.{f.name}", "field_removed", f.type.value, None, frozenset(breaks))


def _field_added(f: FieldSpec, old_policy: Policy) -> Change:
    """A required field is missing from old-valid batches (BACKWARD); a closed old version
    rejects the new-valid batches that carry the new column (FORWARD)."""
    breaks = {BACKWARD} if f.required else set()
    if _closed(old_policy):
        breaks.add(FORWARD)
    kind = "required_field_added" if f.required else "optional_field_added"
    return Change(f"fields.{f.name}", kind, None, f.type.value, frozenset(breaks))


def violations(old: ContractSpec, new: ContractSpec, mode: Compatibility) -> list[Change]:
    """The changes that `mode` forbids without a major version bump."""
    if mode == Compatibility.NONE or new.semver.major > old.semver.major:
        return []
    forbidden = {
        Compatibility.BACKWARD: {BACKWARD},
        Compatibility.FORWARD: {FORWARD},
        Compatibility.FULL: {BACKWARD, FORWARD},
    }[mode]
    return [c for c in diff(old, new) if c.breaks & forbidden]


def _plain(value: Any) -> Any:
    return (
        value.model_dump(mode="json", by_alias=True) if hasattr(value, "model_dump") else str(value)
    )


def _field_changes(a: FieldSpec, b: FieldSpec) -> list[Change]:
    p = f"fields.{a.name}"
    out: list[Change] = []
    if a.type != b.type:
        out.append(_type_change(p, a.type, b.type))
    # Presence rules hold whatever the type; value rules only compare within a family (an
    # unrelated type change already breaks both directions).
    out += _flag(p, "required", a.required, b.required)
    out += _flag(p, "unique", a.unique, b.unique)
    if any({a.type, b.type} <= family for family in _FAMILIES):
        out += _value_rule_changes(p, a, b)
    for attr in ("description", "pii", "severity"):
        if getattr(a, attr) != getattr(b, attr):
            out.append(
                _info(
                    f"{p}.{attr}", f"{attr}_changed", _val(getattr(a, attr)), _val(getattr(b, attr))
                )
            )
    return out


def _type_change(p: str, old: FieldType, new: FieldType) -> Change:
    pair = (old, new)
    if pair in _SAME_VALUES:
        return _info(f"{p}.type", "type_relabelled", old.value, new.value)
    if pair in _WIDENS:
        return _loosen(f"{p}.type", "type_widened", old.value, new.value)
    if pair[::-1] in _WIDENS:
        return _tighten(f"{p}.type", "type_narrowed", old.value, new.value)
    return _both(f"{p}.type", "type_changed", old.value, new.value)


def _value_rule_changes(p: str, a: FieldSpec, b: FieldSpec) -> list[Change]:
    out = _bound(p, "min", _comparable(a, "min"), _comparable(b, "min"), a.min, b.min, lower=True)
    out += _bound(p, "max", _comparable(a, "max"), _comparable(b, "max"), a.max, b.max, lower=False)
    out += _bound(
        p, "min_length", a.min_length, b.min_length, a.min_length, b.min_length, lower=True
    )
    out += _bound(
        p, "max_length", a.max_length, b.max_length, a.max_length, b.max_length, lower=False
    )
    out += _allowed(p, a.allowed_values, b.allowed_values)
    if a.pattern != b.pattern:
        if a.pattern is None:
            out.append(_tighten(f"{p}.pattern", "pattern_added", None, b.pattern))
        elif b.pattern is None:
            out.append(_loosen(f"{p}.pattern", "pattern_removed", a.pattern, None))
        else:  # regex containment is undecidable in general: treat as both
            out.append(_both(f"{p}.pattern", "pattern_changed", a.pattern, b.pattern))
    return out


def _comparable(f: FieldSpec, attr: Literal["min", "max"]) -> Any:
    """A bound as a value that compares across date <-> timestamp changes.

    A date field reads an instant as its UTC day, so `min: D` admits exactly the instants from
    D 00:00 UTC on, and `max: D` those up to the last microsecond of D (the engine's
    resolution). A date->timestamp change keeping `max: D` as `D T00:00Z` therefore lowers
    the max: a batch carrying D 15:00 passed before and fails now.
    """
    value = f.bound(attr)
    if f.type != FieldType.date or not isinstance(value, date):
        return value
    return datetime.combine(value, time.min if attr == "min" else time.max, tzinfo=UTC)


def _val(v: Any) -> Any:
    return v.value if hasattr(v, "value") else v


def _flag(p: str, attr: str, old: bool, new: bool) -> list[Change]:
    if old == new:
        return []
    if new:
        return [_tighten(f"{p}.{attr}", f"{attr}_added", old, new)]
    return [_loosen(f"{p}.{attr}", f"{attr}_removed", old, new)]


def _bound(
    p: str, attr: str, old: Any, new: Any, old_raw: Any, new_raw: Any, *, lower: bool
) -> list[Change]:
    """A lower bound tightens when it rises (or appears); an upper bound when it falls."""
    if old == new:
        return []
    path = f"{p}.{attr}"
    if old is None:
        return [_tighten(path, f"{attr}_added", None, new_raw)]
    if new is None:
        return [_loosen(path, f"{attr}_removed", old_raw, None)]
    tighter = new > old if lower else new < old
    kind = f"{attr}_{'raised' if new > old else 'lowered'}"
    return [(_tighten if tighter else _loosen)(path, kind, old_raw, new_raw)]


def _allowed(p: str, old: list[Any] | None, new: list[Any] | None) -> list[Change]:
    if old == new or (old is not None and new is not None and set(old) == set(new)):
        return []
    path = f"{p}.allowed_values"
    if old is None:
        return [_tighten(path, "allowed_values_added", None, new)]
    if new is None:
        return [_loosen(path, "allowed_values_removed", old, None)]
    so, sn = set(old), set(new)
    if sn < so:
        return [_tighten(path, "allowed_values_narrowed", sorted(map(str, so - sn)), None)]
    if sn > so:
        return [_loosen(path, "allowed_values_widened", None, sorted(map(str, sn - so)))]
    return [
        _both(path, "allowed_values_changed", sorted(map(str, so - sn)), sorted(map(str, sn - so)))
    ]


def _dataset_rule_changes(old: ContractSpec, new: ContractSpec) -> list[Change]:
    a = {dataset_rule_id(r): r for r in old.dataset_rules}
    b = {dataset_rule_id(r): r for r in new.dataset_rules}
    out: list[Change] = []
    for rid, rule in a.items():
        if rid not in b:
            out.append(_loosen(f"dataset_rules.{rid}", "rule_removed", rule.kind, None))
    for rid, rule in b.items():
        path = f"dataset_rules.{rid}"
        if rid not in a:
            out.append(_tighten(path, "rule_added", None, rule.kind))
            continue
        prev = a[rid]
        if isinstance(prev, RowCountRule) and isinstance(rule, RowCountRule):
            out += _bound(path, "min", prev.min, rule.min, prev.min, rule.min, lower=True)
            out += _bound(path, "max", prev.max, rule.max, prev.max, rule.max, lower=False)
        elif isinstance(prev, NullFractionRule) and isinstance(rule, NullFractionRule):
            out += _bound(path, "max", prev.max, rule.max, prev.max, rule.max, lower=False)
        elif _same_values(prev, rule):
            for attr in ("max", "max_rows"):
                a_, b_ = getattr(prev, attr), getattr(rule, attr)
                out += _bound(path, attr, a_, b_, a_, b_, lower=False)
        elif prev.model_dump(exclude={"severity"}) != rule.model_dump(exclude={"severity"}):
            out.append(
                _both(
                    path, "rule_changed", prev.model_dump(mode="json"), rule.model_dump(mode="json")
                )
            )
        if prev.severity != rule.severity:
            out.append(_info(path, "severity_changed", _val(prev.severity), _val(rule.severity)))
    return out


def _same_values(a: Any, b: Any) -> bool:
    """Two invalid_fraction rules judging the same values with the same kind of limit."""
    return (
        isinstance(a, InvalidFractionRule)
        and isinstance(b, InvalidFractionRule)
        and (a.field, a.allowed_values, a.pattern) == (b.field, b.allowed_values, b.pattern)
        and (a.max is None) == (b.max is None)
    )


def _freshness_changes(old: ContractSpec, new: ContractSpec) -> list[Change]:
    a, b = old.freshness, new.freshness
    if a == b:
        return []
    if a is None:
        return [_tighten("freshness", "freshness_added", None, _plain(b))]
    if b is None:
        return [_loosen("freshness", "freshness_removed", _plain(a), None)]
    if a.field != b.field:
        return [_both("freshness.field", "freshness_field_changed", a.field, b.field)]
    out = _bound(
        "freshness", "max_lag", a.max_lag_delta, b.max_lag_delta, a.max_lag, b.max_lag, lower=False
    )
    if a.cadence != b.cadence or a.severity != b.severity:
        out.append(_info("freshness", "freshness_schedule_changed", _plain(a), _plain(b)))
    return out
