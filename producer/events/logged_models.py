"""Pure builders of MLflow 3's logged-model payloads (validated first).

Each raises ValueError (before anything is queued) when its input breaks the rules the
ingest worker checks (tracklog.ingest.decode.logged_models).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tracklog.contract import validation
from tracklog.contract.envelopes import timestamp
from tracklog.v1 import events_pb2 as pb

STATUSES: dict[str, pb.LoggedModelStatus.ValueType] = {
    "PENDING": pb.LOGGED_MODEL_STATUS_PENDING,
    "READY": pb.LOGGED_MODEL_STATUS_READY,
    "FAILED": pb.LOGGED_MODEL_STATUS_FAILED,
}


@dataclass(frozen=True, slots=True)
class ModelMetric:
    """A metric point logged for a model (MLflow's Metric with a model_id)."""

    key: str
    value: float
    timestamp_ms: int
    step: int = 0
    run_id: str = ""
    dataset_name: str = ""
    dataset_digest: str = ""


def _pairs(what: str, pairs: Mapping[str, object]) -> list[pb.Tag]:
    checked = []
    for key, value in pairs.items():
        key = validation.validate_key(what, key)
        checked.append(pb.Tag(key=key, value=validation.tag_value(key, value)))
    return checked


def logged_model_created(
    *,
    experiment_id: str,
    name: str,
    source_run_id: str | None,
    model_type: str | None,
    artifact_location: str,
    creation_ns: int,
    tags: Mapping[str, object],
    params: Mapping[str, object],
) -> pb.LoggedModelCreated:
    if not name:
        raise ValueError("a logged model needs a name")
    if len(name) > validation.MAX_KEY_LENGTH:
        raise ValueError(f"model name is at most {validation.MAX_KEY_LENGTH} characters")
    return pb.LoggedModelCreated(
        experiment_id=validation.validate_id("experiment id", experiment_id),
        name=name,
        source_run_id=validation.validate_id("run id", source_run_id) if source_run_id else "",
        model_type=model_type or "",
        artifact_location=artifact_location,
        creation_time=timestamp(creation_ns),
        tags=_pairs("tag", tags),
        params=_pairs("param", params),
    )


def logged_model_finalized(status: str, message: str = "") -> pb.LoggedModelFinalized:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    return pb.LoggedModelFinalized(status=STATUSES[status], status_message=message)


def logged_model_tag_set(key: str, value: object) -> pb.LoggedModelTagSet:
    (tag,) = _pairs("tag", {key: value})
    return pb.LoggedModelTagSet(tag=tag)


def logged_model_tag_deleted(key: str) -> pb.LoggedModelTagDeleted:
    return pb.LoggedModelTagDeleted(key=validation.validate_key("tag", key))


def logged_model_params_logged(params: Mapping[str, object]) -> pb.LoggedModelParamsLogged:
    return pb.LoggedModelParamsLogged(params=_pairs("param", params))


def logged_model_metrics_logged(
    run_id: str, metrics: Sequence[ModelMetric]
) -> pb.LoggedModelMetricsLogged:
    if not metrics:
        raise ValueError("no metric points to log for the model")
    return pb.LoggedModelMetricsLogged(
        run_id=validation.validate_id("run id", run_id),
        metrics=[
            pb.ModelMetricPoint(
                key=validation.validate_key("metric", m.key),
                value=float(m.value),
                timestamp_ms=validation.int64("timestamp", m.timestamp_ms),
                step=validation.int64("step", m.step),
                dataset_name=m.dataset_name,
                dataset_digest=m.dataset_digest,
            )
            for m in metrics
        ],
    )


def logged_model_deleted(deleted_ns: int) -> pb.LoggedModelDeleted:
    return pb.LoggedModelDeleted(deleted_time=timestamp(deleted_ns))


def logged_model_output(model_id: str, step: int) -> pb.LoggedModelOutput:
    model_id = validation.validate_id("model id", model_id)
    return pb.LoggedModelOutput(model_id=model_id, step=validation.int64("step", step))


def logged_model_input(model_id: str) -> pb.LoggedModelInput:
    return pb.LoggedModelInput(model_id=validation.validate_id("model id", model_id))
