"""Write one projected batch to both stores, exactly once: the worker's steps
(ingest/steps/) call its parts one by one, the rebuild (`tracklog replay`) calls `write`.

`drop_resent` drops records whose event id was applied before (an SDK resend,
ingest/writers/event_ids.py); `write_clickhouse` inserts the points;
`write_postgres` applies the view changes, tracking rows and applied event ids in
one transaction, inside which the batch's new dead letters are sent to the
`DeadLetterSink` and acknowledged. A failure raises before the offsets are
committed (see failures.py for its kind), and the retry skips whatever a store
already holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from tracklog.contract.settings import Settings
from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.records import Position, Record
from tracklog.ingest.writers import event_ids
from tracklog.ingest.writers.clickhouse import ClickHouseWriter
from tracklog.ingest.writers.failures import stage
from tracklog.ingest.writers.postgres import Applied, PostgresWriter

log = logging.getLogger(__name__)

PARAM_CONFLICT = "param conflict"


class DeadLetterSink(Protocol):
    """Where dead letters go (ingest/dead_letters/producer.py's DeadLetters)."""

    def send(self, record: Record, reason: str, detail: str = "") -> None: ...

    def flush(self, timeout: float = 30.0) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Written:
    """What one write did."""

    events: int  # records in the batch
    points: int  # metric points inserted into ClickHouse
    dead_letters: int
    param_conflicts: int
    duplicates: int  # records dropped because their event was applied before


@dataclass(frozen=True, slots=True)
class PostgresWritten:
    """What one Postgres transaction did."""

    dead_letters: int
    param_conflicts: int


class BatchWriter:
    def __init__(
        self,
        settings: Settings,
        clickhouse: Any,
        *,
        projection: str = "postgres",
        dead_letters: DeadLetterSink | None = None,
    ) -> None:
        """Without a dead-letter sink, dead letters are counted and logged, not sent."""
        self.clickhouse = ClickHouseWriter(
            clickhouse, settings.clickhouse_database, settings.clickhouse_cluster
        )
        self.postgres = PostgresWriter(settings.postgres_dsn, projection)
        self._dead_letters = dead_letters

    def migrate(self) -> None:
        stage("clickhouse", self.clickhouse.migrate)
        stage("postgres", self.postgres.migrate)

    def write(self, batch: ProjectedBatch) -> Written:
        """Write the batch to both stores; raises a StoreFailure naming the store that failed."""
        batch, duplicates = self.drop_resent(batch)
        points = self.write_clickhouse(batch)
        written = self.write_postgres(batch)
        return Written(
            len(batch.records),
            points,
            written.dead_letters,
            written.param_conflicts,
            len(duplicates),
        )

    def drop_resent(self, batch: ProjectedBatch) -> tuple[ProjectedBatch, frozenset[Position]]:
        """The batch without the records whose event was applied before; their positions."""
        if not batch.event_ids:
            return batch, frozenset()
        ids = [event_id for _, event_id in batch.event_ids]
        before = stage("postgres", lambda: self.postgres.seen_events(ids))
        duplicates = event_ids.repeats(batch.event_ids, before)
        if duplicates:
            log.info("skipping %d events applied before (resent copies)", len(duplicates))
        return batch.without(duplicates), duplicates

    def write_clickhouse(self, batch: ProjectedBatch) -> int:
        """Insert the points not stored yet; the number of rows inserted."""
        try:
            return stage("clickhouse", lambda: self.clickhouse.write(batch.points))
        except BaseException:  # the insert may have landed (a lost response): ask again
            self.clickhouse.forget({p.log_partition for p, _ in batch.points})
            raise

    def write_postgres(self, batch: ProjectedBatch) -> PostgresWritten:
        """Apply the batch in one transaction, sending its new dead letters inside it."""
        sent: list[int] = []

        def dead_letter(applied: Applied) -> None:
            sent.append(stage("dead-letters", lambda: self._dead_letter(batch, applied)))

        applied = stage(
            "postgres",
            lambda: self.postgres.apply(batch.postgres, dead_letter, batch.event_ids),
        )
        return PostgresWritten(sum(sent), len(applied.conflicts))

    def close(self) -> None:
        if self._dead_letters is not None:
            self._dead_letters.close()
        self.postgres.close()

    def _dead_letter(self, batch: ProjectedBatch, applied: Applied) -> int:
        """Send the batch's new dead letters (inside the Postgres transaction); count them."""
        letters = self._dead_letters
        count = 0
        for rejected in batch.rejected:
            if rejected.record.position in applied.fresh:
                log.warning("dead letter %s: %s", rejected.record.position, rejected.reason)
                if letters is not None:
                    letters.send(rejected.record, rejected.reason)
                count += 1
        for c in applied.conflicts:
            detail = f"param {c.key!r} of run {c.run_id} keeps {c.kept!r}, got {c.rejected!r}"
            log.warning("%s at %s: %s", PARAM_CONFLICT, c.position, detail)
            if letters is not None:
                letters.send(_record_at(batch, c.position), PARAM_CONFLICT, detail)
            count += 1
        for t in applied.tracking_conflicts:  # e.g. a rename to a name already taken
            log.warning("%s at %s: %s", t.reason, t.position, t.detail)
            if letters is not None:
                letters.send(_record_at(batch, t.position), t.reason, t.detail)
            count += 1
        if letters is not None:
            letters.flush()
        return count


def _record_at(batch: ProjectedBatch, position: Position) -> Record:
    return next(record for record in batch.records if record.position == position)
