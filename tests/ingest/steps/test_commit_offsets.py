"""CommitOffsets: the offsets after each partition's last record, capped by the archive."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from tests.ingest.steps.recording_step import LOG, records
from tracklog.contract.topics import Partition
from tracklog.ingest.archive.worker_side import WorkerArchive
from tracklog.ingest.batch import project_batch
from tracklog.ingest.steps.commit_offsets import CommitOffsets


def test_commits_the_next_offset_of_every_partition() -> None:
    committed: list[Mapping[Partition, int]] = []
    batch = project_batch([*records(3, partition=0), *records(5, partition=1)])
    CommitOffsets(committed.append).submit(batch)
    assert committed == [{(LOG, 0): 3, (LOG, 1): 5}]


def test_never_past_a_record_the_archive_does_not_hold() -> None:
    class Archive:
        def committable(self, nexts: dict[Partition, int]) -> dict[Partition, int]:
            return {tp: min(offset, 2) for tp, offset in nexts.items()}

    committed: list[Mapping[Partition, int]] = []
    step = CommitOffsets(committed.append, cast(WorkerArchive, Archive()))
    step.submit(project_batch(records(5)))
    assert committed == [{(LOG, 0): 2}]
