"""Isolating the records a store rejects (pure: the write is a stand-in)."""

from __future__ import annotations

from typing import cast

import psycopg
import pytest

from tests.ingest.events import params_logged
from tracklog.ingest.batch import ProjectedBatch, project_batch
from tracklog.ingest.dead_letters.poison import (
    MAX_REJECTS_PER_BATCH,
    REJECTED_BY_STORE,
    write_isolating,
    write_through,
)
from tracklog.ingest.records import Position, Record
from tracklog.ingest.writers.batch import BatchWriter, Written
from tracklog.ingest.writers.failures import DataRejected, StoreFailure, StoreUnavailable


def batch_of(count: int) -> ProjectedBatch:
    records = [
        Record(
            Position("t@1", 0, offset),
            b"run",
            params_logged("run", {f"p{offset}": "v"}).SerializeToString(),
        )
        for offset in range(count)
    ]
    return project_batch(records)


class Store:
    """Rejects batches holding a poisoned offset, or fails entirely while down."""

    def __init__(self, poisoned: set[int], down: bool = False) -> None:
        self.poisoned = poisoned
        self.down = down
        self.written: list[int] = []  # offsets whose effects were written, in order
        self.dead_lettered: list[tuple[int, str]] = []

    def write(self, batch: ProjectedBatch) -> None:
        offsets = [r.position.offset for r in batch.records]
        if self.down:
            raise StoreUnavailable("postgres", psycopg.OperationalError("connection refused"))
        effective = {p.offset for p, ops in batch.postgres if ops}
        if effective & self.poisoned:
            raise DataRejected("postgres", psycopg.DataError("text cannot contain NUL"))
        self.written.extend(o for o in offsets if o in effective)
        self.dead_lettered.extend((r.record.position.offset, r.reason) for r in batch.rejected)


def test_a_rejected_record_is_dead_lettered_and_the_rest_written_in_order() -> None:
    store = Store(poisoned={3, 7})
    assert write_isolating(store.write, batch_of(10)) == 2
    assert store.written == [0, 1, 2, 4, 5, 6, 8, 9]
    assert [o for o, _ in store.dead_lettered] == [3, 7]
    assert all(reason.startswith(REJECTED_BY_STORE) for _, reason in store.dead_lettered)
    assert "NUL" in store.dead_lettered[0][1]


def test_a_store_that_is_down_is_not_mistaken_for_bad_data() -> None:
    store = Store(poisoned=set(), down=True)
    with pytest.raises(StoreFailure):
        write_isolating(store.write, batch_of(10))
    assert store.dead_lettered == []


def test_too_many_rejections_look_systematic_and_raise() -> None:
    store = Store(poisoned=set(range(MAX_REJECTS_PER_BATCH + 5)))
    with pytest.raises(StoreFailure):
        write_isolating(store.write, batch_of(MAX_REJECTS_PER_BATCH + 5))
    assert len(store.dead_lettered) == MAX_REJECTS_PER_BATCH


def test_write_through_a_batch_writer_sums_the_parts_it_wrote() -> None:
    """The rebuild's path: a record the live worker dead-lettered does not stop a rebuild."""
    store = Store(poisoned={4})

    class Writer:
        def write(self, batch: ProjectedBatch) -> Written:
            store.write(batch)
            effective = sum(1 for _, ops in batch.postgres if ops)
            return Written(len(batch.records), effective, len(batch.rejected), 0, 0)

    written = write_through(cast(BatchWriter, Writer()), batch_of(9))
    assert (written.events, written.points, written.dead_letters) == (9, 8, 1)
    assert store.written == [0, 1, 2, 3, 5, 6, 7, 8]
