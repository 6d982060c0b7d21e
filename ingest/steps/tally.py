"""What the steps count: the worker's `WorkerStats` and its Prometheus metrics
(ingest/metrics.py), kept in step by one `Tally`."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracklog.ingest.metrics import IngestMetrics
from tracklog.ingest.writers.batch import PostgresWritten


@dataclass(slots=True)
class WorkerStats:
    events_consumed: int = 0
    points_written: int = 0
    dead_letters: int = 0
    param_conflicts: int = 0
    duplicates: int = 0  # records dropped because their event was applied before
    retries: int = 0  # failed write attempts (each retried after a back-off)
    batches: int = 0
    last_batch_write_seconds: float = 0.0
    poll_seconds: float = 0.0  # totals, to see where the time goes
    project_seconds: float = 0.0
    write_seconds: float = 0.0
    first_records_at: float | None = None  # time.monotonic() when the first fruitful poll began
    lag_by_partition: dict[tuple[str, int], int] = field(default_factory=dict)  # by topic
    paused_because: str = ""  # why consumption is paused ("" while it runs)


class Tally:
    """Counts as the steps report them; a batch's metrics are published once it is written.

    Points inserted and dead letters sent by an attempt that failed later are real:
    they are published with the next batch written.
    """

    def __init__(self, stats: WorkerStats, metrics: IngestMetrics) -> None:
        self.stats = stats
        self.metrics = metrics
        self._points = 0  # not published yet
        self._dead_letters = 0

    def projected(self, seconds: float) -> None:
        self.stats.project_seconds += seconds

    def duplicates(self, count: int) -> None:
        self.stats.duplicates += count

    def points(self, count: int) -> None:
        self.stats.points_written += count
        self._points += count

    def postgres(self, written: PostgresWritten) -> None:
        self.stats.dead_letters += written.dead_letters
        self.stats.param_conflicts += written.param_conflicts
        self._dead_letters += written.dead_letters

    def batch_written(self, events: int, seconds: float) -> None:
        stats = self.stats
        stats.events_consumed += events
        stats.batches += 1
        stats.last_batch_write_seconds = seconds
        stats.write_seconds += seconds
        self.metrics.batch_written(events, self._points, seconds)
        if self._dead_letters:
            self.metrics.dead_lettered(self._dead_letters)
        self._points = self._dead_letters = 0

    def retried(self, stage: str) -> None:
        self.stats.retries += 1
        self.metrics.retried(stage)

    def paused(self, why: str) -> None:
        self.stats.paused_because = why
        self.metrics.set_paused(True, why)

    def resumed(self) -> None:
        self.stats.paused_because = ""
        self.metrics.set_paused(False)

    def lag(self, lags: dict[tuple[str, int], int]) -> None:
        """(topic, partition) -> records not written yet."""
        self.stats.lag_by_partition = lags
        self.metrics.set_lag(lags)
