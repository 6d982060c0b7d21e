"""Tracklog's read models as MLflow's entities (times in epoch milliseconds)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from mlflow.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunTag,
)
from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from tracklog.client import registry_entities
from tracklog.contract import lifecycle_stages
from tracklog.v1 import events_pb2, query_pb2, tracking_pb2


def _ms(ts: Timestamp) -> int:
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def experiment(message: query_pb2.Experiment) -> Experiment:
    created = _ms(message.creation_time) if message.HasField("creation_time") else None
    return Experiment(
        experiment_id=message.experiment_id,
        name=message.name,
        artifact_location=message.artifact_location,
        lifecycle_stage=lifecycle_stages.from_proto(message.lifecycle_stage),
        tags=[ExperimentTag(t.key, t.value) for t in message.tags],
        creation_time=created,
        last_update_time=created,
    )


def run_status(number: int) -> str:
    return events_pb2.RunStatus.Name(number).removeprefix("RUN_STATUS_")  # type: ignore[arg-type]


def run_info(message: query_pb2.RunInfo) -> RunInfo:
    return RunInfo(
        run_id=message.run_id,
        experiment_id=message.experiment_id,
        user_id=message.user_id,
        status=run_status(message.status),
        start_time=_ms(message.start_time) if message.HasField("start_time") else 0,
        end_time=_ms(message.end_time) if message.HasField("end_time") else None,
        lifecycle_stage=lifecycle_stages.from_proto(message.lifecycle_stage),
        artifact_uri=message.artifact_uri,
        run_name=message.run_name,
    )


def dataset_input(message: tracking_pb2.DatasetInput) -> DatasetInput:
    dataset = Dataset(
        name=message.name,
        digest=message.digest,
        source_type=message.source_type,
        source=message.source,
        schema=message.schema or None,
        profile=message.profile or None,
    )
    # as MLflow's log_input orders them: the given tags, then the context
    tags = [InputTag(t.key, t.value) for t in message.tags]
    if message.context:
        tags.append(InputTag(MLFLOW_DATASET_CONTEXT, message.context))
    return DatasetInput(dataset, tags)


def run(message: query_pb2.Run) -> Run:
    data = RunData(
        metrics=[Metric(m.key, m.value, m.timestamp_ms, m.step) for m in message.data.metrics],
        params=[Param(p.key, p.value) for p in message.data.params],
        tags=[RunTag(t.key, t.value) for t in message.data.tags],
    )
    models = [LoggedModelInput(m.model_id) for m in message.model_inputs]
    inputs = RunInputs([dataset_input(d) for d in message.inputs], models)
    outputs = RunOutputs([LoggedModelOutput(o.model_id, o.step) for o in message.outputs])
    return Run(run_info(message.info), data, inputs, outputs)


def model_version(version: registry_entities.ModelVersion) -> ModelVersion:
    return ModelVersion(
        name=version.name,
        version=str(version.version),
        creation_timestamp=version.creation_timestamp,
        last_updated_timestamp=version.last_updated_timestamp,
        description=version.description,
        user_id=version.user_id,
        current_stage=version.current_stage,
        source=version.source,
        run_id=version.run_id or None,
        status=version.status,
        status_message=version.status_message or None,
        tags=[ModelVersionTag(k, v) for k, v in version.tags.items()],
        aliases=list(version.aliases),
        model_id=version.model_id or None,
    )


def registered_model(model: registry_entities.RegisteredModel) -> RegisteredModel:
    return RegisteredModel(
        name=model.name,
        creation_timestamp=model.creation_timestamp,
        last_updated_timestamp=model.last_updated_timestamp,
        description=model.description,
        latest_versions=[model_version(v) for v in model.latest_versions],
        tags=[RegisteredModelTag(k, v) for k, v in model.tags.items()],
        aliases=[RegisteredModelAlias(a, str(v)) for a, v in model.aliases.items()],
    )
