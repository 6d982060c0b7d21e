"""Step 1 for MLflow 3's logged models: the rules each payload must satisfy. Pure.

The model id is the aggregate id (checked by `decode.validate`); names, keys and
values follow the SDK's rules (tracklog.contract.validation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tracklog.contract import validation
from tracklog.ingest.decode.tracking import (
    InvalidTrackingEvent,
    check_text,
    check_timestamp,
    checked,
)
from tracklog.v1 import events_pb2 as pb

MAX_LOCATION_LENGTH = 4096
_STATUSES = {
    pb.LOGGED_MODEL_STATUS_PENDING,
    pb.LOGGED_MODEL_STATUS_READY,
    pb.LOGGED_MODEL_STATUS_FAILED,
}


def _pairs(what: str, pairs: Iterable[pb.Tag]) -> None:
    seen: set[str] = set()
    for pair in pairs:
        checked(validation.validate_key, what, pair.key)
        check_text(f"value of {what} {pair.key!r}", pair.value)
        if pair.key in seen:
            raise InvalidTrackingEvent(f"{what} {pair.key!r} is given twice")
        seen.add(pair.key)


def _created(envelope: pb.Envelope) -> None:
    created = envelope.logged_model_created
    checked(validation.validate_id, "experiment_id", created.experiment_id)
    if not created.name:
        raise InvalidTrackingEvent("a logged model needs a name")
    check_text("model name", created.name, validation.MAX_KEY_LENGTH)
    if created.source_run_id:
        checked(validation.validate_id, "source_run_id", created.source_run_id)
    check_text("model type", created.model_type, validation.MAX_KEY_LENGTH)
    if not created.artifact_location:
        raise InvalidTrackingEvent("a logged model needs an artifact location")
    check_text("artifact location", created.artifact_location, MAX_LOCATION_LENGTH)
    if not created.HasField("creation_time"):
        raise InvalidTrackingEvent("a logged model needs a creation_time")
    check_timestamp("creation_time", created.creation_time)
    _pairs("tag", created.tags)
    _pairs("param", created.params)


def _finalized(envelope: pb.Envelope) -> None:
    finalized = envelope.logged_model_finalized
    if finalized.status not in _STATUSES:
        raise InvalidTrackingEvent(f"unknown logged model status {finalized.status}")
    check_text("status message", finalized.status_message)


def _tag_set(envelope: pb.Envelope) -> None:
    _pairs("tag", [envelope.logged_model_tag_set.tag])


def _deleted(envelope: pb.Envelope) -> None:
    deleted = envelope.logged_model_deleted
    if deleted.HasField("deleted_time"):
        check_timestamp("deleted_time", deleted.deleted_time)


def _metrics(envelope: pb.Envelope) -> None:
    logged = envelope.logged_model_metrics_logged
    checked(validation.validate_id, "run_id", logged.run_id)
    if not logged.metrics:
        raise InvalidTrackingEvent("logged model metrics without a point")
    for point in logged.metrics:
        checked(validation.validate_key, "metric", point.key)
        check_text("dataset name", point.dataset_name, validation.MAX_KEY_LENGTH)
        check_text("dataset digest", point.dataset_digest, validation.MAX_KEY_LENGTH)


def _output(envelope: pb.Envelope) -> None:
    checked(validation.validate_id, "model_id", envelope.logged_model_output.model_id)


MODEL_VALIDATORS: dict[str, Callable[[pb.Envelope], None]] = {
    "logged_model_created": _created,
    "logged_model_finalized": _finalized,
    "logged_model_tag_set": _tag_set,
    "logged_model_tag_deleted": lambda e: checked(
        validation.validate_key, "tag", e.logged_model_tag_deleted.key
    ),
    "logged_model_deleted": _deleted,
    "logged_model_params_logged": lambda e: _pairs("param", e.logged_model_params_logged.params),
    "logged_model_metrics_logged": _metrics,
}
RUN_VALIDATORS: dict[str, Callable[[pb.Envelope], None]] = {
    "logged_model_output": _output,
    "logged_model_input": lambda e: checked(
        validation.validate_id, "model_id", e.logged_model_input.model_id
    ),
}
VALIDATORS = {**MODEL_VALIDATORS, **RUN_VALIDATORS}
