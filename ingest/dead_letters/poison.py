"""Records a store rejects although the decoder accepted them: find, dead-letter, go on.

A batch that fails because a store rejects its data (`DataRejected`: psycopg's
DataError or IntegrityError, clickhouse-connect's DataError, see
ingest/writers/failures.py) would otherwise be retried forever and stall its
partitions. It is split in halves, in log order, until the failing records stand
alone, and each of those is written as a dead letter with the reason "store
rejected" (its position still advances, so it is not read again). A store that is
down (`StoreUnavailable`) and any other exception (a bug) propagate unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from tracklog.ingest.batch import ProjectedBatch, Rejected
from tracklog.ingest.writers.batch import BatchWriter, Written
from tracklog.ingest.writers.failures import DataRejected

REJECTED_BY_STORE = "store rejected"
MAX_REJECTS_PER_BATCH = 100  # beyond this it looks systematic (a bug): raise, the worker stops


def write_isolating(write: Callable[[ProjectedBatch], None], batch: ProjectedBatch) -> int:
    """write(batch), splitting it around records a store rejects; return how many it rejected.

    Raises DataRejected when more than MAX_REJECTS_PER_BATCH records are rejected;
    any other exception propagates at once.
    """
    rejected = 0

    def attempt(part: ProjectedBatch) -> None:
        nonlocal rejected
        try:
            write(part)
            return
        except DataRejected as failure:
            if rejected >= MAX_REJECTS_PER_BATCH:
                raise
            if len(part.records) > 1:
                half = len(part.records) // 2
                for records in (part.records[:half], part.records[half:]):
                    attempt(part.only(frozenset(r.position for r in records)))
                return
            rejected += 1
            write(dead_letter_only(part, f"{failure.stage}: {failure.cause}"))

    attempt(batch)
    return rejected


def dead_letter_only(part: ProjectedBatch, detail: str) -> ProjectedBatch:
    """The one-record batch that only dead-letters its record (with the store's reason)."""
    (record,) = part.records
    reason = f"{REJECTED_BY_STORE} ({detail})"[:1000]
    return ProjectedBatch(
        records=part.records,
        postgres=((record.position, ()),),
        points=(),
        rejected=(Rejected(record, reason),),
        event_ids=(),
    )


def write_through(writer: BatchWriter, batch: ProjectedBatch) -> Written:
    """`writer.write(batch)` isolating records a store rejects; what all the parts wrote."""
    parts: list[Written] = []
    write_isolating(lambda part: parts.append(writer.write(part)), batch)
    return Written(
        events=sum(w.events for w in parts),
        points=sum(w.points for w in parts),
        dead_letters=sum(w.dead_letters for w in parts),
        param_conflicts=sum(w.param_conflicts for w in parts),
        duplicates=sum(w.duplicates for w in parts),
    )
