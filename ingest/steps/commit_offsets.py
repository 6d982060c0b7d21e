"""The last step: commit the offsets after the batch's last records, once every step
before it succeeded - never past a record the archive does not hold yet
(`WorkerArchive.committable`), so a restart from the committed offsets archives it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tracklog.contract.topics import Partition
from tracklog.ingest.archive.worker_side import WorkerArchive
from tracklog.ingest.batch import ProjectedBatch

Commit = Callable[[Mapping[Partition, int]], None]  # (log, partition) -> next offset


class CommitOffsets:
    def __init__(self, commit: Commit, archive: WorkerArchive | None = None) -> None:
        self._commit = commit
        self._archive = archive

    def submit(self, batch: ProjectedBatch) -> None:
        nexts = batch.next_offsets()
        if self._archive is not None:
            nexts = self._archive.committable(nexts)
        self._commit(nexts)

    def poll(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass
