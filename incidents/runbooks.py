"""Which runbook an alert or an incident source calls for, and where runbooks live.

One runbook per alert kind and failure class, each a Markdown file `docs/runbooks/<name>.md`
(read by `read_runbook`, the one function here that touches the disk, and only for a name in
`RUNBOOKS`: a request's path never reaches the filesystem). They are read as package data,
`incidents/runbook_docs/` (a link to `docs/runbooks/`, shipped in the wheel by pyproject's
`package-data`), so an installed driftgate serves the same files as a checkout.
The mapping is pure (no session, no I/O): an alert's SLO kind and the evidence it already
carries decide it, so the alert, its notification and the incident it opens all name the
same runbook. The evidence is scanned rather than addressed by path, so the drift evidence's
per-field signals (`null_severity`, `new_category_severity`, bin shares) count wherever the
evidence nests them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from core.errors import NotFound

RUNBOOKS: tuple[str, ...] = (
    "bad-batch-schema-break",
    "null-spike",
    "unit-change",
    "new-categories",
    "covariate-drift",
    "concept-drift-quality-burn",
    "label-outage",
    "stale-feed",
    "bad-promotion-rollback",
    "audit-chain-broken",
)
NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Inside the package, so a non-editable install has them too (`docs/runbooks/` in a checkout).
RUNBOOK_DIR: Traversable = resources.files("incidents") / "runbook_docs"

# A numeric field whose window puts at least this share into an outer bin the reference
# barely fills (quantile bins: about 1/bins each) moved as a whole: a unit or scale change.
UNIT_SHIFT_SHARE = 0.8
UNIT_REFERENCE_SHARE = 0.2

SOURCE_RUNBOOKS = {
    "bake_guard": "bad-promotion-rollback",
    "rollback": "bad-promotion-rollback",
    "promotion": "bad-promotion-rollback",
    "batch_failures": "bad-batch-schema-break",
    "audit_chain": "audit-chain-broken",
    "audit": "audit-chain-broken",
}
LABEL_KINDS = ("label_coverage", "label_freshness", "labels")


class RunbookNotFound(NotFound):
    type_slug = "runbook-not-found"


@dataclass(frozen=True)
class Runbook:
    """A runbook file: its title (first heading), what it applies to, and its Markdown."""

    name: str
    title: str
    applies_to: str
    markdown: str


def read_runbook(name: str) -> Runbook:
    """The runbook of this name; RunbookNotFound for any other name or a missing file."""
    try:
        path = runbook_path(name)
        text = path.read_text(encoding="utf-8")
    except (ValueError, OSError):
        raise RunbookNotFound(
            f"no runbook named {name[:100]!r}; known: {', '.join(RUNBOOKS)}",
            field="name",
            rule="known_runbook",
        ) from None
    return Runbook(name, _title(text, name), _applies_to(text), text)


def list_runbooks() -> list[Runbook]:
    """Every runbook, in the catalog's order."""
    return [read_runbook(name) for name in RUNBOOKS]


def _title(text: str, default: str) -> str:
    first = next((line for line in text.splitlines() if line.startswith("# ")), None)
    return first[2:].strip() if first else default


def _applies_to(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("Applies to:"):
            return line.removeprefix("Applies to:").strip()
    return ""


def is_runbook(name: str) -> bool:
    """True for one of the known runbook names (and nothing that could leave the folder)."""
    return name in RUNBOOKS


def runbook_path(name: str) -> Traversable:
    """The runbook's file; raises ValueError for a name not in `RUNBOOKS`."""
    if not is_runbook(name) or not NAME_PATTERN.match(name):
        raise ValueError(f"unknown runbook {name!r}")
    return RUNBOOK_DIR / f"{name}.md"


def runbook_url(public_url: str, name: str | None) -> str | None:
    """Where the API serves a runbook, or None without one."""
    return f"{public_url.rstrip('/')}/runbooks/{name}" if name else None


def runbook_for_alert(slo_kind: str, evidence: Mapping[str, Any] | None) -> str | None:
    """The runbook for an alert of this SLO kind showing this evidence, or None if unknown.

    - `batch_pass_rate`: batches rejected or quarantined → `bad-batch-schema-break`;
    - `drift_free`: a null-rate alert → `null-spike`; new categories → `new-categories`;
      a numeric field that moved wholesale out of its reference's range → `unit-change`;
      otherwise → `covariate-drift`;
    - `realized_auc`: → `concept-drift-quality-burn`, unless its windows lack labels
      (`insufficient_labels`) → `label-outage`;
    - `freshness`: → `stale-feed`, or `label-outage` when the stale feed is the labels';
    - label coverage kinds → `label-outage`.
    """
    ev: Mapping[str, Any] = evidence or {}
    if slo_kind == "batch_pass_rate":
        return "bad-batch-schema-break"
    if slo_kind == "drift_free":
        return _drift_runbook(ev)
    if slo_kind == "realized_auc":
        if any(v == "insufficient_labels" for k, v in _items(ev) if k == "status"):
            return "label-outage"
        return "concept-drift-quality-burn"
    if slo_kind == "freshness":
        return "label-outage" if _about_labels(ev) else "stale-feed"
    if slo_kind in LABEL_KINDS:
        return "label-outage"
    return None


def runbook_for_source(source: str, details: Mapping[str, Any] | None) -> str | None:
    """The runbook for an incident opened by `source` (bake guard, failing batches, alert,
    audit chain, manual); `details` may name an SLO kind and evidence, or a runbook."""
    d: Mapping[str, Any] = details or {}
    named = d.get("runbook")
    if isinstance(named, str) and is_runbook(named):
        return named
    if source in SOURCE_RUNBOOKS:
        return SOURCE_RUNBOOKS[source]
    if source == "alert":
        kind = d.get("slo_kind") or (d.get("slo") or {}).get("kind")
        if isinstance(kind, str):
            return runbook_for_alert(kind, d.get("evidence") or {})
    return None


def field_signals(field: Mapping[str, Any]) -> list[str]:
    """What kind of drift one field's drift result shows, most specific first."""
    out = []
    if field.get("null_severity") == "alert":
        out.append("null_rate")
    if field.get("new_category_severity") == "alert":
        out.append("new_categories")
    if _moved_wholesale(field):
        out.append("unit_change")
    if field.get("distribution_severity") == "alert" or (
        not out and field.get("severity") == "alert"
    ):
        out.append("distribution")
    return out


def _drift_runbook(ev: Mapping[str, Any]) -> str:
    signals: set[str] = set()
    for key, value in _items(ev):
        if key == "signals" and isinstance(value, Mapping):
            for found in value.values():
                signals.update(found if isinstance(found, list) else [])
        elif isinstance(value, Mapping):
            signals.update(field_signals(value))
    for signal, name in (
        ("null_rate", "null-spike"),
        ("unit_change", "unit-change"),
        ("new_categories", "new-categories"),
    ):
        if signal in signals:
            return name
    return "covariate-drift"


def _moved_wholesale(field: Mapping[str, Any]) -> bool:
    ref, cur = field.get("reference_share"), field.get("current_share")
    if not isinstance(ref, list) or not isinstance(cur, list) or len(ref) != len(cur) or not ref:
        return False
    return any(
        float(cur[i]) >= UNIT_SHIFT_SHARE and float(ref[i]) <= UNIT_REFERENCE_SHARE
        for i in (0, len(ref) - 1)
    )


def _about_labels(ev: Mapping[str, Any]) -> bool:
    return any(
        key in ("contract_id", "url")
        and isinstance(value, str)
        and (value == "labels" or "/contracts/labels/" in value)
        for key, value in _items(ev)
    )


def _items(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair at any depth of a JSON-like document."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k), v
            yield from _items(v)
    elif isinstance(value, list):
        for v in value:
            yield from _items(v)
