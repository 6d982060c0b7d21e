"""`Session`: the SDK's state holder. It owns the batcher and the sender thread, the
runs it started, and a per-thread (contextvars) stack of active runs; the fluent
functions of `tracklog` delegate to a default Session.
"""

from __future__ import annotations

import atexit
import contextvars
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tracklog import inputs
from tracklog.artifacts.logger import DEFAULT_ARTIFACT_ROOT, ArtifactLogger
from tracklog.contract import flush_tokens, validation
from tracklog.contract.flush_tokens import FlushToken
from tracklog.contract.ids import DEFAULT_EXPERIMENT_NAME, new_run_id
from tracklog.contract.locations import normalize_root
from tracklog.contract.settings import KafkaSettings, SdkLimits, Settings, SpoolSettings
from tracklog.deployment import LOOKUP_TIMEOUT_SECONDS, Deployment
from tracklog.entities import Experiment, Metric, Param, RunInfo, RunTag, Unsent
from tracklog.events import payloads as events
from tracklog.run import ActiveRun, source_name, system_tags, user_name
from tracklog.sending.batcher import ENVELOPE_ROOM_BYTES, Batcher, PendingEvent
from tracklog.sending.sender import Sender
from tracklog.sending.sink import EventSink, kafka_sink_factory
from tracklog.spool.spooling_sink import open_spool, spool_producer_options, spool_target
from tracklog.system_metrics import SystemMetricsMonitor


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


_open_sessions: weakref.WeakSet[Session] = weakref.WeakSet()


@atexit.register
def _close_open_sessions() -> None:
    """At interpreter exit, close the sessions nobody closed (the default one is closed
    before, with its runs ended: `tracklog.fluent.runs`), flushing for at most
    TRACKLOG_EXIT_FLUSH_SECONDS in all; what Kafka has not acknowledged stays spooled."""
    deadline = time.monotonic() + float(os.environ.get("TRACKLOG_EXIT_FLUSH_SECONDS", "30"))
    for session in list(_open_sessions):
        session.close(max(0.0, deadline - time.monotonic()))


class Session:
    def __init__(
        self,
        kafka: KafkaSettings | None = None,
        *,
        max_batch_points: int = 10_000,
        max_batch_bytes: int = 512 * 1024,
        max_buffered_points: int | None = None,
        max_buffered_events: int = 100_000,
        max_block_seconds: float | None = None,
        linger_seconds: float = 0.05,
        compression_type: str | None = "zstd",
        linger_ms: int = 5,
        producer_options: Mapping[str, Any] | None = None,
        sink_factory: Callable[[], EventSink] | None = None,
        artifact_root: str | None = None,
        query_addr: str | None = None,
        spool: SpoolSettings | None = None,
    ) -> None:
        kafka = kafka if kafka is not None else Settings.from_env().kafka
        limits = SdkLimits.from_env()  # TRACKLOG_SDK_MAX_BUFFERED_POINTS / _MAX_BLOCK_SECONDS
        if max_buffered_points is None:
            max_buffered_points = limits.max_buffered_points
        if max_block_seconds is None:
            max_block_seconds = limits.max_block_seconds
        # One event must fit the producer's max_request_size: calls are split into events
        # of at most half of it, and a single value that cannot fit is refused at the call.
        largest = int((producer_options or {}).get("max_request_size", kafka.max_event_bytes))
        self.event_split_bytes = largest // 2
        self._batcher = Batcher(
            max_batch_points=max_batch_points,
            max_batch_bytes=min(max_batch_bytes, self.event_split_bytes),
            max_event_bytes=largest - ENVELOPE_ROOM_BYTES,
            max_buffered_points=max_buffered_points,
            max_buffered_events=max_buffered_events,
            max_block_seconds=max_block_seconds,
        )
        if spool is None and sink_factory is None:  # a given sink is spooled only if asked
            spool = SpoolSettings.from_env()  # TRACKLOG_SPOOL_DIR / _MAX_BYTES / _ON_FULL
        if spool is not None and spool.directory is not None:
            producer_options = spool_producer_options(producer_options)  # shorter timeouts
        factory = sink_factory or kafka_sink_factory(
            kafka,
            compression_type=compression_type,
            linger_ms=linger_ms,
            producer_options=producer_options,
        )
        # the disk spool (tracklog.spool), None when off; .dropped / .pending() report on it
        self.spool = open_spool(spool, factory, spool_target(kafka)) if spool else None
        if self.spool is not None:
            factory = self.spool.as_factory()
        self._sender = Sender(self._batcher, factory, linger_seconds=linger_seconds)
        self._bootstrap = kafka.bootstrap_servers  # named when a flush times out
        self._lock = threading.Lock()
        self._live: dict[str, dict[str, str]] = {}  # live run id -> params logged so far
        self._ended: set[str] = set()
        self._created: set[str] = set()  # experiment ids whose ExperimentCreated was queued
        self._experiment: Experiment | None = None
        self._stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
            f"tracklog_active_runs_{id(self)}", default=()
        )
        self._metric_keys = inputs.MetricKeys()
        self._user = user_name()
        self._source = source_name()
        self._closed = False
        # set_experiment asks the query service here which id a name has ('' = never ask)
        self.query_addr = Settings.from_env().query_addr if query_addr is None else query_addr
        self._monitors: dict[str, SystemMetricsMonitor] = {}  # run id -> system metrics
        self._last_ended: str | None = None  # the run this session ended last
        # where artifacts go without a query service to ask (TRACKLOG_ARTIFACT_ROOT)
        root = artifact_root or Settings.from_env().artifact_root or DEFAULT_ARTIFACT_ROOT
        self.deployment = Deployment(self.query_addr, normalize_root(root))
        self.artifacts = ArtifactLogger(
            root, self._batcher, self._active_run_id, deployment=self.deployment
        )
        _open_sessions.add(self)  # closed at exit if nobody closes it

    # experiments and runs

    def set_experiment(self, name: str, artifact_location: str | None = None) -> Experiment:
        """Make ``name`` the experiment of later runs (created once per session). An
        existing experiment keeps its recorded artifact location (``artifact_location`` is
        used only to create one, as in MLflow)."""
        name = validation.experiment_name(name)
        self._see_own_writes()
        found = self.deployment.resolve(name)  # raises if it is deleted
        experiment = Experiment(found.experiment_id, name)
        if found.exists:
            with self._lock:
                self._created.add(found.experiment_id)
            recorded = found.artifact_location or None
            self.artifacts.experiment_location(experiment.experiment_id, recorded)
        else:
            self.artifacts.experiment_location(experiment.experiment_id, artifact_location)
        self._ensure_experiment(experiment)
        self._experiment = experiment
        return experiment

    def _see_own_writes(self) -> None:
        """Before asking the query service: let it project what this session wrote (best
        effort, for at most the lookup timeout; a lookup then sees e.g. a created
        experiment)."""
        if self.query_addr and not self._closed:
            token = self.flush(LOOKUP_TIMEOUT_SECONDS)
            if token:
                self.deployment.wait_for(str(token))

    @property
    def current_experiment(self) -> Experiment | None:
        """The experiment `set_experiment` chose last (None before any)."""
        return self._experiment

    def _ensure_experiment(self, experiment: Experiment) -> None:
        with self._lock:
            if experiment.experiment_id in self._created:
                return
            self._created.add(experiment.experiment_id)
        now = time.time_ns()
        event = PendingEvent(
            experiment.experiment_id,
            events.experiment_created(
                experiment.name, now, self.artifacts.experiment_location(experiment.experiment_id)
            ),
            now,
        )
        try:
            self._batcher.put(experiment.experiment_id, [event])
        except BaseException:
            with self._lock:
                self._created.discard(experiment.experiment_id)
            raise

    def start_run(
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
            experiment = self._experiment or self.set_experiment(DEFAULT_EXPERIMENT_NAME)
            self._ensure_experiment(experiment)
            experiment_id = experiment.experiment_id
        now = time.time_ns()
        started = events.run_started(
            experiment_id=experiment_id,
            run_name=name,
            parent_run_id=parent,
            tags=run_tags,
            start_ns=now,
            user_id=self._user,
            artifact_uri=self.artifacts.run_started(run_id, experiment_id),
        )
        payloads = events.run_start_events(started, self.event_split_bytes)
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

    def active_run(self) -> ActiveRun | None:
        """The innermost run started in this thread (or context) and not ended."""
        stack = self._stack.get()
        return stack[-1] if stack else None

    @property
    def last_ended_run_id(self) -> str | None:
        """The run this session ended most recently (None before any)."""
        return self._last_ended

    def end_run(self, status: str = "FINISHED") -> None:
        """End the active run of this thread; no-op when there is none (as in MLflow)."""
        run = self.active_run()
        if run is not None:
            self.end_run_by_id(run.run_id, status)

    def end_run_by_id(self, run_id: str, status: str = "FINISHED") -> None:
        monitor = self._monitors.pop(run_id, None)
        if monitor is not None:
            monitor.stop()
        now = time.time_ns()
        event = PendingEvent(run_id, events.run_ended(status, now), now)
        with self._lock:
            params = self._live.pop(run_id, None)
            if params is not None:
                self._ended.add(run_id)
                self._last_ended = run_id
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

    def end_active_runs(self, status: str = "FINISHED") -> None:
        """End every run of this session still live, newest first (used at exit)."""
        with self._lock:
            live = list(self._live)
        for run_id in reversed(live):
            self.end_run_by_id(run_id, status)

    # logging: every call below goes through log_batch

    def _active_run_id(self) -> str:
        """The active run of this thread, started on first use as MLflow's fluent API does."""
        stack = self._stack.get()
        return stack[-1].info.run_id if stack else self.start_run().info.run_id

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
            state = "has ended" if run_id in self._ended else "is not active in this session"
            raise ValueError(f"cannot log to run {run_id!r}: it {state}")
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
        split = self.event_split_bytes  # MLflow's 100 per request, and the producer's size
        pending.extend(PendingEvent(run_id, e, now) for e in events.params_events(new, split))
        pending.extend(PendingEvent(run_id, e, now) for e in events.tags_events(tag_list, split))
        try:
            self._batcher.put(run_id, pending, points)
        except BaseException:
            with self._lock:
                for key, _ in new:
                    params_so_far.pop(key, None)
            raise

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        ts = _now_ms() if timestamp is None else timestamp
        metric = Metric(key, value, ts, 0 if step is None else step)
        self.log_batch(self._active_run_id(), (metric,))

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        ts = _now_ms() if timestamp is None else timestamp
        step = 0 if step is None else step
        self.log_batch(self._active_run_id(), [Metric(k, v, ts, step) for k, v in metrics.items()])

    def log_param(self, key: str, value: object) -> None:
        self.log_batch(self._active_run_id(), params=(Param(key, value),))

    def log_params(self, params: Mapping[str, object]) -> None:
        self.log_batch(self._active_run_id(), params=[Param(k, v) for k, v in params.items()])

    def set_tag(self, key: str, value: object) -> None:
        self.log_batch(self._active_run_id(), tags=(RunTag(key, value),))

    def set_tags(self, tags: Mapping[str, object]) -> None:
        self.log_batch(self._active_run_id(), tags=inputs.tags_from(tags))

    # delivery

    def flush(self, timeout: float | None = None) -> FlushToken:
        """Wait until everything queued so far is acknowledged; return the token naming what
        was written (for read-your-writes), falsy on timeout or a lost send."""
        if self._closed:
            unsent = self.close()
            ok = unsent.events == 0 and unsent.points == 0
        else:
            ok = self._sender.wait_acked(self._batcher.mark(), timeout)
        return FlushToken(flush_tokens.encode(self._sender.positions()), ok)

    def flush_token(self, timeout: float | None = None) -> str:
        """Flush, then name what was written: per (log, partition) the highest acknowledged
        offset (tracklog.contract.flush_tokens; the query service's WaitFor takes it). Raises
        TimeoutError when not everything was acknowledged in time or a send was lost."""
        token = self.flush(timeout)
        if not token:
            raise TimeoutError(
                f"not everything logged was acknowledged by Kafka at {self._bootstrap} within "
                f"{timeout}s; is it reachable (TRACKLOG_KAFKA_BOOTSTRAP)? Unsent events are "
                "kept and sent once it is"
            )
        return str(token)

    def emit(
        self, aggregate_id: str, payloads: Sequence[events.Payload], metrics: Sequence[Metric] = ()
    ) -> None:
        """Queue built events (then validated metric points) of any run or experiment."""
        points = inputs.metric_points(metrics, self._metric_keys) if metrics else None
        now = time.time_ns()
        pending = [PendingEvent(aggregate_id, p, now) for p in payloads]
        self._batcher.put(aggregate_id, pending, points)

    def close(self, timeout: float = 30.0) -> Unsent:
        """Flush (up to ``timeout``), stop the sender and return what could not be sent."""
        if not self._closed:
            self._closed = True
            deadline = time.monotonic() + timeout
            self.flush(timeout)
            self._batcher.close()
            self._sender.stop(max(0.0, deadline - time.monotonic()))
            if self.spool is not None:  # closed by the sender if it sent anything
                self.spool.close(max(0.0, deadline - time.monotonic()))
            self.deployment.close()
        events_left, points_left = self._batcher.pending()
        if self.spool is not None:  # what reached the spool is on disk (it warns about it)
            return Unsent(events_left, points_left)
        unacked_events, unacked_points = self._sender.unacked()
        return Unsent(events_left + unacked_events, points_left + unacked_points)
