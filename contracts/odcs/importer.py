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
from contracts.odcs.report import ImportReport, OdcsImportError


def import_odcs(
    document: dict[str, Any], schema_name: str | None = None, *, contract_id: str | None = None
) -> tuple[dict[str, Any], ImportReport]:
    """Map one schema object of an ODCS v3 document onto a driftgate contract document.

    Returns a plain dict for `ContractSpec.model_validate` and a report of what was mapped and
    what was ignored. The object is the only one, or the one `schema_name` names (`name` or
    `physicalName`), or the one whose contract id is `contract_id`. A document with several
    objects and no choice is refused with their names rather than silently cut to the first
    (`import_odcs_all` imports them all). Raises `OdcsImportError` naming the path when the
    document is structurally unusable.
    """
    envelope.check_envelope(document)
    schema: list[dict[str, Any]] = document["schema"]
    if schema_name is not None:
        index = envelope.find_object(schema, schema_name)
    elif len(schema) == 1:
        index = 0
    else:
        ids = [envelope.object_contract_id(document, i) for i in range(len(schema))]
        if contract_id not in ids:
            names = envelope.object_names(schema)
            raise OdcsImportError(
                "schema",
                f"the document has {len(schema)} schema objects {names}; choose one with "
                "schema_name (each imports as its own contract)",
            )
        index = ids.index(contract_id)
    return _import_object(document, index, alone=True)


def import_odcs_all(
    document: dict[str, Any], schema_name: str | None = None
) -> list[tuple[dict[str, Any], ImportReport]]:
    """Every schema object as its own contract (or just the one `schema_name` names).

    A document with several objects gives ids `<document id>.<object name>`, so each table
    keeps its contract when the document is imported again or one object at a time. An object
    with nothing driftgate can check (only nested arrays or objects) is skipped and named in
    every report; when no object imports, the first object's error is raised.
    """
    envelope.check_envelope(document)
    if schema_name is not None:
        index = envelope.find_object(document["schema"], schema_name)
        return [_import_object(document, index, alone=True)]
    imported: list[tuple[dict[str, Any], ImportReport]] = []
    skipped: list[tuple[int, OdcsImportError]] = []
    for i in range(len(document["schema"])):
        try:
            imported.append(_import_object(document, i, alone=False))
        except OdcsImportError as exc:
            if not exc.path.startswith(f"schema[{i}]"):
                raise  # a document-level problem: nothing imports
            skipped.append((i, exc))
    if not imported:
        raise skipped[0][1]
    names = envelope.object_names(document["schema"])
    for _, report in imported:
        for i, error in skipped:
            report.note_ignored(f"schema[{i}]", f"{names[i]} not imported: {error}")
    return imported


def _import_object(
    document: dict[str, Any], index: int, *, alone: bool
) -> tuple[dict[str, Any], ImportReport]:
    """One schema object as a contract; `alone` reports the other objects as not imported."""
    draft = Draft(document)
    obj = envelope.use_object(draft, index, note_others=alone)
    base = f"schema[{index}]"
    draft.object_names = {str(obj[k]) for k in ("name", "physicalName", "id") if obj.get(k)}
    draft.document_columns = envelope.document_columns(document["schema"])
    spec: dict[str, Any] = {
        "id": envelope.contract_id(draft, index),
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
