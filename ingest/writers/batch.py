"""Step 3 of the worker: write one projected batch to both stores, exactly once.

ClickHouse first, then Postgres (view changes, tracking rows, applied event ids)
in one transaction, inside which the batch's new dead letters are sent and
acknowledged; a failure anywhere raises before the offsets are committed, and
the retry skips whatever a store already holds. Records whose event id was
applied before (an SDK resend) are dropped first (ingest/writers/event_ids.py). The
rebuild (`tracklog replay`) writes through the same class without dead letters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tracklog.contract.settings import Settings
from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.dead_letters.producer import DeadLetters
from tracklog.ingest.records import Position, Record
from tracklog.ingest.writers import event_ids
from tracklog.ingest.writers.clickhouse import ClickHouseWriter
from tracklog.ingest.writers.postgres import Applied, PostgresWriter

log = logging.getLogger(__name__)

PARAM_CONFLICT = "param conflict"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Written:
    """What one write did."""

    events: int  # records in the batch
    points: int  # metric points inserted into ClickHouse
    dead_letters: int
    param_conflicts: int
    duplicates: int  # records dropped because their event was applied before


class StoreFailure(RuntimeError):
    """A store failed while writing a batch; `stage` names it (for logs and metrics)."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {cause}")
        self.stage = stage
        self.cause = cause


class BatchWriter:
    def __init__(
        self,
        settings: Settings,
        clickhouse: Any,
        *,
        projection: str = "postgres",
        dead_letters: bool = True,
    ) -> None:
        self.clickhouse = ClickHouseWriter(clickhouse, settings.clickhouse_database)
        self.postgres = PostgresWriter(settings.postgres_dsn, projection)
        self._dead_letters = DeadLetters(settings.kafka) if dead_letters else None

    def migrate(self) -> None:
        stage("clickhouse", self.clickhouse.migrate)
        stage("postgres", self.postgres.migrate)

    def write(self, batch: ProjectedBatch) -> Written:
        """Write the batch to both stores; raises StoreFailure naming the store that failed."""
        ids = [event_id for _, event_id in batch.event_ids]
        before = stage("postgres", lambda: self.postgres.seen_events(ids)) if ids else set()
        duplicates = event_ids.repeats(batch.event_ids, before)
        if duplicates:
            log.info("skipping %d events applied before (resent copies)", len(duplicates))
        batch = batch.without(duplicates)
        try:
            points = stage("clickhouse", lambda: self.clickhouse.write(batch.points))
        except StoreFailure:  # the insert may have landed (a lost response): ask again
            self.clickhouse.forget({(p.log, p.partition) for p, _ in batch.points})
            raise
        sent: list[int] = []

        def dead_letter(applied: Applied) -> None:
            sent.append(stage("dead-letters", lambda: self._dead_letter(batch, applied)))

        applied = stage(
            "postgres",
            lambda: self.postgres.apply(batch.postgres, dead_letter, batch.event_ids),
        )
        return Written(
            len(batch.records), points, sum(sent), len(applied.conflicts), len(duplicates)
        )

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


def stage(name: str, work: Callable[[], T]) -> T:
    """Run work; an exception becomes StoreFailure(name)."""
    try:
        return work()
    except StoreFailure:
        raise
    except Exception as exc:
        raise StoreFailure(name, exc) from exc
