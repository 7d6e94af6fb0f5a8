"""Example events of the OpenLineage and Marquez repositories, as fixtures (never downloaded).

`tests/lineage/fixtures/SOURCES.md` names the commit and path each file was copied from (both
projects are Apache-2.0). The dbt, Spark and Flink files are the integrations' *expected*
events: partial templates for their matchers, with placeholders (`{{ any(result) }}`,
`${json-unit.any-string}`) and without the fields their matchers ignore (`producer`,
`schemaURL`, sometimes the job name). `complete` turns such a template into the event the
integration would really send, keeping its facets exactly as they are (most without
`_producer`/`_schemaURL`): the shape under test.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
RUN_EVENT_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/integration"


def load(name: str) -> Any:
    """A fixture by its path under tests/lineage/fixtures, e.g. `openlineage/x.json`."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _placeholder(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "${json-unit" in value)


def _fill(value: Any, path: str, seed: str) -> Any:
    """Replace matcher placeholders with concrete values of the right kind. A run id is
    derived from the seed and its path, so a job's START and COMPLETE share their run id
    while a parent run gets another."""
    if isinstance(value, dict):
        return {k: _fill(v, f"{path}.{k}", seed) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, path, seed) for v in value]
    if not _placeholder(value):
        return value
    key = path.rpartition(".")[2]
    if key == "runId":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}:{path}"))
    if key in ("eventTime", "nominalStartTime", "nominalEndTime"):
        return "2026-11-23T10:00:00Z"
    return "1.18.1" if key == "version" else "placeholder"


def complete(template: dict[str, Any], *, seed: str, minutes: int = 0) -> dict[str, Any]:
    """The event an integration sends for this expected-event template."""
    seed = f"{seed}:{(template.get('job') or {}).get('name')}"
    event = _fill(template, "$", seed)
    event["eventTime"] = f"2026-11-23T10:{minutes:02d}:00Z"
    event.setdefault("producer", PRODUCER)
    event.setdefault("schemaURL", RUN_EVENT_URL)
    job = event.setdefault("job", {})
    job.setdefault("namespace", "integration")
    job.setdefault("name", f"job-{seed}")
    if "run" in event:
        run = event["run"]
        if not _is_uuid(run.get("runId")):
            run["runId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}:run"))
    return event


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
