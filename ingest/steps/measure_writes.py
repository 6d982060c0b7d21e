"""Metrics around the writing steps: a batch that went through every step after this
one (written, archived, committed) is counted once, with the time that took."""

from __future__ import annotations

import time

from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.steps import Step
from tracklog.ingest.steps.tally import Tally


class MeasureWrites:
    def __init__(self, tally: Tally, next_step: Step[ProjectedBatch]) -> None:
        self._tally = tally
        self._next = next_step

    def submit(self, batch: ProjectedBatch) -> None:
        started = time.perf_counter()
        self._next.submit(batch)  # raises: not written, not counted
        self._tally.batch_written(len(batch.records), time.perf_counter() - started)

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)
