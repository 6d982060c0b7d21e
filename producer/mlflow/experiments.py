"""The experiments part of `TracklogTrackingStore` (MLflow's store methods and semantics).

MLflow's client starts runs in experiment "0" when none is set, and every MLflow store
has it from the start (listed, and oldest); Tracklog's "Default" experiment has that id,
and is created here on first use: a read of experiment "0", or this process's first
search or create.
"""

from __future__ import annotations

import contextlib

from mlflow.entities import Experiment, ExperimentTag, ViewType
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT
from mlflow.utils.validation import _validate_experiment_name, _validate_experiment_tag

from tracklog.client.errors import TracklogError
from tracklog.contract.ids import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME
from tracklog.mlflow import convert
from tracklog.mlflow.errors import invalid, mlflow_errors, not_found
from tracklog.mlflow.store_base import StoreBase, settled
from tracklog.v1 import query_pb2, tracking_pb2


class ExperimentsPart(StoreBase):
    default_seen = False  # this store has read (or created) the Default experiment

    @mlflow_errors
    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        self._see_default()
        request = query_pb2.SearchExperimentsRequest(
            view_type=tracking_pb2.ViewType.ValueType(view_type or ViewType.ACTIVE_ONLY),
            max_results=max_results,
            filter=filter_string or "",
            order_by=order_by or [],
            page_token=page_token or "",
        )
        reply = self.client.query("SearchExperiments", request)
        found = [convert.experiment(e) for e in reply.experiments]
        return PagedList(found, reply.next_page_token or None)

    @mlflow_errors
    @settled
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: list[ExperimentTag] | None = None,
    ) -> str:
        _validate_experiment_name(name)
        self._see_default()
        given = {t.key: t.value for t in tags or []}
        return self.client.create_experiment(
            name, artifact_location or None, given, root=self.artifact_root_uri
        )

    @mlflow_errors
    def get_experiment(self, experiment_id: str) -> Experiment:
        request = query_pb2.GetExperimentRequest(experiment_id=str(experiment_id))
        try:
            reply = self.client.query("GetExperiment", request)
        except TracklogError as error:
            if error.code != "NOT_FOUND":
                raise
            if str(experiment_id) != DEFAULT_EXPERIMENT_ID:
                raise not_found(f"No Experiment with id={experiment_id} exists") from None
            self._create_default()
            reply = self.client.query("GetExperiment", request)
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            self.default_seen = True
        return convert.experiment(reply.experiment)

    def _see_default(self) -> None:
        """The Default experiment, created once if missing (as MLflow's stores have it)."""
        if not self.default_seen:
            self.get_experiment(DEFAULT_EXPERIMENT_ID)

    def _create_default(self) -> None:
        with contextlib.suppress(TracklogError):  # created meanwhile by another process
            self.client.create_experiment(DEFAULT_EXPERIMENT_NAME, root=self.artifact_root_uri)

    @mlflow_errors
    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        request = query_pb2.GetExperimentRequest(name=experiment_name)
        try:
            reply = self.client.query("GetExperiment", request)
        except TracklogError as error:
            if error.code == "NOT_FOUND":
                return None
            raise
        return convert.experiment(reply.experiment)

    @mlflow_errors
    @settled
    def delete_experiment(self, experiment_id: str) -> None:
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise invalid("Cannot delete the default experiment '0'.")
        self.get_experiment(experiment_id)
        self.client.delete_experiment(experiment_id)

    @mlflow_errors
    @settled
    def restore_experiment(self, experiment_id: str) -> None:
        self.get_experiment(experiment_id)
        self.client.restore_experiment(experiment_id)

    @mlflow_errors
    @settled
    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        _validate_experiment_name(new_name)
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != "active":
            raise invalid("Cannot rename a non-active experiment.")
        self.client.rename_experiment(experiment_id, new_name)

    @mlflow_errors
    @settled
    def set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None:
        _validate_experiment_tag(tag.key, tag.value)
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != "active":
            raise invalid(f"The experiment {experiment_id} must be in the 'active' state.")
        self.client.set_experiment_tag(experiment_id, tag.key, tag.value)

    @mlflow_errors
    @settled
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        experiment = self.get_experiment(experiment_id)
        if key not in experiment.tags:
            raise not_found(f"No tag with name: {key} in experiment with id {experiment_id}")
        self.client.delete_experiment_tag(experiment_id, key)
