"""ArchiveRecords: records are buffered before the commit; a failed timed flush is counted
as a retry and does not stop the chain; join writes what is left."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from tests.ingest.steps.recording_step import RecordingStep, batch_of, new_tally
from tracklog.ingest.archive.worker_side import WorkerArchive
from tracklog.ingest.records import Record
from tracklog.ingest.steps.archive_records import ArchiveRecords


class Archive:
    def __init__(self) -> None:
        self.added: list[Record] = []
        self.tick_ok = True
        self.closed = False

    def add(self, records: Sequence[Record]) -> None:
        self.added.extend(records)

    def tick(self) -> bool:
        return self.tick_ok

    def close(self) -> None:
        self.closed = True


def test_records_are_archived_then_passed_on() -> None:
    archive, last = Archive(), RecordingStep()
    batch = batch_of(3)
    ArchiveRecords(cast(WorkerArchive, archive), new_tally(), last).submit(batch)
    assert archive.added == list(batch.records)
    assert last.submitted == [batch]


def test_a_failed_flush_is_a_retry_and_polling_goes_on() -> None:
    archive, last, tally = Archive(), RecordingStep(), new_tally()
    step = ArchiveRecords(cast(WorkerArchive, archive), tally, last)
    step.poll()
    archive.tick_ok = False
    step.poll()
    assert tally.stats.retries == 1 and last.polls == 2


def test_join_closes_the_archive_and_joins_the_next_step() -> None:
    archive, last = Archive(), RecordingStep()
    ArchiveRecords(cast(WorkerArchive, archive), new_tally(), last).join(3.0)
    assert archive.closed and last.joined == [3.0]
