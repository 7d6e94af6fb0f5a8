"""Turn a YAML/JSON (or ODCS v3) document into a validated `ContractSpec`."""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import ValidationError

from contracts.errors import InvalidContractSpec, UnreadableContractDocument
from contracts.spec import ContractSpec
from core.safe_parse import check_json_depth, load_yaml


def parse_document(body: bytes | str) -> dict[str, Any]:
    """YAML is a superset of JSON, but JSON is tried first for precise error positions.

    Both are bounded (`core.safe_parse`): nesting past `MAX_DEPTH` and YAML alias expansion
    past its budget are refused (422) before anything recurses over the document.
    """
    if isinstance(body, bytes):
        if b"\x00" in body:
            raise UnreadableContractDocument("the document contains NUL bytes", rule="no_nul_bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableContractDocument(
                f"the document is not valid UTF-8 (byte {exc.start})", rule="utf8"
            ) from None
    else:
        text = body
    if "\x00" in text:
        raise UnreadableContractDocument(
            "the document contains NUL characters", rule="no_nul_bytes"
        )
    try:
        if text.lstrip().startswith("{"):
            check_json_depth(text, field="document")
            doc = json.loads(text)
        else:
            doc = load_yaml(text, field="document")
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise UnreadableContractDocument(
            f"the document does not parse: {exc}", rule="syntax"
        ) from None
    if not isinstance(doc, dict):
        raise UnreadableContractDocument(
            "the document must be a mapping at the top level", rule="mapping"
        )
    _reject_nul(doc, "")
    return doc


def _reject_nul(node: Any, path: str) -> None:
    """`\\u0000` escapes decode to NUL, which PostgreSQL cannot store in text or JSONB."""
    if isinstance(node, str) and "\x00" in node:
        raise UnreadableContractDocument(
            f"{path or 'document'} contains a NUL character",
            field=path or None,
            rule="no_nul_bytes",
        )
    if isinstance(node, dict):
        for k, v in node.items():
            _reject_nul(str(k), path)
            _reject_nul(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _reject_nul(v, f"{path}[{i}]")


def is_odcs(doc: dict[str, Any]) -> bool:
    return str(doc.get("kind", "")).lower() == "datacontract" and "apiVersion" in doc


def load_spec(doc: dict[str, Any]) -> ContractSpec:
    """Validate a contract document; errors name the field path and the violated rule."""
    try:
        return ContractSpec.model_validate(doc)
    except ValidationError as exc:
        errors = [_describe(err, doc) for err in exc.errors(include_url=False)]
        first = errors[0]
        raise InvalidContractSpec(
            f"{first['field']}: {first['message']}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            field=first["field"],
            rule=first["rule"],
            errors=errors,
        ) from None


def _describe(err: Any, doc: dict[str, Any]) -> dict[str, Any]:
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p[:1].isupper())]
    path = ""
    node: Any = doc
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif isinstance(node, dict) and node.get("kind") == part:
            continue  # discriminated-union tag, not a key of the document
        else:
            path += f".{part}" if path else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get("name"), str):
        path += f"({node['name']})"  # say which field, not just its index
    return {"field": path or "(document)", "rule": err["type"], "message": err["msg"]}


Loaded = tuple[ContractSpec, str, dict[str, Any] | None]


def load_contract_document(
    doc: dict[str, Any],
    fmt: str = "auto",
    *,
    schema_name: str | None = None,
    contract_id: str | None = None,
) -> Loaded:
    """A driftgate or ODCS v3 document → (spec, source format, import report for ODCS).

    An ODCS document with several schema objects needs `schema_name`, or `contract_id` naming
    the contract one of its objects imports as; otherwise it is refused with the names.
    """
    if _wants_odcs(doc, fmt):
        from contracts.odcs.importer import import_odcs

        return _odcs_loaded(
            lambda: [import_odcs(doc, schema_name, contract_id=contract_id)], schema_name
        )[0]
    _no_schema_name(schema_name)
    return load_spec(doc), "driftgate", None


def load_contract_documents(
    doc: dict[str, Any], fmt: str = "auto", *, schema_name: str | None = None
) -> list[Loaded]:
    """Like `load_contract_document`, but every schema object of an ODCS document."""
    if _wants_odcs(doc, fmt):
        from contracts.odcs.importer import import_odcs_all

        return _odcs_loaded(lambda: import_odcs_all(doc, schema_name), schema_name)
    _no_schema_name(schema_name)
    return [(load_spec(doc), "driftgate", None)]


def _wants_odcs(doc: dict[str, Any], fmt: str) -> bool:
    return fmt == "odcs" or (fmt == "auto" and is_odcs(doc))


def _no_schema_name(schema_name: str | None) -> None:
    if schema_name is not None:
        raise InvalidContractSpec(
            "schema_name selects a schema object of an ODCS document; this is not one",
            field="schema_name",
            rule="odcs_only",
        )


def _odcs_loaded(run: Any, schema_name: str | None) -> list[Loaded]:
    from contracts.odcs.report import OdcsImportError

    try:
        imported = run()
    except OdcsImportError as exc:
        field = "schema_name" if schema_name is not None and exc.path == "schema" else "odcs"
        raise InvalidContractSpec(str(exc), field=field, rule="odcs_structure") from None
    return [
        (load_spec(spec_doc), "odcs", {"mapped": report.mapped, "ignored": report.ignored})
        for spec_doc, report in imported
    ]
