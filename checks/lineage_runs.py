"""A batch check as an OpenLineage run: posted batch → check run → accepted and quarantined rows.

Facets: the contract's schema on every dataset, `dataQualityAssertions` (one per rule result) on
the posted batch as the spec places them (an input facet), `dataQualityMetrics` from the batch
profile and an IDENTITY `columnLineage` on the accepted rows, `outputStatistics` on both outputs.
Checks owns how its work becomes runs; `lineage` only stores and emits them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from openlineage.client.generated import (
    column_lineage_dataset,
    data_quality_assertions_dataset,
    data_quality_metrics_dataset,
    documentation_job,
    job_type_job,
    output_statistics_output_dataset,
    schema_dataset,
)
from sqlalchemy.orm import Session

from checks.engine import RuleOutcome
from checks.models import Batch
from contracts.spec import ContractSpec
from core.auth import Principal
from lineage import naming
from lineage.emit import DatasetRef, facet, record_run

BATCH_FACET_SCHEMA = "urn:driftgate:lineage:facets:BatchCheckRunFacet:1-0-0"


def record_batch_check(
    session: Session,
    actor: Principal,
    *,
    batch: Batch,
    spec: ContractSpec,
    outcomes: Sequence[RuleOutcome],
    profile: Mapping[str, Mapping[str, Any]],
    ended_at: datetime,
) -> uuid.UUID:
    """Emit the check of `batch` as one run (START + COMPLETE) in the caller's transaction."""
    links = {
        naming.BATCH_ID: str(batch.id),
        naming.CONTRACT_ID: batch.contract_id,
        naming.CONTRACT_VERSION: batch.contract_version,
    }
    schema = schema_facet(spec)
    posted = DatasetRef(
        spec.dataset.namespace,
        spec.dataset.name,
        version=batch.body_sha256,
        facets={"schema": schema},
        input_facets={"dataQualityAssertions": assertions_facet(outcomes)},
        links={naming.BATCH_ID: str(batch.id)},
    )
    accepted = DatasetRef(
        None,
        naming.accepted_rows(batch.contract_id),
        version=str(batch.id),
        facets={
            "schema": schema,
            "dataQualityMetrics": metrics_facet(profile, batch.rows_accepted),
            "columnLineage": identity_lineage(spec),
        },
        output_facets={"outputStatistics": _statistics(batch.rows_accepted)},
        links=links,
    )
    quarantined = DatasetRef(
        None,
        naming.quarantined_rows(batch.contract_id),
        version=str(batch.id),
        output_facets={"outputStatistics": _statistics(batch.rows_quarantined)},
        links=links,
    )
    return record_run(
        session,
        actor,
        job=naming.check_job(batch.contract_id),
        inputs=[posted],
        outputs=[accepted, quarantined],
        started_at=batch.received_at,
        ended_at=ended_at,
        links=links,
        run_facets={
            "batchCheck": facet(
                BATCH_FACET_SCHEMA,
                status=batch.status,
                rowsReceived=batch.rows_received,
                rowsAccepted=batch.rows_accepted,
                rowsQuarantined=batch.rows_quarantined,
            )
        },
        job_facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="DRIFTGATE", jobType="CHECK"
            ),
            "documentation": documentation_job.DocumentationJobFacet(
                description=f"Validates batches against data contract {batch.contract_id}; "
                "bad rows are quarantined with reasons."
            ),
        },
        job_namespace=None,
    )


def schema_facet(spec: ContractSpec) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(
                name=f.name, type=f.type.value, description=f.description or None
            )
            for f in spec.fields
        ]
    )


def assertions_facet(
    outcomes: Sequence[RuleOutcome],
) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(
                assertion=o.rule_id,
                success=bool(o.passed),
                column=o.field,
                name=o.kind,
                actual=str(o.failing_rows) if not o.passed else None,
            )
            for o in outcomes
        ]
    )


def metrics_facet(
    profile: Mapping[str, Mapping[str, Any]], rows: int
) -> data_quality_metrics_dataset.DataQualityMetricsDatasetFacet:
    def number(value: Any) -> float | None:
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    columns = {}
    for name, p in profile.items():
        top = p.get("top") or {}
        columns[name] = data_quality_metrics_dataset.ColumnMetrics(
            nullCount=int(p["nulls"]) if isinstance(p.get("nulls"), int) else None,
            distinctCount=int(top["distinct"]) if isinstance(top.get("distinct"), int) else None,
            count=number(p.get("count")),
            min=number(p.get("min")),
            max=number(p.get("max")),
        )
    return data_quality_metrics_dataset.DataQualityMetricsDatasetFacet(
        columnMetrics=columns, rowCount=rows
    )


def identity_lineage(spec: ContractSpec) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Accepted rows carry every contract field of the posted batch unchanged."""
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            f.name: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=spec.dataset.namespace, name=spec.dataset.name, field=f.name
                    )
                ],
                transformationType="IDENTITY",
                transformationDescription="rows that pass the contract, values conformed to type",
            )
            for f in spec.fields
        }
    )


def _statistics(rows: int) -> output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet:
    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows)
