"""API shapes of the lineage domain (graph shapes follow Marquez's)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.schemas import ResponseModel


class Edge(ResponseModel):
    origin: str = Field(description="Node id the edge starts at.")
    destination: str = Field(description="Node id the edge ends at.")


class Node(ResponseModel):
    id: str = Field(
        description="Node id: `dataset:NS:NAME`, `dataset:NS:NAME#VERSION`, `job:NS:NAME`, "
        "`run:RUN_ID` or `datasetField:NS:NAME:FIELD[#VERSION]`."
    )
    type: str = Field(description="DATASET, JOB, DATASET_VERSION, RUN or DATASET_FIELD.")
    data: dict[str, Any] = Field(
        description="The node's details: Marquez's DatasetData, JobData (with `latestRun`, a "
        "Run) or ColumnLineageNodeData, field by field, plus driftgate's `facets`; "
        "driftgate's own shapes for DATASET_VERSION and RUN nodes."
    )
    inEdges: list[Edge] = Field(description="Edges ending at this node.")
    outEdges: list[Edge] = Field(description="Edges starting at this node.")


class Graph(ResponseModel):
    graph: list[Node] = Field(description="Every node found, each with its edges.")


class ImpactRead(ResponseModel):
    root: dict[str, Any] = Field(description="What the walk started from.")
    depth: int = Field(description="Largest number of runs walked.")
    datasets: list[dict[str, Any]] = Field(description="Derived dataset versions, with depth.")
    model_versions: list[dict[str, Any]] = Field(
        description="Derived versions linked to a model version (trained on the root)."
    )
    prediction_windows: list[dict[str, Any]] = Field(
        description="Derived versions linked to a prediction window (served from it)."
    )
    runs: list[dict[str, Any]] = Field(description="Runs that read the root or what it fed.")
    jobs: list[str] = Field(description="Jobs of those runs, as `namespace:name`.")


class ProvenanceRead(ResponseModel):
    root: str = Field(description="The node the walk started from.")
    depth: int = Field(description="Largest number of runs walked.")
    datasets: list[dict[str, Any]] = Field(description="Upstream dataset versions, with depth.")
    unversioned_inputs: list[dict[str, Any]] = Field(
        description="Inputs read with no version known to the store (external sources)."
    )
    runs: list[dict[str, Any]] = Field(description="Runs that produced the root or its inputs.")
    jobs: list[str] = Field(description="Jobs of those runs, as `namespace:name`.")
    batches: list[dict[str, Any]] = Field(description="driftgate batches upstream.")
    contract_versions: list[dict[str, Any]] = Field(description="Contract versions checked.")
    check_results: list[dict[str, Any]] = Field(
        description="dataQualityAssertions of upstream runs (e.g. batch checks), with failures."
    )


class RunRead(ResponseModel):
    id: str = Field(description="Run id.")
    job: dict[str, Any] = Field(description="The run's job.")
    state: str = Field(description="NEW, RUNNING, COMPLETED, FAILED or ABORTED.")
    startedAt: Any = Field(default=None, description="Earliest START/RUNNING event time.")
    endedAt: Any = Field(default=None, description="Time of the terminal event.")
    parentRunId: str | None = Field(default=None, description="Parent run, if any.")
    childRunIds: list[str] = Field(description="Runs naming this one as parent.")
    links: dict[str, Any] = Field(description="driftgate objects this run stands for.")
    inputs: list[dict[str, Any]] = Field(description="Datasets read (version resolved).")
    outputs: list[dict[str, Any]] = Field(description="Dataset versions written.")
    facets: dict[str, Any] = Field(description="Current run facets, verbatim.")
    history: list[dict[str, Any]] = Field(description="Every accepted event, by event time.")
