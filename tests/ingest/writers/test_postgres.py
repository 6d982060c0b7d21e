"""The Postgres writer applies each record once, however often it is delivered."""

from __future__ import annotations

import math

import psycopg
import pytest

from tests.ingest.events import (
    experiment_created,
    metrics_logged,
    params_logged,
    postgres_snapshot,
    run_ended,
    run_started,
    tags_set,
)
from tracklog.contract.settings import Settings
from tracklog.ingest.projectors.postgres import PostgresOp, project
from tracklog.ingest.records import Position
from tracklog.ingest.writers.postgres import Applied, PostgresWriter
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration

TOPIC = "events"
RUN = "r1"

Batch = list[tuple[Position, list[PostgresOp]]]


def batch_of(events: list[pb.Envelope], first_offset: int = 0, partition: int = 0) -> Batch:
    return [
        (Position(TOPIC, partition, first_offset + i), project(e)) for i, e in enumerate(events)
    ]


def latest(dsn: str, key: str) -> tuple[int, int, float]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT step, timestamp_ms, value FROM latest_metrics WHERE run_id = %s AND key = %s",
            (RUN, key),
        ).fetchone()
    assert row is not None
    return (int(row[0]), int(row[1]), float(row[2]))


@pytest.fixture
def writer(settings: Settings):  # type: ignore[no-untyped-def]
    w = PostgresWriter(settings.postgres_dsn)
    w.migrate()
    yield w
    w.close()


def test_replaying_the_same_records_leaves_the_tables_identical(
    writer: PostgresWriter, settings: Settings
) -> None:
    batch = batch_of(
        [
            experiment_created("e1", "exp", {"team": "ml"}),
            run_started(RUN, "e1", "first", {"phase": "start"}),
            params_logged(RUN, {"lr": "0.1"}),
            tags_set(RUN, {"phase": "train"}),
            metrics_logged(RUN, [("loss", 0, 10, 1.0), ("loss", 1, 11, 0.5)]),
            run_ended(RUN, pb.RUN_STATUS_FINISHED),
        ]
    )
    first = writer.apply(batch)
    assert len(first.fresh) == len(batch)
    before = postgres_snapshot(settings.postgres_dsn)
    assert before["runs"][0][5] == "FINISHED"
    assert before["tags"] == [(RUN, "phase", "train")]
    assert before["params"] == [(RUN, "lr", "0.1")]
    assert before["latest_metrics"] == [(RUN, "loss", 1, 11, 0.5)]

    again = writer.apply(batch)
    assert again == Applied(frozenset(), ())
    assert postgres_snapshot(settings.postgres_dsn) == before
    assert writer.positions([(TOPIC, 0), (TOPIC, 1)]) == {(TOPIC, 0): len(batch) - 1}

    # a new writer (a restarted worker) skips them too, even mixed with new records
    other = PostgresWriter(settings.postgres_dsn)
    try:
        mixed = [*batch, *batch_of([tags_set(RUN, {"x": "y"})], first_offset=len(batch))]
        applied = other.apply(mixed)
    finally:
        other.close()
    assert applied.fresh == {Position(TOPIC, 0, len(batch))}
    assert postgres_snapshot(settings.postgres_dsn)["tags"] == [
        (RUN, "phase", "train"),
        (RUN, "x", "y"),
    ]


def test_latest_metric_follows_step_then_timestamp_then_value(
    writer: PostgresWriter, settings: Settings
) -> None:
    dsn = settings.postgres_dsn
    writer.apply(batch_of([metrics_logged(RUN, [("loss", 5, 100, 0.5), ("acc", 1, 1, 0.1)])]))
    assert latest(dsn, "loss") == (5, 100, 0.5)
    # an older step arriving later does not replace it
    writer.apply(batch_of([metrics_logged(RUN, [("loss", 4, 999, 9.0)])], first_offset=1))
    assert latest(dsn, "loss") == (5, 100, 0.5)
    # same step, later timestamp wins; then same step and time, larger value wins
    writer.apply(batch_of([metrics_logged(RUN, [("loss", 5, 101, 0.1)])], first_offset=2))
    assert latest(dsn, "loss") == (5, 101, 0.1)
    writer.apply(batch_of([metrics_logged(RUN, [("loss", 5, 101, 0.2)])], first_offset=3))
    assert latest(dsn, "loss") == (5, 101, 0.2)
    # several records of one batch fold to their maximum; NaN ranks above numbers like Postgres
    writer.apply(
        batch_of(
            [
                metrics_logged(RUN, [("loss", 7, 1, 0.3), ("acc", 2, 2, float("nan"))]),
                metrics_logged(RUN, [("loss", 6, 1, 0.9), ("acc", 2, 2, 0.5)]),
            ],
            first_offset=4,
        )
    )
    assert latest(dsn, "loss") == (7, 1, 0.3)
    step, ts, value = latest(dsn, "acc")
    assert (step, ts) == (2, 2) and math.isnan(value)


def test_params_are_write_once_and_conflicts_reported(
    writer: PostgresWriter, settings: Settings
) -> None:
    writer.apply(batch_of([params_logged(RUN, {"lr": "0.1", "depth": "3"})]))
    seen: list[Applied] = []
    applied = writer.apply(
        batch_of(
            [
                params_logged(
                    RUN, {"lr": "0.2", "depth": "3"}
                ),  # lr conflicts with the stored value
                params_logged(RUN, {"seed": "1"}),
                params_logged(RUN, {"seed": "2"}),  # conflicts inside the batch
            ],
            first_offset=1,
        ),
        before_commit=seen.append,
    )
    assert seen == [applied]
    conflicts = sorted((c.position.offset, c.key, c.kept, c.rejected) for c in applied.conflicts)
    assert conflicts == [(1, "lr", "0.1", "0.2"), (3, "seed", "1", "2")]
    assert postgres_snapshot(settings.postgres_dsn)["params"] == [
        (RUN, "depth", "3"),
        (RUN, "lr", "0.1"),
        (RUN, "seed", "1"),
    ]


def test_a_redelivered_run_start_never_resets_an_ended_run(
    writer: PostgresWriter, settings: Settings
) -> None:
    start = run_started(RUN, "e1", "first")
    writer.apply(batch_of([start, run_ended(RUN, pb.RUN_STATUS_KILLED)]))
    writer.apply(batch_of([start], first_offset=2))  # the SDK sent it twice
    runs = postgres_snapshot(settings.postgres_dsn)["runs"]
    assert len(runs) == 1 and runs[0][5] == "KILLED" and runs[0][7] is not None


def test_a_failing_before_commit_rolls_everything_back(
    writer: PostgresWriter, settings: Settings
) -> None:
    def fail(applied: Applied) -> None:
        raise RuntimeError("dead-letter topic unreachable")

    batch = batch_of([tags_set(RUN, {"a": "b"})])
    with pytest.raises(RuntimeError):
        writer.apply(batch, before_commit=fail)
    assert postgres_snapshot(settings.postgres_dsn)["tags"] == []
    assert writer.positions([(TOPIC, 0)]) == {}
    assert writer.apply(batch).fresh == {Position(TOPIC, 0, 0)}  # reconnects and applies


def test_partitions_are_tracked_separately(writer: PostgresWriter) -> None:
    writer.apply(batch_of([tags_set(RUN, {"a": "1"})], first_offset=5, partition=0))
    applied = writer.apply(batch_of([tags_set("r2", {"a": "1"})], first_offset=3, partition=1))
    assert applied.fresh == {Position(TOPIC, 1, 3)}
    assert writer.positions([(TOPIC, 0), (TOPIC, 1)]) == {(TOPIC, 0): 5, (TOPIC, 1): 3}
