"""The ingest worker: poll -> decode -> project -> write ClickHouse, then Postgres
(with its tracking rows, applied event ids and the dead letters) -> commit offsets.

A store that fails pauses consumption: the worker keeps polling (so it stays in
the consumer group) with every partition paused, retries the same batch with
exponential back-off, logs why, commits nothing, and resumes by itself once the
write succeeds. A restart at any point, SIGKILL included, replays safely: both
writers skip records they already hold (ingest/writers/batch.py).

With an archive root set, every consumed record is also archived to Avro files
(ingest/archive/worker_side.py). With a metrics address set, the worker serves
Prometheus metrics (ingest/metrics.py).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from tracklog.contract.settings import Settings
from tracklog.contract.topics import ensure_topics, topic_of
from tracklog.ingest.archive.worker_side import WorkerArchive
from tracklog.ingest.batch import ProjectedBatch, project_batch
from tracklog.ingest.consumer import (
    Partition,
    ResumeFromStores,
    create_consumer,
    idle_poll,
    lag_by_partition,
    log_namer,
    records_of,
)
from tracklog.ingest.dead_letters.poison import write_isolating
from tracklog.ingest.metrics import IngestMetrics, MetricsServer
from tracklog.ingest.writers.batch import BatchWriter, StoreFailure

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 200
FIRST_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 10.0


@dataclass(slots=True)
class WorkerStats:
    events_consumed: int = 0
    points_written: int = 0
    dead_letters: int = 0
    param_conflicts: int = 0
    duplicates: int = 0  # records dropped because their event was applied before
    retries: int = 0  # failed write attempts (each retried after a back-off)
    batches: int = 0
    last_batch_write_seconds: float = 0.0
    poll_seconds: float = 0.0  # totals, to see where the time goes
    project_seconds: float = 0.0
    write_seconds: float = 0.0
    first_records_at: float | None = None  # time.monotonic() of the first polled records
    lag_by_partition: dict[Partition, int] = field(default_factory=dict)
    paused_because: str = ""  # why consumption is paused ("" while it runs)


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
        self._resume_from_stores = resume_from_stores
        self._writer = BatchWriter(settings, clickhouse, projection=projection)
        self.metrics = IngestMetrics()
        self.metrics_server: MetricsServer | None = None  # while run() serves metrics
        self._archive = WorkerArchive(settings.archive_root) if settings.archive_root else None
        self._lag: int | None = None
        self._log: Callable[[str], str] = lambda topic: topic
        self._generation = 0  # bumped by every assignment change
        self._pausing = False  # while set, newly assigned partitions are paused too
        self._consumer: Any = None
        self._migrated = self._try_migrate()

    def lag(self) -> int | None:
        """Records on the assigned partitions not written yet; None before it is known."""
        return self._lag

    def drained(self) -> bool:
        return self._lag == 0

    def run(self, stop: threading.Event) -> None:
        """Consume until stop is set; every batch is committed once both stores hold it."""
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

    def _consume(self, stop: threading.Event) -> None:
        consumer = self._consumer = create_consumer(self.settings)
        self._log = log_namer(consumer)
        listener = ResumeFromStores(consumer, self._on_assigned, self._on_revoked)
        consumer.subscribe([self.settings.kafka.events_topic], listener=listener)
        try:
            while not stop.is_set():
                polled_at = time.perf_counter()
                records = records_of(consumer.poll(timeout_ms=POLL_TIMEOUT_MS), self._log)
                if records:
                    projected_at = time.perf_counter()
                    batch = project_batch(records, self.settings.kafka.max_event_bytes)
                    self.stats.poll_seconds += projected_at - polled_at
                    self.stats.project_seconds += time.perf_counter() - projected_at
                    if self.stats.first_records_at is None:
                        self.stats.first_records_at = time.monotonic()
                    if self._write(consumer, batch, stop):
                        self._commit(consumer, batch)
                self._tick_archive()
                self._update_lag(consumer)
        finally:
            self._lag = None
            consumer.close(autocommit=False)
            if self._archive is not None:
                self._archive.close()
            self._writer.close()

    def _try_migrate(self) -> bool:
        try:
            self._writer.migrate()
            return True
        except StoreFailure as failure:
            log.warning("cannot prepare the stores yet (%s); run() retries", failure)
            return False

    def _start(self, stop: threading.Event) -> bool:
        """Migrate the stores and create the topics, retrying while either is unreachable."""
        delay = FIRST_BACKOFF_SECONDS
        while not stop.is_set():
            try:
                if not self._migrated:
                    self._writer.migrate()
                    self._migrated = True
                ensure_topics(self.settings.kafka)
                return True
            except Exception as exc:
                self.stats.retries += 1
                self.metrics.retried("start")
                log.error("cannot start yet (%s); retrying in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        return False

    def _write(self, consumer: Any, batch: ProjectedBatch, stop: threading.Event) -> bool:
        """Write the batch to both stores, retrying with consumption paused while one fails.

        False when nothing may be committed: stop was set, or the partitions were
        reassigned during the outage (the batch is then read again from the stores'
        positions, by this worker or the new owner).
        """
        delay = FIRST_BACKOFF_SECONDS
        generation = self._generation
        try:
            while True:
                try:
                    write_isolating(self._write_once, batch)
                    return True
                except StoreFailure as failure:
                    self.stats.retries += 1
                    self.metrics.retried(failure.stage)
                    if not self.stats.paused_because:
                        self._pause(consumer, f"{failure.stage} failed: {failure.cause!r}")
                    why = f"{failure.stage} ({failure.cause})"
                    log.error("write failed at %s; consumption paused, retry in %.1fs", why, delay)
                if not idle_poll(consumer, stop, delay):
                    return False
                if self._generation != generation:
                    log.warning("partitions were reassigned during the outage; batch dropped")
                    return False
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        finally:
            if self.stats.paused_because:
                self._resume(consumer)

    def _write_once(self, batch: ProjectedBatch) -> None:
        started = time.perf_counter()
        if self._archive is not None:  # buffered; a full buffer is written (or raises)
            self._archive.add(batch.records)
        written = self._writer.write(batch)
        stats = self.stats
        stats.last_batch_write_seconds = time.perf_counter() - started
        stats.write_seconds += stats.last_batch_write_seconds
        stats.events_consumed += written.events
        stats.points_written += written.points
        stats.dead_letters += written.dead_letters
        stats.param_conflicts += written.param_conflicts
        stats.duplicates += written.duplicates
        stats.batches += 1
        self.metrics.batch_written(written.events, written.points, stats.last_batch_write_seconds)
        if written.dead_letters:
            self.metrics.dead_lettered(written.dead_letters)

    def _tick_archive(self) -> None:
        if self._archive is not None and not self._archive.tick():
            self.stats.retries += 1
            self.metrics.retried("archive")

    def _pause(self, consumer: Any, why: str) -> None:
        self.stats.paused_because = why
        self.metrics.set_paused(True, why)
        self._pausing = True
        consumer.pause(*consumer.assignment())

    def _resume(self, consumer: Any) -> None:
        self._pausing = False
        consumer.resume(*consumer.paused())
        self.stats.paused_because = ""
        self.metrics.set_paused(False)
        log.info("stores answer again; consumption resumed")

    def _commit(self, consumer: Any, batch: ProjectedBatch) -> None:
        nexts = batch.next_offsets()
        if self._archive is not None:
            nexts = self._archive.committable(nexts)
        offsets = {
            TopicPartition(topic_of(log), partition): OffsetAndMetadata(offset, "", -1)
            for (log, partition), offset in nexts.items()
        }
        try:
            consumer.commit(offsets)
        except KafkaError as exc:  # e.g. a rebalance: the next owner replays harmlessly
            log.warning("offset commit failed (%s); the records will be replayed", exc)

    def _update_lag(self, consumer: Any) -> None:
        lags = lag_by_partition(consumer)
        self.stats.lag_by_partition = lags or {}
        self.metrics.set_lag(self.stats.lag_by_partition)
        self._lag = None if lags is None else sum(lags.values())

    def _on_assigned(self, partitions: list[Partition]) -> dict[Partition, int]:
        """Load the stores' positions for this incarnation of each topic; where to resume."""
        self._generation += 1
        if self._pausing:  # assigned during an outage: stay paused until the stores answer
            self._consumer_pause(partitions)
        logs = [(self._log(topic), partition) for topic, partition in partitions]
        self._writer.clickhouse.load(logs)
        if not self._resume_from_stores:
            return {}
        applied = self._writer.postgres.positions(logs)
        resume = {tp: offset + 1 for tp, offset in applied.items()}
        if self._archive is not None:  # not archived yet: read again (the stores skip it)
            resume = self._archive.resume(logs, resume)
        return {(topic_of(log), p): offset for (log, p), offset in resume.items()}

    def _consumer_pause(self, partitions: list[Partition]) -> None:
        if self._consumer is not None:
            self._consumer.pause(*(TopicPartition(t, p) for t, p in partitions))

    def _on_revoked(self, partitions: list[Partition]) -> None:
        self._generation += 1
        logs = [(self._log(topic), partition) for topic, partition in partitions]
        self._writer.clickhouse.forget(logs)
        if self._archive is not None:
            self._archive.revoked(logs)


def run_worker(settings: Settings) -> None:
    """The standalone `tracklog ingest` process: run until SIGTERM or SIGINT."""
    from tracklog.contract.read_model.clickhouse_client import connect

    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    worker = Worker(settings, connect(settings.clickhouse_dsn))
    worker.run(stop)
