"""Records a store rejects although the decoder accepted them: find, dead-letter, go on.

A batch that fails because a store rejects its data (psycopg's DataError or
IntegrityError, clickhouse-connect's DataError, a value the client cannot
serialise) would otherwise be retried forever and stall its partitions. The
worker then splits the batch in halves, in log order, until the failing records
stand alone, and writes each of those as a dead letter with the reason
"store rejected" (its position still advances, so it is not read again). Errors
that are not about the data (a store that is down) keep the normal retry.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from clickhouse_connect.driver import exceptions as clickhouse_errors

from tracklog.ingest.batch import ProjectedBatch, Rejected
from tracklog.ingest.writers.batch import BatchWriter, StoreFailure, Written

REJECTED_BY_STORE = "store rejected"
MAX_REJECTS_PER_BATCH = 100  # beyond this it looks systematic: stop and retry instead

_DATA_ERRORS = (
    psycopg.DataError,
    psycopg.IntegrityError,
    clickhouse_errors.DataError,
    ValueError,  # UnicodeError included
    TypeError,
    OverflowError,
)


def rejects_data(failure: StoreFailure) -> bool:
    return isinstance(failure.cause, _DATA_ERRORS)


def write_isolating(write: Callable[[ProjectedBatch], None], batch: ProjectedBatch) -> int:
    """write(batch), splitting it around records a store rejects; return how many it rejected.

    Raises the StoreFailure when the failure is not about the data, or when more than
    MAX_REJECTS_PER_BATCH records are rejected.
    """
    rejected = 0

    def attempt(part: ProjectedBatch) -> None:
        nonlocal rejected
        try:
            write(part)
            return
        except StoreFailure as failure:
            if not rejects_data(failure) or rejected >= MAX_REJECTS_PER_BATCH:
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
