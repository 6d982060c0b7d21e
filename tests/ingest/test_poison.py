"""Isolating the records a store rejects (pure: the write is a stand-in)."""

from __future__ import annotations

import psycopg
import pytest

from tracklog.ingest.batch import ProjectedBatch, project_batch
from tracklog.ingest.batch_writer import StoreFailure
from tracklog.ingest.poison import MAX_REJECTS_PER_BATCH, REJECTED_BY_STORE, write_isolating
from tracklog.ingest.records import Position, Record

from .events import params_logged


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
            raise StoreFailure("postgres", psycopg.OperationalError("connection refused"))
        effective = {p.offset for p, ops in batch.postgres if ops}
        if effective & self.poisoned:
            raise StoreFailure("postgres", psycopg.DataError("text cannot contain NUL"))
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
