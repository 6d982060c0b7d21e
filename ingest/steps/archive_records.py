"""Step 7, with an archive configured: buffer the batch's records for the event archive
(ingest/archive/worker_side.py). A full buffer is written at once (a failure is
`StoreUnavailable`: the batch is retried); `poll` writes buffers old enough (a
failure is retried on the next poll); `join` writes what is left."""

from __future__ import annotations

from tracklog.ingest.archive.worker_side import WorkerArchive
from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.steps import Step
from tracklog.ingest.steps.tally import Tally


class ArchiveRecords:
    def __init__(
        self, archive: WorkerArchive, tally: Tally, next_step: Step[ProjectedBatch]
    ) -> None:
        self._archive = archive
        self._tally = tally
        self._next = next_step

    def submit(self, batch: ProjectedBatch) -> None:
        self._archive.add(batch.records)
        self._next.submit(batch)

    def poll(self) -> None:
        if not self._archive.tick():
            self._tally.retried("archive")
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._archive.close()
        self._next.join(timeout)
