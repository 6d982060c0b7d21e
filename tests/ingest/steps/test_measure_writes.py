"""MeasureWrites and the Tally: a batch is counted once, when every later step took it."""

from __future__ import annotations

import psycopg
import pytest

from tests.ingest.steps.recording_step import RecordingStep, batch_of, new_tally
from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.steps.measure_writes import MeasureWrites
from tracklog.ingest.steps.tally import Tally
from tracklog.ingest.writers.failures import StoreUnavailable


class Inserting:
    """Inserts points (counted), then fails while `down`."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.down = True

    def submit(self, batch: ProjectedBatch) -> None:
        self.tally.points(10)
        if self.down:
            raise StoreUnavailable("postgres", psycopg.OperationalError("down"))

    def poll(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass


def scraped(tally: Tally, name: str) -> float:
    value = tally.metrics.registry.get_sample_value("tracklog_ingest_" + name)
    return 0.0 if value is None else value


def test_a_failed_attempt_is_not_a_batch_but_its_points_are_kept() -> None:
    tally = new_tally()
    inserting = Inserting(tally)
    step = MeasureWrites(tally, inserting)
    with pytest.raises(StoreUnavailable):
        step.submit(batch_of(3))
    assert (tally.stats.batches, tally.stats.events_consumed) == (0, 0)
    assert tally.stats.points_written == 10
    inserting.down = False
    step.submit(batch_of(3))
    assert (tally.stats.batches, tally.stats.events_consumed) == (1, 3)
    assert tally.stats.points_written == 20
    assert scraped(tally, "points_total") == 20  # both attempts' points, once
    assert scraped(tally, "events_total") == 3
    assert scraped(tally, "batch_write_seconds_count") == 1


def test_passes_the_batch_on_unchanged() -> None:
    last = RecordingStep()
    batch = batch_of(2)
    MeasureWrites(new_tally(), last).submit(batch)
    assert last.submitted == [batch]
