"""`TracklogClient`: MLflow's MlflowClient over Tracklog.

Writes (create_run, log_*, set_*, delete_*, rename, set_terminated, ...) validate
their input, then go through a `Session` (the batcher and the sender thread), so
they never wait on the network. Reads (get_*, search_*) ask the gRPC QueryService
at ``query_addr`` (default TRACKLOG_QUERY_ADDR) after waiting until this process's
writes are projected (`ClientBase._sync`). Failures the service reports raise
`tracklog.TracklogError` with the gRPC status name as ``code``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tracklog import inputs
from tracklog.client.artifacts import ArtifactsMixin
from tracklog.client.entities import DatasetInput, Run, RunData
from tracklog.client.entities import run as to_run
from tracklog.client.errors import TracklogError
from tracklog.client.experiments import ExperimentsMixin
from tracklog.client.logged_models import LoggedModelsMixin
from tracklog.client.registry import RegistryMixin
from tracklog.client.search import SearchMixin
from tracklog.client.series import SeriesMixin
from tracklog.contract import validation
from tracklog.contract.ids import new_run_id
from tracklog.data import Dataset
from tracklog.entities import Metric, Param, RunInfo, RunTag
from tracklog.events import lifecycle as events_tracking
from tracklog.events import payloads as events
from tracklog.run import source_name, system_tags, user_name
from tracklog.v1 import query_pb2

HISTORY_PAGE = 100_000


@functools.lru_cache(maxsize=4096)
def _checked_run_id(run_id: str) -> str:
    return validation.validate_id("run id", run_id)


def _run_id(run_id: str) -> str:
    """`validation.validate_id` of a run id; the valid ids of logging calls are remembered."""
    if type(run_id) is str:
        return _checked_run_id(run_id)
    return validation.validate_id("run id", run_id)


class TracklogClient(
    LoggedModelsMixin, ExperimentsMixin, SearchMixin, SeriesMixin, ArtifactsMixin, RegistryMixin
):
    """A client of one Tracklog deployment: ``TracklogClient(query_addr=None, session=None)``,
    tracking and model registry in one object, as MlflowClient."""

    # --- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        *,
        user_id: str | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Start a run (RUNNING) in an existing experiment; log to it by its id (``user_id``
        defaults to this process's user; ``parent_run_id`` nests it)."""
        experiment = self.get_experiment(validation.validate_id("experiment id", experiment_id))
        run_id = new_run_id()
        name = f"run-{run_id[:8]}" if run_name is None else validation.run_name(run_name)
        user = user_name() if user_id is None else user_id
        if parent_run_id is not None:
            parent_run_id = validation.validate_id("parent run id", parent_run_id)
        system = system_tags(user, source_name(), name, parent_run_id)
        all_tags = {**system, **(tags or {})}
        tag_pairs = inputs.tag_pairs(inputs.tags_from(all_tags))
        start_ms = time.time_ns() // 1_000_000 if start_time is None else start_time
        start_ms = validation.int64("start_time", start_ms)
        session = self._writer()
        recorded = experiment.artifact_location or None
        session.artifacts.experiment_location(experiment_id, recorded, recorded=True)
        payload = events.run_started(
            experiment_id=experiment_id,
            run_name=name,
            parent_run_id=parent_run_id,
            tags=tag_pairs,
            start_ns=start_ms * 1_000_000,
            user_id=user,
            artifact_uri=session.artifacts.run_started(run_id, experiment_id),
        )
        session.emit(run_id, events.run_start_events(payload, session.event_split_bytes))
        info = RunInfo(run_id, experiment_id, name, parent_run_id, start_ms, user)
        info = RunInfo(**{**_fields(info), "artifact_uri": payload.artifact_uri})
        return Run(info, RunData(tags=dict(tag_pairs)))

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and dataset inputs."""
        self._sync()
        reply = self._call(self._query.GetRun, query_pb2.GetRunRequest(run_id=run_id))
        return to_run(reply.run)

    def delete_run(self, run_id: str) -> None:
        self._emit(run_id, events_tracking.run_deleted(time.time_ns()))

    def restore_run(self, run_id: str) -> None:
        self._emit(run_id, events_tracking.run_restored())

    def set_terminated(
        self, run_id: str, status: str = "FINISHED", end_time: int | None = None
    ) -> None:
        """End the run: status FINISHED, FAILED or KILLED, at ``end_time`` (ms; now)."""
        end_ms = time.time_ns() // 1_000_000 if end_time is None else end_time
        self._emit(run_id, events_tracking.run_status(status, end_ms))

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Change the status (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED) and/or the name."""
        payloads: list[events.Payload] = []
        if name is not None:
            payloads.append(events_tracking.run_renamed(name))
        if status is not None:
            payloads.append(events_tracking.run_status(status, time.time_ns() // 1_000_000))
        if payloads:
            self._writer().emit(validation.validate_id("run id", run_id), payloads)

    # --- logging ----------------------------------------------------------------------------

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Validate everything, then queue it all (or nothing); params are write-once."""
        run_id = _run_id(run_id)
        param_list = inputs.param_pairs(params) if params else []
        tag_list = inputs.tag_pairs(tags) if tags else []
        known = self._params.setdefault(run_id, {})
        for key, value in param_list:
            if known.get(key, value) != value:
                raise ValueError(
                    f"param {key!r} of run {run_id} was already logged with value "
                    f"{known[key]!r}; params are write-once and cannot change to {value!r}"
                )
        session = self._writer()
        split = session.event_split_bytes  # MLflow's 100 per request, and the producer's size
        payloads: list[events.Payload] = [
            *events.params_events(param_list, split),
            *events.tags_events(tag_list, split),
        ]
        session.emit(run_id, payloads, metrics)
        known.update(param_list)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        ts = time.time_ns() // 1_000_000 if timestamp is None else timestamp
        metric = Metric(key, value, ts, step or 0)
        self._writer().emit(_run_id(run_id), (), (metric,))  # log_batch without params, tags

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self.log_batch(run_id, params=[Param(key, value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags=[RunTag(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._emit(run_id, events_tracking.run_tag_deleted(key))

    def log_input(self, run_id: str, dataset: Dataset, context: str | None = None) -> None:
        """Record that the run used ``dataset`` (MLflow's log_input; context e.g. "training")."""
        self._emit(run_id, dataset.logged(context))

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        payloads: list[events.Payload] = [
            Dataset(d.name, d.digest, d.source_type, d.source, d.schema, d.profile).logged(
                d.context
            )
            for d in datasets
        ]
        self._writer().emit(validation.validate_id("run id", run_id), payloads)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, in (step, timestamp, value) order (all pages)."""
        self._sync()
        points: list[Metric] = []
        token = ""
        while True:
            request = query_pb2.GetMetricHistoryRequest(
                run_id=run_id,
                metric_key=key,
                page_size=HISTORY_PAGE,
                page_token=token,
                columnar=True,
            )
            page = self._call(self._query.GetMetricHistory, request)
            # points: from a server that answers point by point
            points.extend(Metric(key, p.value, p.timestamp_ms, p.step) for p in page.points)
            points.extend(
                Metric(key, value, stamp, step)
                for step, stamp, value in zip(
                    page.steps, page.timestamps_ms, page.values, strict=True
                )
            )
            token = page.next_page_token
            if not token:
                return points

    # --- helpers ----------------------------------------------------------------------------

    def _emit(self, run_id: str, payload: events.Payload) -> None:
        self._writer().emit(validation.validate_id("run id", run_id), [payload])


def _fields(info: RunInfo) -> dict[str, Any]:
    return {name: getattr(info, name) for name in RunInfo.__dataclass_fields__}


__all__ = ["TracklogClient", "TracklogError"]
