"""MLflow 3's logged models on Tracklog: what ``mlflow.<flavor>.log_model`` calls.

``log_model`` creates a model (PENDING) whose files go under the experiment's artifact
location (``models/<model_id>/artifacts``), records it as an output of the run, uploads
it with MLflow's own artifact repositories, then registers ``models:/<model_id>``.
Loading ``runs:/<run_id>/<name>`` finds the model by name among the run's experiment's
models. Every write is an event keyed by the model id; reads wait for this process's
writes first, as every read of the store does.

Metrics linked to a model (``log_metric(..., model_id=...)``, as autolog logs them) are
the run's metrics and also the model's (`LoggedModel.metrics`, every point).
"""

from __future__ import annotations

import json
from typing import Any

from mlflow.entities import (
    LoggedModel,
    LoggedModelOutput,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
)
from mlflow.entities.logged_model_parameter import LoggedModelParameter
from mlflow.store.entities.paged_list import PagedList
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_MODELS
from mlflow.utils.name_utils import _generate_random_name

from tracklog.client import logged_models as client_logged_models
from tracklog.events.logged_models import ModelMetric
from tracklog.mlflow.errors import mlflow_errors, not_found
from tracklog.mlflow.store_base import StoreBase, settled

SEARCH_DEFAULT = 100


def to_mlflow(model: client_logged_models.LoggedModel) -> LoggedModel:
    return LoggedModel(
        experiment_id=model.experiment_id,
        model_id=model.model_id,
        name=model.name,
        artifact_location=model.artifact_location,
        creation_timestamp=model.creation_time_ms,
        last_updated_timestamp=model.last_updated_time_ms,
        model_type=model.model_type,
        source_run_id=model.source_run_id,
        status=LoggedModelStatus(model.status),
        status_message=model.status_message or None,
        tags=dict(model.tags),
        params=dict(model.params),
        metrics=[
            Metric(
                m.key,
                m.value,
                m.timestamp_ms,
                m.step,
                model_id=model.model_id,
                dataset_name=m.dataset_name or None,
                dataset_digest=m.dataset_digest or None,
                run_id=m.run_id or None,
            )
            for m in model.metrics
        ],
    )


class LoggedModelsPart(StoreBase):
    @mlflow_errors
    @settled
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: list[LoggedModelTag] | None = None,
        params: list[LoggedModelParameter] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        created = self.client.create_logged_model(
            experiment_id,
            name or _generate_random_name(),
            source_run_id=source_run_id,
            tags={t.key: t.value for t in tags or ()},
            params={p.key: p.value for p in params or ()},
            model_type=model_type,
        )
        return to_mlflow(created)

    @mlflow_errors
    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return to_mlflow(self.client.get_logged_model(model_id, allow_deleted=allow_deleted))

    @mlflow_errors
    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        found = self.client.search_logged_models(
            experiment_ids,
            filter_string or "",
            max_results=max_results or SEARCH_DEFAULT,
            page_token=page_token,
            order_by=order_by,
            datasets=datasets,
        )
        return PagedList([to_mlflow(m) for m in found], found.token or None)

    @mlflow_errors
    @settled
    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        self.get_logged_model(model_id)
        self.client.finalize_logged_model(model_id, str(status))
        return self.get_logged_model(model_id)

    @mlflow_errors
    @settled
    def set_logged_model_tags(self, model_id: str, tags: list[LoggedModelTag]) -> None:
        self.get_logged_model(model_id)
        self.client.set_logged_model_tags(model_id, {t.key: t.value for t in tags})

    @mlflow_errors
    @settled
    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        if key not in self.get_logged_model(model_id).tags:
            raise not_found(f"No tag with key {key!r} found for model with ID {model_id!r}.")
        self.client.delete_logged_model_tag(model_id, key)

    @mlflow_errors
    @settled
    def log_logged_model_params(self, model_id: str, params: list[LoggedModelParameter]) -> None:
        self.get_logged_model(model_id)
        self.client.log_logged_model_params(model_id, {p.key: p.value for p in params})

    @mlflow_errors
    @settled
    def delete_logged_model(self, model_id: str) -> None:
        self.get_logged_model(model_id)
        self.client.delete_logged_model(model_id)

    @mlflow_errors
    @settled
    def log_outputs(self, run_id: str, models: list[LoggedModelOutput]) -> None:
        for output in models:
            self.client.log_model_output(run_id, output.model_id, output.step)

    @mlflow_errors
    @settled
    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        """Append the model to the run's ``mlflow.log-model.history`` tag, as MLflow does."""
        from mlflow.models import Model

        if not isinstance(mlflow_model, Model):
            raise TypeError(f"mlflow_model must be an mlflow.models.Model, not {mlflow_model!r}")
        tags = self.client.get_run(run_id).data.tags
        history = json.loads(tags.get(MLFLOW_LOGGED_MODELS, "[]"))
        history.append(mlflow_model.get_tags_dict())
        self.client.set_tag(run_id, MLFLOW_LOGGED_MODELS, json.dumps(history))


def model_points(metrics: list[Metric]) -> dict[str, list[ModelMetric]]:
    """The points of ``metrics`` logged for a model (autolog's), by model id."""
    found: dict[str, list[ModelMetric]] = {}
    for m in metrics:
        if m.model_id:
            point = ModelMetric(
                m.key,
                m.value,
                m.timestamp,
                m.step or 0,
                dataset_name=m.dataset_name or "",
                dataset_digest=m.dataset_digest or "",
            )
            found.setdefault(m.model_id, []).append(point)
    return found
