"""Step 2a for MLflow 3's logged models: an Envelope -> row operations. Pure.

Every operation is applied in log order after the batch's inserts
(logged_models_writer.py, called by tracking_writer.apply), so a tag or a status change
always finds the model created earlier in the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tracklog.ingest.projectors.order import order_key
from tracklog.v1 import events_pb2 as pb

KINDS = frozenset(
    {
        "logged_model_created",
        "logged_model_finalized",
        "logged_model_tag_set",
        "logged_model_tag_deleted",
        "logged_model_deleted",
        "logged_model_output",
        "logged_model_input",
        "logged_model_params_logged",
        "logged_model_metrics_logged",
    }
)
STATUS_NAMES = {
    pb.LOGGED_MODEL_STATUS_PENDING: "PENDING",
    pb.LOGGED_MODEL_STATUS_READY: "READY",
    pb.LOGGED_MODEL_STATUS_FAILED: "FAILED",
}


@dataclass(frozen=True, slots=True)
class LoggedModelRow:
    model_id: str
    experiment_id: str
    name: str
    source_run_id: str
    model_type: str
    artifact_location: str
    created: datetime
    tags: tuple[tuple[str, str], ...]
    params: tuple[tuple[str, str], ...]
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class LoggedModelChange:
    """A status change, a tag set (or deleted when ``value`` is None), params logged or a
    deletion."""

    model_id: str
    at: datetime | None
    status: str | None = None
    status_message: str = ""
    tag: tuple[str, str | None] | None = None
    deleted: bool = False
    params: tuple[tuple[str, str], ...] = ()
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class ModelOutputRow:
    run_id: str
    model_id: str
    step: int


@dataclass(frozen=True, slots=True)
class ModelInputRow:
    run_id: str
    model_id: str


@dataclass(frozen=True, slots=True)
class ModelMetricRows:
    """Points a run logged for the model: (key, value, timestamp_ms, step, dataset name,
    dataset digest) each."""

    model_id: str
    run_id: str
    points: tuple[tuple[str, float, int, int, str, str], ...]


LoggedModelOp = (
    LoggedModelRow | LoggedModelChange | ModelOutputRow | ModelInputRow | ModelMetricRows
)
LOGGED_MODEL_OPS = (
    LoggedModelRow,
    LoggedModelChange,
    ModelOutputRow,
    ModelInputRow,
    ModelMetricRows,
)


def handles(envelope: pb.Envelope) -> bool:
    return envelope.WhichOneof("payload") in KINDS


def project(envelope: pb.Envelope) -> LoggedModelOp:
    """The operation one (already validated) logged-model event causes."""
    kind = envelope.WhichOneof("payload")
    owner = envelope.aggregate_id
    at = envelope.occurred_at.ToDatetime(tzinfo=UTC) if envelope.HasField("occurred_at") else None
    order = order_key(envelope)
    if kind == "logged_model_created":
        created = envelope.logged_model_created
        return LoggedModelRow(
            model_id=owner,
            experiment_id=created.experiment_id,
            name=created.name,
            source_run_id=created.source_run_id,
            model_type=created.model_type,
            artifact_location=created.artifact_location,
            created=created.creation_time.ToDatetime(tzinfo=UTC),
            tags=tuple((t.key, t.value) for t in created.tags),
            params=tuple((p.key, p.value) for p in created.params),
            order=order,
        )
    if kind == "logged_model_finalized":
        finalized = envelope.logged_model_finalized
        status = STATUS_NAMES[finalized.status]
        message = finalized.status_message
        return LoggedModelChange(owner, at, status=status, status_message=message, order=order)
    if kind == "logged_model_tag_set":
        tag = envelope.logged_model_tag_set.tag
        return LoggedModelChange(owner, at, tag=(tag.key, tag.value), order=order)
    if kind == "logged_model_tag_deleted":
        key = envelope.logged_model_tag_deleted.key
        return LoggedModelChange(owner, at, tag=(key, None), order=order)
    if kind == "logged_model_deleted":
        deleted = envelope.logged_model_deleted
        when = at
        if deleted.HasField("deleted_time"):
            when = deleted.deleted_time.ToDatetime(tzinfo=UTC)
        return LoggedModelChange(owner, when, deleted=True)
    if kind == "logged_model_params_logged":
        params = tuple((p.key, p.value) for p in envelope.logged_model_params_logged.params)
        return LoggedModelChange(owner, at, params=params)
    if kind == "logged_model_metrics_logged":
        logged = envelope.logged_model_metrics_logged
        points = tuple(
            (m.key, m.value, m.timestamp_ms, m.step, m.dataset_name, m.dataset_digest)
            for m in logged.metrics
        )
        return ModelMetricRows(owner, logged.run_id, points)
    if kind == "logged_model_output":
        output = envelope.logged_model_output
        return ModelOutputRow(owner, output.model_id, output.step)
    if kind == "logged_model_input":
        return ModelInputRow(owner, envelope.logged_model_input.model_id)
    raise ValueError(f"not a logged-model event: {kind}")
