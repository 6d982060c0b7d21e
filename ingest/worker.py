"""The ingest worker: the wiring of the chain of steps (ingest/steps/), the consumer
loop, pause and resume, lag, and the rebalance callbacks.

Every polled batch is submitted to the chain decode -> project -> drop resent ->
write ClickHouse -> write Postgres (+ dead letters) -> archive -> commit offsets.
A store that is unavailable (`StoreUnavailable`, ingest/writers/failures.py)
pauses consumption: the worker keeps polling (so it stays in the consumer group)
with every partition paused, submits the same batch again with exponential
back-off, logs why, commits nothing, and resumes by itself once the chain takes
the batch. Any other exception that reaches the worker is a bug: `run` raises
before the offsets are committed, and a restart at any point, SIGKILL included,
replays safely: both writers skip records they already hold.

With an archive root set, every consumed record is also archived to Avro files
(ingest/archive/worker_side.py). With a metrics address set, the worker serves
Prometheus metrics (ingest/metrics.py).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from tracklog.contract.settings import ArtifactRootSettings, DedupSettings, Settings
from tracklog.contract.topics import LogName, Partition, ensure_topics, topic_of
from tracklog.ingest.archive.worker_side import WorkerArchive
from tracklog.ingest.consumer import (
    ResumeFromStores,
    create_consumer,
    idle_poll,
    lag_by_partition,
    log_namer,
    records_of,
)
from tracklog.ingest.dead_letters.producer import DeadLetters
from tracklog.ingest.decode.authority import TopicAuthority
from tracklog.ingest.metrics import IngestMetrics, MetricsServer
from tracklog.ingest.records import Record
from tracklog.ingest.steps import Step
from tracklog.ingest.steps.archive_records import ArchiveRecords
from tracklog.ingest.steps.check_locations import CheckLocations
from tracklog.ingest.steps.commit_offsets import CommitOffsets
from tracklog.ingest.steps.decode import Decode
from tracklog.ingest.steps.drop_resent import DropResent
from tracklog.ingest.steps.isolate_rejected import IsolateRejected
from tracklog.ingest.steps.measure_writes import MeasureWrites
from tracklog.ingest.steps.project import Project
from tracklog.ingest.steps.prune_applied import AppliedEventsPruner, PruneAppliedEvents
from tracklog.ingest.steps.tally import Tally, WorkerStats
from tracklog.ingest.steps.write_clickhouse import WriteClickHouse
from tracklog.ingest.steps.write_postgres import WritePostgres
from tracklog.ingest.writers.batch import BatchWriter
from tracklog.ingest.writers.failures import StoreUnavailable

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 200
FIRST_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 10.0
JOIN_TIMEOUT_SECONDS = 30.0

__all__ = ["Worker", "WorkerStats", "catch_up", "run_worker"]


class Worker:
    """One member of the ingest consumer group (several may run, one per partition set)."""

    def __init__(
        self,
        settings: Settings,
        clickhouse: Any,
        *,
        resume_from_stores: bool = True,
        projection: str = "postgres",
    ) -> None:
        self.settings = settings
        self.stats = WorkerStats()
        self.metrics = IngestMetrics()
        self._tally = Tally(self.stats, self.metrics)
        self.metrics_server: MetricsServer | None = None  # while run() serves metrics
        self._resume_from_stores = resume_from_stores
        self._writer = BatchWriter(
            settings, clickhouse, projection=projection, dead_letters=DeadLetters(settings.kafka)
        )
        self._archive = WorkerArchive(settings.archive_root) if settings.archive_root else None
        # where artifact locations may lie; how long applied event ids are remembered
        self._roots = ArtifactRootSettings.from_env(root=settings.artifact_root)
        dedup = DedupSettings.from_env()
        self._pruner = AppliedEventsPruner(settings.postgres_dsn, projection, dedup, self.metrics)
        self._lag: int | None = None
        self._log: Callable[[str], LogName] = lambda topic: topic
        self._generation = 0  # bumped by every assignment change
        self._pausing = False  # while set, newly assigned partitions are paused too
        self._consumer: Any = None
        # which topic may carry which events; the registry history is loaded by _start
        self._authority = TopicAuthority.of(settings.kafka)
        self._migrated = self._try_migrate()

    def lag(self) -> int | None:
        """Records on the assigned partitions not written yet; None before it is known."""
        return self._lag

    def drained(self) -> bool:
        return self._lag == 0

    def run(self, stop: threading.Event) -> None:
        """Consume until stop is set; every batch is committed once the chain took it."""
        if self.settings.metrics_addr:
            try:
                self.metrics_server = self.metrics.serve(self.settings.metrics_addr)
                where = self.metrics_server
                log.info("metrics on http://%s:%d/metrics", where.host, where.port)
            except OSError as exc:  # e.g. the port is taken: ingest matters more than metrics
                log.error("cannot serve metrics on %s: %s", self.settings.metrics_addr, exc)
        try:
            if self._start(stop):
                self._consume(stop)
        finally:
            if self.metrics_server is not None:
                self.metrics_server.close()

    def chain(self, commit: Callable[[Mapping[Partition, int]], None]) -> Step[Sequence[Record]]:
        """decode -> check locations -> project -> (measured:) drop resent (and prune old
        ids) -> isolate rejected data -> ClickHouse -> Postgres and dead letters -> archive
        -> commit."""
        tally, writer = self._tally, self._writer
        last: Step[Any] = CommitOffsets(commit, self._archive)
        if self._archive is not None:
            last = ArchiveRecords(self._archive, tally, last)
        written = WriteClickHouse(writer, tally, WritePostgres(writer, tally, last))
        isolated = IsolateRejected(written)
        stored = DropResent(writer, tally, PruneAppliedEvents(self._pruner, isolated))
        projected = CheckLocations(self._roots, Project(tally, MeasureWrites(tally, stored)))
        return Decode(
            self.settings.kafka.max_event_bytes, tally, projected, authority=self._authority
        )

    def _consume(self, stop: threading.Event) -> None:
        consumer = self._consumer = create_consumer(self.settings)
        self._log = log_namer(consumer)
        listener = ResumeFromStores(consumer, self._log, self._on_assigned, self._on_revoked)
        kafka = self.settings.kafka  # one group, both topics (positions are per log)
        consumer.subscribe([kafka.events_topic, kafka.registry_topic], listener=listener)
        chain = self.chain(lambda offsets: self._commit(offsets))
        try:
            while not stop.is_set():
                polled_at = time.perf_counter()
                records = records_of(consumer.poll(timeout_ms=POLL_TIMEOUT_MS), self._log)
                self.stats.poll_seconds += time.perf_counter() - polled_at
                if records:
                    if self.stats.first_records_at is None:  # the poll that brought them
                        self.stats.first_records_at = time.monotonic() - (
                            time.perf_counter() - polled_at
                        )
                    self._submit(chain, consumer, records, stop)
                chain.poll()
                self._update_lag(consumer)
        finally:
            self._lag = None
            consumer.close(autocommit=False)
            try:
                chain.join(JOIN_TIMEOUT_SECONDS)
            finally:
                self._writer.close()

    def _try_migrate(self) -> bool:
        try:
            self._writer.migrate()
            return True
        except StoreUnavailable as failure:
            log.warning("cannot prepare the stores yet (%s); run() retries", failure)
            return False

    def _start(self, stop: threading.Event) -> bool:
        """Migrate the stores and create the topics, retrying while either is unavailable."""
        delay = FIRST_BACKOFF_SECONDS
        while not stop.is_set():
            try:
                if not self._migrated:
                    self._writer.migrate()
                    self._migrated = True
                ensure_topics(self.settings.kafka)
                history = self._writer.postgres.registry_history()
                self._authority = TopicAuthority.of(self.settings.kafka, history)
                return True
            except (StoreUnavailable, KafkaError) as exc:
                self._tally.retried("start")
                log.error("cannot start yet (%s); retrying in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        return False

    def _submit(
        self,
        chain: Step[Sequence[Record]],
        consumer: Any,
        records: list[Record],
        stop: threading.Event,
    ) -> None:
        """Submit the batch, again and again with consumption paused while a store is
        unavailable. Gives up (nothing committed) when stop is set, or when the
        partitions were reassigned during the outage (the batch is then read again from
        the stores' positions, by this worker or the new owner)."""
        delay = FIRST_BACKOFF_SECONDS
        generation = self._generation
        try:
            while True:
                try:
                    chain.submit(records)
                    return
                except StoreUnavailable as failure:
                    self._tally.retried(failure.stage)
                    if not self.stats.paused_because:
                        self._pause(consumer, f"{failure.stage} failed: {failure.cause!r}")
                    why = f"{failure.stage} ({failure.cause})"
                    log.error("write failed at %s; consumption paused, retry in %.1fs", why, delay)
                if not idle_poll(consumer, stop, delay):
                    return
                if self._generation != generation:
                    log.warning("partitions were reassigned during the outage; batch dropped")
                    return
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        finally:
            if self.stats.paused_because:
                self._resume(consumer)

    def _pause(self, consumer: Any, why: str) -> None:
        self._tally.paused(why)
        self._pausing = True
        consumer.pause(*consumer.assignment())

    def _resume(self, consumer: Any) -> None:
        self._pausing = False
        consumer.resume(*consumer.paused())
        self._tally.resumed()
        log.info("stores answer again; consumption resumed")

    def _commit(self, nexts: Mapping[Partition, int]) -> None:
        offsets = {
            TopicPartition(topic_of(name), partition): OffsetAndMetadata(offset, "", -1)
            for (name, partition), offset in nexts.items()
        }
        try:
            self._consumer.commit(offsets)
        except KafkaError as exc:  # e.g. a rebalance: the next owner replays harmlessly
            log.warning("offset commit failed (%s); the records will be replayed", exc)

    def _update_lag(self, consumer: Any) -> None:
        lags = lag_by_partition(consumer)
        self._tally.lag(lags or {})
        self._lag = None if lags is None else sum(lags.values())

    def _on_assigned(self, logs: list[Partition]) -> dict[Partition, int]:
        """Load the stores' positions for these partitions of logs; where to resume."""
        self._generation += 1
        if self._pausing:  # assigned during an outage: stay paused until the stores answer
            self._consumer_pause(logs)
        self._writer.clickhouse.load(logs)
        if not self._resume_from_stores:
            return {}
        applied = self._writer.postgres.positions(logs)
        resume = {tp: offset + 1 for tp, offset in applied.items()}
        if self._archive is not None:  # not archived yet: read again (the stores skip it)
            resume = self._archive.resume(logs, resume)
        return resume

    def _consumer_pause(self, logs: list[Partition]) -> None:
        if self._consumer is not None:
            self._consumer.pause(*(TopicPartition(topic_of(lg), p) for lg, p in logs))

    def _on_revoked(self, logs: list[Partition]) -> None:
        self._generation += 1
        self._writer.clickhouse.forget(logs)
        if self._archive is not None:
            self._archive.revoked(logs)


def run_worker(settings: Settings) -> None:
    """The standalone `tracklog ingest` process: run until SIGTERM or SIGINT.

    An exception that is not a store being unavailable ends the process with it (a
    traceback and a non-zero exit status); the restart replays from the stores."""
    from tracklog.contract.read_model.clickhouse_client import connect

    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    worker = Worker(settings, connect(settings.clickhouse_dsn))
    worker.run(stop)


def catch_up(
    settings: Settings,
    clickhouse: Any,
    *,
    timeout: float | None = None,
    on_lag: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Run a worker until it has consumed everything on the topic; (events, points) consumed."""

    worker = Worker(settings, clickhouse)
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(stop)
        except BaseException as exc:  # surfaced below
            failure.append(exc)

    thread = threading.Thread(target=run, name="tracklog-replay-catch-up", daemon=True)
    thread.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not worker.drained():
            if failure or not thread.is_alive():
                raise RuntimeError("the catch-up worker stopped") from (
                    failure[0] if failure else None
                )
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"catching up from Kafka took more than {timeout} s")
            lag = worker.lag()
            if lag is not None and on_lag is not None:
                on_lag(lag)
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=60)
    return worker.stats.events_consumed, worker.stats.points_written
