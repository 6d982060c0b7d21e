"""Step 3: drop the records whose event id was applied before at another position (an
SDK resend, ingest/writers/event_ids.py); their positions stay, so offsets move on."""

from __future__ import annotations

from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.steps import Step
from tracklog.ingest.steps.tally import Tally
from tracklog.ingest.writers.batch import BatchWriter


class DropResent:
    def __init__(self, writer: BatchWriter, tally: Tally, next_step: Step[ProjectedBatch]) -> None:
        self._writer = writer
        self._tally = tally
        self._next = next_step

    def submit(self, batch: ProjectedBatch) -> None:
        kept, duplicates = self._writer.drop_resent(batch)
        self._tally.duplicates(len(duplicates))
        self._next.submit(kept)

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)
