"""IsolateRejected: data a store refuses is dead-lettered record by record, the rest goes
on in log order; a store that is down and a bug pass through, nothing goes on."""

from __future__ import annotations

import psycopg
import pytest

from tests.ingest.steps.recording_step import RecordingStep, batch_of
from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.dead_letters.poison import REJECTED_BY_STORE
from tracklog.ingest.steps.isolate_rejected import IsolateRejected
from tracklog.ingest.writers.failures import DataRejected, StoreUnavailable


class Store:
    """A store step that refuses poisoned offsets, or fails in a given way."""

    def __init__(self, next_step: RecordingStep, poisoned: set[int]) -> None:
        self.next = next_step
        self.poisoned = poisoned
        self.failure: BaseException | None = None

    def submit(self, batch: ProjectedBatch) -> None:
        if self.failure is not None:
            raise self.failure
        if {p.offset for p, ops in batch.postgres if ops} & self.poisoned:
            raise DataRejected("postgres", psycopg.DataError("text cannot contain NUL"))
        self.next.submit(batch)

    def poll(self) -> None:
        self.next.poll()

    def join(self, timeout: float | None = None) -> None:
        self.next.join(timeout)


def test_rejected_records_are_dead_lettered_and_the_others_go_on_in_order() -> None:
    last = RecordingStep()
    IsolateRejected(Store(last, poisoned={3})).submit(batch_of(8))
    assert [o for part in last.offsets() for o in part] == list(range(8))  # all reach the commit
    letters = [r for batch in last.submitted for r in batch.rejected]
    assert [r.record.position.offset for r in letters] == [3]
    assert letters[0].reason.startswith(REJECTED_BY_STORE)
    (alone,) = [b for b in last.submitted if b.rejected]
    assert alone.points == () and alone.postgres[0][1] == ()  # a dead letter only


@pytest.mark.parametrize(
    "failure",
    [StoreUnavailable("postgres", psycopg.OperationalError("down")), KeyError("run_id")],
    ids=["unavailable", "bug"],
)
def test_other_failures_pass_through_and_nothing_goes_on(failure: BaseException) -> None:
    last = RecordingStep()
    store = Store(last, poisoned=set())
    store.failure = failure
    with pytest.raises(type(failure)):
        IsolateRejected(store).submit(batch_of(4))
    assert last.submitted == []
