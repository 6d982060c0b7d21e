"""A last step that records what reaches it, and batches to submit, for the step tests."""

from __future__ import annotations

from typing import Any

from tests.ingest.events import params_logged
from tracklog.ingest.batch import ProjectedBatch, project_batch
from tracklog.ingest.metrics import IngestMetrics
from tracklog.ingest.records import Position, Record
from tracklog.ingest.steps.tally import Tally, WorkerStats

LOG = "t@1"


class RecordingStep:
    def __init__(self) -> None:
        self.submitted: list[Any] = []
        self.polls = 0
        self.joined: list[float | None] = []

    def submit(self, batch: Any) -> None:
        self.submitted.append(batch)

    def poll(self) -> None:
        self.polls += 1

    def join(self, timeout: float | None = None) -> None:
        self.joined.append(timeout)

    def offsets(self) -> list[list[int]]:
        """The offsets of each batch submitted, in order."""
        return [[r.position.offset for r in batch.records] for batch in self.submitted]


def records(count: int, partition: int = 0) -> list[Record]:
    return [
        Record(
            Position(LOG, partition, offset),
            b"run",
            params_logged("run", {f"p{offset}": "v"}).SerializeToString(),
        )
        for offset in range(count)
    ]


def batch_of(count: int) -> ProjectedBatch:
    return project_batch(records(count))


def new_tally() -> Tally:
    return Tally(WorkerStats(), IngestMetrics())
