"""The ingest worker: poll -> decode -> project -> write ClickHouse, then Postgres
(with its tracking rows and the dead letters) -> commit offsets to Kafka.

A store that fails is logged and the same batch retried after a back-off,
without committing; a restart at any point replays safely because both writers
skip records they already hold.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from tracklog.ingest.batch import ProjectedBatch, project_batch
from tracklog.ingest.clickhouse_writer import ClickHouseWriter
from tracklog.ingest.consumer import (
    Partition,
    ResumeFromStores,
    create_consumer,
    log_namer,
    records_of,
)
from tracklog.ingest.dead_letter import DeadLetters
from tracklog.ingest.postgres_writer import Applied, PostgresWriter
from tracklog.ingest.records import Position, Record
from tracklog.settings import Settings
from tracklog.topics import ensure_topics, topic_of

log = logging.getLogger(__name__)

PARAM_CONFLICT = "param conflict"
POLL_TIMEOUT_MS = 200
MAX_BACKOFF_SECONDS = 30.0


@dataclass(slots=True)
class WorkerStats:
    events_consumed: int = 0
    points_written: int = 0
    dead_letters: int = 0
    param_conflicts: int = 0
    batches: int = 0
    last_batch_write_seconds: float = 0.0
    poll_seconds: float = 0.0  # totals, to see where the time goes
    project_seconds: float = 0.0
    write_seconds: float = 0.0
    first_records_at: float | None = None  # time.monotonic() of the first polled records


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
        self._clickhouse = ClickHouseWriter(clickhouse, settings.clickhouse_database)
        self._postgres = PostgresWriter(settings.postgres_dsn, projection)
        self._dead_letters = DeadLetters(settings.kafka)
        self._lag: int | None = None
        self._log: Callable[[str], str] = lambda topic: topic
        self._clickhouse.migrate()
        self._postgres.migrate()

    def lag(self) -> int | None:
        """Records on the assigned partitions not written yet; None before it is known."""
        return self._lag

    def drained(self) -> bool:
        return self._lag == 0

    def run(self, stop: threading.Event) -> None:
        """Consume until stop is set; every batch is committed once both stores hold it."""
        ensure_topics(self.settings.kafka)
        consumer = create_consumer(self.settings)
        self._log = log_namer(consumer)
        listener = ResumeFromStores(consumer, self._on_assigned, self._on_revoked)
        consumer.subscribe([self.settings.kafka.events_topic], listener=listener)
        try:
            while not stop.is_set():
                polled_at = time.perf_counter()
                records = records_of(consumer.poll(timeout_ms=POLL_TIMEOUT_MS), self._log)
                if records:
                    projected_at = time.perf_counter()
                    batch = project_batch(records)
                    self.stats.poll_seconds += projected_at - polled_at
                    self.stats.project_seconds += time.perf_counter() - projected_at
                    if self.stats.first_records_at is None:
                        self.stats.first_records_at = time.monotonic()
                    if not self._write(batch, stop):
                        break  # stopped while a store was failing: nothing to commit
                    self._commit(consumer, batch)
                self._lag = _lag_of(consumer)
        finally:
            self._lag = None
            consumer.close(autocommit=False)
            self._dead_letters.close()
            self._postgres.close()

    def _write(self, batch: ProjectedBatch, stop: threading.Event) -> bool:
        """Write the batch to both stores, retrying until it works or stop is set."""
        delay = 0.25
        while True:
            try:
                self._write_once(batch)
                return True
            except Exception:
                log.exception("writing a batch of %d records failed", len(batch.records))
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    def _write_once(self, batch: ProjectedBatch) -> None:
        started = time.perf_counter()
        points = self._clickhouse.write(batch.points)
        sent: list[int] = []

        def dead_letter(applied: Applied) -> None:
            sent.append(self._dead_letter(batch, applied))

        applied = self._postgres.apply(batch.postgres, before_commit=dead_letter)
        stats = self.stats
        stats.last_batch_write_seconds = time.perf_counter() - started
        stats.write_seconds += stats.last_batch_write_seconds
        stats.events_consumed += len(batch.records)
        stats.points_written += points
        stats.dead_letters += sum(sent)
        stats.param_conflicts += len(applied.conflicts)
        stats.batches += 1

    def _dead_letter(self, batch: ProjectedBatch, applied: Applied) -> int:
        """Send the batch's new dead letters (inside the Postgres transaction); count them."""
        count = 0
        for rejected in batch.rejected:
            if rejected.record.position in applied.fresh:
                log.warning("dead letter %s: %s", rejected.record.position, rejected.reason)
                self._dead_letters.send(rejected.record, rejected.reason)
                count += 1
        if applied.conflicts:
            by_position = {record.position: record for record in batch.records}
            for c in applied.conflicts:
                detail = f"param {c.key!r} of run {c.run_id} keeps {c.kept!r}, got {c.rejected!r}"
                log.warning("%s at %s: %s", PARAM_CONFLICT, c.position, detail)
                self._dead_letters.send(by_position[c.position], PARAM_CONFLICT, detail)
                count += 1
        for t in applied.tracking_conflicts:  # e.g. a rename to a name already taken
            log.warning("%s at %s: %s", t.reason, t.position, t.detail)
            self._dead_letters.send(_record_at(batch, t.position), t.reason, t.detail)
            count += 1
        self._dead_letters.flush()
        return count

    def _commit(self, consumer: Any, batch: ProjectedBatch) -> None:
        offsets = {
            TopicPartition(topic_of(log), partition): OffsetAndMetadata(offset, "", -1)
            for (log, partition), offset in batch.next_offsets().items()
        }
        try:
            consumer.commit(offsets)
        except KafkaError as exc:  # e.g. a rebalance: the next owner replays harmlessly
            log.warning("offset commit failed (%s); the records will be replayed", exc)

    def _on_assigned(self, partitions: list[Partition]) -> dict[Partition, int]:
        """Load the stores' positions for this incarnation of each topic; where to resume."""
        logs = [(self._log(topic), partition) for topic, partition in partitions]
        self._clickhouse.load(logs)
        if not self._resume_from_stores:
            return {}
        applied = self._postgres.positions(logs)
        return {(topic_of(log), p): offset + 1 for (log, p), offset in applied.items()}

    def _on_revoked(self, partitions: list[Partition]) -> None:
        self._clickhouse.forget([(self._log(topic), partition) for topic, partition in partitions])


def _record_at(batch: ProjectedBatch, position: Position) -> Record:
    return next(record for record in batch.records if record.position == position)


def _lag_of(consumer: Any) -> int | None:
    """Sum of highwater - position over the assignment (highwater: Tansu's end_offsets lie)."""
    assignment = consumer.assignment()
    if not assignment:
        return None
    total = 0
    for tp in assignment:
        highwater = consumer.highwater(tp)
        position = None if highwater is None else consumer.position(tp, timeout_ms=1000)
        if highwater is None or position is None:
            return None
        total += max(0, highwater - position)
    return total


def run_worker(settings: Settings) -> None:
    """The standalone `tracklog ingest` process: run until SIGTERM or SIGINT."""
    from tracklog.deploy.clickhouse import connect

    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    worker = Worker(settings, connect(settings.clickhouse_dsn))
    worker.run(stop)
