"""`Runs`: the run part of a `Session`. It starts and ends runs, keeps a per-thread
(contextvars) stack of active runs, the params each live run was given (params are
write-once) and the system metrics monitors of the runs that asked for them; `log_batch`
validates a call and queues it for a live run.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Mapping, Sequence
from typing import NoReturn

from tracklog import inputs
from tracklog.artifacts.logger import ArtifactLogger
from tracklog.contract import validation
from tracklog.contract.ids import new_run_id
from tracklog.entities import Metric, Param, RunInfo, RunTag
from tracklog.events import payloads as events
from tracklog.run import ActiveRun, source_name, system_tags, user_name
from tracklog.sending.batcher import PendingEvent
from tracklog.session.delivery import Delivery
from tracklog.session.experiments import Experiments
from tracklog.system_metrics import SystemMetricsMonitor


class Runs:
    """The runs a session started, which of them are live and active, and their params."""

    def __init__(
        self, delivery: Delivery, experiments: Experiments, artifacts: ArtifactLogger
    ) -> None:
        self._batcher = delivery.batcher
        self._metric_keys = delivery.metric_keys
        self._split = delivery.event_split_bytes  # MLflow's 100 per request, and the size
        self._experiments = experiments
        self._artifacts = artifacts
        self._lock = threading.Lock()
        self._live: dict[str, dict[str, str]] = {}  # live run id -> params logged so far
        self._ended: set[str] = set()
        self._stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
            f"tracklog_active_runs_{id(self)}", default=()
        )
        self._user = user_name()
        self._source = source_name()
        self._monitors: dict[str, SystemMetricsMonitor] = {}  # run id -> system metrics
        self.last_ended: str | None = None  # the run this session ended last

    def start(
        self,
        run_id: str | None = None,
        experiment_id: str | None = None,
        run_name: str | None = None,
        nested: bool = False,
        tags: Mapping[str, object] | None = None,
        log_system_metrics: bool = False,
    ) -> ActiveRun:
        stack = self._stack.get()
        if stack and not nested:
            raise ValueError(
                f"run {stack[-1].run_id} is already active; end it with end_run() first, "
                "or start a nested run with start_run(nested=True)"
            )
        parent = stack[-1].run_id if stack else None
        run_id = new_run_id() if run_id is None else validation.validate_id("run id", run_id)
        if experiment_id is not None:
            experiment_id = validation.validate_id("experiment id", experiment_id)
        name = f"run-{run_id[:8]}" if run_name is None else validation.run_name(run_name)
        system = system_tags(self._user, self._source, name, parent)
        run_tags = inputs.tag_pairs(inputs.tags_from({**system, **(tags or {})}))
        if experiment_id is None:
            experiment = self._experiments.current_or_default()
            self._experiments.ensure(experiment)
            experiment_id = experiment.experiment_id
        now = time.time_ns()
        started = events.run_started(
            experiment_id=experiment_id,
            run_name=name,
            parent_run_id=parent,
            tags=run_tags,
            start_ns=now,
            user_id=self._user,
            artifact_uri=self._artifacts.run_started(run_id, experiment_id),
        )
        payloads = events.run_start_events(started, self._split)
        with self._lock:
            if run_id in self._live:
                raise ValueError(f"run {run_id} is already active in this session")
            self._live[run_id] = {}
            self._ended.discard(run_id)
        try:
            self._batcher.put(run_id, [PendingEvent(run_id, p, now) for p in payloads])
        except BaseException:
            with self._lock:
                self._live.pop(run_id, None)
            raise
        info = RunInfo(
            run_id,
            experiment_id,
            name,
            parent,
            now // 1_000_000,
            self._user,
            artifact_uri=started.artifact_uri,
        )
        run = ActiveRun(info, self)
        self._stack.set((*stack, run))
        if log_system_metrics:  # sampled until the run ends (tracklog.system_metrics)
            monitor = SystemMetricsMonitor(lambda sample: self.log_batch(run_id, sample))
            self._monitors[run_id] = monitor.start()
        return run

    def active(self) -> ActiveRun | None:
        """The innermost run started in this thread (or context) and not ended."""
        stack = self._stack.get()
        return stack[-1] if stack else None

    def active_run_id(self) -> str:
        """The active run of this thread, started on first use as MLflow's fluent API does."""
        stack = self._stack.get()
        return stack[-1].info.run_id if stack else self.start().info.run_id

    def _refuse(self, run_id: str) -> NoReturn:
        state = "has ended" if run_id in self._ended else "is not active in this session"
        raise ValueError(f"cannot log to run {run_id!r}: it {state}")

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """`log_batch` of one metric point to the active run, without building a Metric or
        columns (`Handover.put_point`)."""
        stack = self._stack.get()
        run_id = stack[-1].info.run_id if stack else self.start().info.run_id
        if run_id not in self._live:
            self._refuse(run_id)
        key, step, timestamp, value, size = inputs.point(
            key,
            value,
            0 if step is None else step,
            time.time_ns() // 1_000_000 if timestamp is None else timestamp,
            self._metric_keys,
        )
        self._batcher.put_point(run_id, key, step, timestamp, value, size)

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """`log_batch` of metrics at one step and time to the active run, as columns."""
        stack = self._stack.get()
        run_id = stack[-1].info.run_id if stack else self.start().info.run_id
        if run_id not in self._live:
            self._refuse(run_id)
        if metrics:
            points = inputs.mapping_points(
                metrics,
                0 if step is None else step,
                time.time_ns() // 1_000_000 if timestamp is None else timestamp,
                self._metric_keys,
            )
            self._batcher.put(run_id, (), points)

    def end_run_by_id(self, run_id: str, status: str = "FINISHED") -> None:
        """End a live run of this session (a no-op for any other run id)."""
        monitor = self._monitors.pop(run_id, None)
        if monitor is not None:
            monitor.stop()
        now = time.time_ns()
        event = PendingEvent(run_id, events.run_ended(status, now), now)
        with self._lock:
            params = self._live.pop(run_id, None)
            if params is not None:
                self._ended.add(run_id)
                self.last_ended = run_id
        if params is not None:
            try:
                self._batcher.put(run_id, [event])
            except BaseException:
                with self._lock:
                    self._live[run_id] = params
                    self._ended.discard(run_id)
                raise
        stack = self._stack.get()
        if any(run.run_id == run_id for run in stack):
            self._stack.set(tuple(run for run in stack if run.run_id != run_id))

    def end_live(self, status: str = "FINISHED") -> None:
        """End every run of this session still live, newest first."""
        with self._lock:
            live = list(self._live)
        for run_id in reversed(live):
            self.end_run_by_id(run_id, status)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Validate everything, then queue it all (or nothing) for the live run ``run_id``."""
        params_so_far = self._live.get(run_id)
        if params_so_far is None:
            self._refuse(run_id)
        points = inputs.metric_points(metrics, self._metric_keys) if metrics else None
        param_list = inputs.param_pairs(params) if params else []
        tag_list = inputs.tag_pairs(tags) if tags else []
        if not param_list and not tag_list:
            if points is not None:
                self._batcher.put(run_id, (), points)
            return
        now = time.time_ns()
        pending: list[PendingEvent] = []
        new: list[tuple[str, str]] = []
        with self._lock:
            for key, value in param_list:
                old = params_so_far.get(key)
                if old is not None and old != value:
                    raise ValueError(
                        f"param {key!r} of run {run_id} was already logged with value {old!r}; "
                        f"params are write-once and cannot change to {value!r}"
                    )
                if old is None:
                    new.append((key, value))
            params_so_far.update(new)
        split = self._split
        pending.extend(PendingEvent(run_id, e, now) for e in events.params_events(new, split))
        pending.extend(PendingEvent(run_id, e, now) for e in events.tags_events(tag_list, split))
        try:
            self._batcher.put(run_id, pending, points)
        except BaseException:
            with self._lock:
                for key, _ in new:
                    params_so_far.pop(key, None)
            raise
