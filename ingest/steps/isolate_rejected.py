"""Step 4: when a store rejects a batch's data (`DataRejected`), split the batch around
the records responsible and submit each of those as a dead letter only
(ingest/dead_letters/poison.py); the other records go through the rest of the chain,
in log order. Other failures pass through unchanged."""

from __future__ import annotations

from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.dead_letters.poison import write_isolating
from tracklog.ingest.steps import Step


class IsolateRejected:
    def __init__(self, next_step: Step[ProjectedBatch]) -> None:
        self._next = next_step

    def submit(self, batch: ProjectedBatch) -> None:
        write_isolating(self._next.submit, batch)

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)
