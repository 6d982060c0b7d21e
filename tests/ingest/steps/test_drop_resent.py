"""DropResent: records whose event was applied before go no further, positions stay."""

from __future__ import annotations

from typing import cast

from tests.ingest.steps.recording_step import RecordingStep, batch_of, new_tally
from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.records import Position
from tracklog.ingest.steps.drop_resent import DropResent
from tracklog.ingest.writers.batch import BatchWriter


class Writer:
    def __init__(self, resent: set[int]) -> None:
        self.resent = resent

    def drop_resent(self, batch: ProjectedBatch) -> tuple[ProjectedBatch, frozenset[Position]]:
        dropped = frozenset(p for p, _ in batch.event_ids if p.offset in self.resent)
        return batch.without(dropped), dropped


def test_resent_records_are_dropped_and_counted() -> None:
    last, tally = RecordingStep(), new_tally()
    DropResent(cast(BatchWriter, Writer({1, 3})), tally, last).submit(batch_of(5))
    (kept,) = last.submitted
    assert len(kept.records) == 5  # the offsets still move past them
    assert [p.offset for p, ops in kept.postgres if ops] == [0, 2, 4]
    assert tally.stats.duplicates == 2
