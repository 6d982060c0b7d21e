"""The worker's side of the event archive (ingest/archive/event_archive.py), when one is configured.

Records are archived as they are written (buffered; a full buffer becomes a
file, and a failing write raises so the worker retries the batch). Each
partition resumes at the lower of the stores' and the archive's positions, and
the offsets committed to Kafka never pass the first record not archived yet, so
a record buffered but not archived when the worker died is read again (the
stores skip it) and archived, even when the restart falls back to the committed
offsets because a store cannot say where to resume.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tracklog.contract.topics import Partition
from tracklog.ingest.archive.event_archive import open_archive
from tracklog.ingest.records import Record
from tracklog.ingest.writers.failures import stage

log = logging.getLogger(__name__)


class WorkerArchive:
    def __init__(self, root: str) -> None:
        self.archive = open_archive(root)

    def add(self, records: Sequence[Record]) -> None:
        stage("archive", lambda: self.archive.add(records))

    def tick(self) -> bool:
        """Write buffers that are old enough; False if that failed (retried next tick)."""
        try:
            self.archive.tick()
            return True
        except Exception as exc:
            log.error("archiving failed (%s); the records stay buffered and are retried", exc)
            return False

    def resume(
        self, logs: Sequence[Partition], stores: dict[Partition, int]
    ) -> dict[Partition, int]:
        """Per (log, partition): the next offset to read, given the stores' next offsets."""
        resume = dict(stores)
        for tp, archived in self.archive.positions(logs).items():
            resume[tp] = min(resume.get(tp, 0), archived + 1)  # no row: nothing applied
        return resume

    def committable(self, nexts: dict[Partition, int]) -> dict[Partition, int]:
        """The offsets safe to commit: never past a record not archived yet, so a worker
        that restarts from its committed offsets (when it cannot ask the stores) still
        archives everything."""
        archived = self.archive.positions(list(nexts))
        return {tp: min(offset, archived[tp] + 1) for tp, offset in nexts.items()}

    def revoked(self, logs: Sequence[Partition]) -> None:
        """Write what the revoked partitions buffered while this worker still owns them
        (best effort), then drop whatever is left: a buffer kept past a revocation would
        hold records from before the partition came back. Dropped records are not lost:
        no offset committed passes them, so the next owner reads and archives them."""
        try:
            self.archive.flush(logs)
        except Exception as exc:
            log.error("archiving revoked partitions failed (%s)", exc)
        dropped = self.archive.drop(logs)
        if dropped:
            log.warning(
                "dropped %d buffered records of revoked partitions; their next owner archives them",
                dropped,
            )
        self.archive.forget(logs)

    def close(self) -> None:
        try:
            self.archive.close()
        except Exception as exc:  # the next start reads them again
            log.error("archiving the last records failed (%s); they are read again", exc)
