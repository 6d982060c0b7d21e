"""Step 2: project decoded records into rows for both stores (`project_decoded`, pure)."""

from __future__ import annotations

import time

from tracklog.ingest.batch import DecodedBatch, ProjectedBatch, project_decoded
from tracklog.ingest.steps import Step
from tracklog.ingest.steps.tally import Tally


class Project:
    def __init__(self, tally: Tally, next_step: Step[ProjectedBatch]) -> None:
        self._tally = tally
        self._next = next_step

    def submit(self, batch: DecodedBatch) -> None:
        started = time.perf_counter()
        projected = project_decoded(batch)
        self._tally.projected(time.perf_counter() - started)
        self._next.submit(projected)

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)
