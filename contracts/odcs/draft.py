"""The driftgate contract document an ODCS import is building, and its report.

Every mapper takes the draft first: it holds the fields and dataset rules mapped so far (for
reference lookups such as composite keys and SLA elements) and the report each step writes to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.odcs.report import ImportReport
from contracts.odcs.values import probe

# Why an ODCS element that driftgate does not model is dropped; each level adds its own.
COMMON_WHY = {
    "tags": "tags are catalogue metadata; driftgate does not use them",
    "customProperties": "custom properties have no driftgate meaning",
    "authoritativeDefinitions": "links to external definitions are not modelled",
    "businessName": "business names are catalogue metadata",
    "id": "ODCS element ids have no driftgate equivalent",
}

_SEVERITY = {"error": "reject", "critical": "reject", "fatal": "reject"}
_SEVERITY |= {"warning": "warn", "warn": "warn", "info": "warn"}

_RULE_ID = re.compile(r"^[A-Za-z0-9_.:+-]{1,200}\Z")


@dataclass
class Draft:
    """One import run: the document, the report, and what has been mapped so far."""

    doc: dict[str, Any]
    report: ImportReport = field(default_factory=ImportReport)
    rules: list[dict[str, Any]] = field(default_factory=list)
    rule_ids: set[str] = field(default_factory=set)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)  # ODCS name/physicalName -> field
    object_names: set[str] = field(default_factory=set)
    document_columns: dict[str, set[int]] = field(default_factory=dict)  # column -> objects
    owner_source: str = ""

    def leftovers(
        self, node: dict[str, Any], path: str, used: set[str], why: Mapping[str, str]
    ) -> None:
        """Report every key of `node` the import did not consume, so nothing is dropped silently."""
        for key in node:
            if key not in used:
                reason = why.get(key, "not part of the driftgate contract model")
                self.report.note_ignored(f"{path}.{key}" if path else key, reason)

    def add_rule(
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

    def map_pattern(self, pattern: Any, path: str, out: dict[str, Any]) -> None:
        """ODCS patterns are ECMA-262; keep only those the polars regex engine accepts."""
        error = probe("string", pattern=pattern) if isinstance(pattern, str) else "not a string"
        if error:
            self.report.note_ignored(path, f"pattern not usable: {error}")
            return
        out["pattern"] = pattern
        self.report.note_mapped(path, f"fields.{out['name']}.pattern")


def _default_rule_id(rule: dict[str, Any]) -> str:
    """Mirror `contracts.spec.dataset_rule_id` to catch duplicates before validation does."""
    if rule["kind"] in ("null_fraction", "invalid_fraction"):
        return f"{rule['kind']}:{rule['field']}"
    if rule["kind"] == "unique_key":
        return "unique_key:" + "+".join(rule["fields"])
    return str(rule["kind"])
