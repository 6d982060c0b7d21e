"""The logged-models part of `TracklogClient` (MLflow 3's LoggedModel), with MlflowClient's
names: a model logged by ``mlflow.<flavor>.log_model`` is one of these, its files under
its ``artifact_location``, registered by ``models:/<model_id>``.

Writes are events keyed by the model id (``m-`` and 32 hex digits, as MLflow's); the run
that produced a model records it as an output (`log_model_output`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracklog.client.errors import TracklogError
from tracklog.client.experiments import ExperimentsMixin
from tracklog.client.registry_entities import PagedList
from tracklog.contract import lifecycle_stages, validation
from tracklog.contract.ids import new_model_id
from tracklog.contract.locations import join_uri
from tracklog.events import logged_models as events
from tracklog.events.payloads import Payload
from tracklog.v1 import logged_models_pb2

METRICS_PER_EVENT = 1000  # MLflow's log_batch limit; well under the producer's event size
STATUS_NAMES = {number: name for name, number in events.STATUSES.items()}


@dataclass(frozen=True, slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    status: str  # PENDING, READY or FAILED
    creation_time_ms: int
    last_updated_time_ms: int
    source_run_id: str | None = None
    model_type: str | None = None
    status_message: str = ""
    lifecycle_stage: str = "active"
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: tuple[events.ModelMetric, ...] = ()


def logged_model(message: logged_models_pb2.LoggedModel) -> LoggedModel:
    return LoggedModel(
        model_id=message.model_id,
        experiment_id=message.experiment_id,
        name=message.name,
        artifact_location=message.artifact_location,
        status=STATUS_NAMES.get(message.status, "PENDING"),
        creation_time_ms=message.creation_time_ms,
        last_updated_time_ms=message.last_updated_time_ms,
        source_run_id=message.source_run_id or None,
        model_type=message.model_type or None,
        status_message=message.status_message,
        lifecycle_stage=lifecycle_stages.from_proto(message.lifecycle_stage),
        tags={t.key: t.value for t in message.tags},
        params={p.key: p.value for p in message.params},
        metrics=tuple(
            events.ModelMetric(
                m.key, m.value, m.timestamp_ms, m.step, m.run_id, m.dataset_name, m.dataset_digest
            )
            for m in message.metrics
        ),
    )


class LoggedModelsMixin(ExperimentsMixin):
    def create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None = None,
        tags: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        model_type: str | None = None,
        *,
        artifact_location: str | None = None,
    ) -> LoggedModel:
        """Create a model (PENDING) in an active experiment; its files go to
        ``<experiment's artifact location>/models/<model_id>/artifacts`` unless
        ``artifact_location`` is given."""
        experiment = self.get_experiment(validation.validate_id("experiment id", experiment_id))
        if experiment.lifecycle_stage != "active":
            raise TracklogError(
                "INVALID_ARGUMENT",
                f"The experiment {experiment_id} must be in the 'active' state. "
                f"Current state is {experiment.lifecycle_stage}.",
            )
        model_id = new_model_id()
        if artifact_location is None:
            if not experiment.artifact_location:
                raise TracklogError(
                    "FAILED_PRECONDITION",
                    f"experiment {experiment_id} has no artifact location for the model's files",
                )
            artifact_location = join_uri(
                experiment.artifact_location, f"models/{model_id}/artifacts"
            )
        now_ns = time.time_ns()
        payload = events.logged_model_created(
            experiment_id=experiment_id,
            name=name,
            source_run_id=source_run_id,
            model_type=model_type,
            artifact_location=artifact_location,
            creation_ns=now_ns,
            tags=dict(tags or {}),
            params=dict(params or {}),
        )
        self._writer().emit(model_id, [payload])
        now_ms = now_ns // 1_000_000
        return LoggedModel(
            model_id=model_id,
            experiment_id=experiment_id,
            name=name,
            artifact_location=artifact_location,
            status="PENDING",
            creation_time_ms=now_ms,
            last_updated_time_ms=now_ms,
            source_run_id=source_run_id or None,
            model_type=model_type or None,
            tags={t.key: t.value for t in payload.tags},
            params={p.key: p.value for p in payload.params},
        )

    def finalize_logged_model(self, model_id: str, status: str, message: str = "") -> None:
        """Set the model's status: READY once its files are uploaded, or FAILED."""
        self._emit_model(model_id, events.logged_model_finalized(status, message))

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, object]) -> None:
        self._emit_model(model_id, *(events.logged_model_tag_set(k, v) for k, v in tags.items()))

    def log_logged_model_params(self, model_id: str, params: Mapping[str, object]) -> None:
        """More params of the model; a param already logged keeps its first value."""
        self._emit_model(model_id, events.logged_model_params_logged(params))

    def log_model_metrics(
        self, model_id: str, run_id: str, metrics: Sequence[events.ModelMetric]
    ) -> None:
        """Metric points ``run_id`` computed for the model (they are not logged to the run
        by this call: MLflow's clients log them to both)."""
        for start in range(0, len(metrics), METRICS_PER_EVENT):
            chunk = metrics[start : start + METRICS_PER_EVENT]
            self._emit_model(model_id, events.logged_model_metrics_logged(run_id, chunk))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._emit_model(model_id, events.logged_model_tag_deleted(key))

    def delete_logged_model(self, model_id: str) -> None:
        self._emit_model(model_id, events.logged_model_deleted(time.time_ns()))

    def log_model_output(self, run_id: str, model_id: str, step: int = 0) -> None:
        """Record that the run produced the model (at ``step``)."""
        payload = events.logged_model_output(model_id, step)
        self._writer().emit(validation.validate_id("run id", run_id), [payload])

    def log_model_inputs(self, run_id: str, model_ids: Sequence[str]) -> None:
        """Record that the run used these logged models as inputs (MLflow's log_inputs with
        models); a model recorded before, or twice, is recorded once."""
        payloads = [events.logged_model_input(model_id) for model_id in model_ids]
        if payloads:
            self._writer().emit(validation.validate_id("run id", run_id), payloads)

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        self._sync()
        request = logged_models_pb2.GetLoggedModelRequest(
            model_id=model_id, allow_deleted=allow_deleted
        )
        return logged_model(self._call(self._query.GetLoggedModel, request).model)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        max_results: int = 100,
        page_token: str | None = None,
        order_by: Sequence[Mapping[str, Any]] | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
    ) -> PagedList[LoggedModel]:
        """Models of the experiments, newest first unless ``order_by``; ``filter_string``
        as MLflow's (name, model_type, status, source_run_id, tags.<key>, params.<key>,
        metrics.<key> compared with a number, on ``datasets`` when given). ``order_by``
        and ``datasets`` as MlflowClient's: ``{"field_name": "metrics.acc", "ascending":
        False, "dataset_name": ...}`` and ``{"dataset_name": ..., "dataset_digest": ...}``."""
        self._sync()
        request = logged_models_pb2.SearchLoggedModelsRequest(
            experiment_ids=list(experiment_ids),
            filter=filter_string,
            max_results=max_results,
            page_token=page_token or "",
            order_by=[_order(order) for order in order_by or ()],
            datasets=[
                logged_models_pb2.LoggedModelDataset(
                    dataset_name=_text(d, "dataset_name"), dataset_digest=_text(d, "dataset_digest")
                )
                for d in datasets or ()
            ],
        )
        reply = self._call(self._query.SearchLoggedModels, request)
        return PagedList([logged_model(m) for m in reply.models], reply.next_page_token)

    def _emit_model(self, model_id: str, *payloads: Payload) -> None:
        model_id = validation.validate_id("model id", model_id)
        self._writer().emit(model_id, list(payloads))


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key) or ""
    if not isinstance(value, str):
        raise TracklogError("INVALID_ARGUMENT", f"{key} must be a string, got {value!r}")
    return value


def _order(entry: Mapping[str, Any]) -> logged_models_pb2.LoggedModelOrder:
    """MLflow's order_by entry as the query service's (ascending unless said otherwise)."""
    ascending = entry.get("ascending", True)
    if not isinstance(ascending, bool):
        raise TracklogError("INVALID_ARGUMENT", f"ascending must be a boolean, got {ascending!r}")
    return logged_models_pb2.LoggedModelOrder(
        field_name=_text(entry, "field_name"),
        descending=not ascending,
        dataset_name=_text(entry, "dataset_name"),
        dataset_digest=_text(entry, "dataset_digest"),
    )
