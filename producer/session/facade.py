"""`Session`: the SDK's state holder, a small facade over its parts (one job each):
`Delivery` (the batcher, the sender thread, the spool; flush and close), `Experiments`
(the current experiment), `Runs` (started, active and ended runs, their params and system
metrics) and `ArtifactLogger` (``session.artifacts``). The fluent functions of `tracklog`
delegate to a default Session (`tracklog.session.default`).
"""

from __future__ import annotations

import atexit
import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tracklog import inputs
from tracklog.artifacts.logger import DEFAULT_ARTIFACT_ROOT, ArtifactLogger
from tracklog.contract.flush_tokens import FlushToken
from tracklog.contract.locations import normalize_root
from tracklog.contract.settings import KafkaSettings, Settings, SpoolSettings
from tracklog.deployment import Deployment
from tracklog.entities import Experiment, Metric, Param, RunTag, Unsent
from tracklog.events import payloads as events
from tracklog.run import ActiveRun
from tracklog.sending.sink import EventSink
from tracklog.session.delivery import Delivery
from tracklog.session.experiments import Experiments
from tracklog.session.runs import Runs

_open_sessions: weakref.WeakSet[Session] = weakref.WeakSet()


@atexit.register
def _close_open_sessions() -> None:
    """At interpreter exit, close the sessions nobody closed (the default one is closed
    before, with its runs ended: `tracklog.session.default`), flushing for at most
    TRACKLOG_EXIT_FLUSH_SECONDS in all; what Kafka has not acknowledged stays spooled."""
    deadline = time.monotonic() + float(os.environ.get("TRACKLOG_EXIT_FLUSH_SECONDS", "30"))
    for session in list(_open_sessions):
        session.close(max(0.0, deadline - time.monotonic()))


class Session:
    """Experiments, runs, artifacts and the sending of their events, for one process (or
    one part of it: each Session has its own Kafka producer and its own active runs)."""

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
        self._delivery = Delivery(
            kafka if kafka is not None else Settings.from_env().kafka,
            max_batch_points=max_batch_points,
            max_batch_bytes=max_batch_bytes,
            max_buffered_points=max_buffered_points,
            max_buffered_events=max_buffered_events,
            max_block_seconds=max_block_seconds,
            linger_seconds=linger_seconds,
            compression_type=compression_type,
            linger_ms=linger_ms,
            producer_options=producer_options,
            sink_factory=sink_factory,
            spool=spool,
        )
        self.event_split_bytes = self._delivery.event_split_bytes
        # the disk spool (tracklog.spool), None when off; .dropped / .pending() report on it
        self.spool = self._delivery.spool
        # set_experiment asks the query service here which id a name has ('' = never ask)
        self.query_addr = Settings.from_env().query_addr if query_addr is None else query_addr
        # where artifacts go without a query service to ask (TRACKLOG_ARTIFACT_ROOT)
        root = artifact_root or Settings.from_env().artifact_root or DEFAULT_ARTIFACT_ROOT
        self.deployment = Deployment(self.query_addr, normalize_root(root))
        self.artifacts = ArtifactLogger(
            root, self._delivery.batcher, self._active_run_id, deployment=self.deployment
        )
        self._experiments = Experiments(
            self._delivery, self.deployment, self.artifacts, self.query_addr
        )
        self._runs = Runs(self._delivery, self._experiments, self.artifacts)
        _open_sessions.add(self)  # closed at exit if nobody closes it

    # experiments (tracklog.session.experiments)

    def set_experiment(self, name: str, artifact_location: str | None = None) -> Experiment:
        """Make ``name`` the experiment of later runs (created once per session). An
        existing experiment keeps its recorded artifact location (``artifact_location`` is
        used only to create one, as in MLflow)."""
        return self._experiments.choose(name, artifact_location)

    @property
    def current_experiment(self) -> Experiment | None:
        """The experiment `set_experiment` chose last (None before any)."""
        return self._experiments.current

    # runs (tracklog.session.runs)

    def start_run(
        self,
        run_id: str | None = None,
        experiment_id: str | None = None,
        run_name: str | None = None,
        nested: bool = False,
        tags: Mapping[str, object] | None = None,
        log_system_metrics: bool = False,
    ) -> ActiveRun:
        return self._runs.start(run_id, experiment_id, run_name, nested, tags, log_system_metrics)

    def active_run(self) -> ActiveRun | None:
        """The innermost run started in this thread (or context) and not ended."""
        return self._runs.active()

    @property
    def last_ended_run_id(self) -> str | None:
        """The run this session ended most recently (None before any)."""
        return self._runs.last_ended

    def end_run(self, status: str = "FINISHED") -> None:
        """End the active run of this thread; no-op when there is none (as in MLflow)."""
        run = self._runs.active()
        if run is not None:
            self._runs.end_run_by_id(run.run_id, status)

    def end_run_by_id(self, run_id: str, status: str = "FINISHED") -> None:
        self._runs.end_run_by_id(run_id, status)

    def end_active_runs(self, status: str = "FINISHED") -> None:
        """End every run of this session still live, newest first (used at exit)."""
        self._runs.end_live(status)

    # logging: every call below applies log_batch's checks (metrics take a columnar path)

    def _active_run_id(self) -> str:
        """The active run of this thread, started on first use as MLflow's fluent API does."""
        return self._runs.active_run_id()

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Validate everything, then queue it all (or nothing) for the live run ``run_id``."""
        self._runs.log_batch(run_id, metrics, params, tags)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        self._runs.log_metric(key, value, step, timestamp)  # log_batch's checks, columnar

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        self._runs.log_metrics(metrics, step, timestamp)  # log_batch's checks, columnar

    def log_param(self, key: str, value: object) -> None:
        self._runs.log_batch(self._runs.active_run_id(), params=(Param(key, value),))

    def log_params(self, params: Mapping[str, object]) -> None:
        runs = self._runs
        runs.log_batch(runs.active_run_id(), params=[Param(k, v) for k, v in params.items()])

    def set_tag(self, key: str, value: object) -> None:
        self._runs.log_batch(self._runs.active_run_id(), tags=(RunTag(key, value),))

    def set_tags(self, tags: Mapping[str, object]) -> None:
        self._runs.log_batch(self._runs.active_run_id(), tags=inputs.tags_from(tags))

    # delivery (tracklog.session.delivery)

    def flush(self, timeout: float | None = None) -> FlushToken:
        """Wait until everything queued so far is acknowledged; return the token naming what
        was written (for read-your-writes), falsy on timeout or a lost send."""
        return self._delivery.flush(timeout)

    def flush_token(self, timeout: float | None = None) -> str:
        """Flush, then name what was written: per (log, partition) the highest acknowledged
        offset (tracklog.contract.flush_tokens; the query service's WaitFor takes it). Raises
        TimeoutError when not everything was acknowledged in time or a send was lost."""
        return self._delivery.flush_token(timeout)

    def emit(
        self, aggregate_id: str, payloads: Sequence[events.Payload], metrics: Sequence[Metric] = ()
    ) -> None:
        """Queue built events (then validated metric points) of any run or experiment."""
        self._delivery.emit(aggregate_id, payloads, metrics)

    def close(self, timeout: float = 30.0) -> Unsent:
        """Flush (up to ``timeout``), stop the sender and return what could not be sent."""
        closing = not self._delivery.closed
        unsent = self._delivery.close(timeout)
        if closing:
            self.deployment.close()
        return unsent
