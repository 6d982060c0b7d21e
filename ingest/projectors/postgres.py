"""Step 2a: an Envelope -> the row operations of the Postgres read model. Pure.

Each operation is a frozen row; the writer (postgres_writer.py) decides the SQL:
experiments and runs are inserted once (a replayed RunStarted never resets an
ended run), params are write-once, tags are last-write-wins, latest metrics keep
the maximum (step, timestamp_ms, value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.ingest.projectors import artifacts as projector_artifacts
from tracklog.ingest.projectors import logged_models as projector_logged_models
from tracklog.ingest.projectors import registry as projector_registry
from tracklog.ingest.projectors import tracking as projector_tracking
from tracklog.ingest.projectors.artifacts import ArtifactRow
from tracklog.ingest.projectors.metric_columns import (
    MetricColumns,
    latest_per_key,
    metric_columns,
)
from tracklog.ingest.projectors.order import order_key
from tracklog.ingest.projectors.registry import RegistryOp
from tracklog.ingest.projectors.tracking import TagChange, TrackingOp
from tracklog.v1 import events_pb2 as pb


@dataclass(frozen=True, slots=True)
class ExperimentRow:
    experiment_id: str
    name: str
    artifact_location: str
    creation_time: datetime
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class ExperimentTagRow:
    experiment_id: str
    key: str
    value: str
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    experiment_id: str
    run_name: str
    parent_run_id: str
    user_id: str
    status: str
    start_time: datetime | None
    artifact_uri: str = ""
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class RunTagRow:
    run_id: str
    key: str
    value: str
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class ParamRow:
    run_id: str
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunEndRow:
    run_id: str
    status: str
    end_time: datetime | None
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class LatestMetricRow:
    run_id: str
    key: str
    step: int
    timestamp_ms: int
    value: float


PostgresOp = (
    ExperimentRow
    | ExperimentTagRow
    | RunRow
    | RunTagRow
    | ParamRow
    | RunEndRow
    | LatestMetricRow
    | RegistryOp
    | TagChange
    | TrackingOp
    | ArtifactRow
)


def project(envelope: pb.Envelope, columns: MetricColumns | None = None) -> list[PostgresOp]:
    """The row operations one (already validated) event causes; ``columns``: a
    MetricsLogged event's, when the caller has them already (`metric_columns`)."""
    kind = envelope.WhichOneof("payload")
    aggregate_id = envelope.aggregate_id
    if projector_registry.is_registry(envelope):
        return [projector_registry.project(envelope)]
    if projector_tracking.handles(envelope):
        return [*projector_tracking.project(envelope)]
    if projector_logged_models.handles(envelope):
        return [projector_logged_models.project(envelope)]
    if projector_artifacts.handles(envelope):
        return [projector_artifacts.project(envelope)]
    if kind == "metrics_logged":
        if columns is None:
            columns = metric_columns(envelope.metrics_logged)
        latest = latest_per_key(columns)
        return [
            LatestMetricRow(aggregate_id, key, step, ts, value)
            for key, (step, ts, value) in latest.items()
        ]
    if kind == "params_logged":
        return [ParamRow(aggregate_id, p.key, p.value) for p in envelope.params_logged.params]
    order = order_key(envelope)  # below: last-writer-wins rows only
    if kind == "tags_set":
        return [RunTagRow(aggregate_id, t.key, t.value, order) for t in envelope.tags_set.tags]
    if kind == "run_started":
        started = envelope.run_started
        run = RunRow(
            run_id=aggregate_id,
            experiment_id=started.experiment_id,
            run_name=started.run_name,
            parent_run_id=started.parent_run_id,
            user_id=started.user_id,
            status=status_name(pb.RUN_STATUS_RUNNING),
            start_time=_time(envelope, started, "start_time"),
            artifact_uri=started.artifact_uri,
            order=order,
        )
        return [run, *(RunTagRow(aggregate_id, t.key, t.value, order) for t in started.tags)]
    if kind == "run_ended":
        ended = envelope.run_ended
        end_time = _time(envelope, ended, "end_time")
        if ended.status in (pb.RUN_STATUS_RUNNING, pb.RUN_STATUS_SCHEDULED):
            end_time = None  # update_run(status="RUNNING") reopens the run
        return [RunEndRow(aggregate_id, status_name(ended.status), end_time, order)]
    if kind == "experiment_created":
        created = envelope.experiment_created
        creation_time = _time(envelope, created, "creation_time")
        if creation_time is None:
            raise ValueError("experiment_created without a time; decode() rejects these")
        experiment = ExperimentRow(
            aggregate_id, created.name, created.artifact_location, creation_time, order
        )
        tags = (ExperimentTagRow(aggregate_id, t.key, t.value, order) for t in created.tags)
        return [experiment, *tags]
    return []


def status_name(status: pb.RunStatus.ValueType) -> str:
    """RUN_STATUS_FINISHED -> FINISHED."""
    return pb.RunStatus.Name(status).removeprefix("RUN_STATUS_")


def to_datetime(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def _time(
    envelope: pb.Envelope,
    event: pb.ExperimentCreated | pb.RunStarted | pb.RunEnded,
    field: str,
) -> datetime | None:
    """The event's own time field, else when the envelope says it happened."""
    if event.HasField(field):  # type: ignore[arg-type]
        return to_datetime(getattr(event, field))
    if envelope.HasField("occurred_at"):
        return to_datetime(envelope.occurred_at)
    return None
