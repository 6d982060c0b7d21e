"""Step 5: insert the batch's metric points into ClickHouse, skipping those stored
before (ingest/writers/clickhouse.py: per-partition high-water marks)."""

from __future__ import annotations

from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.steps import Step
from tracklog.ingest.steps.tally import Tally
from tracklog.ingest.writers.batch import BatchWriter


class WriteClickHouse:
    def __init__(self, writer: BatchWriter, tally: Tally, next_step: Step[ProjectedBatch]) -> None:
        self._writer = writer
        self._tally = tally
        self._next = next_step

    def submit(self, batch: ProjectedBatch) -> None:
        self._tally.points(self._writer.write_clickhouse(batch))
        self._next.submit(batch)

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)
