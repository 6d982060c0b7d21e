"""Step 6: apply the batch to Postgres in one transaction with its tracking rows and
applied event ids, sending its new dead letters (rejected records, conflicts) inside
it (ingest/writers/postgres.py, ingest/writers/batch.py)."""

from __future__ import annotations

from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.steps import Step
from tracklog.ingest.steps.tally import Tally
from tracklog.ingest.writers.batch import BatchWriter


class WritePostgres:
    def __init__(self, writer: BatchWriter, tally: Tally, next_step: Step[ProjectedBatch]) -> None:
        self._writer = writer
        self._tally = tally
        self._next = next_step

    def submit(self, batch: ProjectedBatch) -> None:
        self._tally.postgres(self._writer.write_postgres(batch))
        self._next.submit(batch)

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)
