"""The fast validator (conditionals rewritten) accepts exactly what the detailed one accepts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lineage.errors import InvalidLineageEvent, UnreadableLineageEvent
from lineage.validate import _detailed_validators, _fast_validators, parse_body, validate_event
from tests.lineage.events import dataset, facet, run_event


def _fast_accepts(document: dict[str, Any]) -> bool:
    import fastjsonschema

    try:
        _fast_validators()["RunEvent"](document)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def _detailed_accepts(document: dict[str, Any]) -> bool:
    return not list(_detailed_validators()["RunEvent"].iter_errors(document))


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    event = run_event(
        "daily",
        inputs=[dataset("raw", fields=("a", "b"), version="v1")],
        outputs=[dataset("clean", fields=("a",))],
        run_facets={
            "parent": facet(
                run={"runId": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
                job={"namespace": "etl", "name": "up"},
            )
        },
    )
    target: Any = event
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = copy.deepcopy(value)
    return event


_DELETE = object()
SCHEMA = ("inputs", 0, "facets", "schema")
CASES = [
    ((*SCHEMA, "_deleted"), True),  # deleted facet: base fields suffice
    (SCHEMA, facet(_deleted=True)),  # deleted facet without its own fields
    (SCHEMA, {"_deleted": True}),  # deleted facet without base fields: refused
    (SCHEMA, facet(_deleted=False)),  # not deleted, still a valid schema facet
    (SCHEMA, facet(_deleted=False, fields=[{"type": "STRING"}])),  # field without name
    (SCHEMA, facet(fields=None)),  # nullable list
    (SCHEMA, None),  # a null facet
    ((*SCHEMA, "fields", 0, "name"), 7),
    (("inputs", 0, "facets", "version"), facet(_deleted=True)),
    (("inputs", 0, "facets", "version"), facet()),  # datasetVersion missing
    (("inputs", 0, "facets", "mine"), {"anything": 1}),  # custom facet without base fields
    (("inputs", 0, "facets", "mine"), facet(anything=1)),
    (("run", "facets", "parent", "run", "runId"), "nope"),  # parent ids are UUIDs too
    (("run", "facets", "parent"), facet(_deleted=True)),
    (("inputs", 0, "inputFacets"), None),
    (("outputs", 0, "facets"), None),
    (("eventType",), None),
    (("eventType",), "DONE"),
    (("run", "runId"), _DELETE),
]


@pytest.mark.parametrize(("path", "value"), CASES)
def test_fast_and_detailed_validators_agree(path: tuple[Any, ...], value: Any) -> None:
    document = _with(path, value)
    assert _fast_accepts(document) == _detailed_accepts(document)


def test_a_deleted_facet_needs_only_the_base_fields() -> None:
    assert validate_event(_with(SCHEMA, facet(_deleted=True))) == "RunEvent"
    with pytest.raises(InvalidLineageEvent) as refused:
        validate_event(_with((*SCHEMA, "fields"), [{"type": "STRING"}]))
    assert refused.value.field == "$.inputs[0].facets.schema.fields[0].name"


def test_a_parent_run_id_that_is_no_uuid_is_named() -> None:
    with pytest.raises(InvalidLineageEvent) as refused:
        validate_event(_with(("run", "facets", "parent", "run", "runId"), "nope"))
    assert (refused.value.field, refused.value.rule) == ("$.run.facets.parent.run.runId", "format")


def test_numbers_out_of_float_range_are_refused_like_nan() -> None:
    for body in (b'{"x": 1e400}', b'{"x": -1e999}', b'{"x": NaN}', b'{"x": Infinity}'):
        with pytest.raises(UnreadableLineageEvent) as refused:
            parse_body(body)
        assert refused.value.rule == "json"
    assert parse_body(b'{"x": 1e300, "y": 12345678901234567890123}')["y"] > 0
