"""What `TracklogClient` reads return: frozen dataclasses shaped like MLflow's entities.

`Experiment` and `RunInfo` live in tracklog.entities (the fluent API returns them
too); this module adds a run's data and inputs, and builds all of them from the
query service's messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.contract import lifecycle_stages
from tracklog.entities import Experiment, RunInfo
from tracklog.v1 import events_pb2, query_pb2, tracking_pb2


@dataclass(frozen=True, slots=True)
class RunData:
    """Latest value per metric key, params and tags, as plain dicts (MLflow's RunData)."""

    metrics: Mapping[str, float] = field(default_factory=dict, hash=False)
    params: Mapping[str, str] = field(default_factory=dict, hash=False)
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset a run used (MLflow's DatasetInput, flattened); context is its
    `mlflow.data.context` tag ("training", "validation", ...)."""

    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema: str = ""
    profile: str = ""
    context: str = ""


@dataclass(frozen=True, slots=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: tuple[DatasetInput, ...] = ()


def _ms(ts: Timestamp) -> int:
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def experiment(message: query_pb2.Experiment) -> Experiment:
    return Experiment(
        experiment_id=message.experiment_id,
        name=message.name,
        artifact_location=message.artifact_location,
        lifecycle_stage=lifecycle_stages.from_proto(message.lifecycle_stage),
        tags={t.key: t.value for t in message.tags},
        creation_time=_ms(message.creation_time) if message.HasField("creation_time") else None,
    )


def dataset_input(message: tracking_pb2.DatasetInput) -> DatasetInput:
    return DatasetInput(
        message.name,
        message.digest,
        message.source_type,
        message.source,
        message.schema,
        message.profile,
        message.context,
    )


def run(message: query_pb2.Run) -> Run:
    i = message.info
    info = RunInfo(
        run_id=i.run_id,
        experiment_id=i.experiment_id,
        run_name=i.run_name,
        parent_run_id=i.parent_run_id or None,
        start_time_ms=_ms(i.start_time) if i.HasField("start_time") else 0,
        user_id=i.user_id,
        status=events_pb2.RunStatus.Name(i.status).removeprefix("RUN_STATUS_"),
        end_time_ms=_ms(i.end_time) if i.HasField("end_time") else None,
        lifecycle_stage=lifecycle_stages.from_proto(i.lifecycle_stage),
        artifact_uri=i.artifact_uri,
    )
    data = RunData(
        metrics={m.key: m.value for m in message.data.metrics},
        params={p.key: p.value for p in message.data.params},
        tags={t.key: t.value for t in message.data.tags},
    )
    return Run(info, data, tuple(dataset_input(d) for d in message.inputs))
