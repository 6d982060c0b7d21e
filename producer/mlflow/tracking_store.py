"""`TracklogTrackingStore`: MLflow's tracking store over Tracklog.

Writes (create_run, log_batch, set_tag, update_run_info, delete_*) become Tracklog events
through the process's `Session`: they return once queued (the spool keeps them when the
broker is away). Reads go to the query service after this process's writes are projected
(read-your-writes). Runs this process created or read are remembered (`backend.RunState`),
so logging checks "run active" and "params are write-once" without a network call.

Experiments are in `tracklog.mlflow.experiments`; metric history and the UI's chart
samples in `tracklog.mlflow.histories`; MLflow 3's logged models in
`tracklog.mlflow.logged_models`; what Tracklog does not do answers as
`tracklog.mlflow.not_supported` says.
"""

from __future__ import annotations

import time
from typing import Any

from mlflow.entities import (
    DatasetInput,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mlflow.entities.dataset_summary import _DatasetSummary
from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME
from mlflow.utils.name_utils import _generate_random_name
from mlflow.utils.validation import (
    _validate_batch_log_data,
    _validate_batch_log_limits,
    _validate_param_keys_unique,
    _validate_run_id,
)

from tracklog import entities
from tracklog.client.errors import TracklogError
from tracklog.events import lifecycle as events_tracking
from tracklog.mlflow import convert
from tracklog.mlflow.backend import RunState
from tracklog.mlflow.errors import as_mlflow, invalid, mlflow_errors, not_found
from tracklog.mlflow.experiments import ExperimentsPart
from tracklog.mlflow.histories import HistoriesPart
from tracklog.mlflow.logged_models import LoggedModelsPart, model_points
from tracklog.mlflow.not_supported import UnsupportedPart
from tracklog.mlflow.store_base import settled
from tracklog.v1 import query_pb2


class TracklogTrackingStore(ExperimentsPart, HistoriesPart, LoggedModelsPart, UnsupportedPart):
    """The store MLflow builds for ``tracklog://`` tracking URIs."""

    # --- runs ------------------------------------------------------------------------------

    @mlflow_errors
    @settled
    def create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: list[RunTag] | None,
        run_name: str | None,
    ) -> Run:
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != "active":
            raise invalid(
                f"The experiment {experiment_id} must be in the 'active' state. "
                f"Current state is {experiment.lifecycle_stage}."
            )
        tags = list(tags or [])
        named = next((t.value for t in tags if t.key == MLFLOW_RUN_NAME), None)
        if run_name and named and run_name != named:
            raise invalid(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', mlflow.runName='{named}')."
            )
        name = run_name or named or _generate_random_name()
        if not named:
            tags.append(RunTag(MLFLOW_RUN_NAME, name))
        parent = next((t.value for t in tags if t.key == MLFLOW_PARENT_RUN_ID), None)
        created = self.client.create_run(
            experiment_id,
            start_time=start_time,
            tags={t.key: t.value for t in tags},
            run_name=name,
            user_id=user_id or "",
            parent_run_id=parent,
        )
        info = RunInfo(
            run_id=created.info.run_id,
            experiment_id=experiment_id,
            user_id=user_id or "",
            status=RunStatus.to_string(RunStatus.RUNNING),
            start_time=created.info.start_time_ms,
            end_time=None,
            lifecycle_stage="active",
            artifact_uri=created.info.artifact_uri,
            run_name=name,
        )
        self.backend.remember_run(info.run_id, RunState(info))
        stored = [RunTag(k, v) for k, v in created.data.tags.items()]
        return Run(info, RunData(tags=stored))

    @mlflow_errors
    def get_run(self, run_id: str) -> Run:
        return self._read(run_id)[0]

    def _read(self, run_id: str) -> tuple[Run, RunState]:
        """The run from the query service, and what this process now knows of it."""
        _validate_run_id(run_id)
        request = query_pb2.GetRunRequest(run_id=run_id)
        try:
            reply = self._get_run(request)
        except TracklogError as error:
            if error.code != "NOT_FOUND":
                raise
            raise not_found(f"Run with id={run_id} not found") from None
        return self._remember(convert.run(reply.run))

    def _get_run(self, request: query_pb2.GetRunRequest) -> query_pb2.GetRunResponse:
        reply: query_pb2.GetRunResponse
        try:
            reply = self.client.query("GetRun", request)
        except TracklogError as error:  # another process's new run? read once more after it
            if error.code != "NOT_FOUND" or not self.backend.catch_up():
                raise
            reply = self.client.query("GetRun", request)
        return reply

    def _remember(self, found: Run) -> tuple[Run, RunState]:
        params = dict(found.data.params)
        state = self.backend.remember_run(found.info.run_id, RunState(found.info, params))
        state.info, state.read_at = found.info, time.monotonic()
        state.params.update(params)
        return found, state

    def _state(self, run_id: str) -> RunState:
        """What this process knows of the run, read once if it knows nothing (fenced, in
        MLflow's server: nothing read within `FENCED_TRUST_SECONDS`). Fenced, a write checks
        the run as projected now, without waiting for the topic's end (a fenced read waits
        for the last write's projection, tens of ms); only a run not found or not active is
        read again behind the fence."""
        known = self.backend.known_run(run_id)
        if known is not None:
            return known
        if self.backend.fence is not None:
            try:
                reply = self.client.query_now("GetRun", query_pb2.GetRunRequest(run_id=run_id))
            except TracklogError as error:
                if error.code != "NOT_FOUND":
                    raise
            else:
                state = self._remember(convert.run(reply.run))[1]
                if state.active:
                    return state
        return self._read(run_id)[1]

    def _active(self, run_id: str) -> RunState:
        state = self._state(run_id)
        if not state.active:
            raise invalid(
                f"The run {run_id} must be in the 'active' state. "
                f"Current state is {state.info.lifecycle_stage}."
            )
        return state

    @mlflow_errors
    @settled
    def update_run_info(
        self, run_id: str, run_status: int | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        state = self._active(run_id)
        status = RunStatus.to_string(run_status) if run_status is not None else None
        self.client.update_run(run_id, status=None, name=run_name or None)
        if status is not None:
            self.client.set_terminated(run_id, status, end_time)
        old = state.info
        state.info = RunInfo(
            run_id=old.run_id,
            experiment_id=old.experiment_id,
            user_id=old.user_id,
            status=status or old.status,
            start_time=old.start_time,
            end_time=end_time if end_time is not None else old.end_time,
            lifecycle_stage=old.lifecycle_stage,
            artifact_uri=old.artifact_uri,
            run_name=run_name or old.run_name,
        )
        return state.info

    @mlflow_errors
    @settled
    def delete_run(self, run_id: str) -> None:
        state = self._state(run_id)
        self.client.delete_run(run_id)
        _staged(state, "deleted")  # the next write here is refused, projected or not

    @mlflow_errors
    @settled
    def restore_run(self, run_id: str) -> None:
        state = self._state(run_id)
        self.client.restore_run(run_id)
        _staged(state, "active")

    # --- logging ---------------------------------------------------------------------------

    @mlflow_errors
    @settled
    def log_batch(
        self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]
    ) -> None:
        _validate_run_id(run_id)
        self.backend.metric_checks.validate(metrics)  # MLflow's checks, its errors
        _, params, tags = _validate_batch_log_data((), params, tags)
        _validate_batch_log_limits(metrics, params, tags)
        _validate_param_keys_unique(params)
        state = self._active(run_id)
        changed = [p for p in params if state.params.get(p.key, p.value) != p.value]
        if changed:
            logged = [Param(p.key, state.params[p.key]) for p in changed]
            raise invalid(
                f"Changing param values is not allowed. Params were already logged='{logged}' "
                f"for run ID='{run_id}'. Attempted logging new values '{changed}'."
            )
        self.client.log_batch(
            run_id,
            metrics=[entities.Metric(m.key, m.value, m.timestamp, m.step or 0) for m in metrics],
            params=[entities.Param(p.key, p.value) for p in params],
            tags=[entities.RunTag(t.key, t.value) for t in tags],
        )
        state.params.update((p.key, p.value) for p in params)
        for model_id, points in model_points(metrics).items():
            self.client.log_model_metrics(model_id, run_id, points)
        named = next((t.value for t in tags if t.key == MLFLOW_RUN_NAME), None)
        if named is not None:
            self.client.update_run(run_id, name=named)

    @mlflow_errors
    @settled
    def delete_tag(self, run_id: str, key: str) -> None:
        run = self.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise invalid(f"The run {run_id} must be in the 'active' state.")
        if key not in run.data.tags:
            raise not_found(f"No tag with name: {key} in run with id {run_id}")
        self.client.delete_tag(run_id, key)

    @mlflow_errors
    @settled
    def log_inputs(
        self,
        run_id: str,
        datasets: list[DatasetInput] | None = None,
        models: list[Any] | None = None,
    ) -> None:
        _validate_run_id(run_id)
        self._active(run_id)
        payloads = []
        for given in datasets or []:
            dataset = given.dataset
            context = next((t.value for t in given.tags if t.key == MLFLOW_DATASET_CONTEXT), "")
            payloads.append(
                events_tracking.dataset_input_logged(
                    name=dataset.name,
                    digest=dataset.digest,
                    source_type=dataset.source_type,
                    source=dataset.source,
                    schema=dataset.schema or "",
                    profile=dataset.profile or "",
                    context=context,
                    tags=[(t.key, t.value) for t in given.tags if t.key != MLFLOW_DATASET_CONTEXT],
                )
            )
        if payloads:
            self.backend.session.emit(run_id, payloads)
        # as MLflow's stores: any model id, each recorded once per run
        self.client.log_model_inputs(run_id, [model.model_id for model in models or []])

    # --- search ----------------------------------------------------------------------------

    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        run_view_type: int,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        if not experiment_ids:
            return [], None
        request = query_pb2.SearchRunsRequest(
            experiment_ids=list(experiment_ids),
            filter=filter_string or "",
            order_by=list(order_by or ()),
            run_view_type=run_view_type or ViewType.ACTIVE_ONLY,  # type: ignore[arg-type]
            page_size=max_results,
            page_token=page_token or "",
        )
        with as_mlflow():
            reply = self.client.query("SearchRuns", request)
        return [convert.run(r) for r in reply.runs], reply.next_page_token or None

    @mlflow_errors
    def _search_datasets(self, experiment_ids: list[str]) -> list[_DatasetSummary]:
        """The runs table's dataset filter: the datasets the experiments' runs used."""
        request = query_pb2.SearchDatasetsRequest(experiment_ids=list(experiment_ids))
        reply = self.client.query("SearchDatasets", request)
        return [
            _DatasetSummary(s.experiment_id, s.name, s.digest, s.context or None)
            for s in reply.dataset_summaries
        ]


def _staged(state: RunState, stage: str) -> None:
    """What this process knows of a run it just deleted or restored."""
    old = state.info
    state.info = RunInfo(
        run_id=old.run_id,
        experiment_id=old.experiment_id,
        user_id=old.user_id,
        status=old.status,
        start_time=old.start_time,
        end_time=old.end_time,
        lifecycle_stage=stage,
        artifact_uri=old.artifact_uri,
        run_name=old.run_name,
    )
    state.read_at = time.monotonic()
