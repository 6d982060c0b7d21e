"""The ingest worker as a chain of steps, in the manner of getsentry/arroyo's strategies.

Each step is a small module holding one class that implements `Step`: `submit`
takes a batch and hands its result to the next step (passed in at construction,
last), `poll` does periodic work (the archive's timed flushes), `join` finishes
and releases what the step holds. The worker (ingest/worker.py) builds the chain:

    Decode -> Project -> MeasureWrites -> DropResent -> IsolateRejected
        -> WriteClickHouse -> WritePostgres (+ dead letters) -> [ArchiveRecords]
        -> CommitOffsets

`submit` is synchronous: when it returns, the batch went through every step and
its offsets are committed. Errors are meant by their kind
(ingest/writers/failures.py): `StoreUnavailable` leaves the chain untouched and
the worker pauses consumption and submits the same batch again (like arroyo's
`MessageRejected`; every step is safe to repeat); `DataRejected` is caught by
`IsolateRejected`, which dead-letters the records responsible; anything else
propagates and crashes the worker before the commit. Figures go to a `Tally`.

May import: `tracklog.contract`, `tracklog.v1`, and the rest of `tracklog.ingest`
except `ingest.worker` (which imports this package).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

T_contra = TypeVar("T_contra", contravariant=True)


class Step(Protocol[T_contra]):
    """One processing step: takes batches of one type, passes results to the next step."""

    def submit(self, batch: T_contra) -> None:
        """Process the batch and submit the result to the next step (raises on failure)."""

    def poll(self) -> None:
        """Periodic work, called on every turn of the consumer loop; then the next step's."""

    def join(self, timeout: float | None = None) -> None:
        """Finish pending work and release resources; then the next step's."""
