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

from typing import Any

from contracts.odcs import envelope, fields, quality, sla
from contracts.odcs.draft import Draft
from contracts.odcs.report import ImportReport


def import_odcs(
    document: dict[str, Any], schema_name: str | None = None
) -> tuple[dict[str, Any], ImportReport]:
    """Map an ODCS v3 document onto a driftgate contract document.

    Returns a plain dict for `ContractSpec.model_validate` and a report of what was mapped and
    what was ignored. One ODCS schema object becomes the contract: `schema_name` (matched
    against `name` or `physicalName`) or else the first. Raises `OdcsImportError` naming the
    path when the document is structurally unusable.
    """
    envelope.check_envelope(document)
    draft = Draft(document)
    index, obj = envelope.pick_object(draft, schema_name)
    base = f"schema[{index}]"
    draft.object_names = {str(obj[k]) for k in ("name", "physicalName", "id") if obj.get(k)}
    spec: dict[str, Any] = {
        "id": envelope.contract_id(draft),
        "version": envelope.version(draft),
        "owner": envelope.owner(draft),
    }
    description = envelope.description(draft, obj, base)
    if description:
        spec["description"] = description
    spec["dataset"] = envelope.dataset(draft, obj, base)
    fields.properties(draft, obj, base)
    quality.object_quality(draft, obj.get("quality"), f"{base}.quality")
    spec["fields"] = list(draft.fields.values())
    if draft.rules:
        spec["dataset_rules"] = draft.rules
    freshness = sla.freshness(draft)
    if freshness:
        spec["freshness"] = freshness
    used = {"name", "physicalName", "description", "properties", "quality", "logicalType"}
    draft.leftovers(obj, base, used, envelope.OBJECT_WHY)
    envelope.top_leftovers(draft)
    return spec, draft.report
