"""Project: pure, the same batch twice gives the same rows; rejected records keep a place."""

from __future__ import annotations

from tests.ingest.steps.recording_step import RecordingStep, new_tally, records
from tracklog.ingest.batch import ProjectedBatch, decode_batch, project_batch
from tracklog.ingest.records import Position, Record
from tracklog.ingest.steps.project import Project


def test_project_is_pure_and_matches_project_batch() -> None:
    polled = [*records(3), Record(Position("t@1", 0, 3), None, b"garbage")]
    last = RecordingStep()
    step = Project(new_tally(), last)
    step.submit(decode_batch(polled))
    step.submit(decode_batch(polled))
    first, second = last.submitted
    assert isinstance(first, ProjectedBatch)
    assert first == second == project_batch(polled)
    assert [p.offset for p, _ in first.postgres] == [0, 1, 2, 3]
    assert first.postgres[3][1] == ()  # the rejected record: a place, no operations
    assert [p.offset for p, _ in first.event_ids] == [0, 1, 2]
